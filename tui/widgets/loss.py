"""The loss history: a sparkline and the last few values, one per step."""

from __future__ import annotations

import numpy as np
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Sparkline, Static

from engine.stepper import View
from tui.widgets.tensor import MUTED, number_format


class LossPanel(Vertical, can_focus=True):
    """The loss at each step's forward pass, and after the latest update."""

    def compose(self) -> ComposeResult:
        yield Sparkline([], id="sparkline")
        yield Static(id="loss-values")

    def on_mount(self) -> None:
        self.border_title = "Loss history"

    def show(self, view: View) -> None:
        state = view.state
        losses = list(state.losses)
        if state.update is not None:
            losses.append(state.update.loss_after)
        finite = [v for v in losses if np.isfinite(v)]
        sparkline = self.query_one(Sparkline)
        sparkline.display = len(finite) >= 2
        sparkline.data = finite
        if not losses:
            self.query_one("#loss-values", Static).update(
                Content.styled("no loss yet: the first forward pass computes it", MUTED))
            return
        fmt = number_format(np.array(losses))
        shown = list(enumerate(state.losses, start=1))[-8:]
        lines = [Content.assemble((f"step {k:>3}", MUTED), f"  {fmt(v)}") for k, v in shown]
        if state.update is not None:
            lines.append(Content.assemble((f"after {state.step:>2}", MUTED),
                                          (f"  {fmt(state.update.loss_after)}", "bold")))
        if len(state.losses) > 8:
            lines.insert(0, Content.styled(f"… {len(state.losses) - 8} earlier step(s)", MUTED))
        self.query_one("#loss-values", Static).update(Content("\n").join(lines))
