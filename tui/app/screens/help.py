"""The help screen: every key (as currently mapped), the notation, and what each phase computes.

Its text is laid out for its width (HelpText): a key's description or a formula too long for
its line wraps inside its own column, under where it started, not back at column 0.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import ClassVar

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from engine.run.stepper import PHASES, Phase
from tui.app.screens.safe import OnceModal
from tui.app.widgets.tensor import CURSOR, DEAD, FAIL, FRESH, PASS, SOURCE, WARN

INTRO = ("backprop-stepper runs one phase of backpropagation per keypress and shows every tensor it "
         "computes. The highlighted panel is the one the last phase filled; red marks dead ReLU units "
         "(z_l ≤ 0) and failing gradient-check elements.")

#: What the symbols on screen mean: (symbol, its style on screen, meaning).
NOTATION = (
    ("dX", "bold", "∂L/∂X: how the loss L changes as X changes (dW1 = ∂L/∂W1, the notebook's "
                   "grads['dW1']); the same shape as X"),
    ("z_l", "bold", "layer l's pre-activation W_l·a_(l−1) + b_l, with a_0 = x (z1, z2 on screen)"),
    ("a_l", "bold", "layer l's activation f(z_l); the last layer's is the prediction"),
    ("δ_l", "bold", "textbooks' name for dz_l = ∂L/∂z_l, the error a layer passes back"),
    ("· ⊙ ᵀ", "bold", "matrix product, element-wise product, transpose"),
    ("W1[i, j]", "bold", "the element of W1 at row i, column j, counted from 0"),
    ("✓ pass", PASS, "the gradient check's numerical gradient agrees with backward's (analytic) one"),
    ("✗ FAIL", FAIL, "it does not: backward computes that tensor wrongly (the diagnosis says where)"),
    ("? unresolved", WARN, "too small to judge: below the rounding floor, neither passed nor failed"),
    ("⚡ kink", WARN, "the nudge crosses a ReLU's corner, where the slope jumps: judged by the "
                     "one-sided slopes instead"),
)

#: What the colours mean, each shown in its own style.
COLOURS = (
    ("new numbers", FRESH, "what the last phase computed, in the panel with the heavy border"),
    ("red", DEAD, "a dead ReLU unit (z_l ≤ 0: no gradient passes it), a failing element"),
    ("yellow", WARN, "a kink, an unresolved element, a warning"),
    ("green", PASS, "a passing check, a loss that fell"),
    ("lit", SOURCE, "the numbers the element under the cursor is computed from (e explains it)"),
    ("cursor", CURSOR, "the cell cursor: Tab moves to a panel, the arrows through its numbers"),
)


def hanging(lead: Content, text: str, indent: int, width: int, style: str = "") -> Content:
    """`lead` (`indent` cells wide), then `text` wrapped to the room left of `width`, its
    further lines indented as far; unwrapped before there is a width (0)."""
    room = max(16, width - indent) if width > 0 else 1 << 20
    lines = textwrap.wrap(text, room, break_on_hyphens=False) or [""]
    return Content("\n").join([Content.assemble(lead if i == 0 else " " * indent, (line, style))
                               for i, line in enumerate(lines)])


def table(rows: tuple[tuple[str, str, str], ...], width: int) -> list[Content]:
    """Symbol, in its style, and meaning, in two columns."""
    column = max(cell_len(symbol) for symbol, _, _ in rows)  # ⚡ takes two cells
    return [hanging(Content.assemble("  ", (symbol, style), " " * (column - cell_len(symbol) + 2)),
                    meaning, column + 4, width) for symbol, style, meaning in rows]


class HelpText(Static):
    """Text drawn again for each new width by `build(width)`."""

    def __init__(self, build: Callable[[int], Content]) -> None:
        super().__init__(build(0))
        self.build = build

    def on_resize(self, event: events.Resize) -> None:
        self.update(self.build(event.size.width))


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

    def text(self, width: int) -> Content:
        """The whole help, laid out for `width` columns."""
        key_width = max(len(k) for k, _, _ in self.keys)
        id_width = max(len(i) for _, _, i in self.keys)
        rows = [hanging(Content.assemble((f"  {key:<{key_width}}", "bold $text-accent"),
                                         (f"  {binding_id:<{id_width}}", "$text-muted"), "  "),
                        what, key_width + id_width + 6, width)
                for key, what, binding_id in self.keys]
        phases = [Content.assemble((f"  {phase.value}", "bold"), "\n", Content("\n").join(
            [hanging(Content("    "), line, 4, width, "$text-muted")
             for line in self.formulas[phase].split("\n")]))
                  for phase in PHASES]
        return Content("\n").join([
            Content.assemble(("Keys", "bold underline"), (" " * key_width + "binding id", "$text-muted")),
            *rows, Content(""),
            Content.styled("Notation", "bold underline"), *table(NOTATION, width), Content(""),
            Content.styled("Colours", "bold underline"), *table(COLOURS, width), Content(""),
            Content.styled("Phases", "bold underline"), *phases, Content(""),
            Content(INTRO),
            Content.styled("Keys can be remapped by binding id in a TOML file given with --config:\n"
                           "  [keymap]\n  next = \"j,down\"", "$text-muted"),
            Content.styled("Press escape or ? to close.", "$text-muted")])

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield HelpText(self.text)

    def on_mount(self) -> None:
        self.query_one("#help-body").border_title = "Help"
