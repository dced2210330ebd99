"""--model with Nielsen's Network(sizes): network.py (quadratic cost) and network2.py (cost
classes), as written, column vectors and all.

engine.model.conventions.nielsen adapts the module inside the model's process; the slow tests drive the
real process through the stepper on a data set batch and compare every number with the same
network computed here by hand, in NumPy, in Nielsen's layout.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.data import batches
from engine.data.batches import Data
from engine.run.sample import sample_view
from engine.run.stepper import Stepper
from engine.settings.config import Config
from engine.usermodel.client import UserModel, load_model
from engine.usermodel.contract import ModelError, load_source
from tests.docs import python_blocks
from tests.helpers import FIXTURES, run_cli

NETWORK = FIXTURES / "nielsen_network.py"
NETWORK2 = FIXTURES / "nielsen_network2.py"
CLOSE = {"rtol": 1e-9, "atol": 1e-12}


def loaded(text: str, sizes: tuple[int, ...] = (2, 4, 1)) -> Any:
    return load_source(Path("network.py"), text.encode(), None, sizes, 0.0)


# ---- detection and load-time messages (in this process) -----------------------------------------
def test_a_file_defining_nielsens_network_is_the_nielsen_convention() -> None:
    one, two = loaded(NETWORK.read_text()), loaded(NETWORK2.read_text())
    assert one.convention == two.convention == "nielsen"
    assert one.described == "Network([2, 4, 1]), C = |a - y|²/2; x (n, 1) columns; update_mini_batch"
    assert two.described == ("Network([2, 4, 1]), cost=CrossEntropyCost; x (n, 1) columns; "
                             "update_mini_batch")


def test_a_network_without_backprop_names_what_it_lacks() -> None:
    text = NETWORK.read_text().replace("def backprop(", "def backpropagate(")
    with pytest.raises(ModelError) as caught:
        loaded(text)
    assert str(caught.value) == ("network.py fits no convention: found class Network with feedforward "
                                 "but no Network.backprop (nielsen)")


@pytest.mark.parametrize(("old", "new", "construct"), [
    ('print("Epoch {} complete".format(epoch))', 'print "Epoch {} complete".format(epoch)',
     "a print statement"),
    ("def evaluate(self, test_data):", "def evaluate(self, test_data):\n        try: pass\n"
                                       "        except ValueError, e: pass", "except E, name"),
], ids=["print", "except"])
def test_python_2_syntax_names_the_construct_and_the_way_to_python_3(old, new, construct) -> None:
    with pytest.raises(ModelError) as caught:
        loaded(NETWORK.read_text().replace(old, new))
    message = str(caught.value)
    assert message.startswith("network.py, line ") and "syntax error" in message
    assert message.endswith(f"this is Python 2 code ({construct}) and the model runs in Python 3: use a "
                            "Python 3 port of the file (2to3 makes one)")


def test_a_python_2_builtin_in_a_method_is_told_at_load_not_at_the_first_step() -> None:
    text = NETWORK.read_text().replace("for l in range(2, self.num_layers)",
                                       "for l in xrange(2, self.num_layers)")
    with pytest.raises(ModelError) as caught:
        loaded(text)
    assert str(caught.value) == ("network.py: Network.backprop uses xrange, which is Python 2's (Python 3 "
                                 "has range); use a Python 3 port of the file (2to3 makes one)")
    assert loaded("xrange = range\n" + text).convention == "nielsen"  # a file that defines it


# ---- every phase by hand (the model's own process) ----------------------------------------------
def start(path: Path, hidden: tuple[int, ...] = (4,), dataset: str = "moons", classes: int | None = None,
          ) -> tuple[UserModel, Config, Data]:
    """The model on a batch of 16; `classes` None: the data set's own (one unit for two)."""
    config = Config(dataset=dataset, hidden=hidden, batch=16, **({"classes": classes} if classes else {}))
    data = batches.from_config(config)
    assert data is not None
    config = batches.fitted(config, data).resolved()
    return load_model(path, sizes=config.architecture.sizes), config, data


