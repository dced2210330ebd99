"""The optimizers of the update phase against cs231n's formulas written out again here (the
assignment's optim.py, one parameter at a time with a config dict, and the notes' Nesterov),
importing nothing of engine.maths.optimizers: every update of 20 random steps of random
networks agrees to 1e-12; their state undoes bit for bit; the settings refuse nonsense."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from engine.data.batches import fitted, from_config
from engine.maths import network, optimizers
from engine.model.builtin import make_model
from engine.run import session
from engine.run.stepper import Phase, Stepper
from engine.settings.config import Config, ConfigError, validate
from tests.helpers import run_main, snapshot
from tests.reference import random_case

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam")


# ---- cs231n's update rules, one parameter at a time, as the assignment writes them ----

def ref_sgd(w: np.ndarray, dw: np.ndarray, config: dict[str, Any]) -> np.ndarray:
    return w - config["learning_rate"] * dw


def ref_sgd_momentum(w: np.ndarray, dw: np.ndarray, config: dict[str, Any]) -> np.ndarray:
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v


def ref_nesterov(w: np.ndarray, dw: np.ndarray, config: dict[str, Any]) -> np.ndarray:
    mu = config["momentum"]
    v_prev = config.get("velocity", np.zeros_like(w))
    v = mu * v_prev - config["learning_rate"] * dw
    config["velocity"] = v
    return w + (-mu * v_prev + (1 + mu) * v)


def ref_rmsprop(w: np.ndarray, dw: np.ndarray, config: dict[str, Any]) -> np.ndarray:
    cache = config.get("cache", np.zeros_like(w))
    cache = config["decay_rate"] * cache + (1 - config["decay_rate"]) * dw**2
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])


def ref_adam(w: np.ndarray, dw: np.ndarray, config: dict[str, Any]) -> np.ndarray:
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    config["t"] += 1
    config["m"] = config["beta1"] * config["m"] + (1 - config["beta1"]) * dw
    mt = config["m"] / (1 - config["beta1"] ** config["t"])
    config["v"] = config["beta2"] * config["v"] + (1 - config["beta2"]) * dw**2
    vt = config["v"] / (1 - config["beta2"] ** config["t"])
    return w - config["learning_rate"] * mt / (np.sqrt(vt) + config["epsilon"])


REFERENCES = {"sgd": ref_sgd, "momentum": ref_sgd_momentum, "nesterov": ref_nesterov,
              "rmsprop": ref_rmsprop, "adam": ref_adam}


def ref_config(c: Config) -> dict[str, Any]:
    return {"learning_rate": c.lr, "momentum": c.momentum, "decay_rate": c.beta2, "beta1": c.beta1,
            "beta2": c.beta2, "epsilon": c.epsilon}


def random_config(rng: np.random.Generator, optimizer: str, penalised: bool = False) -> Config:
    """A random network and optimizer settings; with `penalised`, random L1 and L2 rates too."""
    l1, l2 = (float(rng.uniform(0, 0.05)), float(rng.uniform(0, 0.05))) if penalised else (0.0, 0.0)
    case = random_case(rng, str(rng.choice(["relu", "tanh", "sigmoid", "leaky-relu"])),
                       str(rng.choice(["bce", "mse", "softmax"])), str(rng.choice(["he", "xavier"])))
    return validate(Config(inputs=case.inputs, hidden=case.hidden, activation=case.activation,
                           classes=case.classes, loss="" if case.classes > 1 else case.loss, seed=case.seed,
                           x=case.x, y=case.y, init=case.init, lr=float(rng.uniform(0.001, 0.3)),
                           optimizer=optimizer, momentum=float(rng.uniform(0, 0.99)),
                           beta1=float(rng.uniform(0, 0.99)), beta2=float(rng.uniform(0.5, 0.9999)),
                           epsilon=float(10 ** rng.uniform(-10, -4)), decay=float(rng.uniform(0.8, 1.0)),
                           l1=l1, l2=l2, gradcheck=False), given=())  # every number drawn, read or not


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("seed", range(6))
def test_each_update_equals_cs231n_over_20_random_steps(optimizer: str, seed: int) -> None:
    """Each step's new parameters from the step's own parameters and gradients by the reference,
    its state carried in cs231n's per-parameter config dicts, the learning rate decayed as the
    Solver does (multiplied by lr_decay after every epoch; one sample is an epoch). Seeds 3 to
    5 add L1 and L2 rates: the rule then reads the data gradient plus l1·sign(W) + l2·W,
    checked here against the same network's unpenalised gradient."""
    rng = np.random.default_rng([seed, OPTIMIZERS.index(optimizer)])
    config = random_config(rng, optimizer, penalised=seed >= 3)
    stepper = Stepper(config)
    unpenalised = replace(config.architecture, l1=0.0, l2=0.0)
    x = np.asarray(config.x, dtype=np.float64)
    configs = {name: ref_config(config) for name in stepper.state.params}
    for _ in range(20):
        state = stepper.run_steps(1)
        assert state.update is not None and state.backward is not None
        cache, _ = network.forward(unpenalised, x, state.update.before, config.y)
        data = network.backward(unpenalised, x, config.y, state.update.before, cache)
        for name, w in state.update.before.items():
            penalty = config.l1 * np.sign(w) + config.l2 * w if name.startswith("W") else 0.0
            np.testing.assert_allclose(state.backward["d" + name], data["d" + name] + penalty, rtol=1e-12,
                                       atol=1e-14)
            expected = REFERENCES[optimizer](w, state.backward["d" + name], configs[name])
            np.testing.assert_allclose(state.update.after[name], expected, rtol=1e-12, atol=1e-12)
            if optimizer in ("momentum", "nesterov"):
                np.testing.assert_allclose(state.optim[f"v_{name}"], configs[name]["velocity"], rtol=1e-12,
                                           atol=1e-15)
            if optimizer == "adam":
                assert state.optim["t"] == configs[name]["t"] == state.step
                np.testing.assert_allclose(state.optim[f"m_{name}"], configs[name]["m"], rtol=1e-12,
                                           atol=1e-15)
            configs[name]["learning_rate"] *= config.decay  # the Solver's end of an epoch
        assert state.update.lr == pytest.approx(configs[next(iter(configs))]["learning_rate"] / config.decay,
                                                rel=1e-12)


