"""Playground's data controls in the app (issue 27, item 4): test points on and off (o), the
data drawn again (d), feature inputs on the map, and a CSV file's column names on its axes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.data import batches
from engine.data.fit import fit_to_data
from engine.run import session
from engine.run.stepper import Phase, Stepper
from engine.settings.config import Config, validate
from tests.helpers import FIXTURES, told
from tui.app.app import StepperApp
from tui.app.screens.config import FIELDS, _shown, read_fields
from tui.app.widgets.boundary import TEST, TRAIN, BoundaryMap, Picture, lines_of

pytestmark = pytest.mark.slow  # drives the app's screens through Pilot (-m 'not slow' leaves it out)

SIZE = (120, 40)
MOONS = Config(dataset="moons", hidden=(8, 8), activation="tanh", batch=16)


def app_for(config: Config, given: set[str] | None = None) -> StepperApp:
    config = validate(config, given)
    data = batches.from_config(config)
    assert data is not None
    fitted, data = fit_to_data(config, given if given is not None else set())
    return StepperApp(Stepper(fitted, data=data))


def map_text(app: StepperApp) -> str:
    boundary = app.query_one(BoundaryMap)
    picture = boundary.render()
    assert isinstance(picture, Picture)
    return "\n".join([*lines_of(picture), *(text.plain for text in picture.text)])


async def test_o_hides_and_shows_the_test_points_and_the_legend_says_so() -> None:
    app = app_for(MOONS)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert TEST in map_text(app) and f"{TRAIN} train  {TEST} test" in map_text(app)
        await pilot.press("o")
        hidden = map_text(app)
        assert TEST not in hidden and "test hidden (o)" in hidden and TRAIN in hidden
        await pilot.press("o")
        assert TEST in map_text(app)


async def test_o_without_test_rows_says_there_are_none() -> None:
    app = app_for(Config(dataset="moons", test_fraction=0.0), {"dataset", "test-fraction"})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o")
        await pilot.pause()
        assert app.query_one(BoundaryMap).test_points
        assert any("has none" in n for n in told(app))


async def test_d_draws_new_points_and_keeps_the_weights() -> None:
    app = app_for(MOONS)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(5):
            await pilot.press("n")
        await app.runner.idle.wait()
        before = app.stepper
        assert before.data is not None and before.state.last_phase is not None
        await pilot.press("d")
        await pilot.pause()
        after = app.stepper
        assert after is not before and after.data is not None and after.data.seed == before.data.seed + 1
        assert not np.array_equal(after.data.dataset.X, before.data.dataset.X)
        for name, value in before.state.params.items():
            np.testing.assert_array_equal(after.state.params[name], value)
        assert after.state.step == 1 and after.state.last_phase is None and after.config == before.config
        assert any("seed 43" in n for n in told(app))
        await pilot.press("n", "n")
        await app.runner.idle.wait()
        # A session saved now holds the kept weights and the new points: it replays exactly.
        kept = session.from_bytes(app.controller.session_bytes())
        assert kept.data is not None and kept.data.seed == 43
        again = Stepper(kept.config, data=kept.data)
        again.start_from(kept.params)
        again.replay(list(kept.path), lambda bug: again.model)
        assert again.state.last_phase is Phase.BACKWARD
        for name, value in app.stepper.state.forward.cache.items():  # type: ignore[union-attr]
            np.testing.assert_array_equal(again.state.forward.cache[name], value)  # type: ignore[union-attr]
        # b walks back through the new draw's phases, then to the old data and run, as they were.
        state_before = before.state
        await pilot.press("b", "b")
        assert app.stepper is after and after.state.last_phase is None
        await pilot.press("b")
        await pilot.pause()
        assert app.stepper is before and before.state is state_before
        assert any("Back to the data before d (seed 42)" in n for n in told(app))
        await pilot.press("b")  # and on back through the old run's own history
        assert app.stepper is before and before.state is not state_before


async def test_d_without_data_says_what_it_needs() -> None:
    app = StepperApp(Stepper(Config()))
    async with app.run_test(size=SIZE) as pilot:
        before = app.stepper
        await pilot.press("d")
        await pilot.pause()
        assert app.stepper is before
        assert any("--dataset moons" in n for n in told(app))


async def test_feature_inputs_draw_the_map_over_the_plane_of_x1_and_x2() -> None:
    """Three inputs, and still a map over the plane: the network is given each grid point's
    three features (given the point itself it would refuse two inputs)."""
    app = app_for(Config(dataset="circle", features=("x1^2", "x2^2", "x1*x2"), hidden=(2,)),
                  {"dataset", "features", "hidden"})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.stepper.config.inputs == 3
        text = map_text(app)
        assert text.splitlines()[-2].startswith("x1 ") and "   x2 " in text
        assert "Confusion" not in str(app.query_one(BoundaryMap).border_title)


async def test_a_csv_files_column_names_are_the_maps_axes(tmp_path: Path) -> None:
    rows = np.random.default_rng(0).uniform(0, 40, (40, 2))
    text = "temperature,pressure,label\n" + "".join(f"{a:.3f},{b:.3f},{int(a > b)}\n" for a, b in rows)
    (tmp_path / "weather.csv").write_text(text, encoding="utf-8")
    app = app_for(Config(data=str(tmp_path / "weather.csv")), {"data"})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        axes = map_text(app).splitlines()[-2]
        assert axes.startswith("temperature ") and "   pressure " in axes and "x1" not in axes


def test_snapshot_a_csv_with_named_columns_and_the_test_points_hidden(snap_compare: Any) -> None:
    """tests/fixtures/weather.csv: 60 rows of temperature and pressure, class 1 where
    temperature + pressure / 2 > 30."""
    app = app_for(Config(data=str(FIXTURES / "weather.csv"), hidden=(4,), train_steps=40),
                  {"data", "hidden", "train-steps"})

    async def train(pilot: Any) -> None:
        await pilot.press("t")
        await app.runner.idle.wait()
        await pilot.press("o")
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, run_before=train, terminal_size=SIZE)


def test_the_config_forms_features_field_reads_and_refuses_as_the_flag_does() -> None:
    base = validate(Config(dataset="moons"), {"dataset"})
    values = {key: _shown(base, key) for key in FIELDS}
    assert values["features"] == ""  # the data's own columns: x1, x2
    config, data, errors = read_fields(values | {"features": "x1^2, x2^2 ,x1*x2"}, base)
    assert errors == {} and config is not None and data is not None
    assert config.features == ("x1^2", "x2^2", "x1*x2") and config.inputs == 3
    assert _shown(config, "features") == "x1^2,x2^2,x1*x2"  # shown back as it is kept
    _, _, errors = read_fields(values | {"features": "x1,cos(x2)"}, base)
    assert "'cos(x2)' is not a feature" in errors["features"] and "sin(x2)" in errors["features"]
    _, _, errors = read_fields({key: _shown(Config(), key) for key in FIELDS} | {"features": "x1^2"},
                               validate(Config()))
    assert "only applies to learning from data" in errors["features"]
