"""cs231n's code as its releases wrote it, loaded in this process (engine.usermodel.contract's
load_source, as the model's process runs it): assignment 1's TwoLayerNet(input_size, ...)
with loss(X, y, reg), assignment 2's package with batch or layer norm and dropout,
--model-option's keywords, classes imported into the file, and the diagnosis's reference
on those layouts (names in any order, (1, H) biases, a forgotten transpose of any square W).

The fixtures (tests/fixtures/cs231n_*) are written for these tests with the signatures,
layouts and quirks of public solutions of 2016 to 2022.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.check.diagnose import reference_for
from engine.maths import network
from engine.maths.network import Architecture
from engine.model.conventions.common import read_option
from engine.usermodel.contract import Contract, ModelError, load_source
from tests.helpers import FIXTURES, assert_refused

NEURAL_NET = FIXTURES / "cs231n_neural_net.py"
PACKAGE = FIXTURES / "cs231n_package"
FC_NET = PACKAGE / "cs231n" / "classifiers" / "fc_net.py"
IMPORTED = FIXTURES / "cs231n_imported.py"
README_NET = FIXTURES / "cs231n_two_layer.py"


def load(path: Path, sizes: tuple[int, ...], reg: float = 0.0, *options: str,
         text: str | None = None) -> Contract:
    source = (path.read_text() if text is None else text).encode()
    return load_source(path, source, None, sizes, reg, options=tuple(read_option(o) for o in options))


@pytest.fixture
def package(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The fixture package importable as `cs231n` (as PYTHONPATH makes it), and forgotten after."""
    def forget() -> None:
        for name in [n for n in sys.modules if n == "cs231n" or n.startswith("cs231n.")]:
            del sys.modules[name]
    forget()
    monkeypatch.syspath_prepend(str(PACKAGE))
    yield
    forget()


def batch(sizes: tuple[int, ...], n: int = 12, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, sizes[0])), np.arange(n) % max(2, sizes[-1])


def numerical(model: Contract, params: dict[str, Any], x: np.ndarray, y: np.ndarray,
              eps: float = 1e-6) -> dict[str, np.ndarray]:
    out = {}
    for name, value in params.items():
        grad = np.zeros_like(value)
        for i in np.ndindex(value.shape):
            plus, minus = {k: v.copy() for k, v in params.items()}, {k: v.copy() for k, v in params.items()}
            plus[name][i] += eps
            minus[name][i] -= eps
            grad[i] = (model.forward(x, plus, y)[1] - model.forward(x, minus, y)[1]) / (2 * eps)
        out["d" + name] = grad
    return out


def assert_checks(model: Contract, sizes: tuple[int, ...], seed: int = 0) -> dict[str, Any]:
    """The model's gradients equal central differences of its own loss, every one of them
    (the biases moved off 0: a sample whose ReLUs are all off makes z = b = 0, a kink)."""
    made = model.init_params(seed)
    assert made is not None
    params = {k: v + 0.1 if k.startswith("b") else v for k, v in made.items()}
    x, y = batch(sizes)
    cache, _ = model.forward(x, params, y)
    grads = model.backward(x, y, params, cache)
    expected = numerical(model, params, x, y)
    assert set(grads) >= set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(grads[key], value, rtol=1e-5, atol=1e-8, err_msg=key)
    return params


# ---- assignment 1: neural_net.py ---------------------------------------------------------------
def test_the_assignment_1_constructor_gets_the_sizes_under_its_own_names() -> None:
    model = load(NEURAL_NET, (2, 8, 1), 0.0)
    assert model.convention == "cs231n"
    assert model.described.startswith("TwoLayerNet(input_size=2, hidden_size=8, output_size=2)")
    params = model.init_params(0)
    assert params is not None
    assert {k: v.shape for k, v in params.items()} == {"b1": (1, 8), "W1": (2, 8), "b2": (1, 2),
                                                       "W2": (8, 2)}


def test_reg_goes_to_loss_by_keyword_when_loss_takes_it() -> None:
    """Assignment 1's loss(X, y=None, reg=0.0): --reg reaches loss, not the constructor."""
    plain, regularised = load(NEURAL_NET, (2, 8, 1), 0.0), load(NEURAL_NET, (2, 8, 1), 0.5)
    assert "loss(X, y, reg=0.5)" in regularised.described
    params = plain.init_params(0)
    assert params is not None
    x, y = batch((2, 8, 1))
    penalty = 0.5 * sum(float(np.sum(params[w] ** 2)) for w in ("W1", "W2"))
    assert regularised.forward(x, params, y)[1] == pytest.approx(plain.forward(x, params, y)[1] + penalty)
    grads = regularised.backward(x, y, params, {})
    np.testing.assert_allclose(grads["dW2"] - plain.backward(x, y, params, {})["dW2"],
                               2 * 0.5 * params["W2"], rtol=1e-9, atol=1e-12)


