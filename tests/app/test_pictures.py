"""The pictures of a training run: the input plane's field (engine.maths.plane), the decision
boundary map and the loss chart, by their numbers and by snapshots."""

from __future__ import annotations

import numpy as np
import pytest
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll

from engine.data import batches
from engine.data.batches import Data
from engine.data.confusion import confusion
from engine.data.sets import Dataset
from engine.maths import network
from engine.maths.network import Architecture
from engine.maths.plane import Plane, field
from engine.run.stepper import Stepper, View
from engine.settings.config import Config
from tests.helpers import ROOT
from tui.app.widgets.boundary import (
    TEST,
    TRAIN,
    BoundaryMap,
    Picture,
    confusion_text,
    draw,
    lines_of,
)
from tui.app.widgets.chart import LossChart, downsample, step_ticks

pytestmark = pytest.mark.slow  # drives the app's screens through Pilot (-m 'not slow' leaves it out)

SIZE = (120, 40)
CSS = ROOT / "tui" / "app" / "stepper.tcss"


def trained(steps: int, **config: object) -> Stepper:
    c = Config(**config)  # type: ignore[arg-type]
    data = batches.from_config(c)
    stepper = Stepper(c) if data is None else Stepper(batches.fitted(c, data), data=data)
    stepper.train(steps)
    return stepper


def moons(steps: int = 30) -> Stepper:
    return trained(steps, dataset="moons", hidden=(8, 8), activation="tanh", seed=7)


class Pictures(App[None]):
    """The two widgets in the app's panels container and style, without the rest of the app."""

    CSS_PATH = str(CSS)

    def __init__(self, view: View, unit: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.view, self.unit = view, unit

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="panels"):
            yield BoundaryMap(id="boundary")
            yield LossChart(id="loss")

    def on_mount(self) -> None:
        self.query_one(BoundaryMap).show_unit(self.view, self.unit)
        self.query_one(LossChart).show(self.view)


# ---- engine.maths.plane --------------------------------------------------------------------------

def test_plane_holds_every_row_with_a_margin_and_grids_from_the_top_left() -> None:
    X = np.array([[-2.0, 1.0], [3.0, 5.0], [0.0, 2.0]])
    plane = Plane.around(X, margin=0.1)
    assert (plane.x1_low, plane.x1_high) == pytest.approx((-2.5, 3.5))
    assert (plane.x2_low, plane.x2_high) == pytest.approx((0.6, 5.4))
    points = plane.grid(4, 3)
    assert points.shape == (12, 2)
    assert points[0, 0] < points[3, 0] and points[0, 1] > points[-1, 1]  # left to right, top down
    assert points[0, 1] == points[3, 1] and points[0, 0] == points[4, 0]
    rows, cols = plane.cell(points, 4, 3)  # each cell centre falls in its own cell
    np.testing.assert_array_equal(rows, np.repeat(np.arange(3), 4))
    np.testing.assert_array_equal(cols, np.tile(np.arange(4), 3))


def test_a_flat_axis_still_has_width() -> None:
    plane = Plane.around(np.array([[1.0, 2.0], [1.0, 3.0]]))
    assert plane.x1_high > plane.x1_low


def test_the_boundary_of_a_monotone_network_lies_where_its_hidden_unit_crosses_zero() -> None:
    """a1 = tanh(x1 - 1), logit = 3 a1: p > 0.5 exactly right of x1 = 1, whatever x2."""
    arch = Architecture(2, (1,), "tanh", 1, "bce")
    params = {"W1": np.array([[1.0, 0.0]]), "b1": np.array([-1.0]),
              "W2": np.array([[3.0]]), "b2": np.array([0.0])}
    plane = Plane(-4.0, 4.0, -2.0, 2.0)
    result = field(arch, params, plane, 40, 10)
    assert result.value.shape == (10, 40) and result.classes is not None
    x1 = plane.grid(40, 10)[:40, 0]
    for row in result.classes:
        np.testing.assert_array_equal(row, (x1 > 1.0).astype(np.int64))
    expected = network.sigmoid(3.0 * np.tanh(x1 - 1.0))
    np.testing.assert_allclose(result.value[5], expected)


