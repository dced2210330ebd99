"""A saturated output is said out loud: the engine's judge, the text and JSON reports, the
app's banner. The notebook's unscaled init saturates 784-128-1; --init he does not."""

from __future__ import annotations

import json

import pytest

from engine.run.stepper import SATURATION_MARGIN, Phase, Stepper
from engine.settings.config import Config
from tests.helpers import run_cli as run
from tui.app.app import StepperApp

WIDE = {"inputs": 784, "hidden": (128,)}


def stepped(phases: int, **config: object) -> Stepper:
    stepper = Stepper(Config(**config))  # type: ignore[arg-type]
    for _ in range(phases):
        stepper.next()
    return stepper


def test_the_notebook_init_saturates_a_wide_network_and_its_gradients_vanish() -> None:
    stepper = stepped(2, **WIDE)
    saturated = stepper.saturation()
    assert saturated is not None and saturated.vanishing
    assert saturated.margin > SATURATION_MARGIN and saturated.grad == 0.0
    message = saturated.message()
    assert "z2" in message and f"{saturated.margin:.4g}" in message and "--init he" in message
    assert "every gradient is exactly 0" in message


def test_he_init_does_not_saturate_and_one_step_visibly_moves_the_loss() -> None:
    stepper = stepped(4, init="he", **WIDE)
    assert stepper.state.last_phase is Phase.UPDATE
    for state in (stepper.state, stepper.initial):
        assert stepper.saturation(state) is None
    update, forward = stepper.state.update, stepper.state.forward
    assert update is not None and forward is not None
    assert abs(update.loss_after - forward.loss) > 0.1 * forward.loss


@pytest.mark.parametrize("config", [{}, {"classes": 3, "y": 1}, {"hidden": (8, 8), "activation": "tanh"}])
def test_small_networks_never_saturate_over_steps(config: dict[str, object]) -> None:
    stepper = Stepper(Config(**config))  # type: ignore[arg-type]
    for _ in range(5 * 4):
        stepper.next()
        assert stepper.saturation() is None


def test_a_wrongly_saturated_softmax_says_its_gradients_explode() -> None:
    stepper = stepped(2, inputs=784, hidden=(256, 128), classes=10)
    saturated = stepper.saturation()
    assert saturated is not None and not saturated.vanishing and saturated.softmax
    assert saturated.grad is not None and saturated.grad > 1
    assert "z3" in saturated.message() and "saturated side" in saturated.message()


def test_the_text_and_json_reports_say_so(capsys) -> None:
    code, out, _ = run(["--headless", "--inputs", "784", "--hidden", "128"], capsys)
    assert code == 0 and "Output saturated: |z2| = 156.9" in out and "--init he" in out
    code, out, _ = run(["--headless", "--inputs", "784", "--hidden", "128", "--format", "json"], capsys)
    warnings = json.loads(out)["warnings"]
    assert code == 0 and any("saturated" in w and "vanish" in w for w in warnings)
    for flags in (["--init", "he"], ["--inputs", "3"]):
        argv = ["--headless", "--inputs", "784", "--hidden", "128", *flags]
        code, out, _ = run(argv, capsys)
        assert code == 0 and "saturated" not in out
        code, out, _ = run([*argv, "--format", "json"], capsys)
        assert not any("saturated" in w for w in json.loads(out)["warnings"])


@pytest.mark.slow
async def test_the_app_banner_says_so_and_not_for_he() -> None:
    for init, shown in (("notebook", True), ("he", False)):
        app = StepperApp(Stepper(Config(init=init, **WIDE)))  # type: ignore[arg-type]
        async with app.run_test(size=(120, 40)) as pilot:
            banner = app.query_one("#banner")
            assert not banner.display
            await pilot.press("n")
            assert banner.display is shown
            if shown:
                text = str(banner.render())
                assert "Output saturated" in text and "--init he" in text
            await pilot.press("r")
            assert not banner.display
