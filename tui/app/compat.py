"""Every use of Textual's private API, in one place: Textual is pinned (textual==8.2.8), and
each workaround here names the 8.2.8 behaviour it works around. tests/app/test_compat.py checks
each behaviour upstream, so an upgrade that changes one fails there, by name, first.

The rest of the app uses only Textual's public API, and these:

- `exiting`: whether App.exit has been called (keys typed behind q);
- `keymap_of`: the keymap the app was given (the help screen lists it);
- `ScreenlessKeys`: a key dispatched after the screens were torn down is dropped;
- `OneLayout`, `ScrollLaidOutOnResize`: no second layout for a size already given;
- `PaintedScreen`: a scroll repaints what moved on screen, not the whole screen;
- `VisibleLines`: a widget's content rendered a line at a time, as the screen shows it;
- `page_ready`: an OptionList's page move before its first layout;
- `ClosingPalette`: the command palette's workers finishing after it closed;
- `TerminalDriver`: SIGCONT resumes only what SIGTSTP stopped;
- `install_surviving_writer`: the output thread outlives its terminal;
- `driver_app`: the app a driver runs;
- `FooterKey`: the footer's widget of one key, with its binding's `action` (the app's footer
  hides some of them at narrow widths).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from itertools import accumulate
from typing import Any, cast

from rich.cells import cell_len
from textual import events
from textual._compositor import Compositor, CompositorMap, ReflowResult
from textual.app import App
from textual.command import CommandList, CommandPalette
from textual.containers import VerticalScroll
from textual.content import Content, _FormattedLine
from textual.css.styles import RulesMap
from textual.driver import Driver
from textual.drivers import linux_driver
from textual.drivers._writer_thread import WriterThread
from textual.drivers.linux_driver import LinuxDriver
from textual.geometry import Size
from textual.screen import Screen
from textual.strip import Strip
from textual.visual import Visual
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


class PaintedMapCompositor(Compositor):
    """A compositor that finds what a scroll moved against the map last painted.

    Textual 8.2.8's `reflow_visible` (the layout of a scroll) marks dirty what moved since its
    last visible map. But looking up a widget that is off screen (its `region` or `size`, which
    a refresh of it reads, or `virtual_region`) rebuilds the full map, which every scroll
    invalidates, and that drops the visible map: the next scroll then compares against
    nothing, finds every widget on screen moved, and repaints the whole screen. The panels'
    off-screen panels are read at every key, so every key sent the whole screen to the
    terminal (17 KB on the moons, the unchanged pictures included). Here the map last painted
    (by `reflow` or `reflow_visible`) stands in for the dropped one, so a scroll repaints the
    regions whose widgets moved, as Textual does when nothing dropped it. A full layout
    (`reflow`) is unchanged: it compares against its own previous full map."""

    _painted: CompositorMap | None = None

    def reflow(self, parent: Widget, size: Size) -> ReflowResult:
        result = super().reflow(parent, size)
        # The widgets this layout put on screen, where it put them.
        self._painted = {widget: geometry for widget, geometry in self._full_map.items()
                         if geometry.clip.overlaps(geometry.region)}
        return result

    def clear(self) -> None:
        super().clear()
        self._painted = None

    def reflow_visible(self, parent: Widget, size: Size) -> set[Widget]:
        if self._visible_map is None:
            self._visible_map = self._painted  # what is on screen, to compare against
        exposed = super().reflow_visible(parent, size)
        self._painted = self._visible_map
        return exposed


class PaintedScreen(Screen[Any]):
    """The app's default screen, with the PaintedMapCompositor."""

    def __init__(self, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name, id, classes)
        self._compositor = PaintedMapCompositor()


def line_count(text: str, rules: RulesMap, width: int) -> int:
    """The screen lines one line of text (no newline in it) takes at `width`, wrapped as
    Textual wraps it: one when it fits, which most lines of the panels do (measured without
    wrapping it); a tab is expanded first, so a line with one is wrapped to be measured."""
    if "\t" not in text and cell_len(text) <= width - 2 * rules.get("line_pad", 0):
        return 1
    return Content(text).get_height(rules, width)


def text_height(text: str, rules: RulesMap, width: int) -> int:
    """The screen lines text takes at `width`: each of its lines wrapped alone, as Textual
    wraps them (line_count)."""
    return sum(line_count(line, rules, width) for line in text.split("\n"))