def test_assignment_1s_row_biases_and_b1_first_pass_its_own_check() -> None:
    model = load(NEURAL_NET, (3, 5, 4), 0.0)
    params = model.init_params(0)
    assert params is not None
    bigger = {k: v * 1e3 if k.startswith("W") else v + 0.1 for k, v in params.items()}  # off the kinks
    x, y = batch((3, 5, 4))
    grads = model.backward(x, y, bigger, {})
    for key, value in numerical(model, bigger, x, y).items():
        np.testing.assert_allclose(grads[key], value, rtol=1e-5, atol=1e-8, err_msg=key)


# ---- assignment 2: the package, batch and layer norm, dropout ---------------------------------
@pytest.mark.usefixtures("package")
def test_fc_net_in_its_package_with_absolute_imports_loads_and_checks() -> None:
    model = load(FC_NET, (3, 6, 6, 4), 0.0, "weight_scale=1.0")
    assert model.described.startswith("FullyConnectedNet(input_dim=3, hidden_dims=[6, 6], num_classes=4, "
                                      "reg=0.0, dtype=float64, seed=0, weight_scale=1.0)")
    assert "dtype float64 for the check" in model.described
    assert "seed 0 fixes any dropout mask, so the check is deterministic" in model.described
    params = assert_checks(model, (3, 6, 6, 4))
    assert all(value.dtype == np.float64 for value in params.values())


@pytest.mark.usefixtures("package")
@pytest.mark.parametrize("normalization", ["batchnorm", "layernorm"])
def test_normalisation_parameters_are_parameters_like_any_other(normalization: str) -> None:
    model = load(FC_NET, (3, 6, 5, 2), 0.1, f"normalization={normalization}")
    assert f"normalization='{normalization}'" in model.described
    params = assert_checks(model, (3, 6, 5, 2))
    assert {"gamma1", "beta1", "gamma2", "beta2"} <= set(params)


@pytest.mark.usefixtures("package")
def test_dropout_is_deterministic_through_the_files_own_seed() -> None:
    model = load(FC_NET, (3, 6, 6, 2), 0.0, "dropout_keep_ratio=0.5", "weight_scale=1.0")
    params = model.init_params(0)
    assert params is not None
    x, y = batch((3, 6, 6, 2))
    losses = {model.forward(x, params, y)[1] for _ in range(3)}
    assert len(losses) == 1
    assert_checks(model, (3, 6, 6, 2))


@pytest.mark.usefixtures("package")
def test_a_loss_that_changes_between_identical_calls_is_refused_with_that_reason() -> None:
    model = load(FC_NET, (3, 6, 6, 2), 0.0, "dropout_keep_ratio=0.5", "seed=None")
    params = model.init_params(0)
    assert params is not None
    x, y = batch((3, 6, 6, 2))
    with pytest.raises(ModelError) as raised:
        model.forward(x, params, y)
    assert "for the same X, y and parameters, so its gradient cannot be checked" in raised.value.message
    assert "--model-option seed=0" in raised.value.message


@pytest.mark.usefixtures("package")
@pytest.mark.parametrize(("option", "says"), [
    ("use_batchnorm=True", "--model-option use_batchnorm: fc_net.py's FullyConnectedNet takes no keyword "
                           "use_batchnorm; it accepts hidden_dims, input_dim, num_classes, "
                           "dropout_keep_ratio, normalization, reg, weight_scale, dtype, seed"),
    ("dtype='float32'", "--model-option dtype: FullyConnectedNet is built with dtype=float64 for the "
                        "gradient check"),
    ("reg=0.5", "--model-option reg: set by --reg, not by an option"),
    ("hidden_dims=[3]", "--model-option hidden_dims: set by --inputs/--hidden/--classes or the data"),
])
def test_a_model_option_the_constructor_cannot_take_is_named(option: str, says: str) -> None:
    with pytest.raises(ModelError) as raised:
        load(FC_NET, (3, 6, 6, 2), 0.0, option)
    assert raised.value.message.startswith(says)


@pytest.mark.usefixtures("package")
def test_an_option_picks_the_class_that_takes_it_even_for_one_hidden_layer() -> None:
    assert load(FC_NET, (3, 6, 2)).described.startswith("TwoLayerNet(input_dim=3, hidden_dim=6")
    with_norm = load(FC_NET, (3, 6, 2), 0.0, "normalization=batchnorm")
    assert with_norm.described.startswith("FullyConnectedNet(input_dim=3, hidden_dims=[6]")


@pytest.mark.usefixtures("package")
def test_classes_imported_into_the_file_are_found() -> None:
    """A file with `from cs231n.classifiers.fc_net import FullyConnectedNet, TwoLayerNet` only."""
    deep = load(IMPORTED, (2, 5, 5, 2), 0.0, "weight_scale=1.0")
    assert deep.convention == "cs231n" and deep.described.startswith("FullyConnectedNet(")
    assert_checks(deep, (2, 5, 5, 2))
    assert load(IMPORTED, (2, 5, 1)).described.startswith("TwoLayerNet(input_dim=2, hidden_dim=5")


