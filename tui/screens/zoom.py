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

from tui.screens.safe import OnceModal, SafeOptionList
from tui.text import printable
from tui.widgets.grid import TensorGrid
from tui.widgets.tensor import as_matrix, mean, norm, real_values, shape_label


class ZoomScreen(OnceModal[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,z,q", "dismiss", "Close zoom", id="close-zoom"),
    ]

    def __init__(self, tensors: dict[str, np.ndarray], first: str | None = None) -> None:
        super().__init__()
        self.tensors = tensors
        self.first = first if first in tensors else next(iter(tensors))

    def compose(self) -> ComposeResult:
        with Horizontal(id="zoom-body"):
            yield SafeOptionList(*[Option(Content(f"{printable(name, oneline=True)} {shape_label(v)}"),
                                          id=name) for name, v in self.tensors.items()], id="zoom-list")
            with Vertical(id="zoom-view"):
                yield Static(id="zoom-stats")
                yield TensorGrid(self.tensors[self.first], id="zoom-grid")

    def on_mount(self) -> None:
        self.query_one("#zoom-body").border_title = "Zoom: exact values (escape closes)"
        options = self.query_one(OptionList)
        options.highlighted = list(self.tensors).index(self.first)
        self.show(self.first)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is not None:
            self.show(event.option.id)

    def show(self, name: str) -> None:
        value = np.asarray(self.tensors[name])
        real, what = real_values(value)
        finite = real[np.isfinite(real)]
        stats = f"{printable(name, oneline=True)}  {shape_label(value)} {value.dtype}  {value.size:,} values"
        if value.ndim > 2:
            stats += f", shown as {'×'.join(map(str, as_matrix(value).shape))}"
        if finite.size:
            low, high = float(finite.min()), float(finite.max())
            stats += (f"\n{what}min {low!r}  max {high!r}  mean {mean(finite):.6g}  "
                      f"norm {norm(finite):.6g}")
        if finite.size < real.size:
            stats += f"\n{real.size - finite.size:,} non-finite value(s)"
        self.query_one("#zoom-stats", Static).update(Content(stats))
        self.query_one(TensorGrid).show(value)
