"""StepperApp: keys -> actions -> the stepper -> a fresh render of its state.

The app holds no maths and no state of its own beyond what is on screen: every action
calls the stepper, then `show_state` redraws the widgets from `stepper.state`.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import ClassVar

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from engine.model import BUG_DESCRIPTIONS, make_model
from engine.stepper import Stepper
from tui.screens.help import HelpScreen
from tui.widgets.bars import NetworkLine, PhaseBar
from tui.widgets.panels import (
    ForwardPanel,
    GradcheckPanel,
    GradientsPanel,
    LossPanel,
    ParametersPanel,
    UpdatePanel,
)


class StepperApp(App[None]):
    TITLE = "backprop-stepper"
    CSS_PATH = "stepper.tcss"
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (110, "-wide"),
                                                               (170, "-very-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n,space,right", "next", "Next phase", id="next"),
        Binding("b,left", "back", "Back", id="back"),
        Binding("s", "finish_step", "Finish step", id="finish-step"),
        Binding("r", "reset", "Reset", id="reset"),
        Binding("g", "toggle_gradcheck", "Gradcheck on/off", id="toggle-gradcheck"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("tab", "app.focus_next", "Next panel", show=False, id="focus-next"),
        Binding("shift+tab", "app.focus_previous", "Previous panel", show=False, id="focus-previous"),
    ]
    #: What each action does, for the help screen and the command palette.
    DESCRIPTIONS: ClassVar[dict[str, str]] = {
        "next": "Run the next phase",
        "back": "Undo the last phase exactly (any depth)",
        "finish_step": "Run to the end of this step's update",
        "reset": "Back to the initial parameters (b undoes the reset)",
        "toggle_gradcheck": "Turn the gradient-check phase on or off",
        "help": "Show this help",
        "quit": "Quit",
        "app.focus_next": "Move to the next panel",
        "app.focus_previous": "Move to the previous panel",
        "command_palette": "The command palette: every action by name",
    }

    def __init__(self, stepper: Stepper) -> None:
        super().__init__()
        self.stepper = stepper

    def compose(self) -> ComposeResult:
        yield PhaseBar(id="phase-bar")
        yield NetworkLine(id="network")
        yield Static(id="banner")
        with VerticalScroll(id="panels"):
            yield ParametersPanel(id="parameters")
            yield ForwardPanel(id="forward")
            yield GradientsPanel(id="gradients")
            yield GradcheckPanel(id="gradcheck")
            yield UpdatePanel(id="update")
            yield LossPanel(id="loss")
        yield Footer()

    def on_mount(self) -> None:
        self.show_state()

    def show_state(self) -> None:
        """Redraw every widget from the stepper's state."""
        for widget in (self.query_one(PhaseBar), self.query_one(NetworkLine), *self.panels()):
            widget.show(self.stepper)
        self.show_banner()

    def panels(self) -> list:  # type: ignore[type-arg]
        return [*self.query("#panels > *")]

    def show_banner(self) -> None:
        banner = self.query_one("#banner", Static)
        nonfinite = self.stepper.state.nonfinite()
        if nonfinite:
            banner.update(f"Diverged: non-finite values in {', '.join(nonfinite)}. "
                          "s and the auto-run stop here; press b to go back or r to reset.")
        banner.display = bool(nonfinite)

    # ---- actions -------------------------------------------------------------
    def action_next(self) -> None:
        self.stepper.next()
        self.show_state()

    def action_back(self) -> None:
        if not self.stepper.back():
            self.notify("Already at the start: nothing to undo.", timeout=2)
        self.show_state()

    def action_finish_step(self) -> None:
        self.stepper.finish_step()
        self.show_state()

    def action_reset(self) -> None:
        self.stepper.reset()
        self.show_state()

    def action_toggle_gradcheck(self) -> None:
        self.stepper.gradcheck_enabled = not self.stepper.gradcheck_enabled
        self.notify(f"Gradient check {'on' if self.stepper.gradcheck_enabled else 'off'}.", timeout=2)
        self.show_state()

    def action_inject_bug(self, bug: str) -> None:
        """Fault drill: break the backward pass and rewind to this step's forward pass."""
        self.stepper.use_model(make_model(bug or None))
        if bug:
            self.notify(f"Injected bug {bug!r}: {BUG_DESCRIPTIONS[bug]} Press n to watch the "
                        "gradient check catch it.", timeout=6)
        else:
            self.notify("Bug removed: the correct backward pass is back.", timeout=3)
        self.show_state()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.key_table()))

    # ---- discoverability ---------------------------------------------------------
    def key_table(self) -> list[tuple[str, str]]:
        """(keys, description) for every binding, as currently mapped (keymaps included)."""
        rows = []
        for key, binding in self._bindings.key_to_bindings.items():
            for b in binding:
                rows.append((b.action, key))
        keys: dict[str, list[str]] = {}
        for action, key in rows:
            keys.setdefault(action, []).append(self.get_key_display(Binding(key, action)))
        table = [(", ".join(k), self.DESCRIPTIONS.get(a, a)) for a, k in keys.items()]
        table.append(("ctrl+p", self.DESCRIPTIONS["command_palette"]))
        return table

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for action in ("next", "back", "finish_step", "reset", "toggle_gradcheck", "help"):
            title = self.DESCRIPTIONS[action].split(" (")[0]
            yield SystemCommand(title, f"Same as the key for {action.replace('_', ' ')}",
                                getattr(self, f"action_{action}"))
        for bug, description in BUG_DESCRIPTIONS.items():
            yield SystemCommand(f"Inject bug: {bug}", f"Fault drill. {description}",
                                partial(self.action_inject_bug, bug))
        if getattr(self.stepper.model, "bug", None):
            yield SystemCommand("Remove injected bug", "Back to the correct backward pass",
                                partial(self.action_inject_bug, ""))
