"""The CSV reader that goes line by line: it says what is wrong and where.

NumPy's C reader (engine.data.csv_table) reads the rows; this module reads the start of the
file (a header, the first row's width) and, only when a block of rows fails there, the lines
of that block, one at a time, to name the first bad line as the user sees it. Each check here
is the rule a row must meet, so a message names the line, the field and the problem.

Lines are counted as an editor counts them (split on \\n only; the \\r of a CRLF goes with the
spaces stripped from every field), so the line a message names is the line the user finds.
Blank lines are skipped wherever they are, as numpy.loadtxt and pandas do: they hold no sample,
and the numbers of the lines around them are unchanged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass

from engine.data.errors import DataError, LabelError
from engine.settings.bounds import MAX_CLASSES, MAX_INPUTS

SHOWN = 40  # characters of a bad field a message repeats

#: A line and its number (from 1).
Line = tuple[int, str]

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)  # float() takes "٣" too
_NOT_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
#: Fields that stand for a missing value in the files students use (UCI's '?', R's NA).
MISSING = ("", "?", "NA")


def _shown(text: str) -> str:
    return repr(text if len(text) <= SHOWN else f"{text[:SHOWN - 1]}…")


def _is_number(text: str) -> bool:
    text = text.strip()
    return bool(_NUMBER.fullmatch(text) or _NOT_FINITE.fullmatch(text))


def _value(text: str, line: int, column: int, label: bool) -> float:
    """The field as a finite float, or DataError saying what it is instead."""
    what = "the label" if label else f"field {column}"
    error = LabelError if label else DataError
    stripped = text.strip()
    if _NOT_FINITE.fullmatch(stripped):
        raise error(f"line {line}: {what} is {stripped}, not a finite number")
    if not _NUMBER.fullmatch(stripped):
        missing = ": a missing value; fill it in or delete the row" if stripped in MISSING else ""
        raise error(f"line {line}: {what} is {_shown(stripped)}, not a number{missing}")
    value = float(stripped)
    if not math.isfinite(value):
        raise error(f"line {line}: {what} {_shown(stripped)} is too large (overflows to infinity)")
    return value


def nul_refusal(text: str) -> None:
    """DataError naming the line of the first NUL, if text holds one: before anything else, as
    a binary file's first problem is that it is binary."""
    if "\0" in text:
        line = text.count("\n", 0, text.index("\0")) + 1
        raise DataError(f"line {line}: a NUL byte: this looks like a binary file, not CSV")


def numbered_lines(text: str) -> Generator[Line, None, None]:
    """The non-blank lines of text with their numbers, one at a time. A list of every line
    first would cost about 90 bytes a line before a single one was counted: 5.7 GB for a
    64 MiB file of short rows, only to refuse it for having too many."""
    number, start = 0, 0
    while start <= len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        number += 1
        line = text[start:end]
        if line and not line.isspace():
            yield number, line
        start = end + 1


@dataclass(frozen=True)
class Head:
    """The start of a CSV: its header's names (() when the first line holds numbers), the first
    row of numbers, how many fields every row has (the features and the label), and whether
    the labels are class names (the first row's label is not a number) rather than indices."""

    columns: tuple[str, ...]
    first: Line
    width: int
    named: bool = False
    label: str = ""  # the header's name of the last column ("" without a header)


def read_head(lines: Iterator[Line]) -> Head:
    """The header and the first row, taken from `lines`; DataError when there is no row, or the
    first row is too narrow or too wide, or the header does not name each of its fields."""
    first = next(lines, None)
    if first is None:
        raise DataError("the file is empty: no rows of numbers")
    header: tuple[int, list[str]] | None = None
    fields = first[1].split(",")
    if not all(_is_number(f) for f in fields[:-1]) or not _is_number(fields[-1]):
        following = next(lines, None)
        if following is None or _is_header(fields, following):
            header, first = (first[0], fields), following
            if first is None:
                raise DataError(f"line {header[0]} is a header and no rows of numbers follow it")
        # else numbers and a class name: the file's first row, e.g. 5.1,3.5,1.4,0.2,Iris-setosa
    first_line = first[0]
    width = len(first[1].split(","))
    if width < 2:
        semicolons = "; its fields are separated by semicolons: write commas" if ";" in first[1] else ""
        raise DataError(f"line {first_line} has 1 field: need at least one feature and a label "
                        f"(the last column){semicolons}")
    if width - 1 > MAX_INPUTS:  # here, not as --inputs, a flag the user never gave, fitted to the file
        raise DataError(f"line {first_line} has {width:,} fields: {width - 1:,} features and the label; a "
                        f"network takes at most {MAX_INPUTS:,} inputs")
    if header is not None and len(header[1]) != width:
        raise DataError(f"line {header[0]}: the header has {len(header[1])} names but line {first_line} "
                        f"has {width} fields{_quoted_comma(first[1])}")
    columns = _column_names(header[1][:-1]) if header is not None else ()
    label = _unquoted(header[1][-1].strip()) if header is not None else ""
    return Head(columns, first, width, named=not _is_number(first[1].rsplit(",", 1)[-1]), label=label)


def _is_header(fields: list[str], following: Line) -> bool:
    """Whether the first line (its `fields`) is a header, given the line after it: yes when a
    feature field is not a number; when only the label is not, yes if the next line's label
    is a number (x1,x2,label over 1,2,0) or the label's name says it is one (label, class, ...:
    LABEL_NAMES), no if it is a name too (the first row of a file whose classes are names and
    which has no header)."""
    return (not all(_is_number(f) for f in fields[:-1]) or _label_like(_unquoted(fields[-1].strip()))
            or _is_number(following[1].rsplit(",", 1)[-1]))