def test_a_file_with_no_conventions_names_says_what_each_needs(tmp_path: Path) -> None:
    text = ("import numpy as np\n\nclass Perceptron:\n    def __init__(self, n_inputs, n_neurons):\n"
            "        self.weights = np.zeros((n_inputs, n_neurons))\n")
    with pytest.raises(ModelError) as raised:
        load(tmp_path / "nn.py", (2, 4, 1), text=text)
    message = raised.value.message
    assert message.startswith("nn.py defines none of the names a convention needs (its class Perceptron "
                              "has none of their methods): notebook: forward(x, params, y) and backward")
    assert "cs231n: class with params and loss(X, y=None)" in message and "defines no forward" not in message


# ---- --model-option on the command line -------------------------------------------------------
@pytest.mark.parametrize(("text", "value"), [
    ("normalization=batchnorm", "batchnorm"), ("dropout_keep_ratio=0.5", 0.5), ("seed=None", None),
    ("hidden_dims=[4, 4]", [4, 4]), ("name='a b'", "a b"), ("flag=True", True),
])
def test_a_model_option_is_a_literal_or_a_bare_word(text: str, value: Any) -> None:
    assert read_option(text) == (text.partition("=")[0], value)


@pytest.mark.parametrize(("argv", "says"), [
    (["--model-option", "seed=1"], "--model-option only applies to your own model: add --model FILE.py"),
    (["--model", str(README_NET), "--model-option", "x=__import__('os')"],
     "the value is neither a Python literal"),
    (["--model", str(README_NET), "--model-option", "1x=2"], "expected KEY=VALUE with KEY a Python name"),
    (["--model", str(README_NET), "--model-option", "z=1j"], "the value must be None, True/False, a number"),
    (["--model", str(README_NET), "--model-option", "seed=1", "--model-option", "seed=2"],
     "--model-option: seed is given twice"),
])
def test_bad_model_options_are_refused_before_anything_runs(argv: list[str], says: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert_refused(["--headless", *argv], capsys, says)


# ---- the diagnosis's reference on real layouts --------------------------------------------------
def test_the_reference_matches_parameters_by_name_in_any_order_and_row_biases() -> None:
    """b1 first, biases (1, H): the built-in 2-8-2 softmax network is still the reference."""
    arch = Architecture(2, (8,), "relu", 2, network.SOFTMAX_LOSS)
    builtin = network.init_params(arch, 0)
    params = {"b1": builtin["b1"].reshape(1, -1) + 0.1, "W1": builtin["W1"].T,
              "b2": builtin["b2"].reshape(1, -1), "W2": builtin["W2"].T}
    x, y = batch((2, 8, 2))
    _, loss = network.forward(arch, x, {k: v.T if k.startswith("W") else v.reshape(-1)
                                        for k, v in params.items()}, y)
    ref, why = reference_for(arch, params, x, y, loss, False, "cs231n", 0.0)
    assert why is None and ref is not None
    assert ref.true["db1"].shape == (1, 8) and ref.true["dW1"].shape == (2, 8)


def test_a_forgotten_transpose_at_one_layer_is_the_drills_where_the_drill_has_a_place() -> None:
    """The one-layer forgotten transpose the diagnosis tries for any square W equals the
    built-in transpose drill on a network with one square hidden W."""
    from engine.check.diagnose import _Reference  # the reference's own backward variants

    arch = Architecture(3, (4, 4), "relu", 1)
    params = network.init_params(arch, 1)
    x, y = batch((3, 4, 4, 1), n=5)
    ref = _Reference(arch, params, x, y)
    drill, mine = ref.drill("transpose"), ref.forgotten(2)
    for key in ("dW1", "db1", "dW2", "da1", "dz1"):
        np.testing.assert_allclose(mine[key], drill[key], rtol=1e-12, atol=1e-15, err_msg=key)
    assert not np.allclose(mine["dW1"], ref.true["dW1"])


def test_the_transpose_drills_refusal_names_the_hidden_layers_when_the_data_set_the_inputs(
        capsys: pytest.CaptureFixture[str]) -> None:
    err = assert_refused(["--headless", "--dataset", "moons", "--hidden", "2", "--classes", "2",
                          "--inject-bug", "transpose"], capsys,
                         "this network's hidden layer has 2 units and its output layer 2 (its inputs "
                         "are the data's)")
    assert "3-2-2" not in err
    assert_refused(["--headless", "--inputs", "2", "--hidden", "2", "--classes", "2", "--inject-bug",
                    "transpose"], capsys, "this network is 2-2-2")
