"""The training-health view (v): each weight layer's statistics over the steps the undo
history keeps, the verdicts in words (the report's section, tui.output.health), and
histograms of each layer's activations and weight gradients at the step on screen: one small
plot a layer side by side, as makemore's part 3 reads them layer by layer (overlaid in one
plot, a terminal's bars hide one another).

The tracker is rebuilt from the stepper's history when the view opens (tui.app.health):
nothing is measured while it is closed. The histograms are drawn by textual-plotext, as the
loss chart is; this module is imported when the view first opens."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import Static
from textual_plotext import PlotextPlot

from engine.data.batches import Data
from engine.run.health import Health, inputs_scale
from engine.run.stepper import State
from tui.app.screens.safe import OnceModal
from tui.app.widgets.chart import TEST, TEST_ACCURACY, TRAIN, TRAIN_ACCURACY
from tui.app.widgets.tensor import MUTED
from tui.output.health import health_lines

COLOURS = (TRAIN, TEST, TRAIN_ACCURACY, TEST_ACCURACY)
BINS = 30


def histograms(state: State) -> dict[str, dict[str, np.ndarray]]:
    """Per weight layer l, a_l (a hidden layer's activations, from the forward cache) and dW_l
    (its weight gradient) at this state, where it has them."""
    cache = state.forward.cache if state.forward is not None else {}
    grads = state.backward or {}
    shown: dict[str, dict[str, np.ndarray]] = {"activations": {}, "gradients": {}}
    l = 1
    while f"W{l}" in state.params:
        for kind, tensors, name in (("activations", cache, f"a{l}"), ("gradients", grads, f"dW{l}")):
            if kind == "activations" and f"W{l + 1}" not in state.params:
                continue  # the output's probabilities: not a layer that dies or saturates
            value = np.asarray(tensors.get(name, []), dtype=np.float64).ravel()
            if value.size and np.isfinite(value).any():
                shown[kind][name] = value[np.isfinite(value)]
        l += 1
    return shown


class HealthScreen(OnceModal[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,v,q", "dismiss", "Close the health view", id="close-health"),
    ]

    def __init__(self, health: Health, data: Data | None, state: State) -> None:
        super().__init__()
        self.health = health
        self.data = data
        self.state = state
        self.shown = histograms(state)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="health-body"):
            yield Static(self.text(), id="health-text")
            for kind, tensors in self.shown.items():
                with Horizontal(id=f"health-{kind}", classes="health-row") as row:
                    row.display = bool(tensors)
                    for name in tensors:
                        yield PlotextPlot(id=f"health-{name}", classes="health-plot")

    def text(self) -> Content:
        """The statistics and the verdicts, as the report words them."""
        lines = health_lines(self.health, self.data)
        if not lines:
            notice = None if self.data is None else inputs_scale(self.data)
            lines = ["No finished step yet: the statistics come with the first update (s, or t to train)."]
            lines += [f"  ⚠ {notice.says}."] if notice is not None else ["No verdict yet."]
        head = Content.styled(f"{self.health.steps} finished step(s) kept in the undo history, "
                              f"up to step {self.state.step}\n", MUTED)
        return Content.assemble(head, "\n".join(lines))

    def on_mount(self) -> None:
        self.query_one("#health-body").border_title = "Training health (escape closes)"
        for tensors in self.shown.values():
            for (name, values), colour in zip(tensors.items(), COLOURS * len(tensors), strict=False):
                draw(self.query_one(f"#health-{name}", PlotextPlot), values, colour,
                     f"{name} at step {self.state.step}")


def draw(plot: PlotextPlot, values: np.ndarray, colour: tuple[int, int, int], title: str) -> None:
    """One tensor's histogram, titled with its name and the step."""
    plt = plot.plt
    plt.clear_data()
    plt.clear_figure()
    plt.hist(values.tolist(), bins=BINS, color=colour)
    plt.title(title)
    plot.refresh()
