"""The training-health view (v) and the guard rails in the app: the verdicts of a run built to
fail (raw features: unscaled, a loss jump, a dead layer), none for a healthy one, the notices
under the data line, the loss chart's log scale (y), and the help listing both keys."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from engine.data import batches
from engine.run.stepper import Stepper
from engine.settings.config import Config
from tests.helpers import raw_csv, told
from tui.app.app import StepperApp
from tui.app.health import rebuilt
from tui.app.screens.health import HealthScreen
from tui.app.widgets.chart import LossChart

pytestmark = pytest.mark.slow  # drives the app's screens through Pilot

SIZE = (120, 40)
MOONS = Config(dataset="moons", batch=16, hidden=(8,), init="he", standardize=True, gradcheck=False)


def app_for(config: Config, steps: int = 0) -> StepperApp:
    data = batches.from_config(config)
    stepper = Stepper(config if data is None else batches.fitted(config, data), data=data)
    if steps:
        stepper.train(steps)
    return StepperApp(stepper)


def plain(drawn: str) -> str:
    """A plotext drawing without its colours (the theme's, which the widget sets when painted)."""
    return re.sub(r"\x1b\[[0-9;]*m", "", drawn)


def text(app: StepperApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def test_v_opens_the_view_with_a_failing_runs_verdicts_and_escape_returns(tmp_path: Path) -> None:
    app = app_for(Config(data=str(raw_csv(tmp_path)), batch=16, gradcheck=False), steps=30)
    async with app.run_test(size=SIZE) as pilot:
        before = app.screen
        await pilot.press("v")
        shown = text(app, "#health-text")
        assert "30 finished step(s)" in shown and "W1" in shown and "100%" in shown
        assert "the inputs are far from unit scale" in shown and "Try --standardize" in shown
        assert "the loss jumped from 9.16 to 317" in shown
        assert "layer 1: all of its ReLU units are dead" in shown and "No verdict" not in shown
        assert app.screen.query_one("#health-activations").display
        await pilot.press("escape")
        assert app.screen is before


async def test_a_healthy_run_has_no_verdict_and_no_guard_line() -> None:
    app = app_for(MOONS, steps=30)
    async with app.run_test(size=SIZE) as pilot:
        assert not app.query_one("#guard").display
        await pilot.press("v")
        assert "No verdict: every statistic stayed in its healthy range." in text(app, "#health-text")
        plots = [plot.id for plot in app.screen.query(".health-plot")]  # one a layer: a1, then dW1, dW2
        assert plots == ["health-a1", "health-dW1", "health-dW2"]


async def test_the_view_follows_undo_it_is_rebuilt_from_the_history() -> None:
    app = app_for(MOONS, steps=12)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b", "b", "b", "v")  # back through step 12's three phases (no gradcheck)
        assert "11 finished step(s)" in text(app, "#health-text")
        assert rebuilt(app.stepper).steps == 11


async def test_the_data_line_says_unscaled_inputs_before_training_then_the_jump_and_the_dead_layer(
        tmp_path: Path) -> None:
    app = app_for(Config(data=str(raw_csv(tmp_path)), batch=16, gradcheck=False, train_steps=30))
    async with app.run_test(size=SIZE) as pilot:
        guard = app.query_one("#guard", Static)
        assert guard.display and "the inputs are far from unit scale" in str(guard.render())
        assert "jumped" not in str(guard.render())
        await pilot.press("t")
        await app.runner.idle.wait()
        await pilot.pause()
        said = str(guard.render()).splitlines()
        assert len(said) == 3 and "the loss jumped from 9.16 to 317" in said[1]
        assert said[2].startswith("⚠ health (v): layer 1: all of its ReLU units are dead")
        await pilot.press("r")  # reset: the jump is gone with the steps that made it
        await pilot.pause()
        assert "jumped" not in str(guard.render())


async def test_v_during_a_training_run_is_refused_and_the_guard_line_follows_its_end(
        tmp_path: Path) -> None:
    """The training thread adds to the history the view is built from: v waits for the run's
    end (the run is held at its start until the keys are in)."""
    app = app_for(Config(data=str(raw_csv(tmp_path)), batch=16, gradcheck=False, train_steps=30))
    gate = threading.Event()
    train = app.stepper.train

    def held(*args: Any, **kwargs: Any) -> int:
        gate.wait()
        return train(*args, **kwargs)

    app.stepper.train = held  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t", "v")
        assert not isinstance(app.screen, HealthScreen)
        assert any("Training is running" in m for m in told(app))
        gate.set()
        await app.runner.idle.wait()
        await pilot.pause()
        assert "jumped" in str(app.query_one("#guard", Static).render())


async def test_y_switches_the_loss_chart_to_a_log_scale_and_back() -> None:
    app = app_for(MOONS, steps=12)
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(LossChart)
        await pilot.pause()
        linear = chart.plot(False)
        assert linear is not None
        await pilot.press("y")
        assert chart.log_scale and chart.border_title is not None and "log scale" in chart.border_title
        logarithmic = plain(linear.plt.build())
        await pilot.press("y")
        assert not chart.log_scale and "log" not in (chart.border_title or "")
        assert plain(linear.plt.build()) != logarithmic


async def test_the_help_lists_the_health_and_log_scale_keys() -> None:
    app = app_for(MOONS)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        shown = str(app.screen.query_one("#help-body Static", Static).render())
        assert "Training health: statistics, verdicts, histograms" in shown
        assert "Loss chart: its loss axis linear or log scale" in shown