class _LinesFrom(Content):
    """Lines of a widget's content, numbered by their place in the whole: Textual 8.2.8's
    `Content._wrap_and_format` numbers the lines it makes (`_FormattedLine.y`) from 0, and the
    number goes into each cell's style as its offset, which text selection and clicks read."""

    __slots__ = ["first"]
    first: int

    def _wrap_and_format(self, *args: Any, **kwargs: Any) -> list[_FormattedLine]:
        lines = super()._wrap_and_format(*args, **kwargs)
        for line in lines:
            line.y += self.first
        return lines


class _Lines:
    """A Content's screen lines, rendered a screenful at a time from the first one asked for
    that is not rendered yet (VisibleLines)."""

    def __init__(self, widget: Widget, content: Content, size: Size) -> None:
        self.widget = widget
        self.content = content
        self.size = size
        lines = content.plain.split("\n")  # as _wrap_and_format splits it (allow_blank)
        rules = cast(RulesMap, widget.styles)
        #: The screen line each line of the content begins at, and the offset of its text.
        self.starts = list(accumulate((line_count(line, rules, size.width) for line in lines), initial=0))
        self.offsets = list(accumulate((len(line) + 1 for line in lines), initial=0))
        self.rendered: dict[int, Strip] = {}

    def line(self, y: int) -> Strip:
        """Screen line y of the content (blank past its end, as Textual's)."""
        end = min(self.size.height, self.starts[-1])
        if not 0 <= y < end:
            return Strip.blank(self.size.width, self.widget.visual_style.rich_style)
        if y not in self.rendered:
            self.render(y, min(end, y + self.widget.screen.size.height))
        return self.rendered[y]

    def render(self, top: int, bottom: int) -> None:
        """Render the lines of the content that screen lines top to bottom - 1 show."""
        first = bisect_right(self.starts, top) - 1
        last = bisect_left(self.starts, bottom)  # the content's lines first to last - 1
        window = self.content[self.offsets[first]:self.offsets[last] - 1]
        lines = _LinesFrom(window.plain, list(window.spans), strip_control_codes=False)
        lines.first = first
        strips = Visual.to_strips(self.widget, lines, self.size.width, None, self.widget.visual_style)
        for k, strip in enumerate(strips, start=self.starts[first]):
            self.rendered[k] = strip


class VisibleLines(Widget):
    """A widget whose content is rendered a line at a time, as the screen asks for its lines.

    Textual 8.2.8's `Widget.render_line` renders the whole content (`_render_content`: every
    line wrapped and styled, into `_render_cache`) at the first line the compositor asks for
    after a change, though it asks only for the lines on screen; and `get_content_height`
    wraps the whole content again to count its lines. A gradient check of 93 lines in a
    35-line scroll was rendered whole at every key. Here a Content (left and top aligned,
    nothing selected in it) is split into its lines at the first line asked for, each line
    rendered when it is first asked for, and lines that fit the width counted without being
    wrapped; anything else is rendered as Textual renders it. tests/app/test_compat.py checks
    the lines are Textual's own, segment for segment and style for style."""

    _lines: _Lines | None = None  # None: Textual renders (and keeps) the lines whole

    def _lazy(self) -> bool:
        """Whether the content can be rendered a line at a time: a Content, left and top
        aligned, with nothing selected in it (a selection is drawn across lines)."""
        return isinstance(self._render(), Content) and self.size.width > 0 and \
            self.text_selection is None and self.styles.content_align == ("left", "top")

    def render_line(self, y: int) -> Strip:
        if self._dirty_regions or (self._lines is not None and self._lines.size != self.size):
            self._dirty_regions.clear()
            self._lines = _Lines(self, cast(Content, self._render()), self.size) if self._lazy() else None
            if self._lines is None:
                self._render_content()
        if self._lines is None:
            return super().render_line(y)
        return self._lines.line(y)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        visual = self._render()
        if not width or not isinstance(visual, Content):
            return super().get_content_height(container, viewport, width)
        if self._content_height_cache[0] != width:
            rules = cast(RulesMap, self.styles)
            self._content_height_cache = (width, text_height(visual.plain, rules, width))
        return self._content_height_cache[1]


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
