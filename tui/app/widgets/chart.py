"""The loss chart: the loss (and, with data, the accuracy) at every step, with axes and values.

Drawn by textual-plotext (a Plotext plot in a Textual widget: real axes, tick values and a
legend, lines in braille dots), under which the last values are printed as numbers.

Without data the one thing known per step is the loss of its forward pass (the one
sample's), and after an update the loss the updated parameters give. With a data set it
is the training rows' and the test rows' mean loss at each step's parameters (left axis),
and their accuracy (right axis, in percent).

A run of 100,000 steps cannot be drawn point by point in 60 columns, and plotext would
spend seconds trying: each series is cut to the chart's width first (downsample).
"""

from __future__ import annotations

import importlib
import itertools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content

from engine.run.stepper import Curves, View
from tui.app.compat import OneLayout
from tui.app.widgets import palette, quiet
from tui.app.widgets.tensor import MUTED

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot

Array = NDArray[np.float64]

#: Blues for the training rows (the one sample without data), oranges for the test rows: a
#: palette for colour-blind readers too (tui.app.widgets.palette).
TRAIN, TEST = palette.TRAIN_LOSS, palette.TEST_LOSS
TRAIN_ACCURACY, TEST_ACCURACY = palette.TRAIN_ACCURACY, palette.TEST_ACCURACY
BATCH_MEAN = palette.BATCH_MEAN
SHOWN = 6  # last losses listed without data
#: A stepper that keeps no trail.
_NONE = np.zeros(0)
NO_CURVES = Curves(_NONE, _NONE, _NONE, _NONE, _NONE, _NONE, np.zeros(0, dtype=np.int64),
                   np.zeros(0, dtype=bool))


def downsample(steps: Array, values: Array, buckets: int) -> tuple[Array, Array]:
    """At most about 2 x buckets points of (steps, values), NaNs dropped: the minimum and
    the maximum of each bucket of consecutive steps, in step order, and always the first
    and the last step.

    Min and max rather than the mean: a mean smooths a spike away, and a spike is what a
    learner must see (a learning rate too high, an unlucky batch, the start of divergence);
    with min and max the drawn band covers every value the run took."""
    keep = np.isfinite(values)
    steps, values = steps[keep], values[keep]
    n = len(values)
    if n <= 2 * buckets or n < 3:
        return steps, values
    edges = np.linspace(0, n, buckets + 1).astype(np.intp).tolist()
    picks = [0, n - 1]
    for start, end in itertools.pairwise(edges):  # a loop over buckets, not steps
        chunk = values[start:end]
        picks += [start + int(np.argmin(chunk)), start + int(np.argmax(chunk))]
    index = np.unique(np.array(picks, dtype=np.intp))  # sorted: the points stay in step order
    return steps[index], values[index]


def percent(v: float) -> str:
    return "—" if not np.isfinite(v) else f"{100.0 * v:.1f}%"


def value(v: float) -> str:
    return "—" if not np.isfinite(v) else f"{v:.4g}"


