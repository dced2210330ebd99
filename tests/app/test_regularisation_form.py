"""The config form's regularization rates (l1, l2): TensorFlow Playground's words above them,
the command line's rules under them, and a network that applies them; the formulas panel's
penalty."""

from __future__ import annotations

import pytest
from textual.widgets import Button, Input, Static

from engine.maths import network
from engine.maths.network import Architecture
from engine.run.stepper import Phase, Stepper
from engine.settings.config import Config, validate
from tests.waits import until
from tui.app.app import StepperApp
from tui.app.screens.config import FIELDS, REGULARIZATION, ConfigScreen, _shown, parse_fields
from tui.app.widgets.formulas import formulas

pytestmark = pytest.mark.slow  # drives the app's screens through Pilot (-m 'not slow' leaves it out)


def fields(config: Config, **changed: str) -> dict[str, str]:
    return {key: _shown(config, key) for key in FIELDS} | {k.replace("_", "-"): v for k, v in changed.items()}


def test_the_rates_are_read_and_refused_as_the_command_line_reads_them() -> None:
    base = validate(Config())
    assert _shown(base, "l1") == "0.0" and _shown(base, "l2") == "0.0"
    config, errors = parse_fields(fields(base, l1="0.01", l2="1e-3"), base)
    assert errors == {} and config is not None and (config.l1, config.l2) == (0.01, 0.001)
    assert config.architecture.penalised
    for text, says in (("-0.5", "must be finite and >= 0, got -0.5"), ("inf", "must be finite and >= 0"),
                       ("lots", "expected a number, got 'lots'")):
        config, errors = parse_fields(fields(base, l2=text), base)
        assert config is None and says in errors["l2"], errors


async def test_the_form_shows_playgrounds_words_and_applies_the_rates() -> None:
    app = StepperApp(Stepper(validate(Config())))
    async with app.run_test(size=(100, 50)) as pilot:
        await pilot.press("c")
        form = app.screen
        assert isinstance(form, ConfigScreen)
        hints = [str(hint.render()) for hint in form.query(Static).filter(".hint")]
        assert any("Regularization (as in TensorFlow Playground)" in hint for hint in hints)
        assert "regularization rates of L1 and L2" in REGULARIZATION
        assert "Regularization rate, L2" in str(form.query_one("#field-l2", Input).placeholder)
        form.query_one("#field-l2", Input).value = "0.1"
        await pilot.pause()
        apply = form.query_one("#apply", Button)
        await until(pilot, lambda: not apply.has_class("-active"), "the button taking clicks")
        await pilot.click(apply)
        await until(pilot, lambda: not isinstance(app.screen, ConfigScreen), "the form closed")
        assert app.stepper.config.l2 == 0.1 and app.stepper.config.architecture.penalised
        await pilot.press("n")
        state = app.stepper.state
        assert state.forward is not None
        arch = app.stepper.config.architecture
        _, expected = network.forward(arch, app.stepper.x, state.params, app.stepper.config.y)
        assert state.forward.loss == expected
        assert expected > network.forward(arch.unpenalised(), app.stepper.x, state.params, 1)[1]


def test_the_formulas_panel_shows_the_penalty_and_its_gradient() -> None:
    shown = formulas(Architecture(l1=0.01, l2=0.1))
    assert shown[Phase.FORWARD].endswith("L  = −[y·log a2 + (1−y)·log(1−a2)] + l1·Σ|W| + (l2/2)·ΣW²")
    assert shown[Phase.BACKWARD].endswith("\ndW_l += l1·sign(W_l) + l2·W_l  (every l; not db)")
    plain = formulas(Architecture())
    assert "Σ" not in plain[Phase.FORWARD] and "+=" not in plain[Phase.BACKWARD]
