"""Guards against keys typed faster than Textual (8.2.8) closes a screen or lays out a list.

Two upstream races, met by a fast typist or a key held down:

- `Screen.dismiss` pops whatever screen is on top (`App.pop_screen`), even when it is
  called a second time for a screen already popped. Keys already routed to the closing
  screen's widgets (two Enters in an Input) each dismiss it, and the second pop raises
  `ScreenStackError: Can't pop screen` (or, with another screen beneath, pops that one).
  The command palette's `_select_command` and `_select_or_command` also run the chosen
  command a second time (two OptionSelected, or a Submitted, reach the closing palette).
- Keys queued behind q still run their bindings while the app exits: a screen pushed or
  popped then is torn down half-built (`NoMatches` in its on_mount), and the app ends with
  status 1 and a traceback. Once the app is exiting, every binding is disabled.
- `OptionList._move_page` (pageup/pagedown) reads `_index_to_line[highlighted]`, a cache
  that `_update_lines` leaves empty while the list has no size yet (before its first
  layout), and raises `KeyError: 0`.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from textual import on
from textual.app import App
from textual.await_complete import AwaitComplete
from textual.command import CommandInput, CommandList, CommandPalette
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList

ResultType = TypeVar("ResultType")
#: The most characters the command palette's search takes.
LONGEST_SEARCH = 256


def exiting(app: App[Any]) -> bool:
    """Whether App.exit has been called (Textual keeps it in `_exit`; pinned version)."""
    return bool(getattr(app, "_exit", False))


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


def page_ready(options: OptionList) -> bool:
    """Whether a page move can run: OptionList lays out its lines only once it has a size,
    and again after its options change (the palette's list fills while keys arrive); until
    then the highlighted option has no line and Textual 8.2.8's page move raises KeyError."""
    if not options.option_count:
        return True
    return bool(options.scrollable_content_region) and \
        (options.highlighted or 0) in options._index_to_line


class SafeOptionList(OptionList):
    """An OptionList whose pageup/pagedown before the first layout do nothing, not crash."""

    def action_page_up(self) -> None:
        if page_ready(self):
            super().action_page_up()  # type: ignore[no-untyped-call]

    def action_page_down(self) -> None:
        if page_ready(self):
            super().action_page_down()  # type: ignore[no-untyped-call]


class SafeCommandPalette(CommandPalette):
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

    def _watch__list_visible(self) -> None:
        """The palette's command-gathering worker can finish after the palette has closed
        and its widgets are gone (Textual 8.2.8 then raises NoMatches): nothing to show."""
        if self.query(CommandList):
            super()._watch__list_visible()

    async def _watch__show_busy(self) -> None:
        if self.query(CommandList):
            await super()._watch__show_busy()

    def _action_command_list(self, action: str) -> None:
        if action in ("page_up", "page_down") and not page_ready(self.query_one(CommandList)):
            return
        super()._action_command_list(action)
