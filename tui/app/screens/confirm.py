"""A yes/no question before something that cannot be undone: a change of settings that needs
new weights (the activation, the layer sizes, the initialisation, the seed, the data) starts
the run again from step 1, and its undo history goes with the old run."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Static

from tui.app.screens.safe import OnceModal
from tui.text import printable


class ConfirmScreen(OnceModal[bool]):
    """The question, answered by y or Enter on Yes (True), n or escape (False)."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > #confirm-body {
        width: 64; max-width: 100%; height: auto; border: thick $warning; background: $surface;
        padding: 0 1;
    }
    ConfirmScreen #confirm-buttons { height: auto; margin-top: 1; }
    ConfirmScreen Button { margin-right: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm-yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm-no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-body"):
            yield Static(Content(printable(self.question)), id="confirm-question")
            with Horizontal(id="confirm-buttons"):
                yield Button("Yes (y)", variant="warning", id="yes", compact=True)
                yield Button("No (n)", id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#confirm-body").border_title = "New weights?"
        self.query_one("#no", Button).focus()  # Enter alone keeps the run: a reset is asked for by y

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
