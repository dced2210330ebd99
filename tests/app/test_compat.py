"""The Textual 8.2.8 behaviours tui.app.compat works around, checked upstream: each test names
the private name or behaviour a workaround relies on, so a Textual upgrade that changes one
fails here, by name, before the app misbehaves."""

from __future__ import annotations

import inspect
import io
from importlib.metadata import version
from typing import Any

import pytest
from rich.panel import Panel
from textual._compositor import Compositor
from textual.app import App, ComposeResult
from textual.command import CommandPalette
from textual.containers import VerticalScroll
from textual.content import Content
from textual.driver import Driver
from textual.drivers import linux_driver
from textual.drivers._writer_thread import WriterThread
from textual.drivers.linux_driver import LinuxDriver
from textual.geometry import Region
from textual.style import Style
from textual.widget import Widget
from textual.widgets import OptionList, Static

from engine.run.stepper import Stepper
from engine.settings.config import Config
from tests.waits import until
from tui.app import compat
from tui.app.app import StepperApp
from tui.app.compat import FooterKey


def test_textual_is_the_version_the_workarounds_were_written_for() -> None:
    """Every workaround names 8.2.8: another version is read again, workaround by workaround."""
    assert version("textual") == "8.2.8"


async def test_app_exit_is_kept_in_a_private_flag() -> None:
    """exiting: App.exit sets `App._exit` (nothing public says an exit is under way)."""
    app: App[None] = App()
    async with app.run_test():
        assert compat.exiting(app) is False
        app.exit()
        assert app._exit is True
        assert compat.exiting(app) is True


async def test_the_keymap_is_kept_in_a_private_dict() -> None:
    """keymap_of: App.set_keymap keeps the keymap in `App._keymap`, the help screen's source."""
    app: App[None] = App()
    async with app.run_test():
        app.set_keymap({"next": "j"})
        assert compat.keymap_of(app) == {"next": "j"}


def test_app_handles_a_key_in_a_private_handler_that_asks_for_the_screen() -> None:
    """ScreenlessKeys: App's own `_on_key` checks the bindings (which needs a screen); a
    subclass's `_on_key` runs first and can prevent it."""
    assert "_check_bindings" in inspect.getsource(App._on_key)
    assert "_on_key" in vars(compat.ScreenlessKeys)


def test_a_new_size_asks_for_a_second_layout_through_a_private_method() -> None:
    """OneLayout, ScrollLaidOutOnResize: `Widget._size_updated(size, virtual_size,
    container_size, layout=True)` is where a size given by a layout asks for another."""
    parameters = inspect.signature(Widget._size_updated).parameters
    assert list(parameters) == ["self", "size", "virtual_size", "container_size", "layout"]
    assert parameters["layout"].default is True


async def test_an_option_list_knows_no_lines_before_its_first_layout() -> None:
    """page_ready: `OptionList._index_to_line` is empty until the list has a size, and the
    page move reads it by the highlighted index."""
    assert "_index_to_line[" in inspect.getsource(OptionList._move_page)

    class Unsized(App[None]):
        CSS = "OptionList { height: 0; }"

        def compose(self) -> ComposeResult:
            yield OptionList("a", "b")

    app = Unsized()
    async with app.run_test():
        options = app.query_one(OptionList)
        options.highlighted = 0
        assert 0 not in options._index_to_line
        assert compat.page_ready(options) is False


def test_the_palette_has_the_private_watchers_and_action_overridden() -> None:
    """ClosingPalette: CommandPalette's worker ends in `_watch__list_visible` and
    `_watch__show_busy`, which query the command list; its list actions go through
    `_action_command_list`."""
    for name in ("_watch__list_visible", "_watch__show_busy", "_action_command_list"):
        assert name in vars(CommandPalette) and name in vars(compat.ClosingPalette), name
    assert "CommandList" in inspect.getsource(CommandPalette._watch__list_visible)


def test_sigcont_resumes_whenever_the_driver_auto_restarts() -> None:
    """TerminalDriver: LinuxDriver's `_sigcont_application` resumes application mode on
    `_auto_restart` alone, whether or not `_sigtstp_application` suspended it."""
    source = inspect.getsource(LinuxDriver._sigcont_application)
    assert "_auto_restart" in source and "resume_application_mode" in source
    assert "_auto_restart" in inspect.getsource(LinuxDriver._sigtstp_application)


