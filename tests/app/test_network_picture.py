"""The network picture (key m, tui.app.widgets.network): each unit's map over the input plane
(engine.maths.plane.unit_maps), the weights' lines, the layout of many units, and selecting a
unit by a click, by its numbers and by a snapshot."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from rich.style import Style
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll

from engine.data import batches
from engine.maths import network
from engine.maths.network import Architecture
from engine.maths.plane import Plane, field, unit_maps
from engine.run.stepper import Stepper, View
from engine.settings.config import Config
from tests.helpers import ROOT, told
from tui.app.app import StepperApp
from tui.app.widgets.boundary import LEVELS, hue
from tui.app.widgets.network import (
    DOTS,
    MAP_LINES,
    SLOT,
    Canvas,
    Geometry,
    Look,
    NetworkPicture,
    bar,
    cell_of,
    draw,
    edge_colour,
    edge_style,
    edges,
    geometry,
    lines_of,
    unit_of,
)

pytestmark = pytest.mark.slow  # drives the app's screens through Pilot (-m 'not slow' leaves it out)

SIZE = (120, 40)
MOONS = Config(dataset="moons", hidden=(8, 8), activation="tanh", batch=16, train_steps=30)
BACK = (20, 20, 20)
LOOK = Look(BACK, Style(color="grey50"), Style(color="yellow", bold=True))


def stepper_for(config: Config) -> Stepper:
    data = batches.from_config(config)
    return Stepper(config if data is None else batches.fitted(config, data), data=data)


# ---- engine.maths.plane.unit_maps ------------------------------------------------------------------

def test_unit_maps_are_each_layers_activations_over_the_grid() -> None:
    arch = Architecture(inputs=2, hidden=(3, 4), activation="tanh", classes=3, loss="cross-entropy")
    params = network.init_params(arch, seed=5)
    plane = Plane(-1.0, 2.0, -3.0, 1.0)
    cols, rows = 5, 4
    maps = unit_maps(arch, params, plane, cols, rows, shown=(2, 2, 4, 3))
    cache, _ = network.forward(arch, plane.grid(cols, rows), params, np.zeros(cols * rows, dtype=np.int64))
    assert [m.shape for m in maps] == [(2, rows, cols), (2, rows, cols), (4, rows, cols), (3, rows, cols)]
    for l, name in enumerate(["x", "a1", "a2", "a3"]):
        for i in range(maps[l].shape[0]):  # unit i's map is column i of the layer, row-major
            np.testing.assert_allclose(maps[l][i], cache[name][:, i].reshape(rows, cols))
    assert maps[0][0][0, 0] < maps[0][0][0, -1] and maps[0][1][0, 0] > maps[0][1][-1, 0]  # x1 →, x2 ↑


def test_a_hidden_units_map_is_the_boundary_maps_field_of_that_unit() -> None:
    arch = Architecture(inputs=2, hidden=(6,), activation="relu")
    params = network.init_params(arch, seed=2)
    plane = Plane(-2.0, 2.0, -2.0, 2.0)
    maps = unit_maps(arch, params, plane, 7, 6, shown=(2, 6, 1))
    for i in range(6):
        np.testing.assert_array_equal(maps[1][i], field(arch, params, plane, 7, 6, unit=(1, i)).value)
    np.testing.assert_array_equal(maps[2][0], field(arch, params, plane, 7, 6).value)  # p(class 1)


# ---- edges -----------------------------------------------------------------------------------------

def test_an_edge_is_orange_below_zero_blue_above_and_shaded_and_doubled_by_its_size() -> None:
    assert edge_style(-2.0, 2.0) == (0, LEVELS, True)
    assert edge_style(2.0, 2.0) == (1, LEVELS, True)
    side, level, thick = edge_style(0.5, 2.0)
    assert (side, level, thick) == (1, LEVELS // 4, False)
    assert edge_style(0.9, 2.0)[2] is False and edge_style(1.0, 2.0)[2] is True  # THICK is half
    assert edge_style(1e-9, 2.0)[1] == 1  # a tiny weight is still drawn, faintly
    assert edge_style(float("nan"), 2.0)[1] == 0 and edge_style(0.0, 2.0)[1] == 0  # nothing to draw
    faint, strong = edge_colour(1, 1, BACK).color, edge_colour(1, LEVELS, BACK).color
    assert faint is not None and strong is not None
    assert strong.get_truecolor() == hue(1)  # the largest weight in its own hue, the rest fainter
    assert sum(faint.get_truecolor()) < sum(strong.get_truecolor())


def edge_canvas(W: np.ndarray, selected: tuple[int, int] | None = None) -> tuple[Canvas, Geometry]:
    sizes = (W.shape[1], W.shape[0])
    geo = geometry(sizes, 2 * SLOT + 6, 40)
    canvas = Canvas(2 * SLOT + geo.gap, geo.lines)
    edges(canvas, W, geo, 1, selected, BACK)
    return canvas, geo


def cells_in(canvas: Canvas, line: int, geo: Geometry) -> list[tuple[str, Style | None]]:
    return [(canvas.text[line][x], canvas.style[line][x]) for x in range(SLOT, SLOT + geo.gap)]


def test_a_weights_line_joins_its_units_in_its_colour() -> None:
    canvas, geo = edge_canvas(np.array([[-3.0, 0.0], [0.0, 1.0]]))  # x0 → a0 negative, x1 → a1 positive
    first, second = Geometry.top(0), Geometry.top(1)
    for line, side, level in ((first, 0, LEVELS), (second, 1, round(LEVELS / 3))):
        row = cells_in(canvas, line, geo)
        assert all(0x2800 < ord(text) <= 0x28FF for text, _ in row)  # a braille dot in every column
        assert {style for _, style in row} == {edge_colour(side, level, BACK)}
    # The larger weight's line is doubled (two dot rows), the smaller's is single.
    def dots(line: int) -> int:  # in the first column of the line and the one below
        chars = (cells_in(canvas, y, geo)[0][0] for y in (line, line + 1))
        return sum(bin(max(0, ord(char) - 0x2800)).count("1") for char in chars)

    assert dots(first) == 2 * dots(second)
    assert all(text == " " for text, _ in cells_in(canvas, first + MAP_LINES, geo))  # 0 weights: no line


def test_where_lines_cross_the_larger_weight_or_the_selected_units_line_colours_the_cell() -> None:
    W = np.array([[0.0, -1.0], [3.0, 0.0]])  # x1 → a0 (negative, small), x0 → a1 (positive, large)
    canvas, geo = edge_canvas(W)
    middle = (Geometry.top(0) + Geometry.top(1) + MAP_LINES) // 2
    crossing = {style for _, style in cells_in(canvas, middle, geo) if style is not None}
    assert edge_colour(1, LEVELS, BACK) in crossing and edge_colour(0, 5, BACK) not in crossing
    canvas, geo = edge_canvas(W, selected=(1, 0))  # a0 selected: its line wins where they cross
    crossing = {style for _, style in cells_in(canvas, middle, geo) if style is not None}
    assert edge_colour(0, 5, BACK) in crossing


def test_the_dot_bits_are_unicodes_braille_numbering() -> None:
    assert chr(0x2800 + int(DOTS[:, 0].sum())) == "⡇" and chr(0x2800 + int(DOTS[:, 1].sum())) == "⢸"


# ---- layout -----------------------------------------------------------------------------------------

def test_units_that_do_not_fit_say_how_many_more_and_clicks_find_the_units_drawn() -> None:
    geo = geometry((784, 128, 1), 76, 10)
    assert geo.shown == (3, 3, 1) and geo.lines <= 10
    assert all(geo.unit_at(geo.left(l) + 1, Geometry.top(i)) == (l, i)
               for l, k in enumerate(geo.shown) for i in range(k))
    assert geo.unit_at(geo.left(1) + SLOT, Geometry.top(0)) is None  # among the edges
    assert geo.unit_at(geo.left(1) + 1, Geometry.top(3)) is None  # under the last unit shown
    assert geo.unit_at(0, 0) is None  # the layer names
    arch = Architecture(inputs=784, hidden=(128,))
    drawing = draw(arch, network.init_params(arch, seed=1), None, geo, None, LOOK)
    last = lines_of(drawing)[-1]
    assert "+781" in last and "+125" in last


def test_layers_that_do_not_fit_the_width_are_cut_and_counted() -> None:
    sizes = (2, *([3] * 8), 1)
    geo = geometry(sizes, 60, 30)
    said = f" +{len(sizes) - len(geo.shown)} layers"
    assert len(geo.shown) * SLOT + (len(geo.shown) - 1) * geo.gap + len(said) <= 60 < len(sizes) * SLOT
    arch = Architecture(inputs=2, hidden=(3,) * 8)
    drawing = draw(arch, network.init_params(arch, seed=1), None, geo, None, LOOK)
    assert lines_of(drawing)[0].endswith(said)


def test_a_bar_is_its_share_of_the_layers_largest_activation() -> None:
    assert bar(1.0, 1.0) == "██████" and bar(-0.5, 1.0) == "███   " and bar(0.0, 1.0) == "      "
    assert bar(float("nan"), 1.0) == "      " and bar(0.5, 0.0) == "      "


def test_a_cell_of_the_panels_is_the_unit_it_belongs_to_and_back() -> None:
    assert unit_of(("forward.x", (1,)), 3) == (0, 1)
    assert unit_of(("forward.x", (4, 1)), 3) == (0, 1)  # a batch's x: the feature is the unit
    assert unit_of(("backward.dW2", (5, 0)), 3) == (2, 5)
    assert unit_of(("forward.a3", (0,)), 3) == (3, 0)  # the output is a unit too
    assert unit_of(("forward.loss", ()), 3) is None and unit_of(None, 3) is None
    for unit in ((0, 1), (1, 4), (3, 0)):
        target = cell_of(unit, forward=True)
        assert target is not None and unit_of((target[1], target[2]), 3) == unit
    assert cell_of((0, 1), forward=False) is None  # x is in the panels once the forward pass ran


# ---- the widget in the app ------------------------------------------------------------------------

async def test_a_click_on_a_unit_selects_it_in_the_panels_the_map_and_explain() -> None:
    app = StepperApp(stepper_for(MOONS))
    async with app.run_test(size=SIZE) as pilot:
        picture = app.query_one(NetworkPicture)
        assert picture.display  # data at 120 columns: shown without asking
        await pilot.press("e")
        picture.scroll_visible(animate=False, immediate=True)
        await pilot.pause()
        geo = picture.geometry(picture.content_size.width)
        assert geo is not None
        offset = (picture.content_region.x - picture.region.x + geo.left(2) + 2,
                  picture.content_region.y - picture.region.y + Geometry.top(3))
        assert await pilot.click(NetworkPicture, offset=offset)
        await pilot.pause()
        parameters = app.query_one("#parameters")
        assert app.focused is parameters and getattr(parameters, "cursor", None) == ("params.W2", (3, 0))
        assert app.query_one("#boundary").border_title == "a2[3] over the input plane"
        assert str(app.query_one("#explain").border_title).startswith("Explain params.W2[3,0]")
        assert picture.selected == (2, 3)
        await pilot.press("down")  # the cursor moves on: the picture follows it
        assert picture.selected == (2, 4)


async def test_a_click_on_an_input_before_the_forward_pass_says_when_x_can_be_selected() -> None:
    app = StepperApp(stepper_for(MOONS))
    async with app.run_test(size=SIZE) as pilot:
        picture = app.query_one(NetworkPicture)
        picture.scroll_visible(animate=False, immediate=True)
        await pilot.pause()
        x0, y0 = picture.content_region.x - picture.region.x, picture.content_region.y - picture.region.y
        offset = (x0 + 2, y0 + 1)  # input x[0]
        assert await pilot.click(NetworkPicture, offset=offset)
        await pilot.pause()
        assert told(app) == [
            "x is in the panels after the forward pass: n runs it."]
        assert picture.selected is None and getattr(app.focused, "cursor", None) is None
        await pilot.press("n")
        picture.scroll_visible(animate=False, immediate=True)  # n scrolled to the forward pass
        await pilot.pause()
        assert await pilot.click(NetworkPicture, offset=offset)
        await pilot.pause()
        assert getattr(app.focused, "cursor", None) == ("forward.x", (0,)) and picture.selected == (0, 0)


async def test_m_toggles_the_picture_which_is_hidden_by_default_when_narrow_or_without_data() -> None:
    app = StepperApp(stepper_for(MOONS))
    async with app.run_test(size=(80, 24)) as pilot:
        picture = app.query_one(NetworkPicture)
        assert not picture.display
        await pilot.press("m")
        assert picture.display
        await pilot.press("n", "n")  # and it stays as chosen as the state changes
        assert picture.display
        await pilot.press("m")
        assert not picture.display
    app = StepperApp(stepper_for(Config()))
    async with app.run_test(size=SIZE) as pilot:
        assert not app.query_one(NetworkPicture).display


async def test_a_wide_network_at_80x24_shows_its_first_units_and_bars_after_the_forward_pass() -> None:
    app = StepperApp(stepper_for(Config(inputs=784, hidden=(128,), init="he", lr=0.01)))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m", "n")
        picture = app.query_one(NetworkPicture)
        picture.scroll_visible(animate=False, immediate=True)
        await pilot.pause()
        text = "\n".join(line.text for line in
                         (picture.render_line(y) for y in range(picture.size.height)))
        assert "+781" in text and "+125" in text and "█" in text


async def test_a_deep_network_on_data_at_80x24_draws_the_layers_that_fit() -> None:
    app = StepperApp(stepper_for(Config(dataset="moons", hidden=(3,) * 8, activation="tanh")))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        picture = app.query_one(NetworkPicture)
        picture.scroll_visible(animate=False, immediate=True)
        await pilot.pause()
        head = next(text for text in (picture.render_line(y).text for y in range(3)) if " a1 " in text)
        assert head.split()[:5] == ["x", "a1", "a2", "a3", "a4"] and head.rstrip().endswith(" layers")


class OnePicture(App[None]):
    """The picture alone in the app's panels container and style, with a unit selected."""

    CSS_PATH = str(ROOT / "tui" / "app" / "stepper.tcss")

    def __init__(self, view: View, unit: tuple[int, int] | None) -> None:
        super().__init__()
        self.view, self.unit = view, unit

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="panels"):
            yield NetworkPicture(id="network-picture")

    def on_mount(self) -> None:
        picture = self.query_one(NetworkPicture)
        picture.wanted = True
        picture.show(self.view)
        picture.select(self.unit)


def test_snapshot_moons_8_8_tanh_network_after_30_steps(snap_compare: Any) -> None:
    stepper = stepper_for(MOONS)
    stepper.train(30)
    assert snap_compare(OnePicture(stepper.view(), (1, 2)), terminal_size=SIZE)
