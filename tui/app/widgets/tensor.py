"""Tensors as text: name, shape, dtype and values, with the marks a learner needs.

Small tensors are printed in full, one row a line, in one number format per tensor (as
NumPy does) so columns line up. Large tensors are summarised (statistics and NumPy-style
corners) because rendering a 784x128 matrix cell by cell costs seconds a frame; the zoom
screen shows their exact values a window at a time.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from textual.content import Content
from textual.style import Style

from tui.app.widgets.statistics import statistics
from tui.text import number, printable, safe_repr, unsigned_zeros

#: Tensors with more elements, rows or columns than these are summarised.
FULL_ELEMENTS = 96
FULL_ROWS = 16
FULL_COLUMNS = 8

FRESH = "bold $text-accent"
DEAD = "$text-error"
MUTED = "$text-muted"
FAIL = "bold $text-error"
PASS = "$text-success"
WARN = "$text-warning"
#: The cell cursor, and the cells the element under it is computed from (its sources).
CURSOR = "reverse bold"
SOURCE = "bold underline $text-warning on $warning-muted"

Index = tuple[int, ...]
Cell = tuple[str, Index]  # a qualified tensor name (engine.explain.elements) and an element's index


@dataclass
class Marks:
    """The cursor and the highlighted cells of the panel being built, and the tensors it
    drew (by qualified name, in order): tensor_block reads them while `marking` is on, so
    every panel's blocks, however a panel assembles them, carry the cursor."""

    qualify: Callable[[str], str | None]  # a block's name -> its qualified name, or None
    cursor: Cell | None = None
    sources: frozenset[Cell] = frozenset()
    seen: list[tuple[str, np.ndarray]] = field(default_factory=list)
    tagged: bool = False  # every cell carries its tensor and index (cell_meta): a focused panel


_MARKS: ContextVar[Marks | None] = ContextVar("marks", default=None)


@contextmanager
def marking(marks: Marks) -> Iterator[Marks]:
    token = _MARKS.set(marks)
    try:
        yield marks
    finally:
        _MARKS.reset(token)


def element_index(value: np.ndarray, row: int, col: int) -> Index:
    """The index into `value` of the cell at (row, col) of its drawn matrix (as_matrix)."""
    if value.ndim == 0:
        return ()
    if value.ndim == 1:
        return (col,)
    if value.ndim == 2:
        return (row, col)
    cols = as_matrix(value).shape[1]
    return tuple(int(i) for i in np.unravel_index(row * cols + col, value.shape))


def matrix_position(value: np.ndarray, index: Index) -> tuple[int, int]:
    """The (row, col) of the drawn matrix at which `index` of `value` stands."""
    if value.ndim == 0:
        return 0, 0
    if value.ndim == 1:
        return 0, index[0]
    if value.ndim == 2:
        return index[0], index[1]
    cols = as_matrix(value).shape[1]
    row, col = divmod(int(np.ravel_multi_index(index, value.shape)), cols)
    return row, col


def valid_index(value: np.ndarray, index: Index) -> bool:
    return len(index) == value.ndim and all(0 <= i < n for i, n in zip(index, value.shape, strict=True))


def index_label(name: str, index: Index) -> str:
    """dW1[1,1], written as the explanations and --explain write an element."""
    return f"{name}[{','.join(map(str, index))}]"


def cell_meta(qualified: str, index: Index, cursor: bool = False) -> Style:
    """What a click on a cell reads back: its tensor and index."""
    return Style.from_meta({"cell": qualified, "index": list(index), "cursor": cursor})


def _float_spec(magnitudes: np.ndarray) -> str:
    """Fixed point when the finite magnitudes allow it, else scientific."""
    finite = magnitudes[np.isfinite(magnitudes)]
    big = float(np.max(finite)) if finite.size else 0.0
    nonzero = finite[finite != 0]
    small = float(np.min(nonzero)) if nonzero.size else 1.0
    return ".3e" if big >= 1e5 or small < 1e-4 else ".4f"