class _Closed(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(5, "Input/output error")


def test_the_writer_thread_dies_at_a_failed_write() -> None:
    """SurvivingWriter: Textual's WriterThread.run lets a write's OSError end the thread, and
    the Linux driver makes its writer from the name `WriterThread` in its module."""
    assert linux_driver.WriterThread is WriterThread or issubclass(linux_driver.WriterThread, WriterThread)
    assert "WriterThread(" in inspect.getsource(LinuxDriver)
    writer = WriterThread(_Closed())
    failed: list[BaseException] = []
    writer.run = _catching(writer.run, failed)  # type: ignore[method-assign]
    writer.start()
    writer.write("x")
    writer.join(5)
    assert not writer.is_alive() and isinstance(failed[0], OSError)
    surviving = compat.SurvivingWriter(_Closed())
    surviving.start()
    surviving.write("x")
    surviving.write("y")
    surviving.stop()
    assert not surviving.is_alive()


def _catching(run: Any, failed: list[BaseException]) -> Any:
    def caught() -> None:
        try:
            run()
        except OSError as error:
            failed.append(error)
    return caught


def test_a_driver_keeps_its_app_in_a_private_attribute() -> None:
    """driver_app: Driver keeps the app it runs in `Driver._app`."""
    assert "self._app = app" in inspect.getsource(Driver.__init__)


async def test_the_footers_key_widgets_are_private_and_carry_their_action() -> None:
    """tui.app.app's footer hides some FooterKey widgets (textual.widgets._footer) at narrow
    widths, by their binding's action."""
    app = StepperApp(Stepper(Config()))
    async with app.run_test(size=(120, 24)) as pilot:
        await until(pilot, lambda: bool(app.screen.query(FooterKey)), "the footer's keys")
        actions = {key.action for key in app.screen.query(FooterKey)}
        assert {"next", "help", "quit"} <= actions


def test_a_widget_renders_its_whole_content_at_the_first_line_asked_for() -> None:
    """VisibleLines: `Widget.render_line` calls `_render_content` (every line, into
    `_render_cache`) while `_dirty_regions` is set, and `Content._wrap_and_format` numbers the
    lines it makes (`_FormattedLine.y`) from 0 with each line of `split(allow_blank=True)`."""
    assert "self._render_content()" in inspect.getsource(Widget.render_line)
    assert "_dirty_regions" in inspect.getsource(Widget.render_line)
    assert "_render_cache = " in inspect.getsource(Widget._render_content)
    wrap = inspect.getsource(Content._wrap_and_format)
    assert "enumerate(self.split(allow_blank=True))" in wrap and "y=y" in wrap


#: Lines as the panels write them, and the odd ones: spans across lines, a line exactly as wide
#: as the widget, one wrapped at spaces, one folded (no space), a tab, blank lines, a last "\n".
ODD_LINES = Content.assemble(
    ("W1  (4, 3) float64  ", "bold"), ("updated", "$text-muted"), "\n[ 0.1000 ",
    ("-0.2000\n 0.3000", "bold $text-accent on $warning-muted"), " ]\n", "x" * 30, "\n",
    "words that wrap at the end of the widget's width and on\n", "y" * 75, "\n", "a\tb\n\n",
    Content.styled("click me", "underline").stylize(Style.from_meta({"cell": "params.W1"})),
    "\n" * 3, "the end\n")


class _Lazy(compat.VisibleLines, Static):
    """A Static rendered a line at a time."""


@pytest.mark.parametrize("wrap", ["wrap", "nowrap"])
async def test_visible_lines_are_textuals_own(wrap: str) -> None:
    """VisibleLines renders each line as Textual renders the whole (segments, styles and the
    offsets in them), in any order the lines are asked for, and counts the same height."""
    class Two(App[None]):
        CSS = f".odd {{ width: 30; height: auto; text-wrap: {wrap}; text-overflow: ellipsis; }}"

        def compose(self) -> ComposeResult:
            yield Static(ODD_LINES, id="whole", classes="odd")
            yield _Lazy(ODD_LINES, id="lazy", classes="odd")

    app = Two()
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        whole, lazy = app.query_one("#whole", Static), app.query_one("#lazy", _Lazy)
        assert lazy.size == whole.size and lazy.size.height > app.size.height
        height = whole.size.height + 2  # and blank past the end
        order = [*range(height - 1, height // 2, -1), *range(height // 2 + 1)]
        expected = [list(whole.render_line(y)) for y in range(height)]
        assert [list(lazy.render_line(y)) for y in order] == [expected[y] for y in order]
        assert lazy._lines is not None  # rendered a line at a time
        for width in (7, 30, 80):
            assert lazy.get_content_height(app.size, app.size, width) == \
                whole.get_content_height(app.size, app.size, width)


async def test_visible_lines_render_textuals_way_what_is_not_a_content() -> None:
    """A Rich renderable (not a Text, which Textual makes a Content) or a content aligned other
    than left and top is rendered whole."""
    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield _Lazy(Panel("a rich panel"))
            yield _Lazy(Content("centred"), id="centred")

    app = One()
    async with app.run_test(size=(40, 12)) as pilot:
        app.query_one("#centred").styles.content_align = ("center", "middle")
        await pilot.pause()
        for lazy in app.query(_Lazy):
            shown = "".join(lazy.render_line(y).text for y in range(lazy.size.height))
            assert "a rich panel" in shown or "centred" in shown
            assert lazy._lines is None


class _Scrolled(App[None]):
    """A Static beside a scroll of numbered lines, on Textual's own screen or on compat's."""

    CSS = "#beside { dock: left; width: 10; } VerticalScroll { width: 1fr; } #scroll > Static { height: 1; }"

    def __init__(self, painted: bool) -> None:
        super().__init__()
        self.painted = painted

    def get_default_screen(self) -> Any:
        return compat.PaintedScreen(id="_default") if self.painted else super().get_default_screen()

    def compose(self) -> ComposeResult:
        yield Static("beside", id="beside")
        with VerticalScroll(id="scroll"):
            for n in range(60):
                yield Static(f"line {n}", id=f"line{n}")


async def _scroll_repaint(painted: bool, look_off_screen: bool) -> tuple[bool, set[Region]]:
    """Scroll by 5 lines (Textual keeps a map of what a scroll showed), then by 15 more:
    whether the frame after that was a full update, and the regions it repainted;
    `look_off_screen`: an off-screen line's region is read in between (as a refresh of it
    reads it)."""
    app = _Scrolled(painted)
    seen: list[tuple[bool, set[Region]]] = []
    render_update = Compositor.render_update

    def recorded(compositor: Compositor, full: bool = False, **kwargs: Any) -> Any:
        screen = compositor.size.region
        seen.append((full or screen in compositor._dirty_regions, set(compositor._dirty_regions)))
        return render_update(compositor, full, **kwargs)

    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        app.query_one("#scroll").scroll_to(y=5, animate=False, immediate=True)
        await pilot.pause()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Compositor, "render_update", recorded)
            if look_off_screen:
                assert app.query_one("#line50").region  # off screen: in the full map only
            app.query_one("#scroll").scroll_to(y=20, animate=False, immediate=True)
            await pilot.pause()
        assert app.query_one("#scroll").scroll_y == 20
    return seen[-1]


async def test_a_look_off_screen_makes_the_next_scroll_repaint_the_whole_screen() -> None:
    """PaintedMapCompositor: in Textual 8.2.8 reading an off-screen widget's region rebuilds
    the compositor's full map (invalidated by every scroll), which drops its visible map
    (`_visible_map = None`); the next `reflow_visible` compares against nothing and repaints
    the whole screen, the unmoved Static beside the scroll included."""
    assert "self._visible_map = None" in inspect.getsource(Compositor.full_map.fget)  # type: ignore[attr-defined]
    assert "old_map = self._visible_map or {}" in inspect.getsource(Compositor.reflow_visible)
    full, _ = await _scroll_repaint(painted=False, look_off_screen=True)
    assert full


async def test_a_painted_screen_repaints_what_a_scroll_moved_as_textual_does_unhindered() -> None:
    """After the same look off screen, the painted map repaints the regions Textual repaints
    when nothing dropped its visible map: the scroll's lines, not the Static beside them."""
    unhindered = await _scroll_repaint(painted=False, look_off_screen=False)
    painted = await _scroll_repaint(painted=True, look_off_screen=True)
    assert painted == unhindered
    full, regions = painted
    assert not full and regions and all(region.x >= 10 for region in regions)
