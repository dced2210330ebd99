"""The app's training keys: t runs a training run on a thread, [ and ] pick the sample."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest
from textual.widgets import Static

from engine.data import batches
from engine.run.stepper import Phase, Stepper
from engine.settings.config import Config
from tests.helpers import told
from tests.waits import handled, until
from tui.app.app import StepperApp, hidden_unit

pytestmark = pytest.mark.slow  # drives the app's screens through Pilot (-m 'not slow' leaves it out)

SIZE = (120, 40)
MOONS = Config(dataset="moons", hidden=(8, 8), activation="tanh", batch=16, train_steps=30)


def app_for(config: Config = MOONS) -> StepperApp:
    data = batches.from_config(config)
    stepper = Stepper(config if data is None else batches.fitted(config, data), data=data)
    return StepperApp(stepper)


def batch_line(app: StepperApp) -> str:
    return str(app.query_one("#batch", Static).render())


async def test_t_trains_k_steps_and_the_batch_line_shows_the_fit() -> None:
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        assert "sample" not in batch_line(app)  # no forward pass yet: no batch to show
        await pilot.press("t")
        await app.runner.idle.wait()
        await pilot.pause()
        state = app.stepper.state
        assert state.step == 30 and state.last_phase is Phase.UPDATE
        assert not app.query_one("#progress").display
        line = batch_line(app)
        assert "batch 16 · epoch 3" in line and "train loss" in line and "test loss" in line
        await pilot.press("b")  # a run is undone one phase at a time, as always
        assert app.stepper.state.last_phase is Phase.BACKWARD and app.stepper.state.step == 30


async def test_square_brackets_step_through_the_batch_round_its_ends() -> None:
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        assert "sample 1/16" in batch_line(app)
        await pilot.press("right_square_bracket", "right_square_bracket")
        rows = app.stepper.state.rows
        assert rows is not None and f"sample 3/16 · row {rows[2]}" in batch_line(app)
        await pilot.press("left_square_bracket", "left_square_bracket", "left_square_bracket")
        assert "sample 16/16" in batch_line(app)


async def test_without_data_t_and_the_brackets_say_what_they_need() -> None:
    app = app_for(Config())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t", "right_square_bracket")
        await handled(app, pilot)
        assert app.stepper.state.last_phase is None and app.runner.running is None
        messages = told(app)
        assert any("need data" in m for m in messages) and any("[ and ]" in m for m in messages)
        assert not app.query_one("#batch").display


async def test_keys_during_a_run_are_refused_not_queued() -> None:
    app = app_for()
    gate = threading.Event()
    train = app.stepper.train

    def held(*args: Any, **kwargs: Any) -> int:  # the run waits until the keys are in
        gate.wait()
        return train(*args, **kwargs)

    app.stepper.train = held  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t", "n", "n", "b", "s")
        assert app.runner.queued == 0 and app.stepper.state.last_phase is None
        gate.set()
        await app.runner.idle.wait()
        await pilot.pause()
        assert app.stepper.state.last_phase is Phase.UPDATE and app.stepper.state.step == 30


async def test_the_cursor_on_a_hidden_unit_maps_that_units_activation() -> None:
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        forward = app.query_one("#forward")
        forward.focus()  # focus, then the panel's cursor message, then the redraw that sets it
        await until(pilot, lambda: getattr(forward, "cursor", None) is not None, "the forward panel's cursor")
        cursor = getattr(forward, "cursor", None)
        assert cursor is not None and cursor[0] == "forward.x"  # x: no hidden unit, the prediction
        assert app.query_one("#boundary").border_title == "Decision boundary"
        await pilot.press("down", "right")  # on into z1 (the sample's row), its second unit
        assert getattr(forward, "cursor", None) == ("forward.z1", (1,))
        assert app.query_one("#boundary").border_title == "a1[1] over the input plane"
        await pilot.press("up")
        assert app.query_one("#boundary").border_title == "Decision boundary"


def test_hidden_unit_reads_a_cell_as_its_layer_and_unit() -> None:
    assert hidden_unit(("forward.z2", (3,)), depth=3) == (2, 3)
    assert hidden_unit(("backward.dW1", (4, 1)), depth=3) == (1, 4)
    assert hidden_unit(("forward.a3", (0,)), depth=3) is None  # the output layer
    assert hidden_unit(("forward.x", (1,)), depth=3) is None
    assert hidden_unit(None, depth=3) is None


def test_snapshot_moons_after_a_training_run(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = app_for(replace(MOONS, train_steps=60, batch=0))

    async def train(pilot: Any) -> None:
        await pilot.press("t")
        await app.runner.idle.wait()
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, run_before=train, terminal_size=SIZE)


async def test_random_keys_with_data_leave_a_whole_consistent_state() -> None:
    """Hostile typing with a data set: runs started, stopped and walked back, samples picked,
    explanations opened, at any pace; the app never fails, and whatever the keys did, the
    history undoes to the initial parameters."""
    import random

    from tests.waits import burst

    app = app_for(replace(MOONS, train_steps=20))
    rng = random.Random(7)
    keys = ["t", "escape", "n", "b", "s", "left_square_bracket", "right_square_bracket", "e", "tab",
            "down", "right", "g", "r"]
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(30):
            burst(app, *[rng.choice(keys) for _ in range(rng.randint(1, 6))])
            await handled(app, pilot)
            await app.runner.idle.wait()
            assert app._exception is None
        stepper = app.stepper
        initial = stepper.initial.params
        while stepper.back():
            pass
        assert all(stepper.state.params[name] is value for name, value in initial.items())
    assert app.return_code in (None, 0)


async def test_between_measurements_the_app_shows_the_running_mean_and_a_measures() -> None:
    """160 training rows in batches of 16: the whole sets are measured at steps 1, 11, ...;
    step 2 shows the batch losses' running mean, named as such, until a measures it."""
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await app.runner.idle.wait()
        await pilot.press("n")  # step 2's forward pass
        await app.runner.idle.wait()
        await pilot.pause()
        line = batch_line(app)
        assert "batch loss, mean of last 2" in line and "train loss" not in line
        values = str(app.query_one("#loss-values").render())
        assert "batch loss, mean of last 2" in values and "(step 1)" in values
        await pilot.press("a")
        await pilot.pause()
        line = batch_line(app)
        assert "train loss" in line and "mean of last" not in line
        assert app.stepper.path[-1] == ("measure", 1)
        await pilot.press("b")  # back to step 1's update, as it was shown
        assert app.stepper.state.step == 1 and app.stepper.state.last_phase is Phase.UPDATE


async def test_the_batch_line_names_a_samples_class_when_the_csv_named_them() -> None:
    from tests.helpers import FIXTURES

    config = Config(data=str(FIXTURES / "csv" / "sonar_rm.csv"), batch=2, test_fraction=0.0)
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        data = app.stepper.data
        rows = app.stepper.state.rows
        assert data is not None and rows is not None
        y = int(data.dataset.y[rows[0]])
        assert f"sample 1/2 · row {rows[0]} · y={y} ({'MR'[y]})" in batch_line(app)
