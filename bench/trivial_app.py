"""The baseline for bench/tui_latency.py's terminal figures: the smallest Textual app that
changes its screen on a key (a Static whose text counts the presses of n), so a ratio to it
says what the stepper adds to Textual's own cost on this machine."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.widgets import Static


class Trivial(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [("n", "next", "Next"), ("q", "quit", "Quit")]

    def __init__(self) -> None:
        super().__init__()
        self.presses = 0

    def compose(self) -> ComposeResult:
        yield Static("presses 0", id="label")

    def action_next(self) -> None:
        self.presses += 1
        self.query_one("#label", Static).update(f"presses {self.presses}")


if __name__ == "__main__":
    Trivial().run()