def number_format(values: np.ndarray) -> Callable[[Any], str]:
    """One format for a whole tensor, as NumPy does: for floats fixed point when the values
    allow it, else scientific; complex numbers as real and imaginary parts in that format;
    integers exactly; booleans as True and False."""
    values = np.asarray(values)
    kind = values.dtype.kind
    if kind == "b":
        return lambda v: f"{bool(v)!s:>6}"
    if kind in "iu":
        return lambda v: f"{int(v): d}"
    if kind == "c":
        with np.errstate(all="ignore"):
            spec = _float_spec(np.abs(np.concatenate([values.real.ravel(), values.imag.ravel()])))
        return lambda v: f"{number(complex(v).real, f' {spec}')}{number(complex(v).imag, f'+{spec}')}j"
    if kind == "f":
        with np.errstate(all="ignore"):
            spec = _float_spec(np.abs(values.astype(np.float64).ravel()))
        return lambda v: number(v, f" {spec}")
    return lambda v: f" {v!r}"


def shape_label(value: np.ndarray) -> str:
    return "(" + ", ".join(str(n) for n in value.shape) + ("," if value.ndim == 1 else "") + ")"


def is_large(value: np.ndarray) -> bool:
    rows = value.shape[0] if value.ndim >= 1 else 1
    cols = value.shape[-1] if value.ndim >= 2 else (value.shape[0] if value.ndim == 1 else 1)
    return value.size > FULL_ELEMENTS or (value.ndim >= 2 and (rows > FULL_ROWS or cols > FULL_COLUMNS)) \
        or (value.ndim == 1 and cols > FULL_ELEMENTS)


def header(name: str, value: np.ndarray, style: str = "bold", note: str = "") -> Content:
    parts: list[str | tuple[str, str]] = [(printable(name, oneline=True), style),
                                          (f"  {shape_label(value)} {value.dtype}", MUTED)]
    if note:
        parts.append((f"  {note}", MUTED))
    return Content.assemble(*parts)


#: Summaries of the stepper's read-only arrays, by identity: every redraw would otherwise take
#: the statistics of every large tensor again (a 784x256 W1 is in four panels).
_SUMMARIES: dict[tuple[int, int], tuple[weakref.ref[np.ndarray], Content]] = {}
SUMMARIES_KEPT = 256


def summary(value: np.ndarray, width: int = 0) -> Content:
    """Statistics and NumPy's own corner view, for tensors too big to print."""
    value = np.asarray(value)
    if value.flags.writeable:  # may change after this call: never cached
        return _summary(value, width)
    key = (id(value), width)
    cached = _SUMMARIES.get(key)
    if cached is not None and cached[0]() is value:
        return cached[1]
    content = _summary(value, width)
    if len(_SUMMARIES) >= SUMMARIES_KEPT:
        del _SUMMARIES[next(iter(_SUMMARIES))]
    _SUMMARIES[key] = (weakref.ref(value), content)
    return content


def _summary(value: np.ndarray, width: int) -> Content:
    stats = statistics(value)
    lines: list[str | tuple[str, str]] = []
    if stats.finite:
        lines.append((f"{stats.what}min {number(stats.low, ' .4g')}  max {number(stats.high, ' .4g')}  "
                      f"mean {number(stats.mean, ' .4g')}  norm {stats.norm:.4g}", MUTED))
    if stats.nonfinite:
        lines.append((f"  {stats.nonfinite} non-finite", FAIL))
    with np.errstate(all="ignore"):
        corners = np.array2string(unsigned_zeros(value), threshold=0, edgeitems=2, precision=4,
                                  max_line_width=min(72, width) if width > 0 else 72)
    lines.append("\n" + corners)
    return Content.assemble(*lines)


def as_matrix(value: np.ndarray) -> np.ndarray:
    """Rows to print: a vector (or a single number) is one row; an array of more
    dimensions is one row per index of its first axis."""
    value = np.asarray(value)
    if value.ndim <= 1:
        return value.reshape(1, value.size)
    return value.reshape(value.shape[0], int(np.prod(value.shape[1:])))


StyleOf = Callable[[tuple[int, ...]], str]
RowNote = Callable[[int], tuple[str, str] | None]
Tag = Callable[[tuple[int, ...]], Style | None]
Part = str | tuple[str, str] | Content


