"""Settings changed mid-run (Stepper.retune): the learning rate, the optimizer's settings, the
penalty rates and the batch size change without a reset, keep the weights, the step and the
undo history, are undone exactly by back, and are recorded in the session's path so that a
reopened session replays them bit for bit."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from engine.data import batches
from engine.maths.network import Params
from engine.run import session
from engine.run.stepper import Phase, Stepper, parse_tuning, tuning_action
from engine.settings.config import Config

MOONS = Config(dataset="moons", hidden=(8, 8), activation="tanh", samples=60, batch=16)


def stepper(config: Config = MOONS) -> Stepper:
    data = batches.from_config(config)
    assert data is not None
    return Stepper(batches.fitted(config, data), data=data)


def steps(stepper: Stepper, n: int) -> None:
    for _ in range(n):
        stepper.finish_step()


def reopened(stepper: Stepper) -> Stepper:
    return session.open_session(session.from_bytes(session.to_bytes(session.record(stepper))))


def same(a: Params, b: Params) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_the_action_reads_back_every_bit_of_a_value() -> None:
    changes: dict[str, Any] = {"lr": 0.1 / 3, "optimizer": "adam", "batch": 7}
    action = tuning_action(changes)
    assert action == f"set lr={0.1 / 3!r} optimizer=adam batch=7"
    assert parse_tuning(action) == changes
    with pytest.raises(ValueError, match="seed"):
        parse_tuning("set seed=3")


def test_a_new_learning_rate_is_the_next_updates_and_keeps_the_weights_and_step() -> None:
    run = stepper()
    steps(run, 3)
    before = run.state
    run.retune({"lr": 0.4})
    assert run.state.params is before.params and run.state.step == before.step
    assert run.config.lr == 0.4 and run.path[-1] == ("set lr=0.4", 1)
    steps(run, 1)
    assert run.state.update is not None and run.state.update.lr == 0.4
    assert run.state.update.before is before.params  # the update started from the same weights


def test_back_undoes_the_change_exactly_and_a_step_after_it_uses_the_old_rate_again() -> None:
    run, plain = stepper(), stepper()
    steps(run, 2)
    steps(plain, 3)
    run.retune({"lr": 0.4, "l2": 0.01})
    assert run.config.architecture.l2 == 0.01
    run.back()
    assert run.config.lr == MOONS.lr and run.config.l2 == 0.0 and run.config.architecture.l2 == 0.0
    steps(run, 1)
    assert same(run.state.params, plain.state.params)


def test_a_session_with_a_mid_run_change_replays_bit_for_bit_with_its_history() -> None:
    run = stepper()
    steps(run, 2)
    run.retune({"lr": 0.3})
    steps(run, 2)
    run.next()  # mid-step: the penalty's change steps back to this step's forward pass
    run.next()
    run.retune({"l1": 0.002, "batch": 5, "optimizer": "momentum", "momentum": 0.5})
    assert run.state.last_phase is Phase.FORWARD
    steps(run, 3)
    saved = session.record(run)
    assert saved.config.lr == MOONS.lr and saved.data is not None and saved.data.batch == 16
    again = reopened(run)
    assert same(again.state.params, run.state.params) and same(again.state.optim, run.state.optim)
    assert again.config == run.config and again.data is not None and again.data.batch == 5
    assert again.state.rows is not None and len(again.state.rows) == 5
    for _ in range(14):  # back through the second change: the settings before it, exactly
        run.back()
        again.back()
        assert same(again.state.params, run.state.params) and again.config == run.config
    assert run.config.lr == 0.3 and run.config.optimizer == "sgd" and run.data is not None \
        and run.data.batch == 16


def test_a_new_optimizer_starts_its_state_and_back_restores_the_old_one() -> None:
    run = stepper(Config(**{**MOONS.__dict__, "optimizer": "momentum"}))
    steps(run, 2)
    velocity = run.state.optim
    run.retune({"optimizer": "adam"})
    assert set(run.state.optim) != set(velocity) and all(not np.any(v) for v in run.state.optim.values())
    run.reset()
    assert set(run.state.optim) == set(run.state.optim) and "t" in run.state.optim
    run.back()
    run.back()
    assert run.state.optim is velocity and run.config.optimizer == "momentum"


def test_settings_that_need_new_weights_or_break_their_rules_are_refused() -> None:
    run = stepper()
    with pytest.raises(ValueError, match="seed cannot change mid-run"):
        run.retune({"seed": 3})
    with pytest.raises(ValueError, match="lr: must be finite and > 0"):
        run.retune({"lr": -1.0})
    assert run.path == [] and run.config.lr == MOONS.lr


def test_a_session_refuses_a_change_it_cannot_replay() -> None:
    run = stepper()
    run.retune({"lr": 0.2})
    saved = session.record(run)
    assert saved.path == (("set lr=0.2", 1),)
    for action, says in (("set lr=-0.2", "lr"), ("set seed=2", "seed"), ("set lr", "KEY=VALUE")):
        raw = session.to_bytes(replace(saved, path=((action, 1),)))
        with pytest.raises(session.SessionError, match=says):
            session.from_bytes(raw)
