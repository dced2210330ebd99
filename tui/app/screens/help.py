"""The help screen: every key (as currently mapped) and what each phase computes."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from engine.run.stepper import PHASES, Phase
from tui.app.screens.safe import OnceModal

INTRO = ("backprop-stepper runs one phase of backpropagation per keypress and shows every tensor it "
         "computes. The highlighted panel is the one the last phase filled; red marks dead ReLU units "
         "(z_l ≤ 0) and failing gradient-check elements.")


class HelpScreen(OnceModal[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close help", id="close-help"),
    ]

    def __init__(self, keys: list[tuple[str, str, str]], formulas: dict[Phase, str]) -> None:
        """`formulas`: the network's own (tui.app.widgets.formulas), so the help names the
        tensors the panels show."""
        super().__init__()
        self.keys = keys
        self.formulas = formulas

    def compose(self) -> ComposeResult:
        width = max(len(k) for k, _, _ in self.keys)
        id_width = max(len(i) for _, _, i in self.keys)
        rows = [Content.assemble((f"  {key:<{width}}", "bold $text-accent"),
                                 (f"  {binding_id:<{id_width}}", "$text-muted"), f"  {what}")
                for key, what, binding_id in self.keys]
        phases = [Content.assemble((f"  {phase.value}", "bold"), "\n",
                                   Content.styled("    " + self.formulas[phase].replace("\n", "\n    "),
                                                  "$text-muted"))
                  for phase in PHASES]
        body = Content("\n").join([
            Content.assemble(("Keys", "bold underline"), (" " * width + "binding id", "$text-muted")),
            *rows, Content(""),
            Content.styled("Phases", "bold underline"), *phases, Content(""),
            Content(INTRO),
            Content.styled("Keys can be remapped by binding id in a TOML file given with --config:\n"
                           "  [keymap]\n  next = \"j,down\"", "$text-muted"),
            Content.styled("Press escape or ? to close.", "$text-muted")])
        with VerticalScroll(id="help-body"):
            yield Static(body)

    def on_mount(self) -> None:
        self.query_one("#help-body").border_title = "Help"
