"""A CSV's rows read by NumPy's C reader, checked as arrays, within the bounds on rows and memory.

numpy.loadtxt (a C parser since NumPy 1.23) reads blocks of rows; each block is then checked as
arrays (every value finite, every label a class index below MAX_CLASSES). A block that fails
either way is handed to the line-by-line reader (engine.data.csv_rows), which names its first bad
line exactly as it always has; a block the C reader refused but every line of which passes (a
spelling NumPy does not take) is read from those lines. The C reader takes nothing the line rules
refuse (tests/engine/test_csv_table.py checks the spellings), so a block that passes both
checks needs no line to be looked at.

Blocks, rather than one call for the whole file: the arrays are allocated once at their final
size and each block is copied in, so the peak is the data set plus one block (about what
numpy.loadtxt alone takes), the label column is split off without a second copy of the rows,
and a bad line costs reading its block twice, not the whole file.

The memory bound is checked before a number is parsed: the lines are counted first (a fast
count of newlines, then, only if that count could break the bound, the rows themselves), and
the file's width says what each row costs.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from itertools import islice
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from engine.data import csv_rows
from engine.data.csv_rows import Head, Line
from engine.data.errors import DataError, LabelError
from engine.settings.bounds import MAX_CLASSES, MAX_DATA_BYTES
from engine.settings.text import binary_size

#: Numbers a block holds (512 KiB of float64): each call of the C reader costs about 10 µs, so
#: even MNIST's rows of 785 in blocks of 83 add under 10 ms, and a block is cheap to read twice.
BLOCK_NUMBERS = 2**16


class Table(NamedTuple):
    """The features (read-only), the labels as class indices, the header's names of the
    feature columns (() without a header), and the classes' names when the labels are names
    (class k is the k-th name in sorted order; () when the labels are class indices)."""

    X: NDArray[np.float64]
    y: NDArray[np.int64]
    columns: tuple[str, ...]
    class_names: tuple[str, ...] = ()


def read_table(lines: Callable[[], Generator[Line, None, None]], most_lines: int, max_rows: int) -> Table:
    """The rows of the CSV whose non-blank lines `lines()` yields (numbered, from the start
    each call), of which there are at most `most_lines`, or DataError naming what is wrong;
    a label's refusal adds that the label is the last column when the header names another
    column as the label (MNIST's label,pixel0,...)."""
    with closing(lines()) as start:
        head = csv_rows.read_head(start)
    try:
        return _rows(lines, head, most_lines, max_rows)
    except LabelError as error:
        hint = csv_rows.label_hint(head)
        if not hint:
            raise
        raise LabelError(f"{error}{hint}") from None


def _rows(lines: Callable[[], Generator[Line, None, None]], head: Head, most_lines: int,
          max_rows: int) -> Table:
    """The rows after the head, or DataError naming what is wrong.

    At most max_rows rows (the refusal names the first line past them, after the rows before
    it are checked, as the line-by-line reader always did) and at most MAX_DATA_BYTES of arrays
    (refused before reading). Each pass over the lines is closed before the next starts, as
    the passes over a file share its position."""
    fit = MAX_DATA_BYTES // (8 * head.width)
    room = most_lines - head.first[0] + 1  # every line from the first row's on may be a row
    if fit < max_rows and room > fit:
        with closing(lines()) as again:
            _check_fit(again, head, fit)
    size = max(1, min(max_rows, fit, room))
    X = np.empty((size, head.width - 1))
    y = np.empty(size, dtype=np.int64)
    where = np.empty(size, dtype=np.int64)  # each row's line, to name a class's first
    n = 0
    per = max(1, BLOCK_NUMBERS // head.width)
    names = ClassNames(head)
    with closing(lines()) as every:
        data = (row for row in every if row[0] >= head.first[0])
        while block := list(islice(data, min(per, size - n))):
            if head.named:
                X[n:n + len(block)] = _named_block(block, head)
                y[n:n + len(block)] = names.codes(block)
            else:
                values = _block(block, head)
                X[n:n + len(block)] = values[:, :-1]
                y[n:n + len(block)] = values[:, -1]
            where[n:n + len(block)] = [line for line, _ in block]
            n += len(block)
        _check_no_more(next(data, None), n, max_rows, head)
    if head.named:
        y[:n], class_names = names.sorted(y[:n])
    else:
        first_rows = np.unique(y[:n], return_index=True)
        csv_rows.check_classes({int(k): int(where[i]) for k, i in zip(*first_rows, strict=True)})
        class_names = ()
    if n < size:  # blank lines were counted: give the rest back in place, without a copy
        X.resize((n, head.width - 1), refcheck=False)
    X.setflags(write=False)
    return Table(X, y[:n].copy(), head.columns, class_names)


class ClassNames:
    """The class names of a file whose labels are names, and each row's class.

    While reading, a name's code is the order of its first row (a dict lookup a row); at the
    end the codes are renumbered so that class k is the k-th name in sorted (code point)
    order: the same file gives the same indices whatever the order of its rows, and
    Iris-setosa, Iris-versicolor, Iris-virginica are 0, 1, 2 as the UCI file lists them."""

    def __init__(self, head: Head) -> None:
        self.head = head
        self.code: dict[str, int] = {}

    def codes(self, block: list[Line]) -> list[int]:
        """Each row's provisional class; DataError when a new name is missing, a number, or
        one more than MAX_CLASSES."""
        out = []
        for line, raw in block:
            name = csv_rows.class_name(raw[raw.rfind(",") + 1:])
            code = self.code.get(name)
            if code is None:
                csv_rows.check_name(name, line, self.head)
                if len(self.code) == MAX_CLASSES:
                    raise LabelError(f"line {line}: more than {MAX_CLASSES:,} different labels: a "
                                     f"network takes at most {MAX_CLASSES:,} classes")
                code = self.code[name] = len(self.code)
            out.append(code)
        return out

    def sorted(self, y: NDArray[np.int64]) -> tuple[NDArray[np.int64], tuple[str, ...]]:
        """The rows' classes renumbered in the names' sorted order, and the names in that
        order; DataError when there is only one."""
        csv_rows.check_names(list(self.code))
        names = sorted(self.code)
        renumber = np.empty(len(names), dtype=np.int64)
        renumber[[self.code[name] for name in names]] = np.arange(len(names))
        return renumber[y], tuple(names)


def _named_block(block: list[Line], head: Head) -> NDArray[np.float64]:
    """The block's features (every field but the last, the class name) from the C reader, or
    from the line-by-line reader when the C reader refuses them or they are not finite."""
    try:
        values = np.loadtxt([raw[:raw.rfind(",")] for _, raw in block], delimiter=",", comments=None,
                            dtype=np.float64, ndmin=2)
    except ValueError:
        values = None
    if values is None or values.shape != (len(block), head.width - 1) or not np.isfinite(values).all():
        values = np.array([csv_rows.check_named_row(row, head)[0] for row in block], dtype=np.float64)
    return values


def _block(block: list[Line], head: Head) -> NDArray[np.float64]:
    """The block's rows as a (rows, width) array from the C reader when it reads them and
    they pass the checks, or else from the line-by-line reader, which names the first bad line."""
    try:
        values = np.loadtxt([raw for _, raw in block], delimiter=",", comments=None,
                            dtype=np.float64, ndmin=2)
    except ValueError:  # a field that is not a number, or a row of another width
        values = None
    if values is None or values.shape != (len(block), head.width) or not _plausible(values):
        values = np.array([csv_rows.check_row(row, head) for row in block], dtype=np.float64)
    return values


def _plausible(values: NDArray[np.float64]) -> bool:
    """Every value finite and every label (the last column) a class index below MAX_CLASSES."""
    labels = values[:, -1]
    return bool(np.isfinite(values).all() and np.all((labels >= 0) & (labels < MAX_CLASSES)
                                                     & (labels == np.floor(labels))))


def _too_many(line: int, fit: int, head: Head) -> DataError:
    return DataError(f"line {line}: more than {fit:,} rows of {head.width:,} numbers: they would take "
                     f"more than the {binary_size(MAX_DATA_BYTES)} a data set may hold "
                     "(use fewer rows or columns)")


def _check_fit(lines: Iterator[Line], head: Head, fit: int) -> None:
    """DataError naming the line of the first row that does not fit in MAX_DATA_BYTES, found
    by counting the rows, before any is parsed."""
    rows = (line for line, _ in lines if line >= head.first[0])
    past = next(islice(rows, fit, None), None)
    if past is not None:
        raise _too_many(past, fit, head)


def _check_no_more(past: Line | None, rows: int, max_rows: int, head: Head) -> None:
    """DataError when a line follows the last row there was room for: past max_rows, or past
    what fits (a file that grew since its rows were counted)."""
    if past is None:
        return
    if rows >= max_rows:
        raise DataError(f"line {past[0]}: more than {max_rows:,} rows")
    raise _too_many(past[0], rows, head) if rows >= MAX_DATA_BYTES // (8 * head.width) else \
        DataError(f"line {past[0]}: the file grew while it was read; read it again when it is complete")
