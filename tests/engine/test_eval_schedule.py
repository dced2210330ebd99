"""The whole sets' loss and accuracy on a schedule, the batch losses' running mean between,
and the fused training step: a step's cost must not grow with the data (issue 28)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engine.data import batches
from engine.run.stepper import Phase, State, Stepper
from engine.settings.config import Config, ConfigError, validate

#: 200 moons, 160 training rows in batches of 32: an epoch is 5 steps.
MOONS = Config(dataset="moons", hidden=(8, 8), activation="tanh", samples=200, batch=32, gradcheck=False)


def moons(config: Config = MOONS) -> Stepper:
    data = batches.from_config(config)
    assert data is not None
    return Stepper(batches.fitted(config, data), data=data)


def update_states(stepper: Stepper, steps: int) -> list[State]:
    """The state after each step's update, the phases run one by one (stepper.next)."""
    out = []
    for _ in range(steps):
        while stepper.next() is not Phase.UPDATE:
            pass
        out.append(stepper.state)
    return out


@pytest.mark.parametrize(("every", "measured"), [(0, [1, 6, 11, 16]), (3, [1, 4, 7, 10, 13, 16]),
                                                 (1, list(range(1, 17)))])
def test_the_whole_sets_are_measured_exactly_on_the_schedule(every: int, measured: list[int]) -> None:
    stepper = moons(replace(MOONS, eval_every=every))
    assert stepper.data is not None and stepper.data.steps_per_epoch == 5
    states = update_states(stepper, 16)
    assert [s.step for s in states if s.forward is not None and s.forward.metrics is not None] == measured


def test_between_measurements_the_running_mean_is_of_the_batch_losses_since_the_last() -> None:
    stepper = moons()
    states = update_states(stepper, 12)
    losses = [s.forward.loss for s in states if s.forward is not None]
    for state in states:
        assert state.forward is not None and state.forward.running is not None
        since = (state.step - 1) // 5 * 5  # the epoch's first step, measured, starts the window
        window = losses[since:state.step]
        running = state.forward.running
        assert running.count == len(window) and running.mean == pytest.approx(np.mean(window), rel=1e-15)
        assert running.label() == f"batch loss, mean of last {len(window)}"
    curves = states[-1].trail.curves() if states[-1].trail is not None else None
    assert curves is not None and curves.measured.tolist() == [s.step in (1, 6, 11) for s in states]
    assert np.isnan(curves.train_loss[1]) and curves.window[3] == 4


