"""A scrollable view of every exact value of a tensor, of any size.

Built on Textual's line API: only the rows and columns on screen are ever formatted, so a
784x128 matrix scrolls as smoothly as a 4x3 one. Values are shown as Python's repr,
the same digits the JSON trace and the headless report print.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from rich.segment import Segment
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

CELL = 24  # repr of a float64 is at most 24 characters (e.g. -2.2250738585072014e-308)


class TensorGrid(ScrollView, can_focus=True):
    """Row and column indices stay on screen while the values scroll beneath them."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"tensorgrid--index", "tensorgrid--bad"}
    DEFAULT_CSS = """
    TensorGrid > .tensorgrid--index { color: $text-muted; text-style: bold; }
    TensorGrid > .tensorgrid--bad { color: $text-error; text-style: bold; }
    """

    def __init__(self, value: np.ndarray, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.show(value)

    def show(self, value: np.ndarray) -> None:
        value = np.asarray(value, dtype=np.float64)
        self.matrix = value.reshape(1, -1) if value.ndim <= 1 else value.reshape(value.shape[0], -1)
        rows, cols = self.matrix.shape
        self.index_width = len(str(rows - 1)) + 3
        self.virtual_size = Size(self.index_width + cols * CELL, rows + 1)
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index_style = self.get_component_rich_style("tensorgrid--index")
        bad_style = self.get_component_rich_style("tensorgrid--bad")
        rows, cols = self.matrix.shape
        width = self.size.width
        first = scroll_x // CELL
        last = min(cols, (scroll_x + width - self.index_width) // CELL + 2)
        skip = scroll_x - first * CELL
        if y == 0:  # the column header stays put
            text = "".join(f"{c:>{CELL - 1}} " for c in range(first, last))
            cells = [Segment(text, index_style)]
            label = ""
        else:
            r = y - 1 + scroll_y
            if r >= rows:
                return Strip.blank(width)
            label = str(r)
            cells = []
            for c in range(first, last):
                v = float(self.matrix[r, c])
                cells.append(Segment(f"{v!r:>{CELL - 1}} ", bad_style if not np.isfinite(v) else None))
        body = Strip(cells).crop(skip, skip + width - self.index_width)
        head = Strip([Segment(f"{label:>{self.index_width - 2}}  ", index_style)])
        return Strip.join([head, body]).crop(0, width)
