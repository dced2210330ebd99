"""A model file's own update rules, cs231n's `rule(w, dw, config) -> (next_w, config)`, in the
file or in its package's optim module (where cs231n's assignment keeps them): stepped as the
Solver calls them, held against the stepper's rule from the same numbers every step, and a
broken one diagnosed by the line it broke (the update drills' kinds)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.maths import optimizers
from engine.run.stepper import State, Stepper, Update
from engine.settings.config import Config
from engine.usermodel.client import UserModel, load_model
from engine.usermodel.contract import ModelError
from tests.helpers import DEFINITIONS, NO_UPDATE, edit, run_main
from tests.optim_rules import ADAM_CORRECTION, OPTIM, STORED_VELOCITY, UNCORRECTED, package


def run(path: Path, optimizer: str, steps: int = 3) -> tuple[Stepper, list[State]]:
    """`steps` whole steps of the model at `path` under `optimizer`: the stepper, and the
    state after each update."""
    model = load_model(path)
    try:
        stepper = Stepper(replace(Config(), optimizer=optimizer, lr=0.05), model=model)
        stepper.gradcheck_enabled = False
        return stepper, list(stepper.iter_steps(steps))
    finally:
        model.close()


def updates(path: Path, optimizer: str, steps: int = 3) -> list[Update]:
    """Each step's update, as `run` makes them."""
    return [state.update for state in run(path, optimizer, steps)[1] if state.update is not None]


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "rmsprop", "adam"])
def test_a_right_rule_in_the_package_steps_and_agrees(tmp_path: Path, optimizer: str) -> None:
    """The package's rule makes every update (the update says whose), each the stepper's
    rule from the same parameters, gradients and state to 1e-12, and its state carries."""
    name = {"momentum": "sgd_momentum"}.get(optimizer, optimizer)
    stepper, states = run(package(tmp_path), optimizer)
    for state in states:
        update = state.update
        assert update is not None and state.backward is not None
        assert update.rule == f"{name} in course/optim.py"
        assert update.diagnosis == ()
        made, made_state = optimizers.step(optimizer, update.before, state.backward, update.optim_before,
                                           stepper.settings(state.step))
        for key, value in (made | made_state).items():
            np.testing.assert_allclose((update.after | update.optim_after)[key], value, rtol=1e-12, atol=0)
    assert states[1].update is not None and states[0].update is not None
    assert dict(states[1].update.optim_before).keys() == dict(states[0].update.optim_after).keys()
    if optimizer == "adam":
        assert [int(s.update.optim_after["t"]) for s in states if s.update] == [1, 2, 3]


def test_adam_without_its_bias_correction_is_named(tmp_path: Path) -> None:
    """m and v used as they are: the first update already differs, diagnosed as the drill's
    kind; with only m's correction forgotten it matches no drill."""
    found = updates(package(tmp_path, UNCORRECTED), "adam", steps=1)
    kinds = {entry.tensor: entry.kind for entry in found[0].diagnosis}
    assert kinds == dict.fromkeys(("W1", "b1", "W2", "b2"), "no-bias-correction")
    m_only = edit(OPTIM, ADAM_CORRECTION, '    mt = config["m"]\n')
    half = updates(package(tmp_path / "half", m_only), "adam", 1)
    assert {entry.kind for entry in half[0].diagnosis} == {"other"}


def test_a_velocity_never_stored_is_not_carried(tmp_path: Path) -> None:
    """The new v computed but not put back in config: the update is right from the state it
    was given, but the state it returns is the old one, so momentum never carries."""
    found = updates(package(tmp_path, edit(OPTIM, STORED_VELOCITY, "")), "momentum", steps=2)
    for update in found:
        assert {entry.kind for entry in update.diagnosis} == {"velocity-not-carried"}
        assert "came back as it was given" in update.diagnosis[0].detail


def test_a_velocity_restarted_each_step_is_not_carried(tmp_path: Path) -> None:
    """v read as zeros each step (config.get of a key that is never there): the first step
    is right, the second is the drill's."""
    optim = edit(OPTIM, '    v = config.get("velocity", np.zeros_like(w))\n', "    v = np.zeros_like(w)\n")
    found = updates(package(tmp_path, optim), "momentum", steps=2)
    assert found[0].diagnosis == ()
    assert {entry.kind for entry in found[1].diagnosis} == {"velocity-not-carried"}