class LossChart(OneLayout, Vertical, can_focus=True):
    """Loss (and accuracy) per step: the chart, then the last values."""

    DEFAULT_CSS = """
    LossChart PlotextPlot {
        height: 12;
    }
    LossChart #loss-values {
        height: auto;
    }
    """

    drawn_from: tuple[object, ...] | None = None  # what the chart on screen was drawn from
    #: The loss axis on a log scale (y): a jump by orders of magnitude and the slow fall
    #: after it both readable, where a linear axis flattens all but the jump.
    log_scale = False

    def compose(self) -> ComposeResult:
        yield quiet.QuietStatic(id="loss-values")

    def on_mount(self) -> None:
        self.border_title = "Loss history"
        # The plot (plotext, about 30 ms to import) is mounted when a second point comes: the
        # first screen does not wait for it, and it is imported meanwhile, off the event loop.
        self.call_after_refresh(threading.Thread(target=importlib.import_module, args=("textual_plotext",),
                                                 name="import-plotext", daemon=True).start)

    def plot(self, shown: bool) -> PlotextPlot | None:
        """The chart's plot, mounted the first time it is shown; None before."""
        found = self.query("#loss-plot")
        if found:
            return cast("PlotextPlot", found.first())
        if not shown:
            return None
        from textual_plotext import PlotextPlot  # plotext is slow to import: only once a chart is shown

        plot = PlotextPlot(id="loss-plot")
        self.mount(plot, before=0)
        return plot

    def show(self, view: View) -> None:
        state = view.state
        after = state.update.loss_after if state.update is not None else None
        has_data = view.data is not None
        width = plot.size.width if (plot := self.plot(False)) is not None else 0
        # With data the chart has no point for the loss after the update: that key leaves it be.
        drawn_from = (state.trail, None if has_data else after, has_data, state.step, width, self.log_scale)
        if quiet.same(drawn_from, self.drawn_from):
            return  # the same losses: plotext's figure is not built again
        self.drawn_from = drawn_from
        curves = state.trail.curves() if state.trail is not None else NO_CURVES
        # A chart of one point says less than its number: it appears with a second one (the
        # loss after the first update, or a second step).
        shown = len(curves.loss) + (after is not None and not has_data) >= 2
        plot = self.plot(shown)
        if plot is not None:
            plot.display = shown
        steps = f" · step {len(curves.loss)}" if len(curves.loss) else ""  # a reset has none
        scale = " · log scale" if self.log_scale else ""
        self.border_title = (f"Loss and accuracy{steps}" if has_data else "Loss history") + scale
        if len(curves.loss) and plot is not None and shown:
            draw(plot, curves, after, has_data, max(8, width or 60), self.log_scale)
        self.show_values(curves, after, has_data, shown, state.step)

    def show_values(self, curves: Curves, after: float | None, has_data: bool, shown: bool,
                    step: int) -> None:
        """The numbers under the chart: the last line alone (no legend) without a chart."""
        values = self.query_one("#loss-values", quiet.QuietStatic)
        if not len(curves.loss):
            quiet.update(values, Content.styled("no loss yet: the first forward pass computes it", MUTED))
            return
        listed = data_values(curves) if has_data else sample_values(curves, after, step)
        listed = listed if shown else listed.split("\n")[-1]
        quiet.update(values, quiet.steady(values, listed, (has_data, shown)))


def draw(plot: PlotextPlot, curves: Curves, after: float | None, has_data: bool, buckets: int,
         log_scale: bool = False) -> None:
    """Replot every series (plotext has no update of a series: clear and plot again); the
    loss axis on a log scale when asked (the accuracy's stays in percent).

    The log scale is drawn here, log10 of the losses on a linear axis labelled in losses:
    plotext's own (yscale "log") takes the log of its data in place at each build, so a
    second build of the same figure, at any repaint of the plot on screen (a resize), took
    the log of the logs and raised "math domain error", ending the app."""
    plt = plot.plt
    plt.clear_data()
    plt.clear_figure()
    steps = np.arange(1, len(curves.loss) + 1, dtype=np.float64)
    series: list[tuple[Array, tuple[int, int, int], str]]
    if has_data:
        series = [(curves.running, BATCH_MEAN, "left"),
                  (curves.train_loss, TRAIN, "left"), (curves.test_loss, TEST, "left"),
                  (curves.train_accuracy, TRAIN_ACCURACY, "right"),
                  (curves.test_accuracy, TEST_ACCURACY, "right")]
    else:
        series = [(curves.loss, TRAIN, "left")]
    scale = loss_scale(log_scale)
    logged: list[Array] = []
    for values, colour, side in series:
        x, y = downsample(steps, values, buckets)
        if not len(y):
            continue
        y = 100.0 * y if side == "right" else scale(y)
        logged += [y] if side == "left" else []
        if len(y) == 1:  # a line of one point is one braille dot: too small to find
            plt.scatter(x.tolist(), y.tolist(), color=colour, yside=side, marker="●")
        else:
            plt.plot(x.tolist(), y.tolist(), color=colour, yside=side, marker="braille")
    last = len(steps)
    if after is not None and not has_data and np.isfinite(after):
        plt.scatter([last + 0.5], scale(np.array([after])).tolist(), color=TEST, marker="●")
        logged.append(scale(np.array([after])))
    if has_data:
        # plotext is untyped: mypy infers its keyword arguments from their default, None
        plt.ylim(0, 100, yside="right")  # type: ignore[arg-type]
    if log_scale and logged:
        loss_ticks(plt, np.concatenate(logged))
    ticks = step_ticks(last)
    plt.xticks(ticks, [str(int(t)) for t in ticks])
    plot.refresh()