def test_softmax_field_is_the_likeliest_class_and_its_probability() -> None:
    arch = Architecture(2, (5,), "relu", 3, "cross-entropy")
    params = network.init_params(arch, 3, "he")
    plane = Plane(-1.0, 1.0, -1.0, 1.0)
    result = field(arch, params, plane, 7, 6)
    cache, _ = network.forward_each(arch, plane.grid(7, 6), params, np.zeros(42, dtype=np.int64))
    aL = cache["a2"]
    assert result.classes is not None
    np.testing.assert_array_equal(result.classes.ravel(), np.argmax(aL, axis=1))
    np.testing.assert_allclose(result.value.ravel(), np.max(aL, axis=1))


def test_a_units_field_is_its_activation_column_of_the_forward_pass() -> None:
    arch = Architecture(2, (4, 3), "tanh", 1, "bce")
    params = network.init_params(arch, 5, "he")
    plane = Plane(-5.0, 5.0, -3.0, 3.0)
    cache, _ = network.forward_each(arch, plane.grid(9, 8), params, np.zeros(72, dtype=np.int64))
    for layer, unit in ((1, 0), (1, 3), (2, 2)):
        result = field(arch, params, plane, 9, 8, unit=(layer, unit))
        assert result.classes is None and result.unit == (layer, unit)
        np.testing.assert_array_equal(result.value.ravel(), cache[f"a{layer}"][:, unit])
    for bad in ((0, 0), (3, 0), (1, 4)):  # the input, the output, a unit past the layer
        with pytest.raises(ValueError, match="no hidden unit"):
            field(arch, params, plane, 9, 8, unit=bad)


# ---- the map -------------------------------------------------------------------------------

def moons_picture(stepper: Stepper, cols: int = 60, lines: int = 15) -> tuple[Picture, Data]:
    view = stepper.view()
    assert view.data is not None
    picture = draw(view.config.architecture, view.state.params, view.data, None, cols, lines,
                   (0, 0, 0), None)  # type: ignore[arg-type]
    return picture, view.data