def test_evaluate_is_not_called_every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """50 steps of a set of 5 steps an epoch: 10 scheduled measurements and the run's end."""
    calls: list[int] = []
    evaluate = batches.evaluate

    def counted(*args: object) -> batches.Metrics:
        calls.append(1)
        return evaluate(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(batches, "evaluate", counted)
    stepper = moons()
    assert stepper.train(50) == 50
    assert len(calls) == 11
    assert stepper.state.forward is not None and stepper.state.forward.metrics is not None


def test_a_measurement_on_demand_is_in_the_path_and_undone_by_back() -> None:
    stepper = moons()
    update_states(stepper, 2)
    stepper.next()  # step 3's forward pass: not measured
    before = stepper.state
    assert before.forward is not None and before.forward.metrics is None
    assert stepper.measure() and not stepper.measure()  # measured once
    now = stepper.state
    assert now.forward is not None and now.forward.metrics is not None
    assert now.forward.running is not None and now.forward.running.count == 1
    assert now.trail is not None and now.trail.metrics is now.forward.metrics
    stepper.next()
    assert stepper.back() and stepper.state is now  # the state as shown
    replayed = moons()
    replayed.replay(stepper.path, lambda bug: replayed.model)
    assert replayed.state.forward is not None and replayed.state.forward.metrics == now.forward.metrics
    assert stepper.back() and stepper.state.last_phase is Phase.UPDATE and stepper.state.step == 2


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fused_steps_are_the_phases_bit_for_bit(optimizer: str) -> None:
    config = replace(MOONS, optimizer=optimizer, lr=0.01 if optimizer == "adam" else 0.1)
    phased, fused = moons(config), moons(config)
    expected = update_states(phased, 23)
    assert fused.train(23) == 23
    assert phased.path == [("next", 69)]
    assert fused.path == [("check every 0", 1), ("next", 69), ("measure", 1), ("check every", 1)]
    got = [s for s in fused.kept() if s.last_phase is Phase.UPDATE][::-1]
    for want, have in zip(expected[-len(got):], got, strict=True):
        assert want.step == have.step and want.update is not None and have.update is not None
        assert want.forward is not None and have.forward is not None
        assert want.forward.loss == have.forward.loss and want.update.loss_after == have.update.loss_after
        for name, value in want.params.items():
            assert np.array_equal(value, have.params[name])
        for name, value in want.optim.items():
            assert np.array_equal(value, have.optim[name])
    assert fused.history_length == phased.history_length


def test_a_diverging_fused_run_stops_where_the_phases_do() -> None:
    config = replace(MOONS, activation="relu", lr=1e300)
    phased, fused = moons(config), moons(config)
    done = fused.train(10)
    for _ in range(10):
        phased.next()
        while not phased.step_done():
            phased.next()
        if phased.state.diverged():
            break
    assert done < 10 and fused.state.step == phased.state.step
    assert fused.state.last_phase is phased.state.last_phase and fused.state.diverged()
    assert fused.state.nonfinite() == phased.state.nonfinite()


def stops(stepper: Stepper, fused: bool, steps: int = 3) -> tuple[int, Phase | None, list[str]]:
    """Where a run of `steps` stops: fused (train) or phase by phase as the app steps."""
    if fused:
        stepper.train(steps)
    else:
        for _ in range(steps):
            stepper.next()
            while not stepper.step_done():
                stepper.next()
            if stepper.state.diverged():
                break
    return stepper.state.step, stepper.state.last_phase, stepper.state.nonfinite()


#: Weights that make a step's tensors overflow, also where the fused check leaves tensors out
#: (network.implied_finite): inf in z1 behind a finite tanh; inf in z3 behind its sigmoid and a
#: softmax's inf - inf; an infinite da1 in the backward pass (tiny a1 keeps the forward finite);
#: new parameters whose forward pass overflows after the update.
HUGE = [("tanh", 1, {"W1": 5e307}), ("relu", 1, {"W2": 1e200, "W3": 1e200}),
        ("sigmoid", 2, {"W3": 1e308}), ("relu", 2, {"W1": 1e154, "W2": 1e154}),
        ("tanh", 1, {"W1": 1e-12, "W3": 1e308}), ("relu", 1, {"W1": 1e-12, "W3": 1e200})]


@pytest.mark.parametrize(("activation", "classes", "scales"), HUGE)
def test_a_step_that_overflows_where_the_fused_check_does_not_look_stops_where_the_phases_do(
        activation: str, classes: int, scales: dict[str, float]) -> None:
    config = replace(MOONS, activation=activation, classes=classes)
    phased, fused = moons(config), moons(config)
    with np.errstate(over="ignore"):  # 1e308 times a weight above 1: inf, as meant
        params = {name: value * scales.get(name, 1.0) for name, value in phased.state.params.items()}
    phased.start_from(params)
    fused.start_from(params)
    assert stops(fused, True) == stops(phased, False)
    assert fused.state.diverged()


def test_random_huge_weights_stop_the_fused_run_where_the_phases_do() -> None:
    rng = np.random.default_rng(28)
    for activation in ("tanh", "relu", "sigmoid", "leaky-relu"):
        for classes in (1, 2):
            config = replace(MOONS, activation=activation, classes=classes)
            for _ in range(4):
                phased, fused = moons(config), moons(config)
                with np.errstate(over="ignore"):
                    params = {name: value * 10.0 ** rng.choice([-12, 0, 100, 154, 200, 300, 308])
                              for name, value in phased.state.params.items()}
                phased.start_from(params)
                fused.start_from(params)
                assert stops(fused, True) == stops(phased, False), (activation, classes, params)


def test_eval_every_is_validated() -> None:
    with pytest.raises(ConfigError, match="eval-every: must be a whole number from 0"):
        validate(replace(MOONS, eval_every=-1))
