"""Layouts that fit (issue 27, items 1 and 2): what a phase computed in view, the first-run
line, the footer at 80 columns, the help's columns and legend, and with data the pictures
beside the panels. The real-terminal checks are in test_terminal.py."""

from __future__ import annotations

import pytest
from textual.content import Content
from textual.geometry import Region
from textual.widgets import Static

from engine.data import batches
from engine.run.stepper import Phase, Stepper
from engine.settings.config import Config
from tests.waits import until
from tui.app.app import StepperApp
from tui.app.compat import FooterKey
from tui.app.screens.help import HelpScreen, HelpText
from tui.app.widgets import quiet
from tui.app.widgets.boundary import BoundaryMap
from tui.app.widgets.panels import Panel

pytestmark = pytest.mark.slow  # drives the app's screens through Pilot (-m 'not slow' leaves it out)

MOONS = Config(dataset="moons", hidden=(8, 8), activation="tanh")
#: From the first screen with data: to the parameters' panel (the chart is first in the focus
#: chain), forward (the panels stay where the reader is), the cursor down to W1's row 3:
#: hidden unit a1[3].
TO_UNIT_1_3 = ("tab", "tab", "n", "j", "j", "j")


def app_for(config: Config = MOONS) -> StepperApp:
    data = batches.from_config(config)
    return StepperApp(Stepper(config if data is None else batches.fitted(config, data), data=data))


def visible_lines(app: StepperApp, panel: Panel) -> list[str]:
    """The panel's content lines inside the panels' scroll's window, in order (a line too
    long for the panel wraps: it is there by its first row, its further rows as "")."""
    scroll = app.query_one("#panels")
    top, height = scroll.scroll_y, scroll.scrollable_content_region.height
    y = panel.virtual_region.y + 1  # its first line, under its border
    rows = [row for line in panel.render().plain.split("\n")  # type: ignore[union-attr]
            for row in [line] + [""] * (quiet.height(panel, Content(line)) - 1)]
    return [row for i, row in enumerate(rows) if top <= y + i < top + height]


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
@pytest.mark.parametrize(("presses", "top"), [(1, "z1  "), (2, "dW1  "), (3, "fast method"), (4, "W1  ")])
async def test_each_phase_brings_what_it_computed_to_the_top(size: tuple[int, int], presses: int,
                                                             top: str) -> None:
    """The first line in view of the panel the phase filled is the tensor the notebook prints
    first (or, when the panels cannot scroll that far, it is in view with what follows it)."""
    app = app_for(Config())
    async with app.run_test(size=size) as pilot:
        await pilot.press(*["n"] * presses)
        await pilot.pause()
        panel = next(p for p in app.panels if p.has_class("-fresh"))
        shown = visible_lines(app, panel)
        scroll = app.query_one("#panels")
        at_top = bool(shown) and shown[0].startswith(top)
        assert at_top or (scroll.scroll_y == scroll.max_scroll_y
                          and any(line.startswith(top) for line in shown)), (shown, top)


async def test_the_first_run_line_says_how_to_step_move_and_explain_until_the_first_key() -> None:
    app = app_for(Config())
    async with app.run_test(size=(80, 24)) as pilot:
        line = app.query_one("#first-run", Static)
        assert line.display
        assert str(line.render()) == "n step · Tab and arrows move · e why is this number what it is"
        await pilot.press("n")
        assert not line.display  # dismissed by the first key, which still does its work
        assert app.stepper.state.last_phase is Phase.FORWARD


@pytest.mark.parametrize(("width", "shown"), [
    (80, {"n", "b", "z", "e", "?", "q"}),
    (120, {"n", "b", "s", "t", "r", "g", "c", "z", "e", "?", "q", "^p"}),
])
async def test_the_footer_keeps_help_and_quit_in_view(width: int, shown: set[str]) -> None:
    app = app_for(Config())
    async with app.run_test(size=(width, 24)) as pilot:
        await until(pilot, lambda: bool(app.screen.query(FooterKey)), "the footer's keys")
        await pilot.pause()  # laid out
        keys = [key for key in app.screen.query(FooterKey) if key.display]
        assert {key.key_display for key in keys} == shown
        assert all(key.region.right <= width for key in keys)  # none cut off


async def test_the_help_wraps_inside_its_columns_and_has_a_notation_legend() -> None:
    app = app_for(Config())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        lines = str(app.screen.query_one(HelpText).render()).split("\n")
        row = next(i for i, line in enumerate(lines) if line.lstrip().startswith("w "))
        column = lines[row].index("Write the state")
        assert lines[row + 1][:column].strip() == "" and lines[row + 1][column:].strip()  # wrapped under it
        text = "\n".join(lines)
        for said in ("Notation", "∂L/∂X", "dz_l", "✓ pass", "✗ FAIL", "Colours", "dead ReLU unit"):
            assert said in text


async def test_with_data_the_selected_units_map_is_on_the_screen_beside_the_panels() -> None:
    app = app_for()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*TO_UNIT_1_3)
        await pilot.pause()
        boundary = app.query_one(BoundaryMap)
        assert boundary.border_title == "a1[3] over the input plane"
        screen = Region(0, 0, 120, 40)
        assert screen.contains_region(boundary.region) and boundary.region.height > 10
        assert boundary.region.right < app.query_one("#parameters").region.x  # beside, not above


async def test_at_80_columns_the_pictures_stand_above_the_panels() -> None:
    app = app_for()
    async with app.run_test(size=(80, 40)) as pilot:
        await pilot.pause()
        boundary = app.query_one(BoundaryMap)
        assert boundary.region.width >= 70 and boundary.region.bottom <= app.query_one("#loss").region.y


async def test_the_network_picture_stands_above_the_panels_beside_the_map() -> None:
    """With data at 120 columns the map and the chart are docked at the left and the network
    picture stands first in the panels' column, as wide as they are."""
    app = app_for()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert [child.id for child in app.query_one("#pictures").children] == ["boundary", "loss"]
        picture, parameters = app.query_one("#network-picture"), app.query_one("#parameters")
        assert picture.region.x == parameters.region.x and picture.region.width == parameters.region.width
        assert picture.region.bottom <= parameters.region.y


def test_snapshot_moons_cursor_on_a_hidden_unit(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """The map of a1[3], the unit under the cursor, beside the panels at 120x40."""
    assert snap_compare(app_for(), press=list(TO_UNIT_1_3), terminal_size=(120, 40))
