"""The stepper's state machine: phase order, step counter, exact undo, reset, the toggle."""

from __future__ import annotations

import pytest

from engine.run.stepper import Phase, Stepper
from engine.settings.config import Config
from tests.helpers import snapshot


def test_phase_order_and_step_counter() -> None:
    stepper = Stepper(Config())
    assert stepper.state.step == 1 and stepper.next_phase is Phase.FORWARD
    ran = [stepper.next() for _ in range(9)]
    assert ran == [Phase.FORWARD, Phase.BACKWARD, Phase.GRADCHECK, Phase.UPDATE] * 2 + [Phase.FORWARD]
    assert stepper.state.step == 3
    assert stepper.state.backward is None and stepper.state.update is None  # not yet in step 3
    assert len(stepper.state.losses) == 3


def test_back_restores_every_tensor_bit_for_bit_to_the_start() -> None:
    stepper = Stepper(Config(), max_history=1000)
    seen = [snapshot(stepper.state)]
    for _ in range(14):
        stepper.next()
        seen.append(snapshot(stepper.state))
    for expected in reversed(seen[:-1]):
        assert stepper.back()
        assert snapshot(stepper.state) == expected
    assert not stepper.back() and stepper.state is stepper.initial


def test_stored_tensors_are_read_only() -> None:
    stepper = Stepper(Config())
    stepper.next()
    stepper.next()
    with pytest.raises(ValueError):
        stepper.state.params["W1"][0, 0] = 1.0
    with pytest.raises(ValueError):
        stepper.state.backward["dW1"][0, 0] = 1.0


def test_reset_returns_to_the_initial_parameters_and_can_be_undone() -> None:
    stepper = Stepper(Config())
    stepper.run_steps(2)
    before = snapshot(stepper.state)
    stepper.reset()
    assert stepper.state is stepper.initial
    assert stepper.back() and snapshot(stepper.state) == before


def test_gradcheck_toggle_skips_the_phase() -> None:
    stepper = Stepper(Config())
    stepper.gradcheck_enabled = False
    assert [stepper.next() for _ in range(3)] == [Phase.FORWARD, Phase.BACKWARD, Phase.UPDATE]
    assert stepper.state.gradcheck is None
    stepper.gradcheck_enabled = True
    assert [stepper.next() for _ in range(3)] == [Phase.FORWARD, Phase.BACKWARD, Phase.GRADCHECK]
    stepper.back()
    stepper.gradcheck_enabled = False  # toggled while the gradient check is pending: re-planned
    assert stepper.next_phase is Phase.UPDATE


def test_finish_step_runs_to_the_end_of_update() -> None:
    stepper = Stepper(Config())
    stepper.next()
    assert stepper.finish_step() == [Phase.BACKWARD, Phase.GRADCHECK, Phase.UPDATE]
    assert stepper.finish_step() == [Phase.FORWARD, Phase.BACKWARD, Phase.GRADCHECK, Phase.UPDATE]


def test_history_is_bounded_and_says_so() -> None:
    stepper = Stepper(Config(), max_history=5)
    for _ in range(8):
        stepper.next()
    assert stepper.history_length == 5 and stepper.forgotten == 3
    while stepper.back():
        pass
    assert stepper.state.step == 1 and stepper.state.last_phase is Phase.GRADCHECK
