"""--model with a course's convention: deeplearning.ai's and cs231n's code, as written.

engine.conventions adapts the module to the notebook's contract inside the model's
process; these tests drive the real process through the stepper with a data set batch
and compare every number with the same network computed here by hand, in NumPy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine import batches
from engine.batches import Data
from engine.config import Config
from engine.contract import ModelError, load_source
from engine.stepper import Stepper
from engine.usermodel import UserModel, load_model

FIXTURES = Path(__file__).parent / "fixtures"
DLAI_TWO = FIXTURES / "dlai_two_layer.py"
DLAI_DEEP = FIXTURES / "dlai_deep.py"
CS231N = FIXTURES / "cs231n_two_layer.py"
CLOSE = {"rtol": 1e-9, "atol": 1e-12}
REG = 0.1
#: fixture -> (the convention it follows, its hidden layers, its --reg)
CASES: dict[str, tuple[Path, str, tuple[int, ...], float]] = {
    "dlai_two_layer": (DLAI_TWO, "deeplearning-ai", (4,), 0.0),
    "dlai_deep": (DLAI_DEEP, "deeplearning-ai", (5, 3), 0.0),
    "cs231n_two_layer": (CS231N, "cs231n", (4,), REG),
}


def moons(hidden: tuple[int, ...], batch: int = 16) -> tuple[Config, Data]:
    config = Config(dataset="moons", hidden=hidden, batch=batch)
    data = batches.from_config(config)
    assert data is not None
    return batches.fitted(config, data).resolved(), data


def start(case: str, source: str | None = None, tmp_path: Path | None = None,
          reg: float | None = None) -> tuple[UserModel, Config, Data]:
    path, _, hidden, default_reg = CASES[case]
    if source is not None:
        assert tmp_path is not None
        path = tmp_path / path.name
        path.write_text(source)
    config, data = moons(hidden)
    model = load_model(path, sizes=config.architecture.sizes,
                       reg=default_reg if reg is None else reg)
    return model, config, data


@pytest.fixture(params=list(CASES))
def case(request: pytest.FixtureRequest) -> Iterator[tuple[str, UserModel, Config, Data]]:
    model, config, data = start(request.param)
    yield request.param, model, config, data
    model.close()


# ---- the same network by hand ------------------------------------------------------------
def by_hand(case: str, params: dict[str, Any], x: Any, y: Any) -> tuple[float, dict[str, Any]]:
    """The loss and the gradients of the batch's mean loss, in the file's own layout."""
    convention = CASES[case][1]
    depth = len(params) // 2
    Ws, bs = [], []
    for l in range(1, depth + 1):  # to rows: z = a W^T + b
        W, b = params[f"W{l}"], params[f"b{l}"]
        Ws.append(W if convention == "deeplearning-ai" else W.T)
        bs.append(b[:, 0] if convention == "deeplearning-ai" else b)
    m = len(x)
    a, zs, As = x, [], [x]
    for l in range(depth):
        z = a @ Ws[l].T + bs[l]
        zs.append(z)
        a = np.maximum(0, z) if l < depth - 1 else z
        As.append(a)
    logits = zs[-1]
    if convention == "deeplearning-ai":  # one sigmoid unit, binary cross-entropy
        p = 1 / (1 + np.exp(-logits[:, 0]))
        loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
        dz = (p - y)[:, None] / m
    else:  # softmax over two classes
        shifted = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(probs[np.arange(m), y]))
        dz = probs.copy()
        dz[np.arange(m), y] -= 1
        dz /= m
    grads: dict[str, Any] = {}
    for l in range(depth - 1, -1, -1):
        grads[f"W{l + 1}"], grads[f"b{l + 1}"] = dz.T @ As[l], dz.sum(axis=0)
        if l:
            dz = (dz @ Ws[l]) * (zs[l - 1] > 0)
    out = {}
    for name, g in grads.items():
        if convention == "deeplearning-ai":
            out[name] = g if name.startswith("W") else g[:, None]
        else:
            out[name] = g.T + REG * params[name] if name.startswith("W") else g
    if convention == "cs231n":
        loss += 0.5 * REG * sum(np.sum(params[n] ** 2) for n in params if n.startswith("W"))
    return float(loss), out


def test_each_convention_is_detected_and_stated(case) -> None:
    name, model, _, _ = case
    assert model.convention == CASES[name][1]
    if name == "cs231n_two_layer":
        assert model.described == ("TwoLayerNet(input_dim=2, hidden_dim=4, num_classes=2, reg=0.1) "
                                   "(a binary data set as a 2-class softmax)")
    else:
        assert "compute_cost" in model.described and "update_parameters" in model.described


def test_the_course_initialises_its_own_parameters_after_seeding(case) -> None:
    name, model, config, data = case
    params = Stepper(config, model=model, data=data).state.params
    np.random.seed(config.seed)
    sizes = config.architecture.sizes
    if name == "dlai_two_layer":
        want = {"W1": np.random.randn(4, 2) * 0.01, "b1": np.zeros((4, 1)),
                "W2": np.random.randn(1, 4) * 0.01, "b2": np.zeros((1, 1))}
    elif name == "dlai_deep":
        want = {}
        for l in range(1, len(sizes)):
            want[f"W{l}"] = np.random.randn(sizes[l], sizes[l - 1]) / np.sqrt(sizes[l - 1])
            want[f"b{l}"] = np.zeros((sizes[l], 1))
    else:
        want = {"W1": 1e-3 * np.random.randn(2, 4), "b1": np.zeros(4),
                "W2": 1e-3 * np.random.randn(4, 2), "b2": np.zeros(2)}
    assert list(params) == list(want)
    for key in want:
        np.testing.assert_array_equal(params[key], want[key])


def test_every_phase_of_two_steps_equals_the_network_by_hand(case) -> None:
    name, model, config, data = case
    stepper = Stepper(config, model=model, data=data)
    for _ in range(2):
        before = stepper.state.params
        [state] = list(stepper.iter_steps(1))
        assert state.forward is not None and state.backward is not None
        assert state.gradcheck is not None and state.forward.batch is not None
        x, y = state.forward.batch
        assert x.shape == (16, 2)
        loss, grads = by_hand(name, before, x, y)
        np.testing.assert_allclose(state.forward.loss, loss, **CLOSE)
        assert set(state.backward) == {"d" + key for key in before}
        for key in before:
            np.testing.assert_allclose(state.backward["d" + key], grads[key], **CLOSE)
            np.testing.assert_allclose(state.params[key], before[key] - config.lr * grads[key], **CLOSE)
        assert state.gradcheck.method == "loop" and state.gradcheck.passed, state.gradcheck
