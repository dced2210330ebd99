"""Every use of Textual's private API, in one place: Textual is pinned (textual==8.2.8), and
each workaround here names the 8.2.8 behaviour it works around. tests/app/test_compat.py checks
each behaviour upstream, so an upgrade that changes one fails there, by name, first.

The rest of the app uses only Textual's public API, and these:

- `exiting`: whether App.exit has been called (keys typed behind q);
- `keymap_of`: the keymap the app was given (the help screen lists it);
- `ScreenlessKeys`: a key dispatched after the screens were torn down is dropped;
- `OneLayout`, `ScrollLaidOutOnResize`: no second layout for a size already given;
- `page_ready`: an OptionList's page move before its first layout;
- `ClosingPalette`: the command palette's workers finishing after it closed;
- `TerminalDriver`: SIGCONT resumes only what SIGTSTP stopped;
- `install_surviving_writer`: the output thread outlives its terminal;
- `driver_app`: the app a driver runs;
- `FooterKey`: the footer's widget of one key, with its binding's `action` (the app's footer
  hides some of them at narrow widths).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual import events
from textual.app import App
from textual.command import CommandList, CommandPalette
from textual.containers import VerticalScroll
from textual.driver import Driver
from textual.drivers import linux_driver
from textual.drivers._writer_thread import WriterThread
from textual.drivers.linux_driver import LinuxDriver
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import OptionList
from textual.widgets._footer import FooterKey as FooterKey  # re-exported: tui.app.app's footer


def exiting(app: App[Any]) -> bool:
    """Whether App.exit has been called: Textual 8.2.8 keeps it in `App._exit` and says it
    nowhere public."""
    return bool(getattr(app, "_exit", False))


def keymap_of(app: App[Any]) -> Mapping[str, str]:
    """The keymap App.set_keymap was given (binding id -> keys): Textual 8.2.8 keeps it in
    `App._keymap`, with no public reader."""
    return app._keymap


class ScreenlessKeys(App[None]):
    """An app that drops a key dispatched after Textual has torn its screens down (a key typed
    behind q): App's own `_on_key` handler, which runs after this one (subclass first), asks
    for the screen's bindings and raises ScreenStackError in Textual 8.2.8."""

    async def _on_key(self, event: events.Key) -> None:
        if not self.screen_stack:
            event.prevent_default()


class OneLayout(Widget):
    """A widget whose new size needs no second layout.

    Textual 8.2.8 gives a widget its size in the layout that measured it, then (virtual_size
    being a reactive with layout=True, set in `Widget._size_updated`) asks for a whole second
    layout, and so a second frame a frame later: a key that makes a panel taller would paint
    twice, about 17 ms apart. The size given is already the one the layout computed, so the
    second pass changes nothing. For the widgets inside the panels' scroll only: on the
    screen's own rows (the bars, the banner) the second pass is what settles the scroll's 1fr
    height, and without it a banner that appeared left the whole screen scrolled by its height.
    """

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size,
                      layout: bool = True) -> bool:
        return super()._size_updated(size, virtual_size, container_size, layout=False)


class ScrollLaidOutOnResize(VerticalScroll):
    """A VerticalScroll whose content growing or shrinking (its virtual size) needs no second
    layout (as OneLayout): the layout that measured the content placed it. A new size of its
    own still gets one, as does a scrollbar coming or going (Textual's _refresh_scrollbars
    asks for it), since that changes the room its children have."""

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size,
                      layout: bool = True) -> bool:
        return super()._size_updated(size, virtual_size, container_size,
                                     layout=layout and size != self._size)


def page_ready(options: OptionList) -> bool:
    """Whether a page move can run: Textual 8.2.8's `OptionList._move_page` reads
    `_index_to_line[highlighted]`, a cache `_update_lines` leaves empty until the list has a
    size (its first layout, and again after its options change: the palette's list fills
    while keys arrive), and raises KeyError before then."""
    if not options.option_count:
        return True
    return bool(options.scrollable_content_region) and \
        (options.highlighted or 0) in options._index_to_line


class ClosingPalette(CommandPalette):
    """Textual's command palette, whose private watchers and list actions do nothing once its
    widgets are gone or before its list has a size.

    In Textual 8.2.8 the command-gathering worker can finish after the palette has closed and
    its widgets are gone: `_watch__list_visible` and `_watch__show_busy` then raise NoMatches.
    Its `_action_command_list` forwards pageup/pagedown to the list (see page_ready)."""

    def _watch__list_visible(self) -> None:
        if self.query(CommandList):
            super()._watch__list_visible()

    async def _watch__show_busy(self) -> None:
        if self.query(CommandList):
            await super()._watch__show_busy()

    def _action_command_list(self, action: str) -> None:
        if action in ("page_up", "page_down") and not page_ready(self.query_one(CommandList)):
            return
        super()._action_command_list(action)


class TerminalDriver(LinuxDriver):
    """Textual's Linux driver, resuming after SIGCONT only what it stopped for SIGTSTP.

    Textual 8.2.8's `_sigcont_application` starts application mode again whether or not
    `_sigtstp_application` stopped it (it stops only when `_auto_restart`). The kernel sends
    a SIGCONT with the SIGHUP of a closed terminal (to its session leader, as a tmux pane or
    a terminal window runs the app), so a closed terminal would get a second input thread
    and writer, and the first input thread would be left reading the dead terminal's end of
    file in a loop, at full CPU, keeping the process alive after the app ends (kill -CONT,
    then q: it runs on until killed). Back from ctrl+z the driver enters a blank alternate
    screen: the app repaints on resume (StepperApp.repaint)."""

    stopped = False  # application mode was stopped for SIGTSTP, to start again at SIGCONT

    def _sigtstp_application(self, *args: Any) -> None:
        self.stopped = self._auto_restart
        super()._sigtstp_application(*args)  # type: ignore[no-untyped-call]

    def _sigcont_application(self, *args: Any) -> None:
        if self.stopped:
            self.stopped = False
            super()._sigcont_application(*args)  # type: ignore[no-untyped-call]


class SurvivingWriter(WriterThread):
    """Textual's output thread (textual.drivers._writer_thread, fed by a queue of at most 30
    writes), made to outlive its terminal.

    When the terminal goes away (its window closed, tmux's session killed, a served browser
    tab shut), Textual 8.2.8's thread dies at its next write (EIO); the writes that follow
    fill the queue, and the app's exit, which queues the terminal's restoration and then
    waits for the thread, blocks for ever. Here a failed write ends the writing, not the
    thread: it goes on taking writes (and dropping them) until it is stopped."""

    def run(self) -> None:
        try:
            super().run()
        except OSError:  # the terminal is gone: nothing more can be shown
            while self._queue.get() is not None:
                pass


def install_surviving_writer() -> None:
    """Make the Linux driver (the terminal's) write through SurvivingWriter: Textual 8.2.8's
    driver makes its writer from the name `WriterThread` in its own module."""
    linux_driver.WriterThread = SurvivingWriter  # type: ignore[attr-defined,misc]


def driver_app(driver: Driver) -> App[Any]:
    """The app a driver runs: Textual 8.2.8 keeps it in `Driver._app` only."""
    return driver._app
