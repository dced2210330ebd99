"""The lines at the top: where the stepper is, what network it steps, and on what data."""

from __future__ import annotations

import numpy as np
from textual.content import Content
from textual.widgets import Static

from engine.maths.network import SOFTMAX_LOSS, Architecture
from engine.model.conventions import COLUMNS
from engine.run.stepper import PHASES, Phase, View
from tui.app.widgets import quiet
from tui.app.widgets.tensor import FAIL, MUTED, number_format, shape_label
from tui.text import printable


class PhaseBar(Static):
    """forward › backward › gradcheck › update, the next phase highlighted; step and loss."""

    def show(self, view: View) -> None:
        state = view.state
        parts: list[str | tuple[str, str]] = []
        for i, phase in enumerate(PHASES):
            if i:
                parts.append((" › ", MUTED))
            label = f" {phase.value} "
            if phase is Phase.GRADCHECK and not view.gradcheck_enabled:
                parts.append((label, "strike $text-muted"))
            elif phase is view.next_phase:
                parts.append((f"▶{label}", "bold reverse $accent"))
            elif phase is state.last_phase:
                parts.append((label, "bold $text-accent"))
            else:
                parts.append((label, ""))
        parts.append(("   step ", MUTED))
        parts.append((str(state.step), "bold"))
        if state.update:  # n starts the next step; the loss is the one the update left
            parts.append((" done", MUTED))
        loss = state.update.loss_after if state.update else state.forward.loss if state.forward else None
        parts.append(("   loss ", MUTED))
        parts.append((number_format(np.array([loss]))(loss).strip() if loss is not None else "—", "bold"))
        if view.forgotten:
            parts.append((f"   undo history: last {view.max_history} phases", MUTED))
        quiet.update(self, Content.assemble(*parts))


ACTIVATION_NAMES = {"relu": "ReLU", "leaky-relu": "leaky ReLU", "tanh": "tanh", "sigmoid": "sigmoid"}
LOSS_NAMES = {"bce": "BCE", "mse": "MSE", SOFTMAX_LOSS: "cross-entropy"}


def layer_function(arch: Architecture, l: int) -> str:
    """What follows W_l: the hidden activation, or the output's sigmoid or softmax."""
    if l < arch.depth:
        return ACTIVATION_NAMES[arch.activation]
    return "sigmoid" if arch.classes == 1 else "softmax"


def network_label(arch: Architecture, width: int = 0) -> str:
    """x(3) → W1(4×3), b1 → ReLU → W2(1×4), b2 → sigmoid → BCE, for any depth; when that is
    wider than `width`, the sizes alone: x(784) → 256 → 128 → 10 · ReLU · softmax → cross-entropy."""
    parts = [f"x({arch.inputs})"]
    for l, (n_in, n_out) in enumerate(zip(arch.sizes, arch.sizes[1:], strict=False), start=1):
        parts.append(f"W{l}({n_out}×{n_in}), b{l} → {layer_function(arch, l)}")
    full = " → ".join(parts) + f" → {LOSS_NAMES[arch.loss]}"
    if not width or len(full) <= width:
        return full
    return (" → ".join([f"x({arch.inputs})", *map(str, arch.sizes[1:])]) +
            f" · {layer_function(arch, 1)} · {layer_function(arch, arch.depth)} → {LOSS_NAMES[arch.loss]}")


class NetworkLine(Static):
    """x(3) -> W1(4x3), b1 -> ReLU -> W2(1x4), b2 -> sigmoid -> BCE, with y, lr and eps."""

    def show(self, view: View) -> None:
        self.view = view
        c = view.config
        init = "" if c.init == "notebook" else f"  init={c.init}"
        label = "" if view.data is not None else f"y={c.y}  "  # with data: the batch line's
        run = f"   {label}lr={c.lr:g}  eps={c.eps:g}  seed={c.seed}{init}"
        # Before the first layout the widget has no width yet: the screen's is near enough.
        width = self.content_size.width or self.app.size.width - 2
        if view.user_code:  # its own shapes, not the built-in network's
            follows = "" if view.convention == "notebook" else f" ({view.convention})"
            net = f"model: {printable(view.model_name, oneline=True)}{follows} · " + ", ".join(
                f"{name}{shape_label(np.asarray(value))}" for name, value in view.state.params.items())
            parts: list[str | tuple[str, str]] = [(printable(net, oneline=True), FAIL), (run, MUTED)]
        else:
            parts = [network_label(c.architecture, width - len(run)), (run, MUTED)]
        if view.bug:
            parts.append((f"   bug: {printable(view.bug, oneline=True)}", FAIL))  # a session's, as saved
        quiet.update(self, Content.assemble(*parts))

    def on_resize(self) -> None:
        if hasattr(self, "view"):
            self.show(self.view)


def percent(fraction: float | None) -> str:
    return "—" if fraction is None else f"{100 * fraction:.1f}%"


class BatchLine(Static):
    """With data: the data set, this step's batch and epoch, the fit to the training and
    test rows, and the sample the panels show ([ and ] step through the batch)."""

    def show(self, view: View) -> None:
        data = view.data
        self.display = data is not None
        if data is None:
            return
        dataset = data.dataset
        scaled = ", standardized" if data.standardized else ""
        parts: list[str | tuple[str, str]] = [
            (f"{printable(dataset.name, oneline=True)} ", "bold"),
            (f"{len(dataset.train)} train / {len(dataset.test)} test{scaled}", MUTED)]
        state = view.state
        if state.rows is not None:
            batch = "full batch" if data.full_batch else f"batch {len(state.rows)}"
            parts.append((f" · {batch} · epoch {data.epoch(state.step)}", MUTED))
        metrics = state.forward.metrics if state.forward is not None else None
        if metrics is not None:
            parts += [("   train ", MUTED), (f"loss {metrics.train_loss:.4f} acc "
                                            f"{percent(metrics.train_accuracy)}", "bold")]
            if metrics.test_loss is not None:
                parts += [("   test ", MUTED), (f"loss {metrics.test_loss:.4f} acc "
                                               f"{percent(metrics.test_accuracy)}", "bold")]
        elif state.forward is not None and state.forward.running is not None:
            running = state.forward.running
            parts += [(f"   {running.label()} ", MUTED), (f"{running.mean:.4f}", "bold"),
                      ("   train/test: not measured this step (a: now)", MUTED)]
        sample = view.sample
        if sample is not None:
            own = "" if sample.loss is None else f" · its loss {sample.loss:.4f}"
            parts += [("\n", ""), (f"sample {sample.index + 1}/{sample.size}", "bold $text-accent"),
                      (f" · row {sample.row} · y={sample.y}{_class_name(view, sample.y)}{own} · panels: its "
                       f"{'columns' if view.convention in COLUMNS else 'rows'}, the batch's "
                       "mean gradients · [ ] another", MUTED)]
        quiet.update(self, Content.assemble(*parts))


def _class_name(view: View, y: int) -> str:
    """A class's name after its index, when a CSV file named the classes: " (Iris-setosa)"."""
    names = view.data.dataset.class_names if view.data is not None else ()
    return f" ({printable(names[y], oneline=True)[:40]})" if names else ""