def sigmoid(z: Any) -> Any:
    return 1 / (1 + np.exp(-z))


def by_hand(params: dict[str, Any], x: Any, y: Any, cross_entropy: bool) -> tuple[float, dict[str, Any]]:
    """Nielsen's network on the batch's columns: the mean cost and the mean of backprop."""
    depth, X = len(params) // 2, x.T
    B, outputs = X.shape[1], params[f"b{depth}"].shape[0]
    Y = y[None, :].astype(float) if outputs == 1 else np.eye(outputs)[y].T
    a, As, zs = X, [X], []
    for l in range(1, depth + 1):
        zs.append(params[f"W{l}"] @ a + params[f"b{l}"])
        a = sigmoid(zs[-1])
        As.append(a)
    if cross_entropy:
        loss = np.mean(np.sum(-Y * np.log(a) - (1 - Y) * np.log(1 - a), axis=0))
        delta = a - Y
    else:
        loss = np.mean(0.5 * np.sum((a - Y) ** 2, axis=0))
        delta = (a - Y) * a * (1 - a)
    grads: dict[str, Any] = {}
    for l in range(depth, 0, -1):
        grads[f"dW{l}"], grads[f"db{l}"] = delta @ As[l - 1].T / B, delta.sum(axis=1, keepdims=True) / B
        if l > 1:
            delta = (params[f"W{l}"].T @ delta) * As[l - 1] * (1 - As[l - 1])
    return float(loss), grads


@pytest.mark.slow
@pytest.mark.parametrize(("path", "hidden", "dataset", "classes"), [
    (NETWORK, (4,), "moons", None), (NETWORK2, (4,), "moons", None), (NETWORK2, (5, 3), "spiral", 3),
], ids=["network-moons", "network2-moons", "network2-spiral3"])
def test_every_phase_of_two_steps_equals_nielsens_network_by_hand(path, hidden, dataset, classes) -> None:
    model, config, data = start(path, hidden, dataset, classes)
    try:
        stepper = Stepper(config, model=model, data=data)
        sizes = config.architecture.sizes
        assert sizes[-1] == (classes or 1)  # a binary set is one sigmoid unit
        np.random.seed(config.seed)  # Nielsen's own draws, in his order: the biases, then the weights
        scale = (lambda m: np.sqrt(m)) if path == NETWORK2 else (lambda m: 1.0)
        want = [np.random.randn(n, 1) for n in sizes[1:]]
        want += [np.random.randn(n, m) / scale(m) for m, n in itertools.pairwise(sizes)]
        depth = len(sizes) - 1
        names = [f"b{l}" for l in range(1, depth + 1)] + [f"W{l}" for l in range(1, depth + 1)]
        for name, value in zip(names, want, strict=True):
            np.testing.assert_array_equal(stepper.state.params[name], value)
        for _ in range(2):
            before = stepper.state.params
            [state] = list(stepper.iter_steps(1))
            assert state.forward is not None and state.backward is not None
            assert state.gradcheck is not None and state.forward.batch is not None
            x, y = state.forward.batch
            loss, grads = by_hand(before, x, y, path == NETWORK2)
            np.testing.assert_allclose(state.forward.loss, loss, **CLOSE)
            for key in before:
                np.testing.assert_allclose(state.backward["d" + key], grads["d" + key], **CLOSE)
                np.testing.assert_allclose(state.params[key], before[key] - config.lr * grads["d" + key],
                                           **CLOSE)
            assert state.gradcheck.passed, state.gradcheck
            shapes = {k: np.shape(v) for k, v in state.forward.cache.items()}
            assert shapes["zs[0]"] == (hidden[0], 16) and shapes["output"] == (sizes[-1], 16)
            assert shapes[f"activations[{depth}]"] == (sizes[-1], 16)
    finally:
        model.close()