@pytest.mark.parametrize("optimizer", ("momentum", "nesterov", "rmsprop", "adam"))
def test_a_step_back_and_forth_restores_every_tensor_of_the_state_bit_for_bit(optimizer: str) -> None:
    stepper = Stepper(Config(optimizer=optimizer), max_history=1000)
    seen = [snapshot(stepper.state)]
    for _ in range(3 * 4 + 2):
        stepper.next()
        seen.append(snapshot(stepper.state))
    assert any(key.startswith("optim.") for key in seen[-1])
    for expected in reversed(seen[:-1]):
        assert stepper.back()
        assert snapshot(stepper.state) == expected
    for expected in seen[1:]:  # and forward again: the same numbers, the state carried anew
        stepper.next()
        assert snapshot(stepper.state) == expected


def test_the_state_starts_as_cs231n_starts_it_and_is_read_only() -> None:
    stepper = Stepper(Config(optimizer="adam"))
    start = stepper.state.optim
    names = {f"{m}_{n}" for m in "mv" for n in ("W1", "b1", "W2", "b2")}
    assert start["t"] == 0 and set(start) == {"t"} | names
    assert all(not np.any(v) for k, v in start.items() if k != "t")
    stepper.run_steps(1)
    with pytest.raises(ValueError):
        stepper.state.optim["m_W1"][0, 0] = 1.0
    update = stepper.state.update
    assert update is not None and update.optim_before is start and update.optim_after is stepper.state.optim
    # Adam's first step: m̂ = dw and v̂ = dw² exactly as far as rounding goes, so each moves by about lr.
    np.testing.assert_allclose(update.cached["mhat_W1"], stepper.state.backward["dW1"], rtol=1e-12)
    moved = np.abs(update.after["W1"] - update.before["W1"])
    assert np.all(moved[np.abs(stepper.state.backward["dW1"]) > 1e-6] == pytest.approx(0.1, rel=1e-3))


def test_the_rules_are_pure() -> None:
    params = {"W1": np.ones((2, 2)), "b1": np.zeros(2)}
    grads = {"dW1": np.full((2, 2), 0.5), "db1": np.ones(2)}
    for optimizer in OPTIMIZERS:
        state = optimizers.init_state(optimizer, params)
        kept = {k: np.copy(v) for k, v in state.items()}
        new_params, new_state = optimizers.step(optimizer, params, grads, state, optimizers.Settings())
        assert np.all(params["W1"] == 1) and all(np.array_equal(state[k], kept[k]) for k in state)
        assert set(new_state) == set(state) and new_params["W1"] is not params["W1"]


