"""Zoom: pick any tensor of the current state and scroll through its exact values."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.app.screens.safe import OnceModal, SafeOptionList
from tui.app.widgets.grid import TensorGrid
from tui.app.widgets.statistics import statistics
from tui.app.widgets.tensor import (
    as_matrix,
    element_index,
    index_label,
    matrix_position,
    shape_label,
    valid_index,
)
from tui.text import number, printable


class ZoomScreen(OnceModal[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,z,q", "dismiss", "Close zoom", id="close-zoom"),
    ]

    def __init__(self, tensors: dict[str, np.ndarray], first: str | None = None,
                 cursor: tuple[int, ...] | None = None) -> None:
        """`cursor`: an index of `first` to open the grid at (a panel's cell cursor)."""
        super().__init__()
        self.tensors = tensors
        self.first = first if first in tensors else next(iter(tensors))
        self.cursor = cursor if first in tensors else None

    def compose(self) -> ComposeResult:
        with Horizontal(id="zoom-body"):
            yield SafeOptionList(*[Option(Content(f"{printable(name, oneline=True)} {shape_label(v)}"),
                                          id=name) for name, v in self.tensors.items()], id="zoom-list")
            with Vertical(id="zoom-view"):
                yield Static(id="zoom-stats")
                yield Static(id="zoom-cursor")
                yield TensorGrid(self.tensors[self.first], id="zoom-grid")

    def on_mount(self) -> None:
        self.query_one("#zoom-body").border_title = "Zoom: exact values (escape closes)"
        options = self.query_one(OptionList)
        options.highlighted = list(self.tensors).index(self.first)
        self.show(self.first)
        value = np.asarray(self.tensors[self.first])
        if self.cursor is not None and valid_index(value, self.cursor):
            grid = self.query_one(TensorGrid)
            grid.focus()
            self.call_after_refresh(grid.place, *matrix_position(value, self.cursor))

    def on_tensor_grid_moved(self, event: TensorGrid.Moved) -> None:
        self.show_cursor()

    def show_cursor(self) -> None:
        """The value under the grid's cursor, by its index into the tensor."""
        grid = self.query_one(TensorGrid)
        if not hasattr(self, "shown") or not grid.matrix.size:
            return
        value = np.asarray(self.tensors[self.shown])
        index = element_index(value, *grid.cursor)
        element = grid.matrix[grid.cursor].item()
        shown = number(element) if isinstance(element, float) else repr(element)
        self.query_one("#zoom-cursor", Static).update(
            Content(f"cursor {index_label(printable(self.shown, oneline=True), index)} = {shown}"))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is not None and event.option.id != getattr(self, "shown", None):
            self.show(event.option.id)

    def show(self, name: str) -> None:
        value = np.asarray(self.tensors[name])
        found = statistics(value)
        stats = f"{printable(name, oneline=True)}  {shape_label(value)} {value.dtype}  {value.size:,} values"
        if value.ndim > 2:
            stats += f", shown as {'×'.join(map(str, as_matrix(value).shape))}"
        if found.finite:
            stats += (f"\n{found.what}min {number(found.low)}  max {number(found.high)}  "
                      f"mean {number(found.mean, '.6g')}  norm {found.norm:.6g}")
        if found.nonfinite:
            stats += f"\n{found.nonfinite:,} non-finite value(s)"
        self.query_one("#zoom-stats", Static).update(Content(stats))
        self.shown = name
        self.query_one(TensorGrid).show(value)
        self.show_cursor()
