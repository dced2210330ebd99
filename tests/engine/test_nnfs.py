"""--model with the classes of Neural Networks from Scratch (Layer_Dense, Activation_ReLU, the
softmax or sigmoid output and its loss, Optimizer_SGD), as the book's chapters and its readers
write them.

engine.model.conventions.nnfs composes the file's classes inside the model's process; the slow tests drive
the real process through the stepper on a data set batch and compare every number with the same
network computed here by hand, in NumPy, in the book's layout (rows; biases (1, n)).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.data import batches
from engine.data.batches import Data
from engine.run.stepper import Stepper
from engine.settings.config import Config
from engine.usermodel.client import UserModel, load_model
from engine.usermodel.contract import ModelError, load_source
from tests.docs import python_blocks
from tests.helpers import FIXTURES, run_cli

BOOK = FIXTURES / "nnfs_book.py"  # chapters 14 to 17, and nnfs.init()'s float32 NumPy
MODEL = FIXTURES / "nnfs_model.py"  # the Model chapters: forward(inputs, training), ...
COMBINED = FIXTURES / "nnfs_combined.py"  # Activation_ReLu, one combined softmax class, no SGD
CLOSE = {"rtol": 1e-9, "atol": 1e-12}


def loaded(text: str, sizes: tuple[int, ...] = (2, 4, 1), reg: float = 0.0) -> Any:
    return load_source(Path("nn.py"), text.encode(), None, sizes, reg)


# ---- detection and load-time messages (in this process) -----------------------------------------
def test_the_books_class_names_make_the_nnfs_convention() -> None:
    model = loaded(MODEL.read_text())
    assert model.convention == "nnfs"
    assert model.described == ("Layer_Dense x2 (2-4-1), Activation_ReLU, Activation_Sigmoid + "
                               "Loss_BinaryCrossentropy; X (B, n) rows; Optimizer_SGD")
    assert loaded(MODEL.read_text(), (2, 5, 3)).described.startswith(
        "Layer_Dense x2 (2-5-3), Activation_ReLU, Activation_Softmax + Loss_CategoricalCrossentropy")
    combined = loaded(COMBINED.read_text())
    assert combined.described == ("Layer_Dense x2 (2-4-2), Activation_ReLu, Activation_Softmax_Loss_"
                                  "CategoricalCrossentropy (a binary data set as a 2-class softmax); X (B, "
                                  "n) rows; plain SGD")



def test_the_books_names_in_another_case_are_the_same_classes() -> None:
    """Readers write Loss_CategoricalCrossEntropy and Loss_BinaryCrossEntropy (a real file in
    the corpus does): the book's names, whatever their case."""
    text = MODEL.read_text().replace("Crossentropy", "CrossEntropy")
    assert "Loss_BinaryCrossentropy" not in text
    model = loaded(text)
    assert model.convention == "nnfs" and "Loss_BinaryCrossEntropy" in model.described

def test_a_file_without_an_output_and_its_loss_names_what_it_lacks() -> None:
    text = MODEL.read_text()
    text = text[:text.index("class Optimizer_SGD")]  # dense, input, relu, softmax, sigmoid only
    with pytest.raises(ModelError) as caught:
        loaded(text)
    assert str(caught.value) == (
        "nn.py fits no convention: found Layer_Dense, Activation_ReLU, Activation_Softmax and "
        "Activation_Sigmoid but no Activation_Softmax with Loss_CategoricalCrossentropy or "
        "Activation_Softmax_Loss_CategoricalCrossentropy.forward or Activation_Sigmoid with "
        "Loss_BinaryCrossentropy or Activation_Sigmoid_Loss_BinaryCrossentropy.forward (nnfs)")


def test_reg_needs_the_layers_regulariser_and_the_losss_regularization_loss() -> None:
    with pytest.raises(ModelError) as caught:
        loaded(COMBINED.read_text(), reg=0.1)
    assert str(caught.value) == ("nn.py: --reg is Layer_Dense's weight_regularizer_l2, but its constructor "
                                 "takes none")