def test_adam_that_does_not_count_its_steps_is_named(tmp_path: Path) -> None:
    """t used as t + 1 but never stored: the first update is Adam's, and its t is wrong."""
    optim = edit(edit(OPTIM, '    config["t"] += 1\n', '    t = config["t"] + 1\n'),
                 ADAM_CORRECTION, '    mt = config["m"] / (1 - config["beta1"] ** t)\n')
    optim = optim.replace('config["beta2"] ** config["t"])', 'config["beta2"] ** t)')
    found = updates(package(tmp_path, optim), "adam", steps=1)
    assert {entry.kind for entry in found[0].diagnosis} == {"other"}
    assert "t came back as 0 where Adam's count is 1" in found[0].diagnosis[0].detail


def test_the_file_s_own_rule_comes_before_its_package_s(tmp_path: Path) -> None:
    """A rule the model file defines wins; a function of a rule's name that is no rule (a
    training loop) is passed over for the package's."""
    rules = OPTIM.split("\n\n\ndef sgd_momentum")[0].replace("import numpy as np\n", "")
    own = NO_UPDATE + "\n\ndef rmsprop(training_data, epochs, lr):\n    return None\n\n" + rules
    path = package(tmp_path, model=own)
    assert updates(path, "sgd", steps=1)[0].rule == "sgd in net.py"
    assert updates(path, "rmsprop", steps=1)[0].rule == "rmsprop in course/optim.py"


def test_nesterov_and_a_file_without_rules_use_the_stepper_s(tmp_path: Path) -> None:
    """cs231n's file has no Nesterov; a plain model file has no rules at all: the stepper's
    rule updates the file's parameters, with its state kept as for the built-in network."""
    (tmp_path / "plain").mkdir()
    plain = tmp_path / "plain" / "model.py"
    plain.write_text(DEFINITIONS)
    for path, optimizer in ((package(tmp_path), "nesterov"), (plain, "adam")):
        update = updates(path, optimizer, steps=1)[0]
        assert update.rule == "" and update.diagnosis == ()
        assert update.optim_after.keys() == optimizers.init_state(optimizer, update.before).keys()


def test_a_broken_optim_module_is_named_when_needed(tmp_path: Path) -> None:
    """A package's optim.py that raises at import is named the first time a rule is asked
    for; under plain SGD with the file's own sgd_update it is never imported."""
    broken = OPTIM + "\nraise RuntimeError('unfinished')\n"
    path = package(tmp_path, broken)
    model = load_model(path)
    try:
        stepper = Stepper(replace(Config(), optimizer="adam"), model=model)
        with pytest.raises(ModelError, match=r"importing its package's optim module, for the adam rule, "
                                             r"raised RuntimeError: unfinished \(optim\.py, line"):
            stepper.dry_run()
        assert isinstance(model, UserModel)
    finally:
        model.close()
    assert updates(package(tmp_path / "own", broken, DEFINITIONS), "sgd", steps=1)[0].rule == ""


def test_a_rule_must_return_next_w_and_config(tmp_path: Path) -> None:
    optim = edit(OPTIM, "    next_w = w + v\n    config[\"velocity\"] = v\n    return next_w, config\n",
                 "    return w + v\n")
    model = load_model(package(tmp_path, optim))
    try:
        with pytest.raises(ModelError, match=r"sgd_momentum in course/optim\.py must return \(next_w, "
                                             r"config\), as cs231n's rules do; it returned"):
            Stepper(replace(Config(), optimizer="momentum"), model=model).dry_run()
    finally:
        model.close()


def test_the_command_line_fails_a_broken_rule_and_says_whose(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """--model with --optimizer: exit 1 and one line a parameter for Adam without its bias
    correction; exit 0 for the right one, the JSON trace naming the rule."""
    right = package(tmp_path / "right")
    status, out, _ = run_main(capsys, "--headless", "--model", right, "--optimizer", "adam",
                              "--steps", "2", "--format", "json")
    assert status == 0
    assert [s["optimizer"]["rule"] for s in json.loads(out)["steps"]] == ["adam in course/optim.py"] * 2
    broken = package(tmp_path / "broken", UNCORRECTED)
    status, out, _ = run_main(capsys, "--headless", "--model", broken, "--optimizer", "adam",
                              "--steps", "2", "--quiet")
    assert status == 1
    assert "step 1: W1's update differs from its rule (no-bias-correction)" in out