def grid(value: np.ndarray, style_of: StyleOf | None = None, row_note: RowNote | None = None,
         width: int = 0, tag: Tag | None = None) -> Content:
    """Every value, a row a line; style_of picks a style per element, row_note annotates a
    row, tag adds a style of its own to an element (the cursor's meta, read back on a click).

    Rows wider than `width` (when it is given) are cut into bands of columns, one under the
    other, as NumPy wraps a long vector: a row wrapped by the terminal would run on into the
    next and the columns would no longer line up.
    """
    if value.size == 0:
        return Content.styled("[] no values", MUTED)
    matrix = as_matrix(value)
    fmt = number_format(matrix)
    cells = [[f" {fmt(v)}" for v in row] for row in matrix]
    cell = max(len(text) for row in cells for text in row)
    rows, cols = matrix.shape
    per_band = max(1, (width - 3) // cell) if width and 3 + cols * cell > width else cols
    bands = [(start, min(cols, start + per_band)) for start in range(0, cols, per_band)]
    drawing = _Grid(value, cells, style_of, row_note, tag)
    parts: list[Part] = []
    for b, (first, last) in enumerate(bands):
        if b:
            parts.append("\n")
        if len(bands) > 1 and rows > 1:  # a vector's bands read on; a matrix's need saying
            parts.append((f"columns {first}–{last - 1}\n", MUTED))
        parts.extend(drawing.band(first, last, first_band=b == 0, last_band=b == len(bands) - 1))
    return Content.assemble(*parts)


@dataclass(frozen=True)
class _Grid:
    """grid's values as text (`cells`, a list a row) and how they are marked."""

    value: np.ndarray
    cells: list[list[str]]
    style_of: StyleOf | None
    row_note: RowNote | None
    tag: Tag | None

    def band(self, first: int, last: int, first_band: bool, last_band: bool) -> Iterator[Part]:
        """Columns first to last - 1 of every row; a matrix's rows each bracketed, a vector's
        one bracket across its bands; the row notes after the last band."""
        rows = len(self.cells)
        for r in range(rows):
            top = r == 0 and (first_band or rows > 1)
            end = r == rows - 1 and (last_band or rows > 1)
            yield "[" if top else " "
            yield from self.row(r, first, last)
            yield " ]" if end else ""
            note = self.row_note(r) if self.row_note is not None and last_band else None
            if note:
                yield f"  {note[0]}", note[1]
            if r < rows - 1:
                yield "\n"

    def row(self, r: int, first: int, last: int) -> Iterator[Part]:
        """Row r's values in columns first to last - 1, styled and tagged."""
        row = self.cells[r]
        for c in range(first, last):
            index = (c,) if self.value.ndim <= 1 else (r, c)
            style = self.style_of(index) if self.style_of else ""
            extra = self.tag(index) if self.tag else None
            yield (row[c], style) if extra is None else Content.styled(row[c], style).stylize(extra)


def tensor_block(name: str, value: np.ndarray, *, fresh: bool = False, note: str = "",
                 style_of: Callable[[tuple[int, ...]], str] | None = None,
                 row_note: Callable[[int], tuple[str, str] | None] | None = None,
                 width: int = 0) -> Content:
    """A tensor's header and its values (or its summary when it is large), fitted to
    `width` columns when it is given."""
    value = np.asarray(value)
    if value.ndim > 2:  # drawn flattened: say how
        rows, cols = as_matrix(value).shape
        note = "  ".join(filter(None, [note, f"shown as {rows}×{cols}"]))
    head = header(name, value, FRESH if fresh else "bold", note)
    if value.dtype.kind not in "biufc":  # not numbers: what NumPy prints
        return Content.assemble(head, "\n", safe_repr(value))
    marks = _MARKS.get()
    qualified = marks.qualify(name) if marks is not None and value.size else None
    if marks is None or qualified is None:
        body = summary(value, width) if is_large(value) else grid(value, style_of, row_note, width)
        return Content.assemble(head, "\n", body)
    marks.seen.append((qualified, value))
    if is_large(value):
        marked = _large_marks(marks, qualified, name, value)
        return Content.assemble(head, "\n", summary(value, width), *marked)
    cursor = marks.cursor[1] if marks.cursor is not None and marks.cursor[0] == qualified else None

    def tag(i: tuple[int, ...]) -> Style:
        index = element_index(value, *_rc(i))
        return cell_meta(qualified, index, cursor=index == cursor)

    body = grid(value, _marked(marks, qualified, value, style_of), row_note, width,
                tag=tag if marks.tagged else None)
    return Content.assemble(head, "\n", body)


def _rc(grid_index: tuple[int, ...]) -> tuple[int, int]:
    """grid() passes (col,) for a vector and (row, col) otherwise."""
    return (0, grid_index[0]) if len(grid_index) == 1 else (grid_index[0], grid_index[1])


def _marked(marks: Marks, qualified: str, value: np.ndarray,
            style_of: Callable[[tuple[int, ...]], str] | None) -> Callable[[tuple[int, ...]], str]:
    """style_of with the cursor and the sources drawn over it."""
    cursor = marks.cursor[1] if marks.cursor is not None and marks.cursor[0] == qualified else None
    sources = {index for tensor, index in marks.sources if tensor == qualified}

    def style(i: tuple[int, ...]) -> str:
        base = style_of(i) if style_of else ""
        if cursor is None and not sources:
            return base
        index = element_index(value, *_rc(i))
        if index == cursor:
            return CURSOR
        return SOURCE if index in sources else base

    return style


#: Source cells of a summarised tensor listed under it; the rest are counted.
LISTED_SOURCES = 4


def _large_marks(marks: Marks, qualified: str, name: str, value: np.ndarray) -> list[str | Content]:
    """A summarised tensor's cursor and sources as lines of text: `W1[37, 512] = 0.0123`."""
    lines: list[str | Content] = []
    fmt = number_format(value)
    if marks.cursor is not None and marks.cursor[0] == qualified and valid_index(value, marks.cursor[1]):
        index = marks.cursor[1]
        text = f"▸ {index_label(name, index)} = {fmt(value[index]).strip()}"
        lines += ["\n", Content.styled(text, CURSOR).stylize(cell_meta(qualified, index, cursor=True))]
    sources = sorted(index for tensor, index in marks.sources
                     if tensor == qualified and valid_index(value, index))
    for index in sources[:LISTED_SOURCES]:
        lines += ["\n", Content.styled(f"◂ source {index_label(name, index)} = {fmt(value[index]).strip()}",
                                       SOURCE)]
    if len(sources) > LISTED_SOURCES:
        lines += ["\n", Content.styled(f"◂ + {len(sources) - LISTED_SOURCES} more source cells", SOURCE)]
    return lines


def scalar_line(name: str, label: Content, value: float) -> Content:
    """`label  value` (the forward pass's loss): one more cell for the cursor, under `name`."""
    text = f"  {number(value)}"
    marks = _MARKS.get()
    qualified = marks.qualify(name) if marks is not None else None
    if marks is None or qualified is None:
        return Content.assemble(label, text)
    marks.seen.append((qualified, np.asarray(value)))
    cell = (qualified, ())
    style = CURSOR if cell == marks.cursor else SOURCE if cell in marks.sources else ""
    shown = Content.styled(number(value), style)
    if marks.tagged:
        shown = shown.stylize(cell_meta(qualified, (), cursor=cell == marks.cursor))
    return Content.assemble(label, "  ", shown)


def pending(name: str, why: str) -> Content:
    return Content.assemble((name, "bold"), (f"  {why}", MUTED))


def side_by_side(left: Content, right: Content, available: int, gap: int = 3) -> Content:
    """Two blocks in columns when they fit the width, else one above the other:
    analytic beside numerical reads at a glance."""
    left_lines, right_lines = left.split("\n"), right.split("\n")
    width = max(line.cell_length for line in left_lines) + gap
    if width + max(line.cell_length for line in right_lines) > available:
        return Content.assemble(left, "\n", right)
    rows = max(len(left_lines), len(right_lines))
    left_lines += [Content("")] * (rows - len(left_lines))
    right_lines += [Content("")] * (rows - len(right_lines))
    return Content("\n").join(a.pad_right(width - a.cell_length) + b
                              for a, b in zip(left_lines, right_lines, strict=True))