# ---- every phase by hand (the model's own process) ----------------------------------------------
def start(path: Path, hidden: tuple[int, ...] = (4,), dataset: str = "moons", classes: int | None = None,
          reg: float = 0.0) -> tuple[UserModel, Config, Data]:
    """The model on a batch of 16; `classes` None: the data set's own (one unit for two)."""
    config = Config(dataset=dataset, hidden=hidden, batch=16, **({"classes": classes} if classes else {}))
    data = batches.from_config(config)
    assert data is not None
    config = batches.fitted(config, data).resolved()
    return load_model(path, sizes=config.architecture.sizes, reg=reg), config, data


def by_hand(params: dict[str, Any], x: Any, y: Any, reg: float) -> tuple[float, dict[str, Any]]:
    """The book's network on the batch's rows: Dense -> ReLU -> ... -> Dense, then a sigmoid
    with binary cross-entropy for one output, a softmax with cross-entropy for more; the loss
    with reg * sum(W ** 2) per layer, the gradient with 2 * reg * W."""
    depth, B = len(params) // 2, len(x)
    a, As, zs = x, [x], []
    for l in range(1, depth + 1):
        zs.append(a @ params[f"W{l}"] + params[f"b{l}"])
        a = np.maximum(0, zs[-1]) if l < depth else zs[-1]
        As.append(a)
    if a.shape[1] == 1:
        p = 1 / (1 + np.exp(-a))
        t = y.reshape(-1, 1)
        loss = np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)))
        delta = (p - t) / B
    else:
        e = np.exp(a - a.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        loss = np.mean(-np.log(p[np.arange(B), y]))
        delta = p.copy()
        delta[np.arange(B), y] -= 1
        delta /= B
    loss += reg * sum(np.sum(params[f"W{l}"] ** 2) for l in range(1, depth + 1))
    grads: dict[str, Any] = {}
    for l in range(depth, 0, -1):
        grads[f"dW{l}"] = As[l - 1].T @ delta + 2 * reg * params[f"W{l}"]
        grads[f"db{l}"] = delta.sum(axis=0, keepdims=True)
        if l > 1:
            delta = (delta @ params[f"W{l}"].T) * (zs[l - 2] > 0)
    return float(loss), grads


CASES = {  # id -> (file, hidden, data set, classes, reg)
    "book-moons": (BOOK, (4,), "moons", None, 0.0),
    "book-spiral3-reg": (BOOK, (5,), "spiral", 3, 1e-3),
    "model-moons-reg": (MODEL, (4,), "moons", None, 1e-2),
    "model-spiral3": (MODEL, (6,), "spiral", 3, 0.0),
    "combined-moons": (COMBINED, (4,), "moons", None, 0.0),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_every_phase_of_two_steps_equals_the_books_network_by_hand(case) -> None:
    path, hidden, dataset, classes, reg = CASES[case]
    model, config, data = start(path, hidden, dataset, classes, reg)
    try:
        stepper = Stepper(config, model=model, data=data)
        sizes = [*config.architecture.sizes[:-1], 2 if path == COMBINED else config.architecture.sizes[-1]]
        np.random.seed(config.seed)  # the book's own draws, layer by layer
        for l in range(1, len(sizes)):
            np.testing.assert_array_equal(stepper.state.params[f"W{l}"],
                                          0.01 * np.random.randn(sizes[l - 1], sizes[l]))
            np.testing.assert_array_equal(stepper.state.params[f"b{l}"], np.zeros((1, sizes[l])))
        for _ in range(2):
            before = stepper.state.params
            [state] = list(stepper.iter_steps(1))
            assert state.forward is not None and state.backward is not None
            assert state.gradcheck is not None and state.forward.batch is not None
            x, y = state.forward.batch
            loss, grads = by_hand(before, x, y, reg)
            # float64 throughout: nnfs.init()'s float32 np.dot would be off by about 1e-8
            np.testing.assert_allclose(state.forward.loss, loss, **CLOSE)
            for key in before:
                np.testing.assert_allclose(state.backward["d" + key], grads["d" + key], **CLOSE)
                np.testing.assert_allclose(state.params[key], before[key] - config.lr * grads["d" + key],
                                           **CLOSE)
            assert state.gradcheck.passed, state.gradcheck
            assert state.forward.cache["dense1.output"].shape == (16, hidden[0])
    finally:
        model.close()


@pytest.mark.slow
def test_the_update_is_the_files_own_optimizer_sgd(tmp_path) -> None:
    text = MODEL.read_text()
    old = "layer.weights += -self.current_learning_rate * layer.dweights"
    assert old in text
    path = tmp_path / "nn.py"  # its weights' step twice the learning rate, its biases' as written
    path.write_text(text.replace(old, "layer.weights += -2 * self.current_learning_rate * layer.dweights"))
    model, config, data = start(path)
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


# ---- broken copies ------------------------------------------------------------------------------
#: bug -> (the good line of nnfs_model.py, its broken copy, the data set's classes, the tensors it breaks)
BUGS = {
    "relu-mask": ("        self.dinputs[self.inputs <= 0] = 0\n", "", None, ["W1", "b1"]),
    # the first: the combined softmax and cross-entropy's
    "missing-1/m": ("        self.dinputs = self.dinputs / samples\n", "", 3, ["W1", "b1", "W2", "b2"]),
    "sigmoid-derivative": ("self.dinputs = dvalues * (1 - self.output) * self.output",
                           "self.dinputs = dvalues", None, ["W1", "b1", "W2", "b2"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("bug", list(BUGS))
def test_a_broken_copy_fails_the_check_on_the_tensors_it_breaks(bug, tmp_path) -> None:
    old, new, classes, broken = BUGS[bug]
    text = MODEL.read_text()
    assert old in text, old
    path = tmp_path / "nn.py"
    path.write_text(text.replace(old, new, 1))
    model, config, data = start(path, dataset="spiral" if classes else "moons", classes=classes)
    try:
        stepper = Stepper(config, model=model, data=data)
        for _ in range(3):
            stepper.next()
        check = stepper.state.gradcheck
        assert check is not None and not check.passed
        assert sorted(check.failed_names) == sorted(broken)
    finally:
        model.close()


@pytest.mark.slow
def test_a_bias_gradient_summed_over_the_wrong_axis_names_the_key_and_both_shapes(tmp_path, capsys) -> None:
    path = tmp_path / "nn.py"
    path.write_text(MODEL.read_text().replace("np.sum(dvalues, axis=0, keepdims=True)",
                                              "np.sum(dvalues, axis=1, keepdims=True)"))
    status, out, err = run_cli(["--headless", "--model", str(path), "--dataset", "moons", "--batch", "16"],
                               capsys)
    assert (status, out) == (2, "")
    assert err.strip() == ("backprop-stepper: error: nn.py: backward returned db1 of shape (16, 1); "
                           "expected (1, 4), the shape of b1")


# ---- the docs -------------------------------------------------------------------------------------
def docs_file(family: str) -> str:
    [found] = [block for block in python_blocks() if block.startswith(f"# family: {family}\n")]
    return found


@pytest.mark.slow
def test_the_docs_minimal_nnfs_file_loads_and_passes_ten_moons_steps(tmp_path, capsys) -> None:
    path = tmp_path / "nn.py"
    path.write_text(docs_file("nnfs"))
    status, out, err = run_cli(["--headless", "--format", "json", "--model", str(path), "--dataset",
                                "moons", "--batch", "16", "--steps", "10", "--reg", "0.001"], capsys)
    assert status == 0, err
    trace = json.loads(out)
    assert trace["convention"] == "nnfs"
    assert all(step["gradcheck"]["passed"] for step in trace["steps"]) and len(trace["steps"]) == 10
