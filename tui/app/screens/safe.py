"""Guards against keys typed faster than Textual (8.2.8) closes a screen or lays out a list.

Upstream races, met by a fast typist or a key held down:

- `Screen.dismiss` pops whatever screen is on top (`App.pop_screen`), even when it is
  called a second time for a screen already popped. Keys already routed to the closing
  screen's widgets (two Enters in an Input) each dismiss it, and the second pop raises
  `ScreenStackError: Can't pop screen` (or, with another screen beneath, pops that one).
  The command palette's `_select_command` and `_select_or_command` also run the chosen
  command a second time (two OptionSelected, or a Submitted, reach the closing palette).
- Keys queued behind q still run their bindings while the app exits: a screen pushed or
  popped then is torn down half-built (`NoMatches` in its on_mount), and the app ends with
  status 1 and a traceback. Once the app is exiting, every binding is disabled.
- An OptionList's pageup/pagedown before its first layout raises `KeyError: 0`
  (tui.app.compat.page_ready).

What these guards read of Textual's private API is in tui.app.compat.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from textual import on
from textual.await_complete import AwaitComplete
from textual.command import CommandInput
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList

from tui.app.compat import ClosingPalette, exiting, page_ready

ResultType = TypeVar("ResultType")
#: The most characters the command palette's search takes.
LONGEST_SEARCH = 256


class OnceModal(ModalScreen[ResultType]):
    """A modal screen dismissed at most once, and only while it is the active screen."""

    dismissed = False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not exiting(self.app)

    def dismiss(self, result: ResultType | None = None) -> AwaitComplete:
        if self.dismissed or not self.is_active:
            return cast(AwaitComplete, AwaitComplete.nothing())  # type: ignore[no-untyped-call]
        self.dismissed = True
        return super().dismiss(result)


class SafeOptionList(OptionList):
    """An OptionList whose pageup/pagedown before the first layout do nothing, not crash."""

    def action_page_up(self) -> None:
        if page_ready(self):
            super().action_page_up()  # type: ignore[no-untyped-call]

    def action_page_down(self) -> None:
        if page_ready(self):
            super().action_page_down()  # type: ignore[no-untyped-call]


class SafeCommandPalette(ClosingPalette):
    """Textual's command palette, closed and its command run once however fast Enter is
    pressed, and with page moves that wait for the list to have a size."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not exiting(self.app)

    def dismiss(self, result: Any = None) -> AwaitComplete:
        if not self.is_active:
            return cast(AwaitComplete, AwaitComplete.nothing())  # type: ignore[no-untyped-call]
        return super().dismiss(result)

    @on(Input.Changed)
    @on(Input.Submitted)
    @on(Button.Pressed)
    @on(OptionList.OptionSelected)
    def _closed_already(self, event: Message) -> None:
        """Runs before CommandPalette's own handlers (subclass first). Keys that reached the
        palette before it closed are dropped: a second Enter would select and run the
        command again, a letter would start a search in a palette being removed."""
        if not self.is_active:
            event.stop()
            event.prevent_default()

    @on(Input.Changed)
    def _superseded(self, event: Input.Changed) -> None:
        """A search is started at each key, and under a paste the keys come faster than
        searches: a Changed its input has moved on from starts none (the one queued behind
        it searches the newer text). Runs before CommandPalette's own handler."""
        if event.value != event.input.value:
            event.stop()
            event.prevent_default()

    def on_mount(self) -> None:
        """The search text is bounded as the config form's fields are (a command's name is
        a few words): without, each key of a paste posted the whole text typed so far."""
        self.query_one(CommandInput).max_length = LONGEST_SEARCH
