"""Playground's run controls in the app: p plays and pauses a continuous run, + and - move the
learning rate along its ladder mid-run (also while it plays), the form changes the settings a
run takes as it goes in place, and asks before a change that needs new weights."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from textual.widgets import Input, Static

from engine.data import batches
from engine.run import session
from engine.run.stepper import Phase, Stepper
from engine.settings.config import Config
from tests.waits import handled, until
from tui.app.app import StepperApp
from tui.app.controller import LR_LADDER, next_rate
from tui.app.screens.config import ConfigScreen
from tui.app.screens.confirm import ConfirmScreen

pytestmark = pytest.mark.slow  # drives the app's screens through Pilot (-m 'not slow' leaves it out)

SIZE = (120, 40)
MOONS = Config(dataset="moons", hidden=(8, 8), batch=16)


def app_for(config: Config = MOONS) -> StepperApp:
    data = batches.from_config(config)
    return StepperApp(Stepper(config if data is None else batches.fitted(config, data), data=data))


def replayed(stepper: Stepper) -> Stepper:
    return session.open_session(session.from_bytes(session.to_bytes(session.record(stepper))))


def same_params(a: Stepper, b: Stepper) -> bool:
    return all(np.array_equal(a.state.params[k], b.state.params[k]) for k in a.state.params)


def test_the_ladder_is_playgrounds_in_half_decades() -> None:
    assert next_rate(0.1, up=True) == 0.3 and next_rate(0.1, up=False) == 0.03
    assert next_rate(0.05, up=True) == 0.1 and next_rate(0.05, up=False) == 0.03  # between rungs
    assert next_rate(10.0, up=True) is None and next_rate(1e-5, up=False) is None
    assert all(2.9 < b / a < 3.4 for a, b in itertools.pairwise(LR_LADDER))


@pytest.mark.parametrize("config", [MOONS, Config()], ids=["moons", "one sample"])
async def test_p_plays_until_p_pauses_keeping_the_steps(config: Config) -> None:
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await until(pilot, lambda: app.stepper.state.step > 20, "20 steps played")
        label = str(app.query_one("#progress-label", Static).render())
        assert app.runner.running is not None and app.runner.running.playing and "playing" in label
        await pilot.press("p")
        await app.runner.idle.wait()
        await handled(app, pilot)
        state = app.stepper.state
        assert app.runner.running is None and state.last_phase is Phase.UPDATE and state.step > 20
        await pilot.press("b")  # the run is undone a phase at a time, as a training run's
        assert app.stepper.state.last_phase is not Phase.UPDATE and app.stepper.state.step == state.step


async def test_escape_pauses_too_and_p_plays_on() -> None:
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await until(pilot, lambda: app.stepper.state.step > 5, "5 steps played")
        await pilot.press("escape")
        await app.runner.idle.wait()
        paused = app.stepper.state.step
        await pilot.press("p")
        await until(pilot, lambda: app.stepper.state.step > paused + 5, "5 more steps")
        await pilot.press("p")
        await app.runner.idle.wait()


async def test_plus_while_playing_changes_the_rate_between_steps_and_the_session_replays_it() -> None:
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await until(pilot, lambda: app.stepper.state.step > 10, "10 steps played")
        await pilot.press("plus")
        await until(pilot, lambda: app.stepper.config.lr == 0.3, "the change made between two steps")
        changed = app.stepper.state.step
        await until(pilot, lambda: app.stepper.state.step > changed + 10, "10 steps at the new rate")
        await pilot.press("p")
        await app.runner.idle.wait()
        stepper = app.stepper
        assert ("set lr=0.3", 1) in stepper.path
        update = stepper.state.update
        assert update is not None and update.lr == 0.3
        again = replayed(stepper)
        assert same_params(again, stepper) and again.config.lr == 0.3


async def test_plus_and_minus_when_paused_change_the_rate_in_place_and_b_undoes_it() -> None:
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        state = app.stepper.state
        await pilot.press("minus", "minus")
        assert app.stepper.config.lr == 0.01 and app.stepper.state.params is state.params
        assert "lr=0.01" in str(app.query_one("#network", Static).render())
        await pilot.press("b")
        assert app.stepper.config.lr == 0.03
        await pilot.press("b")
        assert app.stepper.config.lr == 0.1 and app.stepper.state is state


async def typed_in_form(app: StepperApp, pilot: Any, fields: dict[str, str]) -> None:
    """After a finished step (s), the form (c) with `fields` typed in, applied."""
    await pilot.press("s", "c")
    form = app.screen
    assert isinstance(form, ConfigScreen)
    for key, value in fields.items():
        form.query_one(f"#field-{key}", Input).value = value
    await pilot.pause()
    form.apply()


async def test_the_form_changes_the_rate_and_batch_in_place() -> None:
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await typed_in_form(app, pilot, {"lr": "0.05", "batch": "8"})
        await until(pilot, lambda: app.stepper.config.lr == 0.05, "the change made")
        stepper = app.stepper
        assert stepper.config.lr == 0.05 and stepper.data is not None and stepper.data.batch == 8
        assert stepper.state.step == 1 and stepper.path[-1] == ("set lr=0.05 batch=8", 1)
        await pilot.press("s")
        assert stepper.state.rows is not None and len(stepper.state.rows) == 8


@pytest.mark.parametrize("answer", ["n", "y"])
async def test_a_change_that_needs_new_weights_asks_first(answer: str) -> None:
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        old = app.stepper
        await typed_in_form(app, pilot, {"activation": "tanh"})
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        question = str(app.screen.query_one("#confirm-question", Static).render())
        assert "Changing activation needs new weights" in question
        await pilot.press(answer)
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "the answer")
        if answer == "n":
            assert app.stepper is old and app.stepper.config.activation == "relu"
        else:
            assert app.stepper is not old and app.stepper.config.activation == "tanh"
            assert app.stepper.state.step == 1 and app.stepper.state.last_phase is None


async def test_the_form_changes_the_update_rule_in_place_its_state_from_zero() -> None:
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await typed_in_form(app, pilot, {"optimizer": "adam", "beta2": "0.99"})
        await until(pilot, lambda: app.stepper.config.optimizer == "adam", "the change made")
        stepper = app.stepper
        assert stepper.path[-1] == ("set optimizer=adam beta2=0.99", 1) and stepper.state.step == 1
        assert "t" in stepper.state.optim and not any(np.any(v) for v in stepper.state.optim.values())
        await pilot.press("b")
        assert stepper.config.optimizer == "sgd" and stepper.state.optim == {}