def test_plain_sgd_keeps_no_state_and_no_decay_keeps_lr_exact() -> None:
    stepper = Stepper(Config())
    stepper.run_steps(3)
    assert stepper.state.optim == {} and stepper.state.update is not None
    assert stepper.state.update.lr == 0.1 and optimizers.decayed(0.1, 1.0, 10**6) == 0.1


def test_decay_is_once_an_epoch_with_data() -> None:
    config = validate(Config(dataset="moons", samples=40, batch=8, decay=0.5), {"dataset", "batch"})
    data = from_config(config)
    assert data is not None
    stepper = Stepper(fitted(config, data), data=data)
    stepper.gradcheck_enabled = False
    rates = [state.update.lr for state in stepper.iter_steps(9) if state.update is not None]
    per_epoch = data.steps_per_epoch  # 32 training rows in batches of 8: 4 steps an epoch
    assert rates == [0.1 * 0.5 ** (k // per_epoch) for k in range(9)]


@pytest.mark.parametrize(("settings", "key", "words"), [
    ({"optimizer": "adagrad"}, "optimizer", "must be one of sgd, momentum, nesterov, rmsprop, adam"),
    ({"optimizer": "adam", "beta1": 1.0}, "beta1", "up to but not including 1"),
    ({"optimizer": "adam", "beta2": -0.1}, "beta2", "up to but not including 1"),
    ({"optimizer": "momentum", "momentum": 1.5}, "momentum", "up to but not including 1"),
    ({"optimizer": "adam", "epsilon": -1e-8}, "epsilon", "finite and > 0"),
    ({"optimizer": "rmsprop", "epsilon": 0.0}, "epsilon", "finite and > 0"),
    ({"decay": 0.0}, "decay", "above 0 and at most 1"),
    ({"decay": 1.5}, "decay", "above 0 and at most 1"),
    ({"optimizer": "adam", "momentum": 0.5}, "momentum", "only applies to --optimizer momentum or nesterov"),
    ({"optimizer": "momentum", "beta1": 0.5}, "beta1", "only applies to --optimizer adam"),
    ({"beta2": 0.99}, "beta2", "only applies to --optimizer rmsprop or adam"),
])
def test_nonsense_is_refused_naming_the_setting(settings: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as refused:
        validate(Config(**settings), set(settings))
    assert refused.value.key == key and words in str(refused.value)


def test_every_phase_carries_the_state() -> None:
    stepper = Stepper(Config(optimizer="momentum"))
    stepper.run_steps(1)
    after = stepper.state.optim
    for phase in (Phase.FORWARD, Phase.BACKWARD, Phase.GRADCHECK):
        assert stepper.next() is phase and stepper.state.optim is after


# ---- sessions and the JSON trace ----

@pytest.mark.parametrize("optimizer", ("adam", "nesterov"))
def test_a_session_saved_mid_run_continues_exactly(optimizer: str) -> None:
    """Saved mid-step (after step 3's backward), reopened from the file's bytes, and run on:
    every state from there is the uninterrupted run's, bit for bit, the moments and t too."""
    config = Config(optimizer=optimizer, hidden=(5, 3), activation="tanh", decay=0.9)
    whole = Stepper(config)
    whole.run_steps(2)
    whole.next()
    whole.next()
    saved = session.from_bytes(session.to_bytes(session.record(whole)))
    reopened = session.open_session(saved)
    assert snapshot(reopened.state) == snapshot(whole.state)
    for _ in range(4 * 4):
        whole.next()
        reopened.next()
        assert snapshot(reopened.state) == snapshot(whole.state)
    assert reopened.state.optim and (optimizer != "adam" or reopened.state.optim["t"] == 6)


def test_the_json_trace_lists_the_state_of_each_update(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_main(capsys, "--headless", "--format", "json", "--steps", "3", "--optimizer", "adam",
                              "--beta1", "0.8")
    trace = json.loads(out)
    assert status == 0 and trace["config"]["optimizer"] == "adam" and trace["config"]["beta1"] == 0.8
    assert "momentum" not in trace["config"] and "decay" not in trace["config"]
    stepper = Stepper(Config(optimizer="adam", beta1=0.8))
    for step, state in zip(trace["steps"], stepper.iter_steps(3), strict=True):
        assert state.update is not None
        shown = step["optimizer"]
        assert shown["t"] == state.step and shown["lr"] == 0.1
        assert set(shown) == {"lr", "t"} | {f"{m}_{n}" for m in ("m", "v", "mhat", "vhat")
                                            for n in ("W1", "b1", "W2", "b2")}
        for name, value in (state.update.optim_after | state.update.cached).items():
            assert np.array_equal(np.asarray(shown[name]), np.asarray(value))


def test_plain_sgd_trace_has_no_optimizer(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_main(capsys, "--headless", "--format", "json")
    trace = json.loads(out)
    assert "optimizer" not in trace["steps"][0] and "optimizer" not in trace["config"]


# ---- the update's fault drills ----

def test_adam_without_bias_correction_is_diagnosed_as_such_from_step_1() -> None:
    """The drilled update is cs231n's adam with mt = m and vt = v (written out here); the
    gradient check passes it; every parameter's update is diagnosed no-bias-correction."""
    config = validate(Config(optimizer="adam", inject_bug="adam-no-bias-correction", hidden=(6, 4),
                             activation="tanh"))
    stepper = Stepper(config)
    m = {name: np.zeros_like(w) for name, w in stepper.state.params.items()}
    v = {name: np.zeros_like(w) for name, w in stepper.state.params.items()}
    for state in stepper.iter_steps(4):
        assert state.update is not None and state.backward is not None and state.gradcheck is not None
        assert state.gradcheck.passed
        for name, w in state.update.before.items():
            dw = state.backward["d" + name]
            m[name] = 0.9 * m[name] + 0.1 * dw
            v[name] = 0.999 * v[name] + 0.001 * dw**2
            drilled = w - 0.1 * m[name] / (np.sqrt(v[name]) + 1e-8)  # mt = m, vt = v
            np.testing.assert_allclose(state.update.after[name], drilled, rtol=1e-12)
        assert [(d.tensor, d.kind) for d in state.update.diagnosis] == [
            (name, "no-bias-correction") for name in state.params]
        assert "1 − β1^t" in state.update.diagnosis[0].detail


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov"])
def test_momentum_that_does_not_carry_its_velocity_is_diagnosed_from_step_2(optimizer: str) -> None:
    stepper = Stepper(validate(Config(optimizer=optimizer, inject_bug="momentum-no-carry")))
    plain = Stepper(Config(optimizer=optimizer))
    states = list(stepper.iter_steps(3))
    assert states[0].update is not None and states[0].update.diagnosis == ()  # v starts at 0: right
    first = plain.run_steps(1).update
    assert first is not None and states[0].update.after["W1"].tobytes() == first.after["W1"].tobytes()
    for state in states[1:]:
        assert state.update is not None and state.backward is not None
        kinds = {d.kind for d in state.update.diagnosis}
        assert kinds == {"velocity-not-carried"}
        v = -0.1 * state.backward["dW1"]  # v = μ·0 − lr·dw: the velocity restarted
        assert np.allclose(state.optim["v_W1"], v, rtol=1e-12)


@pytest.mark.parametrize(("flags", "kind"), [
    (("--optimizer", "adam", "--inject-bug", "adam-no-bias-correction"), "no-bias-correction"),
    (("--optimizer", "momentum", "--inject-bug", "momentum-no-carry", "--steps", "2"),
     "velocity-not-carried"),
])
def test_a_drilled_update_fails_the_run_with_its_kind(flags: tuple[str, ...], kind: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_main(capsys, "--headless", "--format", "json", *flags)
    trace = json.loads(out)
    assert status == 1 and trace["steps"][-1]["gradcheck"]["passed"]
    assert {d["kind"] for d in trace["steps"][-1]["optimizer"]["diagnosis"]} == {kind}
    status, out, _ = run_main(capsys, "--headless", "--quiet", *flags)
    assert status == 1 and f"({kind})" in out and "the update broke its rule" in out.splitlines()[-1]


@pytest.mark.parametrize(("flags", "words"), [
    (("--inject-bug", "adam-no-bias-correction"), "add --optimizer adam"),
    (("--optimizer", "rmsprop", "--inject-bug", "momentum-no-carry"), "add --optimizer momentum"),
])
def test_a_drill_of_another_optimizer_is_refused(flags: tuple[str, ...], words: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_main(capsys, "--headless", *flags)
    assert status == 2 and not out and words in err and len(err.splitlines()) <= 2


def test_a_session_replays_a_drill_of_the_update() -> None:
    """The app injects a drill mid-run ("drill NAME" in the path); the session replays it."""
    stepper = Stepper(Config(optimizer="adam"))
    stepper.run_steps(1)
    stepper.use_model(make_model(stepper.config.architecture, "adam-no-bias-correction"))
    stepper.run_steps(1)
    reopened = session.open_session(session.from_bytes(session.to_bytes(session.record(stepper))))
    assert snapshot(reopened.state) == snapshot(stepper.state)
    assert reopened.state.update is not None and reopened.state.update.diagnosis
