"""The training-health view (v): each weight layer's statistics over the steps the undo
history keeps, the verdicts in words (the report's section, tui.output.health), and
histograms of each layer's activations and weight gradients at the step on screen.

The tracker is rebuilt from the stepper's history when the view opens (tui.app.health):
nothing is measured while it is closed. The histograms are drawn by textual-plotext, as the
loss chart is; this module is imported when the view first opens."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
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

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="health-body"):
            yield Static(self.text(), id="health-text")
            for kind in ("activations", "gradients"):
                yield PlotextPlot(id=f"health-{kind}", classes="health-plot")

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
        shown = histograms(self.state)
        for kind, tensors in shown.items():
            plot = self.query_one(f"#health-{kind}", PlotextPlot)
            plot.display = bool(tensors)
            draw(plot, tensors, f"{kind} per layer at step {self.state.step}")


def draw(plot: PlotextPlot, tensors: dict[str, np.ndarray], title: str) -> None:
    """One histogram a tensor, overlaid, each in its colour with its name in the legend."""
    plt = plot.plt
    plt.clear_data()
    plt.clear_figure()
    for (name, values), colour in zip(tensors.items(), COLOURS * 4, strict=False):
        plt.hist(values.tolist(), bins=BINS, label=name, color=colour)
    plt.title(title)
    plot.refresh()
