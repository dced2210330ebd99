"""Training health (engine.run.health): the statistics per layer, and a verdict in words for
each way a run fails to learn, on networks built to fail that way; none on healthy runs."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.data import batches
from engine.maths import network
from engine.run import health
from engine.run.health import Health, Verdict, inputs_scale, measure, uniform_loss
from engine.run.stepper import Stepper
from engine.settings.config import Config
from tests.helpers import raw_csv, run_main

MOONS = Config(dataset="moons", batch=16, hidden=(8,), init="he", standardize=True, gradcheck=False)


def run(config: Config, steps: int = 60, params: dict[str, np.ndarray] | None = None) -> Health:
    """The health of `steps` steps of the built-in network on the config's data."""
    data = batches.from_config(config)
    assert data is not None
    stepper = Stepper(batches.fitted(config, data), data=data, max_history=2, keep_trail=False)
    if params is not None:
        stepper.start_from(params)
    watched = Health(stepper.config.architecture, config.lr)
    for state in watched.watch(stepper.iter_steps(steps)):
        if state.nonfinite():
            break
    return watched


def kinds(watched: Health) -> dict[str, Verdict]:
    return {v.kind: v for v in watched.verdicts}


# ---- the statistics --------------------------------------------------------------------

def test_the_statistics_are_the_norms_ratios_and_shares_of_the_step() -> None:
    config = replace(MOONS, hidden=(4, 3))
    data = batches.from_config(config)
    assert data is not None
    stepper = Stepper(batches.fitted(config, data), data=data)
    state = next(iter(stepper.iter_steps(1)))
    stats = measure(state, stepper.config.architecture)
    assert stats is not None and [s.layer for s in stats.layers] == [1, 2, 3]
    assert state.update is not None and state.backward is not None and state.forward is not None
    before, after, cache = state.update.before, state.update.after, state.forward.cache
    for s in stats.layers:
        W = before[f"W{s.layer}"]
        assert s.grad_norm == pytest.approx(math.sqrt(float(np.sum(state.backward[f"dW{s.layer}"] ** 2))))
        assert s.update_ratio == pytest.approx(math.sqrt(float(np.sum((after[f"W{s.layer}"] - W) ** 2)))
                                               / math.sqrt(float(np.sum(W ** 2))))
    z1 = cache["z1"]
    assert stats.layers[0].dead == pytest.approx(float(np.mean(np.all(z1 <= 0, axis=0))))
    assert stats.layers[2].dead is None  # the output layer has no ReLU


def test_saturation_is_the_share_of_activations_whose_slope_is_under_6_percent() -> None:
    z = np.array([[0.0, 2.0, -3.0, 2.2]])
    dead, saturated = health._activity("tanh", z, np.tanh(z))
    assert dead is None and saturated == 0.5  # |tanh(2)| = 0.964 < 0.97 < |tanh(2.2)| = 0.976
    z = np.array([[0.0, 5.0]])
    _, saturated = health._activity("sigmoid", z, network.sigmoid(z))
    assert saturated == 0.5  # σ'(5) = 0.0066 < 0.059 · 0.25


def test_uniform_loss_is_what_outputs_that_say_nothing_score() -> None:
    arch = network.Architecture(2, (4,), "relu", 3, network.SOFTMAX_LOSS)
    assert uniform_loss(arch) == pytest.approx(-math.log(1 / 3))
    assert uniform_loss(network.Architecture(2, (4,))) == pytest.approx(math.log(2))
    assert uniform_loss(network.Architecture(2, (4,), loss="mse")) == 0.125


# ---- a verdict for each way a run fails to learn ---------------------------------------