def loss_scale(log_scale: bool) -> Callable[[Array], Array]:
    """The losses as plotted: log10 of them on a log scale (a loss of 0 at the smallest
    positive float's), else as they are."""
    if not log_scale:
        return lambda y: y
    return lambda y: np.log10(np.maximum(y, np.finfo(np.float64).tiny))


def loss_ticks(plt: Any, logged: Array) -> None:
    """The log scale's ticks: four, evenly spaced in log10 over the finite values, each
    labelled with the loss it stands for."""
    finite = logged[np.isfinite(logged)]
    if not finite.size:
        return
    ticks = np.linspace(float(finite.min()), float(finite.max()), 4 if np.ptp(finite) else 1)
    plt.yticks(ticks.tolist(), [f"{10.0 ** t:.3g}" for t in ticks], yside="left")


def step_ticks(last: int, most: int = 5) -> list[float]:
    """Whole step numbers, the first and the last among them (plotext's own ticks fall
    between steps: "8.1" of a step count reads as a bug)."""
    return sorted({float(round(t)) for t in np.linspace(1, last, min(most, last))})


def key(colour: tuple[int, int, int]) -> tuple[str, str]:
    return "━", "rgb({},{},{})".format(*colour)


def sample_values(curves: Curves, after: float | None, step: int) -> Content:
    """The legend, then the last few losses of the one sample and the loss after the latest
    update (plotext's own legend would sit on the curve)."""
    losses = curves.loss
    legend = [key(TRAIN), (" loss of the step's forward pass", MUTED)]
    if after is not None:
        legend += [("   ●", "rgb({},{},{})".format(*TEST)), (" after the update", MUTED)]
    first = max(0, len(losses) - SHOWN)
    parts: list[Content] = []
    if first:
        parts.append(Content.styled(f"… {first} earlier  ", MUTED))
    for k in range(first, len(losses)):
        parts.append(Content.assemble((f"{k + 1}: ", MUTED), f"{value(losses[k])}  "))
    if after is not None:
        parts.append(Content.assemble((f"after {step}: ", MUTED), (value(after), "bold")))
    return Content("\n").join([Content.assemble(*legend), Content("").join(parts)])


def data_values(curves: Curves) -> Content:
    """The legend, then the fit last measured: the training and test rows' loss and accuracy
    (with its step when it is not this one's: the whole sets are measured on a schedule), and
    this step's batch loss, or between measurements the batch losses' running mean, named so."""
    k = len(curves.loss) - 1
    legend = Content.assemble(("loss ", MUTED), key(TRAIN), (" train ", MUTED), key(TEST), (" test", MUTED),
                              (" ", MUTED), key(BATCH_MEAN), (" batch mean", MUTED),
                              ("   acc % (right) ", MUTED), key(TRAIN_ACCURACY), (" train ", MUTED),
                              key(TEST_ACCURACY), (" test", MUTED))
    measured = np.flatnonzero(curves.measured)
    m = int(measured[-1]) if len(measured) else k
    at = "" if m == k else f" (step {m + 1})"
    batch: list[str | tuple[str, str]] = [("  batch ", MUTED), value(curves.loss[k])]
    if m != k and curves.window[k]:
        batch = [(f"  batch loss, mean of last {int(curves.window[k])} ", MUTED), value(curves.running[k])]
    numbers = Content.assemble(
        ("train ", MUTED), value(curves.train_loss[m]), " ", (percent(curves.train_accuracy[m]), "bold"),
        ("  test ", MUTED), value(curves.test_loss[m]), " ", (percent(curves.test_accuracy[m]), "bold"),
        (at, MUTED), *batch)
    return Content("\n").join([legend, numbers])