def _column_names(header: list[str]) -> tuple[str, ...]:
    """The header's names of the feature columns, as the map's axes and Explain show them:
    stripped, out of the double quotes R's write.csv and many exports put round them, each a
    line of at most SHOWN characters, and x1, x2, ... for a blank one."""
    names = []
    for j, text in enumerate(header):
        name = " ".join(_unquoted(text.strip()).split())  # one line: a tab or a stray \r is a space
        names.append(name[:SHOWN] if name else f"x{j + 1}")
    return tuple(names)


def _unquoted(name: str) -> str:
    """A name written as a quoted CSV field as it reads: "age" is age, and a doubled quote
    inside stands for one; a name not in quotes as it is."""
    if len(name) >= 2 and name[0] == name[-1] == '"':
        return name[1:-1].replace('""', '"')
    return name


def _fields(row: Line, head: Head) -> tuple[list[float], str]:
    """The row's features, and its last field as written, or DataError naming the first problem."""
    line, raw = row
    fields = raw.split(",")
    if len(fields) != head.width:
        raise DataError(f"line {line} has {len(fields)} fields, but line {head.first[0]} has {head.width}"
                        f"{_quoted_comma(raw)}")
    features = [_value(text_field, line, j + 1, label=False) for j, text_field in enumerate(fields[:-1])]
    return features, fields[-1]


def check_row(row: Line, head: Head) -> list[float]:
    """The row's features and its label (last), or DataError naming the first problem."""
    values, label = _fields(row, head)
    values.append(_label(label, row[0], head.width))
    return values


def check_named_row(row: Line, head: Head) -> tuple[list[float], str]:
    """The row's features and its label, a class name, or DataError naming the first problem."""
    values, label = _fields(row, head)
    name = class_name(label)
    check_name(name, row[0], head)
    return values, name


def class_name(text: str) -> str:
    """A label field as the class's name: stripped, out of double quotes ("M" is M)."""
    return _unquoted(text.strip())



def check_name(name: str, line: int, head: Head) -> None:
    """DataError when a class name (of the row at `line`) is missing or is a number: in a file
    whose labels are names, a number is a row that does not belong, or a typo."""
    if name in MISSING:
        raise LabelError(f"line {line}: the label is missing ({name!r}): give the row its class or "
                         "delete the row")
    if _is_number(name):
        first = class_name(head.first[1].rsplit(",", 1)[-1])
        raise LabelError(f"line {line}: the label is {_shown(name)}, a number, but line {head.first[0]}'s "
                         f"is {_shown(first)}, a name: the labels must be all names or all class indices")


def _label(text: str, line: int, width: int) -> int:
    """The row's label as a class index, or DataError saying what it is instead."""
    label = _value(text, line, width, label=True)
    if label < 0:
        svm = ": write the class -1 as 0" if label == -1 else ""  # an SVM's -1/+1
        raise LabelError(f"line {line}: the label is {text.strip()}: class indices start at 0{svm}")
    if not label.is_integer():
        raise LabelError(f"line {line}: the label is {text.strip()}, not a whole number "
                         "(a class index 0, 1, ...)")
    if label >= MAX_CLASSES:  # the network's own bound on its softmax
        raise LabelError(f"line {line}: the label {text.strip()} is too large: at most "
                         f"{MAX_CLASSES:,} classes (0..{MAX_CLASSES - 1})")
    return int(label)


def check_classes(label_line: dict[int, int]) -> None:
    """Every class 0..K-1 used, K at least 2; `label_line` holds each class's first line."""
    present = sorted(label_line)
    if len(present) == 1:
        raise LabelError(f"every label is {present[0]}: a classifier needs at least two classes")
    missing = [k for k in range(present[-1] + 1) if k not in label_line]
    if missing == [0] and present == list(range(1, present[-1] + 1)):
        raise LabelError(f"the labels are 1..{present[-1]} but class indices start at 0: "
                         "subtract 1 from each")
    if missing:
        k = min(c for c in present if c > missing[0])
        raise LabelError(f"the labels skip class {missing[0]}: line {label_line[k]} has label {k} "
                         f"but no row has label {missing[0]} (labels must be 0..K-1, every one used)")


def check_names(names: list[str]) -> None:
    """At least two class names, as check_classes asks of class indices."""
    if len(names) == 1:
        raise LabelError(f"every label is {_shown(names[0])}: a classifier needs at least two classes")


#: Header names that say a column is the label (compared in lower case, without spaces).
LABEL_NAMES = frozenset({"label", "labels", "class", "target", "diagnosis", "species", "outcome",
                         "survived", "digit", "category", "result"})


def label_hint(head: Head) -> str:
    """When the header names a feature column as a label (MNIST's label,pixel0,...), words
    saying to move it last, for a label's refusal to end with; "" otherwise, or when the last
    column's own name says it is the label."""
    if _label_like(head.label):
        return ""
    for j, name in enumerate(head.columns):
        if _label_like(name):
            return (f"; the header names column {j + 1} {_shown(name)}: if that is the label, move it "
                    "to the last column (the label is always the last)")
    return ""


def _label_like(name: str) -> bool:
    return name.lower().replace(" ", "").replace("_", "") in LABEL_NAMES


def _quoted_comma(raw: str) -> str:
    """Why a line may have a field too many: a quoted text with a comma in it (Titanic's
    "Braund, Mr. Owen Harris"), which this reader of numbers splits like any other comma."""
    if re.search(r'"[^"]*,[^"]*"', raw):
        return (" (a field in double quotes holds a comma; fields are numbers here, split at every "
                "comma: leave the column of text out)")
    return ""
