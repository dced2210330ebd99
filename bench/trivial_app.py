"""The baselines for bench/tui_latency.py's terminal figures.

By default the smallest Textual app that changes its screen on a key (a Static whose text
counts the presses of n): a ratio to it says what the stepper adds to Textual's own cost on
this machine. With --screen, each n repaints the whole screen with new styled numbers (as
many as the stepper's panels show, each with a style of its own): what redrawing a screenful
costs in Textual and tmux, with no maths and no layout, the floor of a key that changes
most of the screen.
"""

from __future__ import annotations

import random
import sys
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.content import Content
from textual.widgets import Static

STYLES = ["bold $accent", "$text-muted", "$text-error", "", "bold"]


def screenful(presses: int, lines: int = 38, columns: int = 11) -> Content:
    """New numbers each press (the standard library's random: the baseline imports nothing
    that a minimal Textual app does not)."""
    rng = random.Random(presses)
    return Content("\n").join(
        Content.assemble(*((f"{rng.gauss(0, 1):9.4f} ", STYLES[(r + c + presses) % len(STYLES)])
                           for c in range(columns)))
        for r in range(lines))


class Trivial(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [("n", "next", "Next"), ("q", "quit", "Quit")]

    def __init__(self, screen: bool = False) -> None:
        super().__init__()
        self.presses = 0
        self.whole_screen = screen

    def compose(self) -> ComposeResult:
        yield Static(screenful(0) if self.whole_screen else "presses 0", id="label")

    def action_next(self) -> None:
        self.presses += 1
        text = screenful(self.presses) if self.whole_screen else f"presses {self.presses}"
        self.query_one("#label", Static).update(text)


if __name__ == "__main__":
    Trivial(screen="--screen" in sys.argv[1:]).run()