def test_a_layer_whose_every_relu_died_is_said_with_the_step_it_started() -> None:
    config = replace(MOONS, hidden=(8, 8))
    data = batches.from_config(config)
    assert data is not None
    params = network.init_params(batches.fitted(config, data).architecture, 0, "he")
    params["b2"] = np.full(8, -100.0)  # layer 2 off for every input
    dead = kinds(run(config, 30, params))["dead"]
    assert (dead.layer, dead.since) == (2, 10)
    assert dead.says.startswith("layer 2: all of its ReLU units are dead")
    assert "no gradient reaches the layers below" in dead.says and "--init he" in dead.says


def test_a_raw_csv_is_noticed_before_training_and_its_dead_layer_and_jump_are_said(tmp_path: Path) -> None:
    config = Config(data=str(raw_csv(tmp_path)), batch=16, gradcheck=False)
    data = batches.from_config(config)
    assert data is not None
    notice = inputs_scale(data)
    assert notice is not None and notice.kind == "inputs"
    assert "x1 mean 20 std 8.66, x2 mean 57.9 std 23.4" in notice.says and "--standardize" in notice.says
    found = kinds(run(config, 30))
    assert set(found) == {"initial-loss", "overshoot", "loss-jump", "dead"}  # no "lr-low": the net died
    assert found["loss-jump"].says.startswith("the loss jumped from 9.16 to 317")
    assert inputs_scale(batches.from_config(replace(config, standardize=True)) or data) is None


def test_saturated_tanh_is_said() -> None:
    config = replace(MOONS, activation="tanh", init="notebook", standardize=False)
    data = batches.from_config(config)
    assert data is not None
    params = network.init_params(batches.fitted(config, data).architecture, 0)
    params["W1"] = params["W1"] * 30
    saturated = kinds(run(config, 20, params))["saturated"]
    assert saturated.layer == 1 and "of its tanh activations are saturated" in saturated.says
    assert "--init xavier" in saturated.says


def test_a_learning_rate_too_high_is_said_and_too_low_too() -> None:
    high = kinds(run(replace(MOONS, lr=10.0), 40))
    assert "overshoot" in high and high["overshoot"].since == 1 and "Try --lr 1" in high["overshoot"].says
    low = kinds(run(replace(MOONS, lr=1e-4), 20))
    assert set(low) == {"lr-low"} and low["lr-low"].since == 10 and "Try --lr 0.001" in low["lr-low"].says


@pytest.mark.slow
@pytest.mark.parametrize(("activation", "init", "hidden"), [("relu", "he", (8,)), ("tanh", "xavier", (8, 8))])
def test_healthy_runs_get_no_verdict(activation: str, init: str, hidden: tuple[int, ...]) -> None:
    """No false alarm on 20 seeds of a healthy moons run (the thresholds' margin)."""
    for seed in range(20):
        config = replace(MOONS, activation=activation, init=init, hidden=hidden, seed=seed)
        assert run(config, 200).verdicts == [], seed


# ---- the report and the trace ----------------------------------------------------------

def test_the_report_ends_with_the_section_and_the_trace_with_each_steps_statistics(capsys, tmp_path) -> None:
    csv = raw_csv(tmp_path)
    status, out, _ = run_main(capsys, "--headless", "--data", csv, "--batch", "16", "--steps", "30",
                              "--trace", "summary", "--no-gradcheck")
    assert status == 0
    lines = out.splitlines()
    assert lines[1].startswith("Notice: the inputs are far from unit scale (x1 mean 20 std 8.66")
    section = out.split("Training health (each layer's medians over the last 10 step(s)", 1)[1]
    assert "  ⚠ step 10: layer 1: all of its ReLU units are dead" in section
    status, out, _ = run_main(capsys, "--headless", "--dataset", "moons", "--batch", "16", "--steps", "3",
                              "--format", "json", "--no-gradcheck", "--init", "he", "--standardize")
    trace = json.loads(out)
    first = trace["steps"][0]["health"]
    assert [layer["layer"] for layer in first] == [1, 2] and first[0]["saturated"] is None
    assert trace["health"]["verdicts"] == [] and trace["health"]["thresholds"]["window_steps"] == 10
