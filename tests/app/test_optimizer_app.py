"""An optimizer in the app: its rule and settings above the update, its state (moments, Adam's
m̂, v̂ and t) as tensors the cursor can explain, an update drill offered where its optimizer
runs and its diagnosis shown, and undo of the state bit for bit through the keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.content import Content

from engine.run.stepper import Stepper
from engine.settings.config import Config
from engine.usermodel.client import load_model
from tests.helpers import snapshot
from tests.optim_rules import UNCORRECTED, package
from tui.app.app import StepperApp
from tui.app.commands import stepper_commands
from tui.app.widgets.panels import Panel

pytestmark = pytest.mark.slow  # drives the app's screens through Pilot (-m 'not slow' leaves it out)

SIZE = (120, 40)


def text(app: StepperApp, name: str) -> str:
    content = app.query_one(f"#{name}", Panel).render()
    assert isinstance(content, Content)
    return content.plain


async def test_adam_s_state_is_on_screen_and_undone_by_the_keys() -> None:
    app = StepperApp(Stepper(Config(optimizer="adam", beta1=0.8)))
    async with app.run_test(size=SIZE) as pilot:
        seen = [snapshot(app.stepper.state)]
        for _ in range(4):
            await pilot.press("n")
            seen.append(snapshot(app.stepper.state))
        shown = text(app, "update")
        assert "m̂ = m / (1 − β1ᵗ)" in shown and "Adam  lr = 0.1  β1 = 0.8" in shown and "t 0 → 1" in shown
        for name in ("m_W1 after", "v_b2 after", "mhat_W2 after", "vhat_b1 after"):
            assert name in shown
        drawn = [name for name, _ in app.query_one("#update", Panel).targets]
        assert {"update.m_W1", "update.vhat_b1", "update.W1"} <= set(drawn)
        for expected in reversed(seen[:-1]):
            await pilot.press("b")
            assert snapshot(app.stepper.state) == expected


async def test_an_update_drill_is_offered_with_its_optimizer_and_its_diagnosis_shown() -> None:
    app = StepperApp(Stepper(Config(optimizer="momentum")))
    async with app.run_test(size=SIZE) as pilot:
        titles = [title for title, _, _ in stepper_commands(app)]
        assert "Inject bug: momentum-no-carry" in titles
        assert "Inject bug: adam-no-bias-correction" not in titles  # no such line in momentum
        app.action_inject_bug("momentum-no-carry")
        for _ in range(8):
            await pilot.press("n")
        shown = text(app, "update")
        assert "the update differs from its rule" in shown and "velocity-not-carried" in shown


async def test_the_update_panel_says_whose_rule_made_the_update(tmp_path: Path) -> None:
    """A model file's own Adam (cs231n's, in its package's optim.py) made the update: the
    Update panel says so beside the rule's settings, and its failed comparison in red words."""
    model = load_model(package(tmp_path, UNCORRECTED))
    app = StepperApp(Stepper(Config(optimizer="adam"), model=model))
    try:
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(4):
                await pilot.press("n")
            shown = text(app, "update")
            assert "ε = 1e-08  by the file's adam in course/optim.py" in shown
            assert "W1: no-bias-correction" in shown
    finally:
        model.close()
