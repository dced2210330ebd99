"""A key in the app costs one frame (issue 15): panels keep their size as a step goes
round, so a key repaints what changed without laying the screen out again, the panels'
scroll that follows the phase is painted in that same frame, and a widget that does change
size is laid out once, not twice."""

from __future__ import annotations

import random

import pytest
from textual._compositor import Compositor
from textual.app import App, ComposeResult
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from engine.run.stepper import Phase, Stepper
from engine.settings.config import Config
from tests.budget import pick
from tests.waits import handled
from tui.app.app import StepperApp, breakpoint_classes
from tui.app.widgets import quiet
from tui.app.widgets.chart import SHOWN, LossChart

pytestmark = pytest.mark.slow  # drives the app's screens through Pilot (-m 'not slow' leaves it out)


class Recorder(Static):
    """A Static that records whether each update asked for a layout."""

    DEFAULT_CSS = "Recorder { width: 10; height: auto; }"

    def __init__(self) -> None:
        super().__init__()
        self.layouts: list[bool] = []

    def update(self, content: object = "", *, layout: bool = True) -> None:  # type: ignore[override]
        self.layouts.append(layout)
        super().update(content, layout=layout)  # type: ignore[arg-type]


class OneWidget(App[None]):
    def compose(self) -> ComposeResult:
        yield Recorder()


async def test_quiet_update_skips_the_same_content_and_lays_out_only_when_the_height_changes() -> None:
    app = OneWidget()
    async with app.run_test(size=(40, 10)) as pilot:
        widget = app.query_one(Recorder)
        assert quiet.update(widget, Content("ab\ncd"))
        await pilot.pause()
        assert not quiet.update(widget, Content("ab\ncd"))  # the same: nothing to draw
        assert quiet.update(widget, Content.styled("ab\ncd", "bold"))  # new styles, same size
        assert quiet.update(widget, Content("wxyz\nz"))  # wider lines, still one line each
        assert widget.layouts == [True, False, False]
        assert quiet.update(widget, Content("xy\nzw\n"))  # a third line
        assert quiet.update(widget, Content("xy\nzw\nabc def ghij"))  # wraps at 10: 4 lines
        assert widget.layouts[-2:] == [True, True]
        await pilot.pause()
        assert widget.size.height == 4


def stepper(phases: int) -> Stepper:
    stepper = Stepper(Config())
    for _ in range(phases):
        stepper.next()
    return stepper


async def test_a_panel_keeps_its_size_when_its_phase_is_pending_again() -> None:
    app = StepperApp(stepper(4))  # step 1 done: every panel filled
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        heights = {p: app.query_one(f"#{p}").size.height for p in ("gradients", "gradcheck", "update")}
        await pilot.press("n")  # step 2's forward: the other phases are pending again
        assert app.stepper.state.backward is None
        text = str(app.query_one("#gradients").render())
        assert "not computed yet in step 2" in text
        assert {p: app.query_one(f"#{p}").size.height for p in heights} == heights


@pytest.mark.parametrize("size", [(120, 40), (80, 30)])
async def test_each_key_of_a_steady_step_is_one_frame_and_no_layout(size: tuple[int, int]) -> None:
    """Once the panels and the list of losses have reached their size, a phase key lays
    nothing out and paints once: the scroll that follows the phase is in that frame too."""
    app = StepperApp(stepper(4 * SHOWN))
    layouts = frames = 0
    reflow, compositor_refresh = Compositor.reflow, Screen._compositor_refresh

    def counted_layout(compositor: Compositor, *args: object) -> object:
        nonlocal layouts
        layouts += 1
        return reflow(compositor, *args)  # type: ignore[arg-type]

    def counted_frame(screen: Screen[object]) -> None:
        nonlocal frames
        frames += 1
        compositor_refresh(screen)

    async with app.run_test(size=size) as pilot:
        await pilot.press("n", "n", "n", "n")  # step 2 as well, through the stepper's phases
        await pilot.pause()
        scrolls = set()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Compositor, "reflow", counted_layout)
            patch.setattr(Screen, "_compositor_refresh", counted_frame)
            for phase in [Phase.FORWARD, Phase.BACKWARD, Phase.GRADCHECK, Phase.UPDATE] * 2:
                frames = 0
                await pilot.press("n")
                await pilot.pause()
                assert app.stepper.state.last_phase is phase
                assert frames == 1, phase
                scrolls.add(app.query_one("#panels").scroll_y)
        assert layouts == 0
        assert len(scrolls) > 1  # the panels did scroll to follow the phases