@pytest.mark.slow
def test_the_update_is_the_files_own_update_mini_batch(tmp_path) -> None:
    text = NETWORK.read_text()
    old = "self.weights = [w - (eta / len(mini_batch)) * nw"
    assert old in text
    doubled = tmp_path / "network.py"  # its weights' step twice the learning rate, its biases' as written
    doubled.write_text(text.replace(old, "self.weights = [w - 2 * (eta / len(mini_batch)) * nw"))
    model, config, data = start(doubled)
    try:
        stepper = Stepper(config, model=model, data=data)
        before = stepper.state.params
        [state] = list(stepper.iter_steps(1))
        assert state.backward is not None
        for key, factor in (("W1", 2), ("W2", 2), ("b1", 1), ("b2", 1)):
            np.testing.assert_allclose(state.params[key],
                                       before[key] - factor * config.lr * state.backward["d" + key], **CLOSE)
    finally:
        model.close()


@pytest.mark.slow
def test_the_panels_show_one_sample_as_nielsens_column() -> None:
    """A Nielsen cache holds a sample a column (zs[0] (n, B)): one sample's view is its column,
    kept (n, 1) as backprop has it for one x."""
    model, config, data = start(NETWORK)
    try:
        stepper = Stepper(config, model=model, data=data)
        stepper.next()
        whole = stepper.view()
        view = sample_view(whole, 3)
        assert view.state.forward is not None and whole.state.forward is not None
        cache, full = view.state.forward.cache, whole.state.forward.cache
        np.testing.assert_array_equal(cache["zs[0]"], full["zs[0]"][:, 3:4])
        np.testing.assert_array_equal(cache["output"], full["output"][:, 3:4])
        assert cache["zs[0]"].shape == (4, 1)
    finally:
        model.close()


# ---- broken copies ------------------------------------------------------------------------------
#: bug -> (the good line of network.py, its broken copy, the tensors it breaks)
BUGS = {
    "sigmoid-derivative": ("delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])",
                           "delta = self.cost_derivative(activations[-1], y)", ["W1", "b1", "W2", "b2"]),
    "transpose": ("delta = np.dot(self.weights[-l + 1].transpose(), delta)",
                  "delta = np.dot(self.weights[-l + 1], delta)", ["W1", "b1"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("bug", list(BUGS))
def test_a_broken_copy_fails_the_check_on_the_tensors_it_breaks(bug, tmp_path) -> None:
    old, new, broken = BUGS[bug]
    text = NETWORK.read_text()
    assert old in text
    path = tmp_path / "network.py"
    path.write_text(text.replace(old, new))
    # transposed, the output's W (2, 2) still fits: two one-hot outputs, two hidden units
    model, config, data = start(path, (2,), classes=2) if bug == "transpose" else start(path)
    try:
        stepper = Stepper(config, model=model, data=data)
        stepper.next()
        stepper.next()
        stepper.next()
        check = stepper.state.gradcheck
        assert check is not None and not check.passed
        assert sorted(check.failed_names) == sorted(broken)
    finally:
        model.close()


# ---- the docs -------------------------------------------------------------------------------------
def docs_file(family: str) -> str:
    [found] = [block for block in python_blocks() if block.startswith(f"# family: {family}\n")]
    return found


@pytest.mark.slow
def test_the_docs_minimal_nielsen_file_loads_and_passes_ten_moons_steps(tmp_path, capsys) -> None:
    path = tmp_path / "network.py"
    path.write_text(docs_file("nielsen"))
    status, out, err = run_cli(["--headless", "--format", "json", "--model", str(path), "--dataset",
                                "moons", "--batch", "16", "--steps", "10"], capsys)
    assert status == 0, err
    trace = json.loads(out)
    assert trace["convention"] == "nielsen"
    assert all(step["gradcheck"]["passed"] for step in trace["steps"]) and len(trace["steps"]) == 10