def test_training_and_test_points_are_drawn_with_their_own_markers_in_their_cells() -> None:
    picture, data = moons_picture(moons(5))
    shown = list(lines_of(picture))
    assert len(shown) == 15 and all(len(line) == 60 for line in shown)
    dataset = data.dataset
    plane = Plane.around(dataset.X)
    rows, cols = plane.cell(dataset.X, 60, 30)
    cells = {(int(r) // 2, int(c)) for r, c in zip(rows, cols, strict=True)}
    test_cells = {(int(rows[i]) // 2, int(cols[i])) for i in dataset.test}
    for line, col in cells:  # every point is drawn, and only points
        assert shown[line][col] in (TRAIN, TEST)
    drawn = sum(ch in (TRAIN, TEST) for line in shown for ch in line)
    assert drawn == len(cells)
    assert all(shown[line][col] == TEST for line, col in test_cells)  # test points drawn on top
    assert {shown[line][col] for line, col in cells - test_cells} == {TRAIN}
    legend = str(picture.text[1])
    assert f"{TRAIN} train" in legend and f"{TEST} test" in legend
    assert "x1 " in str(picture.text[0]) and "x2 " in str(picture.text[0])


def test_field_cells_are_half_blocks_coloured_by_the_prediction() -> None:
    """Upper point as the foreground, lower as the background: a cell whose two points the
    model puts in different classes has two different hues."""
    picture, _ = moons_picture(moons(30))
    styles = [segment.style for line in picture.lines for segment in line if segment.text == "▀"]
    assert styles and all(s is not None and s.color is not None and s.bgcolor is not None for s in styles)
    assert any(s.color != s.bgcolor for s in styles if s is not None)


async def test_the_map_hides_without_data_and_shows_with_it() -> None:
    app = Pictures(Stepper(Config()).view())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not app.query_one(BoundaryMap).display
    app = Pictures(moons(2).view())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        boundary = app.query_one(BoundaryMap)
        assert boundary.display and boundary.border_title == "Decision boundary"
        assert boundary.size.height == 16 + 2  # map lines, axes, legend


async def test_a_selected_unit_is_drawn_over_the_plane_and_an_unknown_one_falls_back() -> None:
    stepper = moons(3)
    app = Pictures(stepper.view(), unit=(1, 3))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        boundary = app.query_one(BoundaryMap)
        assert boundary.border_title == "a1[3] over the input plane" and boundary.unit == (1, 3)
        legend = str(boundary.render().text[1])  # type: ignore[union-attr]
        assert "… 0 …" in legend and "shade" not in legend
        boundary.show_unit(stepper.view(), (2, 8))  # layer 2 has units 0..7
        assert boundary.unit is None and boundary.border_title == "Decision boundary"
        boundary.show_unit(stepper.view(), None)
        assert "shade: confidence" in str(boundary.render().text[1])  # type: ignore[union-attr]


def three_feature_stepper() -> Stepper:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] + X[:, 2] > 0).astype(np.int64)
    data = batches.prepare(Dataset(X, y, "three"), 0.25, 0, seed=1)
    config = batches.fitted(Config(hidden=(4,), activation="tanh"), data)
    stepper = Stepper(config, data=data)
    stepper.train(20)
    return stepper


async def test_more_than_two_inputs_show_confusion_tables_with_the_accuracy() -> None:
    stepper = three_feature_stepper()
    view = stepper.view()
    assert view.data is not None
    tables = confusion(view.config.architecture, view.state.params, view.data)
    metrics = batches.evaluate(view.config.architecture, view.state.params, view.data)
    assert tables["train"].sum() == 45 and tables["test"].sum() == 15
    dataset = view.data.dataset
    cache, _ = network.forward_each(view.config.architecture, dataset.X, view.state.params, dataset.y)
    predicted = network.predictions(cache["z2"])
    for name, rows in (("train", dataset.train), ("test", dataset.test)):  # true a row, predicted a column
        np.testing.assert_array_equal(tables[name].sum(axis=1), np.bincount(dataset.y[rows], minlength=2))
        np.testing.assert_array_equal(tables[name].sum(axis=0), np.bincount(predicted[rows], minlength=2))
    assert np.trace(tables["train"]) / 45 == pytest.approx(metrics.train_accuracy)
    assert np.trace(tables["test"]) / 15 == pytest.approx(metrics.test_accuracy)
    app = Pictures(view)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        boundary = app.query_one(BoundaryMap)
        assert boundary.display and boundary.border_title.startswith("Confusion")
        text = str(boundary.render())
        right = int(np.trace(tables["test"]))
        assert f"test accuracy {100 * right / 15:.1f}% ({right}/15)" in text
        assert "true\\pred" in text and "▀" not in text


# ---- the chart -----------------------------------------------------------------------------

def test_downsampling_keeps_the_ends_and_the_extremes_in_step_order() -> None:
    rng = np.random.default_rng(2)
    values = rng.normal(size=100_000).cumsum()
    values[31_337] = 1e6  # a spike a mean would smooth away
    values[77_001] = -1e6
    steps = np.arange(1.0, 100_001.0)
    x, y = downsample(steps, values, 60)
    assert len(x) <= 2 * 60 + 2 and np.all(np.diff(x) > 0)
    assert (x[0], x[-1]) == (1.0, 100_000.0) and (y[0], y[-1]) == (values[0], values[-1])
    assert y.max() == 1e6 and y.min() == -1e6
    np.testing.assert_array_equal(y, values[(x - 1).astype(int)])  # real points, not averages


def test_short_series_are_kept_whole_without_their_nans() -> None:
    steps = np.arange(1.0, 4.0)
    x, y = downsample(steps, np.array([1.0, np.nan, 0.5]), 60)
    np.testing.assert_array_equal(x, [1.0, 3.0])
    np.testing.assert_array_equal(y, [1.0, 0.5])
    assert step_ticks(3) == [1.0, 2.0, 3.0] and step_ticks(100_000)[-1] == 100_000.0


async def test_the_chart_hints_before_any_loss_and_lists_the_last_values() -> None:
    stepper = Stepper(Config())
    app = Pictures(stepper.view())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        chart = app.query_one(LossChart)
        assert not chart.query("#loss-plot")  # mounted when it has two points to show
        assert "no loss yet" in str(chart.query_one("#loss-values").render())
        stepper.next()  # one loss: its number, no chart yet
        chart.show(stepper.view())
        await pilot.pause()
        assert not chart.query("#loss-plot")
        shown = str(chart.query_one("#loss-values").render())
        assert "1: 1.173" in shown and "forward pass" not in shown  # no legend of no chart
        stepper.train(3)
        chart.show(stepper.view())
        await pilot.pause()
        assert chart.query_one("#loss-plot").display
        values = str(chart.query_one("#loss-values").render())
        assert "1: 1.173" in values and "after 3: " in values
    stepper = moons(4)
    app = Pictures(stepper.view())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        chart = app.query_one(LossChart)
        curves = stepper.state.trail.curves()  # type: ignore[union-attr]
        values = str(chart.query_one("#loss-values").render())
        assert f"{100 * curves.test_accuracy[-1]:.1f}%" in values and "acc % (right)" in values
        assert chart.border_title == "Loss and accuracy · step 4"
        stepper.reset()  # no losses: the title says no step (it had kept "step 4")
        chart.show(stepper.view())
        await pilot.pause()
        assert chart.border_title == "Loss and accuracy"
        assert "no loss yet" in str(chart.query_one("#loss-values").render())


# ---- snapshots -----------------------------------------------------------------------------

def test_snapshot_moons_after_30_steps(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(Pictures(moons(30).view()), terminal_size=SIZE)


def test_snapshot_moons_light_theme(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = Pictures(moons(30).view())

    async def light(pilot) -> None:  # type: ignore[no-untyped-def]
        app.theme = "textual-light"

    assert snap_compare(app, terminal_size=SIZE, run_before=light)


def test_snapshot_three_class_spiral(snap_compare) -> None:  # type: ignore[no-untyped-def]
    stepper = trained(30, dataset="spiral", classes=3, hidden=(8, 8), activation="tanh", seed=7)
    assert snap_compare(Pictures(stepper.view()), terminal_size=SIZE)


def test_snapshot_chart_of_three_steps(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(Pictures(trained(3).view()), terminal_size=(80, 24))


def test_confusion_tables_stack_when_they_do_not_fit_side_by_side() -> None:

    config = Config(dataset="gauss", classes=3, hidden=(4,))
    data = batches.from_config(config)
    assert data is not None
    arch = batches.fitted(config, data).architecture
    params = network.init_params(arch, 1)
    wide = confusion_text(arch, params, data, width=200).split("\n")
    narrow = confusion_text(arch, params, data, width=40).split("\n")
    assert wide[0].startswith("train accuracy") and "test accuracy" in wide[0]
    assert len(narrow) == 2 * len(wide) + 1 and narrow[len(wide) + 1].startswith("test accuracy")
    assert max(map(len, narrow)) <= 40


@pytest.mark.parametrize("classes", [2, 3])
def test_outputs_that_are_not_finite_have_no_accuracy(classes: int) -> None:
    """NaN logits predict no class: argmax (or > 0) would still name class 0, and a
    diverged run was reported at the share of that class (35.6% on a 3-class spiral)."""
    config = Config(dataset="gauss", classes=classes, hidden=(4,))
    data = batches.from_config(config)
    assert data is not None
    arch = batches.fitted(config, data).architecture
    params = network.init_params(arch, 1)
    nan = {**params, "W1": params["W1"].copy()}
    nan["W1"][0, 0] = np.nan  # every row's outputs are NaN
    metrics = batches.evaluate(arch, nan, data)
    assert metrics.train_accuracy is None and metrics.test_accuracy is None
    assert np.isnan(metrics.train_loss)
    text = confusion_text(arch, nan, data)
    train, test = len(data.dataset.train), len(data.dataset.test)
    assert f"train: outputs not finite for {train}/{train} rows: no accuracy" in text
    assert f"test: outputs not finite for {test}/{test} rows: no accuracy" in text
    finite = batches.evaluate(arch, params, data)
    assert finite.train_accuracy is not None and finite.test_accuracy is not None