def test_breakpoint_classes_turn_on_the_widest_reached() -> None:
    breakpoints = StepperApp.HORIZONTAL_BREAKPOINTS
    assert breakpoint_classes(breakpoints, 109) == {"-narrow": True, "-wide": False, "-very-wide": False}
    assert breakpoint_classes(breakpoints, 110) == {"-narrow": False, "-wide": True, "-very-wide": False}
    assert breakpoint_classes(breakpoints, 300) == {"-narrow": False, "-wide": False, "-very-wide": True}


@pytest.mark.parametrize(("width", "columns"), [(100, 1), (120, 2), (180, 3)])
async def test_the_first_frame_has_the_layout_that_stays(width: int, columns: int) -> None:
    """Textual sets the width's class on its first Resize event, after the first frame: the
    panels were painted in one column, then jumped into two a few frames later."""
    app = StepperApp(Stepper(Config()))
    first: list[int] = []
    compositor_refresh = Screen._compositor_refresh

    def recorded(screen: Screen[object]) -> None:
        if not first:
            first.append(len({panel.region.x for panel in app.panels if panel.region}))
        compositor_refresh(screen)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Screen, "_compositor_refresh", recorded)
        async with app.run_test(size=(width, 40)) as pilot:
            await pilot.pause()
            settled = len({panel.region.x for panel in app.panels if panel.region})
    assert first == [columns] and settled == columns


async def test_a_panel_that_grows_is_laid_out_once() -> None:
    """Textual would lay the screen out a second time, a frame later, for the new size of a
    panel that the first layout already gave it (tui.app.widgets.quiet.OneLayout). Counted as the
    layouts the panel asks for, so that a layout of something else (the footer's bindings,
    say) cannot be mistaken for one."""
    app = StepperApp(Stepper(Config()))
    asked: list[str] = []
    refresh = Widget.refresh

    def counted(widget: Widget, *regions: object, layout: bool = False, **kwargs: bool) -> Widget:
        if layout and widget.id == "forward":
            asked.append("layout")
        return refresh(widget, *regions, layout=layout, **kwargs)  # type: ignore[arg-type]

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        before = app.query_one("#forward").size.height
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Widget, "refresh", counted)
            await pilot.press("n")
            await pilot.pause()
            await pilot.pause()
        assert app.query_one("#forward").size.height > before
        assert asked == ["layout"]  # the new content's, not a second for the size it brought


@pytest.mark.parametrize("config", [Config(), Config(dataset="moons", samples=40, batch=8, hidden=(4, 3))],
                         ids=["notebook", "moons batch"])
async def test_a_panel_left_as_it_was_shows_what_drawing_it_again_would(config: Config) -> None:
    """A panel, or the loss values, is not drawn again when what it is drawn from is the same
    (quiet.same): after every key of a random walk through the keys that change the state,
    the sample, the focus, the cursor and the Explain panel, drawing each one again from
    scratch gives exactly what is on screen."""
    from engine.data.batches import fitted, from_config

    keys = ["n", "n", "b", "s", "left_square_bracket", "right_square_bracket", "g", "e", "tab",
            "shift+tab", "down", "up", "left", "right", "j", "l", "r"]
    rng = random.Random(1)
    walk = [rng.choice(keys) for _ in range(pick(40, 300))]  # tests/budget.py
    data = from_config(config)
    app = StepperApp(Stepper(config if data is None else fitted(config, data), data=data))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for key in walk:  # as tests.test_robustness.press_by_binding, a key that does nothing too
            await app._check_bindings(key, priority=True) or await app._check_bindings(key)
            await handled(app, pilot)  # the cursor's messages too
            view = app.view()
            for panel in app.panels:
                shown = getattr(panel, "_quiet_shown", None)
                panel.drawn_from = None
                panel.show(view)
                assert getattr(panel, "_quiet_shown", None) is shown, (key, panel.id)
            chart = app.query_one(LossChart)
            values = app.query_one("#loss-values")
            shown = getattr(values, "_quiet_shown", None)
            chart.drawn_from = None
            chart.show(view)
            assert getattr(values, "_quiet_shown", None) is shown, key
