"""A scrollable view of every exact value of a tensor, of any size.

Built on Textual's line API: only the rows and columns on screen are ever formatted, so a
784x128 matrix scrolls as smoothly as a 4x3 one. Values are shown as Python's repr,
the same digits the JSON trace and the headless report print (a -0.0 as 0.0).
"""

from __future__ import annotations

import cmath
from typing import ClassVar

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.app.widgets.tensor import as_matrix
from tui.text import unsigned_zeros

#: Characters a cell: the repr of a float64 is at most 24 (e.g. -2.2250738585072014e-308), an
#: int64 or uint64 at most 20; a complex number gets two cells.
CELL = 24


class TensorGrid(ScrollView, can_focus=True):
    """Row and column indices stay on screen while the values scroll beneath them; a cell
    cursor (arrows or h/j/k/l, or a click) picks a value, and the scroll follows it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1, 0)", "Cursor up", show=False),
        Binding("down,j", "move(1, 0)", "Cursor down", show=False),
        Binding("left,h", "move(0, -1)", "Cursor left", show=False),
        Binding("right,l", "move(0, 1)", "Cursor right", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"tensorgrid--index", "tensorgrid--bad"}
    DEFAULT_CSS = """
    TensorGrid > .tensorgrid--index { color: $text-muted; text-style: bold; }
    TensorGrid > .tensorgrid--bad { color: $text-error; text-style: bold; }
    """

    class Moved(Message):
        """The cursor is on a new cell (row, col of the drawn matrix)."""

        def __init__(self, grid: TensorGrid) -> None:
            super().__init__()
            self.grid = grid

    def __init__(self, value: np.ndarray, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.cursor = (0, 0)
        self.show(value)

    def place(self, row: int, col: int) -> None:
        """Put the cursor on (row, col), clamped to the matrix, and scroll it into view."""
        rows, cols = self.matrix.shape
        self.cursor = (min(max(row, 0), max(rows - 1, 0)), min(max(col, 0), max(cols - 1, 0)))
        row, col = self.cursor
        x, y = self.scroll_offset
        seen = self.scrollable_content_region.size  # the scrollbars cover the rest of size
        seen_rows = max(1, seen.height - 1)
        seen_width = max(self.cell, seen.width - self.index_width)
        if row < y:
            y = row
        elif row >= y + seen_rows:
            y = row - seen_rows + 1
        if col * self.cell < x:
            x = col * self.cell
        elif (col + 1) * self.cell > x + seen_width:  # whole cells at the left edge
            x = -(-((col + 1) * self.cell - seen_width) // self.cell) * self.cell
        self.scroll_to(x, y, animate=False, immediate=True)
        self.refresh()
        self.post_message(self.Moved(self))

    def action_move(self, rows: int, cols: int) -> None:
        self.place(self.cursor[0] + rows, self.cursor[1] + cols)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0 or offset.x < self.index_width or not self.matrix.size:
            return
        row = offset.y - 1 + self.scroll_offset.y
        col = (offset.x - self.index_width + self.scroll_offset.x) // self.cell
        if row < self.matrix.shape[0] and col < self.matrix.shape[1]:
            self.place(row, col)

    def show(self, value: np.ndarray) -> None:
        """Any numeric array: booleans, integers (exact, however big), floats, complex
        numbers; a single number is one cell, more than two dimensions are flattened to a
        row per index of the first axis, and an empty array shows its empty header."""
        value = np.asarray(value)
        if value.dtype.kind not in "biufc":
            value = np.zeros(0)
        self.matrix = as_matrix(value)
        self.cell = 2 * CELL if value.dtype.kind == "c" else CELL
        rows, cols = self.matrix.shape
        self.index_width = len(str(max(rows - 1, 0))) + 3
        self.virtual_size = Size(self.index_width + cols * self.cell, rows + 1)
        self.cursor = (0, 0)
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index_style = self.get_component_rich_style("tensorgrid--index")
        bad_style = self.get_component_rich_style("tensorgrid--bad")
        rows, cols = self.matrix.shape
        width = self.size.width
        cell = self.cell
        first = scroll_x // cell
        last = min(cols, (scroll_x + width - self.index_width) // cell + 2)
        skip = scroll_x - first * cell
        if y == 0:  # the column header stays put
            text = "".join(f"{c:>{cell - 1}} " for c in range(first, last))
            cells = [Segment(text, index_style)]
            label = ""
        else:
            r = y - 1 + scroll_y
            if r >= rows:
                return Strip.blank(width)
            label = str(r)
            cells = []
            for c in range(first, last):
                v = self.matrix[r, c].item()  # a Python bool, int, float or complex: its repr
                bad = isinstance(v, float | complex) and not cmath.isfinite(v)
                style = bad_style if bad else None
                if (r, c) == self.cursor:
                    style = (style or Style()) + Style(reverse=True, bold=True)
                cells.append(Segment(f"{unsigned_zeros(v)!r:>{cell - 1}} ", style))
        body = Strip(cells).crop(skip, skip + width - self.index_width)
        head = Strip([Segment(f"{label:>{self.index_width - 2}}  ", index_style)])
        return Strip.join([head, body]).crop(0, width)
