"""Tensors as text: name, shape, dtype and values, with the marks a learner needs.

Small tensors are printed in full, one row a line, in one number format per tensor (as
NumPy does) so columns line up. Large tensors are summarised (statistics and NumPy-style
corners) because rendering a 784x128 matrix cell by cell costs seconds a frame; the zoom
screen shows their exact values a window at a time.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
from textual.content import Content

from tui.text import printable, safe_repr

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
        return lambda v: f"{complex(v).real: {spec}}{complex(v).imag:+{spec}}j"
    if kind == "f":
        with np.errstate(all="ignore"):
            spec = _float_spec(np.abs(values.astype(np.float64).ravel()))
        return lambda v: f"{float(v): {spec}}"
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


def norm(values: np.ndarray) -> float:
    """The 2-norm of finite values without overflow: entries of 1e300 square to inf."""
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    return scale * float(np.linalg.norm(values / scale)) if scale > 0 else 0.0


def mean(values: np.ndarray) -> float:
    """The mean of finite values without overflow of their sum (each scaled to at most 1
    first: 200 values of 1.7e308 overflow even halved)."""
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    return scale * float(np.mean(values / scale)) if scale > 0 else 0.0


def real_values(value: np.ndarray) -> tuple[np.ndarray, str]:
    """Float64 values to take statistics of, and what they are: the magnitudes of complex
    numbers, integers and booleans as floats (a huge integer rounded)."""
    value = np.asarray(value)
    if value.dtype.kind == "c":
        with np.errstate(all="ignore"):
            return np.abs(value).astype(np.float64).ravel(), "|v| "
    if value.dtype.kind in "biuf":
        return value.astype(np.float64).ravel(), ""
    return np.zeros(0), ""


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
    real, what = real_values(value)
    finite = real[np.isfinite(real)]
    lines: list[str | tuple[str, str]] = []
    if finite.size:
        stats = (f"{what}min {finite.min(): .4g}  max {finite.max(): .4g}  mean {mean(finite): .4g}  "
                 f"norm {norm(finite):.4g}")
        lines.append((stats, MUTED))
    bad = real.size - finite.size
    if bad:
        lines.append((f"  {bad} non-finite", FAIL))
    with np.errstate(all="ignore"):
        corners = np.array2string(value, threshold=0, edgeitems=2, precision=4,
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


def grid(value: np.ndarray, style_of: Callable[[tuple[int, ...]], str] | None = None,
         row_note: Callable[[int], tuple[str, str] | None] | None = None, width: int = 0) -> Content:
    """Every value, a row a line; style_of picks a style per element, row_note annotates a row.

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
    parts: list[str | tuple[str, str]] = []
    for b, (first, last) in enumerate(bands):
        if b:
            parts.append("\n")
        if len(bands) > 1 and rows > 1:  # a vector's bands read on; a matrix's need saying
            parts.append((f"columns {first}–{last - 1}\n", MUTED))
        for r, row in enumerate(cells):
            top = r == 0 and (b == 0 or rows > 1)
            end = r == rows - 1 and (b == len(bands) - 1 or rows > 1)
            parts.append("[" if top else " ")
            for c in range(first, last):
                index = (c,) if value.ndim <= 1 else (r, c)
                parts.append((row[c], style_of(index) if style_of else ""))
            parts.append(" ]" if end else "")
            if row_note is not None and b == len(bands) - 1:
                note = row_note(r)
                if note:
                    parts.append((f"  {note[0]}", note[1]))
            if r < rows - 1:
                parts.append("\n")
    return Content.assemble(*parts)


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
    body = summary(value, width) if is_large(value) else grid(value, style_of, row_note, width)
    return Content.assemble(head, "\n", body)


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
