"""A model file's own picture in the app and the headless report, with its model process:
a cs231n file's panels show the course's maths over its scores, never the built-in
network's sigmoid; a dead network (a ReLU on the scores that is off everywhere) is named
in the gradients panel, the text report and the JSON trace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.run.stepper import Stepper
from engine.settings.config import Config
from engine.usermodel.client import load_model
from tests.helpers import FIXTURES, run_main, write_model
from tui.app.app import StepperApp

pytestmark = pytest.mark.slow  # starts model processes and drives the app

SIZE = (120, 40)

#: A cs231n TwoLayerNet with a ReLU on its scores, and the biases of the scores starting at
#: -1: every score is clipped to 0, the softmax is flat and no gradient reaches anything.
DEAD_SCORES = '''
import numpy as np

class TwoLayerNet:
    def __init__(self, input_dim, hidden_dim, num_classes, weight_scale=1e-3, reg=0.0):
        self.reg = reg
        self.params = {"W1": weight_scale * np.random.randn(input_dim, hidden_dim),
                       "b1": np.zeros(hidden_dim),
                       "W2": weight_scale * np.random.randn(hidden_dim, num_classes),
                       "b2": -np.ones(num_classes)}

    def loss(self, X, y=None):
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        h = np.maximum(0, X @ W1 + b1)
        pre = h @ W2 + b2
        scores = np.maximum(0, pre)
        if y is None:
            return scores
        N = X.shape[0]
        p = np.exp(scores - scores.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        loss = -np.log(p[np.arange(N), y]).mean()
        dscores = p.copy()
        dscores[np.arange(N), y] -= 1
        dscores = dscores / N * (pre > 0)
        dh = (dscores @ W2.T) * (h > 0)
        return loss, {"W1": X.T @ dh, "b1": dh.sum(axis=0), "W2": h.T @ dscores, "b2": dscores.sum(axis=0)}
'''
#: cs231n's FullyConnectedNet, relu layers and a softmax; W_l (n_(l-1), n_l), rows.
THREE_LAYERS = '''
import numpy as np

class FullyConnectedNet:
    def __init__(self, hidden_dims, input_dim, num_classes, weight_scale=1e-2, reg=0.0):
        dims = [input_dim, *hidden_dims, num_classes]
        self.L = len(dims) - 1
        self.params = {}
        for l in range(1, self.L + 1):
            self.params[f"W{l}"] = weight_scale * np.random.randn(dims[l - 1], dims[l])
            self.params[f"b{l}"] = np.zeros(dims[l])

    def loss(self, X, y=None):
        hs, h = [X], X
        for l in range(1, self.L):
            h = np.maximum(0, h @ self.params[f"W{l}"] + self.params[f"b{l}"])
            hs.append(h)
        scores = h @ self.params[f"W{self.L}"] + self.params[f"b{self.L}"]
        if y is None:
            return scores
        N = X.shape[0]
        p = np.exp(scores - scores.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        loss = -np.log(p[np.arange(N), y]).mean()
        d = p.copy()
        d[np.arange(N), y] -= 1
        d /= N
        grads = {}
        for l in range(self.L, 0, -1):
            grads[f"W{l}"], grads[f"b{l}"] = hs[l - 1].T @ d, d.sum(axis=0)
            d = (d @ self.params[f"W{l}"].T) * (hs[l - 1] > 0)
        return loss, grads
'''
DEAD_LINE = "every gradient is zero: the signal stops at layer 2: dW2, db2 are all zero"


async def phases(app: StepperApp, pilot, count: int) -> None:  # type: ignore[no-untyped-def]
    for _ in range(count):
        await pilot.press("n")
        await app.runner.idle.wait()
        await pilot.pause()


async def test_a_cs231n_file_shows_its_own_maths_and_shapes() -> None:
    config = Config().resolved()
    model = load_model(FIXTURES / "cs231n_two_layer.py", sizes=config.architecture.sizes)
    app = StepperApp(Stepper(config, model=model))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            to_come = str(app.query_one("#forward").render())
            assert "scores, loss" in to_come and "z1" not in to_come.split("\n\n")[-1]
            await phases(app, pilot, 2)
            forward = str(app.query_one("#forward").render())
            gradients = str(app.query_one("#gradients").render())
            assert "scores = h1·W2 + b2" in forward and "scores  (1, 2) float64" in forward
            assert "σ(z2)" not in forward and "log a2" not in forward
            assert "dscores = (softmax(scores) − onehot(y)) / N" in gradients
            assert "dW1 = dz1·xᵀ" not in gradients and "dead network" not in gradients
    finally:
        model.close()


async def test_a_dead_network_is_named_in_the_gradients_and_check_panels(tmp_path: Path) -> None:
    config = Config().resolved()
    model = load_model(write_model(tmp_path, DEAD_SCORES), sizes=config.architecture.sizes)
    app = StepperApp(Stepper(config, model=model))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await phases(app, pilot, 2)
            assert f"dead network: {DEAD_LINE}" in str(app.query_one("#gradients").render())
            await phases(app, pilot, 1)
            check = str(app.query_one("#gradcheck").render())
            assert f"dead network: {DEAD_LINE}" in check and "all four tensors pass" in check
    finally:
        model.close()


def test_a_dead_network_is_named_headless(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_model(tmp_path, DEAD_SCORES)
    flags = ("--headless", "--model", path, "--dataset", "moons", "--batch", "16", "--steps", "2")
    status, out, _ = run_main(capsys, *flags)
    assert status == 0 and out.count(f"Dead network: {DEAD_LINE}.") == 2
    status, out, _ = run_main(capsys, *flags, "--format", "json")
    trace = json.loads(out)
    assert status == 0 and [step["dead"]["stops_at"] for step in trace["steps"]] == ["dW2, db2"] * 2
    assert (trace["config"]["classes"], trace["config"]["loss"]) == (2, "cross-entropy")


async def test_a_cs231n_networks_layers_are_headed_in_to_out(tmp_path: Path) -> None:
    """cs231n's W_l is (n_(l-1), n_l): layer 1 of a 3-8-4-2 net is 3 → 8, not 8 → 3."""
    config = Config(hidden=(8, 4)).resolved()
    model = load_model(write_model(tmp_path, THREE_LAYERS), sizes=config.architecture.sizes)
    app = StepperApp(Stepper(config, model=model))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await phases(app, pilot, 2)
            gradients = str(app.query_one("#gradients").render())
            assert all(f"layer {l} · {a} → {b}" in gradients
                       for l, a, b in ((3, 4, 2), (2, 8, 4), (1, 3, 8)))
            assert "scores = h2·W3 + b3" in str(app.query_one("#forward").render())
    finally:
        model.close()
