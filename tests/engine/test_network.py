"""engine.maths.network on its own: the forward and backward passes against numbers worked
out by hand and against the seed notebook's printed output, every activation and loss, the
shapes, the mini-batch means, and the fault drills' one broken line each.

Every number here is exact or printed by the notebook; no test compares the network with
itself, so a wrong sign, factor, transpose or index changes some assertion.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from engine.maths import network
from engine.maths.network import Architecture, Params, backward, forward, init_params, sgd_update

NOTEBOOK_X = np.array([0.2, -0.4, 0.1])
#: The seed notebook's output (backprop_seed_notebook.txt), to the digits it prints.
NOTEBOOK_LOSS = 1.1732865037089109
NOTEBOOK_DW1 = np.array([[-0.03342232, 0.06684463, -0.01671116],
                         [0.26428194, -0.52856388, 0.13214097],
                         [0.0, 0.0, 0.0],
                         [0.07766893, -0.15533787, 0.03883447]])
NOTEBOOK_DW2 = np.array([[-0.15154094, -0.25889318, 0.0, -0.17080231]])
NOTEBOOK_W1_AFTER = np.array([[0.50005638, -0.14494876, 0.64935965],
                              [1.49660166, -0.18129699, -0.24735105],
                              [1.57921282, 0.76743473, -0.46947439],
                              [0.53479315, -0.44788391, -0.4696132]])
NOTEBOOK_W2_AFTER = np.array([[0.25711637, -1.88739093, -1.72491783, -0.5452073]])
NOTEBOOK_FINAL_LOSS = 0.9036177230801858
PRINTED = {"rtol": 0, "atol": 6e-9}  # the notebook prints eight decimals


def notebook_step() -> tuple[Params, dict[str, np.ndarray], float]:
    params = init_params(network.NOTEBOOK, 42)
    cache, loss = forward(network.NOTEBOOK, NOTEBOOK_X, params, 1)
    return params, backward(network.NOTEBOOK, NOTEBOOK_X, 1, params, cache), loss


# ---- the seed notebook's numbers ------------------------------------------------------------

def test_the_notebooks_initial_loss_and_gradients() -> None:
    _, grads, loss = notebook_step()
    assert loss == pytest.approx(NOTEBOOK_LOSS, rel=1e-15)
    np.testing.assert_allclose(grads["dW1"], NOTEBOOK_DW1, **PRINTED)
    np.testing.assert_allclose(grads["dW2"], NOTEBOOK_DW2, **PRINTED)
    assert grads["dW1"][1, 1] == pytest.approx(-0.52856388, abs=5e-9)
    # db is dz: the notebook's dW1 rows are dz1 times x, so db1 = dW1[:, 0] / x[0].
    np.testing.assert_allclose(grads["db1"], NOTEBOOK_DW1[:, 0] / 0.2, rtol=1e-6, atol=1e-12)
    # For y = 1 the loss is -log a2, so db2 = dz2 = a2 - y = e^-loss - 1.
    np.testing.assert_allclose(grads["db2"], [np.exp(-NOTEBOOK_LOSS) - 1], rtol=1e-14)


def test_the_notebooks_sgd_step_and_final_loss() -> None:
    params, grads, _ = notebook_step()
    after = sgd_update(params, grads, 0.1)
    np.testing.assert_allclose(after["W1"], NOTEBOOK_W1_AFTER, **PRINTED)
    np.testing.assert_allclose(after["W2"], NOTEBOOK_W2_AFTER, **PRINTED)
    _, final = forward(network.NOTEBOOK, NOTEBOOK_X, after, 1)
    assert final == pytest.approx(NOTEBOOK_FINAL_LOSS, rel=1e-14)


def test_the_notebooks_draws_are_one_random_state_in_layer_order() -> None:
    rs = np.random.RandomState(42)
    params = init_params(network.NOTEBOOK, 42)
    np.testing.assert_array_equal(params["W1"], rs.randn(4, 3))
    np.testing.assert_array_equal(params["W2"], rs.randn(1, 4))
    assert not params["b1"].any() and not params["b2"].any()
    assert list(params) == ["W1", "b1", "W2", "b2"]


def test_sgd_update_makes_new_arrays_and_leaves_the_old_ones() -> None:
    params, grads, _ = notebook_step()
    before = {name: value.copy() for name, value in params.items()}
    after = sgd_update(params, grads, 0.5)
    for name in params:
        np.testing.assert_array_equal(params[name], before[name])
        np.testing.assert_allclose(after[name], before[name] - 0.5 * grads["d" + name], rtol=0, atol=0)


# ---- a network small enough to work out by hand ----------------------------------------------

#: 2 -> 2 relu -> 1 sigmoid. z1 = W1 x + b1 = (1 - 2, 0.5 + 4 - 1) = (-1, 3.5): unit 1 is
#: dead, unit 2 alive; a1 = (0, 3.5); z2 = 2·0 - 1·3.5 + 0.5 = -3.
HAND = Architecture(2, (2,))
HAND_PARAMS = {"W1": np.array([[1.0, -1.0], [0.5, 2.0]]), "b1": np.array([0.0, -1.0]),
               "W2": np.array([[2.0, -1.0]]), "b2": np.array([0.5])}
HAND_X = np.array([1.0, 2.0])


@pytest.mark.parametrize("y", [0, 1])
def test_the_hand_worked_forward_pass(y: int) -> None:
    cache, loss = forward(HAND, HAND_X, HAND_PARAMS, y)
    np.testing.assert_array_equal(cache["z1"], [-1.0, 3.5])
    np.testing.assert_array_equal(cache["a1"], [0.0, 3.5])
    np.testing.assert_array_equal(cache["z2"], [-3.0])
    assert cache["a2"][0] == pytest.approx(1 / (1 + np.exp(3.0)), rel=1e-15)
    # BCE: -log σ(-3) = log(1 + e^3) for y = 1; -log(1 - σ(-3)) = log(1 + e^-3) for y = 0.
    assert loss == pytest.approx(np.log1p(np.exp(3.0 if y else -3.0)), rel=1e-15)
    assert list(cache) == ["x", "z1", "a1", "z2", "a2"]


@pytest.mark.parametrize("y", [0, 1])
def test_the_hand_worked_backward_pass(y: int) -> None:
    cache, _ = forward(HAND, HAND_X, HAND_PARAMS, y)
    grads = backward(HAND, HAND_X, y, HAND_PARAMS, cache)
    dz2 = 1 / (1 + np.exp(3.0)) - y  # a2 - y
    assert list(grads) == ["dW1", "db1", "dW2", "db2", "dz2", "da1", "dz1"]
    np.testing.assert_allclose(grads["dz2"], [dz2], rtol=1e-15)
    np.testing.assert_allclose(grads["db2"], [dz2], rtol=1e-15)
    np.testing.assert_allclose(grads["dW2"], [[0.0, 3.5 * dz2]], rtol=1e-15)  # dz2 a1ᵀ
    np.testing.assert_allclose(grads["da1"], [2 * dz2, -dz2], rtol=1e-15)  # W2ᵀ dz2
    np.testing.assert_allclose(grads["dz1"], [0.0, -dz2], rtol=1e-15)  # the dead unit passes 0
    np.testing.assert_allclose(grads["db1"], [0.0, -dz2], rtol=1e-15)
    np.testing.assert_allclose(grads["dW1"], [[0.0, 0.0], [-dz2, -2 * dz2]], rtol=1e-15)  # dz1 xᵀ


def test_a_unit_exactly_at_its_kink_passes_no_gradient() -> None:
    """relu'(0) = 0, the notebook's convention: z1 = 0 is a dead unit."""
    params = dict(HAND_PARAMS, b1=np.array([1.0, -1.0]))  # z1 = (0, 3.5)
    cache, _ = forward(HAND, HAND_X, params, 1)
    assert cache["z1"][0] == 0.0
    grads = backward(HAND, HAND_X, 1, params, cache)
    assert grads["dz1"][0] == 0.0 and grads["da1"][0] != 0.0


def test_three_layers_by_hand_with_a_square_hidden_weight() -> None:
    """1 -> 2 -> 2 -> 1 with identity-like weights, tanh: the chain rule layer by layer."""
    arch = Architecture(1, (2, 2), "tanh")
    params = {"W1": np.array([[1.0], [-2.0]]), "b1": np.zeros(2),
              "W2": np.array([[1.0, 0.0], [1.0, 1.0]]), "b2": np.array([0.0, 0.5]),
              "W3": np.array([[1.0, -1.0]]), "b3": np.zeros(1)}
    x = np.array([0.5])
    cache, _ = forward(arch, x, params, 0)
    a1 = np.tanh([0.5, -1.0])
    z2 = np.array([a1[0], a1[0] + a1[1] + 0.5])
    np.testing.assert_allclose(cache["z2"], z2, rtol=1e-15)
    a2 = np.tanh(z2)
    z3 = a2[0] - a2[1]
    np.testing.assert_allclose(cache["z3"], [z3], rtol=1e-15)
    grads = backward(arch, x, 0, params, cache)
    dz3 = 1 / (1 + np.exp(-z3))  # a3 - 0
    da2 = np.array([dz3, -dz3])
    dz2 = da2 * (1 - a2 ** 2)
    da1 = np.array([dz2[0] + dz2[1], dz2[1]])  # W2ᵀ dz2, W2 not symmetric
    dz1 = da1 * (1 - a1 ** 2)
    np.testing.assert_allclose(grads["dW3"], [dz3 * a2], rtol=1e-14)
    np.testing.assert_allclose(grads["da2"], da2, rtol=1e-14)
    np.testing.assert_allclose(grads["dW2"], np.outer(dz2, a1), rtol=1e-14)
    np.testing.assert_allclose(grads["da1"], da1, rtol=1e-14)
    np.testing.assert_allclose(grads["dW1"], np.outer(dz1, x), rtol=1e-14)
    np.testing.assert_allclose(grads["db1"], dz1, rtol=1e-14)
    assert list(grads) == ["dW1", "db1", "dW2", "db2", "dW3", "db3", "dz3", "da2", "dz2", "da1", "dz1"]


# ---- activations ------------------------------------------------------------------------------

Z = np.array([-3.0, -0.5, -1e-3, 0.0, 1e-3, 0.5, 3.0])


def test_each_activation_at_known_points() -> None:
    np.testing.assert_array_equal(network.relu(Z), [0, 0, 0, 0, 1e-3, 0.5, 3.0])
    np.testing.assert_array_equal(network.relu_derivative(Z), [0, 0, 0, 0, 1, 1, 1])
    np.testing.assert_allclose(network.leaky_relu(Z), [-0.03, -0.005, -1e-5, 0, 1e-3, 0.5, 3.0], rtol=1e-15)
    np.testing.assert_array_equal(network.leaky_relu_derivative(Z), [0.01] * 4 + [1.0] * 3)
    np.testing.assert_allclose(network.sigmoid(np.array([0.0, np.log(3.0)])), [0.5, 0.75], rtol=1e-15)
    np.testing.assert_allclose(network.sigmoid(-Z), 1 - network.sigmoid(Z), rtol=1e-14)
    assert [a.symbol for a in network.ACTIVATIONS.values()] == ["relu", "lrelu", "tanh", "σ"]
    assert [a.kinked for a in network.ACTIVATIONS.values()] == [True, True, False, False]


@pytest.mark.parametrize("name", list(network.ACTIVATIONS))
def test_each_derivative_is_the_slope_of_its_function(name: str) -> None:
    f = network.ACTIVATIONS[name]
    z = np.array([-2.5, -0.7, 0.3, 1.9])  # away from the kink
    h = 1e-6
    np.testing.assert_allclose(f.derivative(z), (f.f(z + h) - f.f(z - h)) / (2 * h), rtol=1e-7, atol=1e-9)


def test_sigmoid_and_softmax_never_overflow() -> None:
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        np.testing.assert_array_equal(network.sigmoid(np.array([-1000.0, 1000.0])), [0.0, 1.0])
        np.testing.assert_allclose(network.softmax(np.array([1000.0, 1000.0, 998.0])),
                                   np.exp([0.0, 0.0, -2.0]) / (2 + np.exp(-2.0)), rtol=1e-15)


def test_softmax_is_over_the_last_axis() -> None:
    z = np.array([[0.0, np.log(3.0)], [np.log(4.0), 0.0]])
    np.testing.assert_allclose(network.softmax(z), [[0.25, 0.75], [0.8, 0.2]], rtol=1e-15)


# ---- losses -----------------------------------------------------------------------------------

def test_bce_from_the_logit() -> None:
    z = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(network.bce_from_logit(z, 1), np.log1p(np.exp(-z)), rtol=1e-15)
    np.testing.assert_allclose(network.bce_from_logit(z, 0), np.log1p(np.exp(z)), rtol=1e-15)
    assert network.bce_from_logit(np.array(800.0), 0) == pytest.approx(800.0)  # finite, no overflow
    assert network.bce_from_logit(np.array(800.0), 1) == pytest.approx(0.0, abs=1e-300)


def test_output_loss_of_each_kind() -> None:
    z = np.array([np.log(3.0)])  # σ(z) = 0.75
    assert network.output_loss("bce", z, 1) == pytest.approx(-np.log(0.75), rel=1e-15)
    assert network.output_loss("mse", z, 1) == pytest.approx(0.5 * 0.25 ** 2, rel=1e-14)
    assert network.output_loss("mse", z, 0) == pytest.approx(0.5 * 0.75 ** 2, rel=1e-14)
    k = np.array([0.0, np.log(2.0), np.log(5.0)])  # softmax (1, 2, 5) / 8
    assert network.output_loss("cross-entropy", k, 2) == pytest.approx(-np.log(5 / 8), rel=1e-14)
    assert network.output_loss("cross-entropy", k, 0) == pytest.approx(np.log(8.0), rel=1e-14)
    assert network.output_loss("cross-entropy", k + 1000.0, 1) == pytest.approx(np.log(4.0), rel=1e-12)


def test_output_loss_is_one_value_per_leading_index() -> None:
    """A batch of perturbed logits (the vectorised check) and a mini-batch's labels."""
    logits = np.array([[0.0, np.log(3.0)], [np.log(3.0), 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(network.output_loss("cross-entropy", logits, np.array([1, 1, 0])),
                               [-np.log(0.75), -np.log(0.25), np.log(2.0)], rtol=1e-14)
    np.testing.assert_allclose(network.output_loss("cross-entropy", logits, 1),
                               [-np.log(0.75), -np.log(0.25), np.log(2.0)], rtol=1e-14)
    column = np.array([[0.0], [np.log(3.0)]])
    np.testing.assert_allclose(network.output_loss("bce", column, np.array([1, 0])),
                               [np.log(2.0), np.log(4.0)], rtol=1e-14)


def test_the_output_delta_of_each_loss() -> None:
    a = np.array([0.75])
    np.testing.assert_allclose(network.output_delta("bce", a, 1), [-0.25], rtol=1e-15)
    np.testing.assert_allclose(network.output_delta("mse", a, 1), [-0.25 * 0.75 * 0.25], rtol=1e-15)
    p = np.array([0.125, 0.25, 0.625])
    np.testing.assert_allclose(network.output_delta("cross-entropy", p, 1), [0.125, -0.75, 0.625],
                               rtol=1e-15)
    batch = np.array([[0.125, 0.875], [0.5, 0.5]])
    np.testing.assert_allclose(network.output_delta("cross-entropy", batch, np.array([1, 0])),
                               [[0.125, -0.125], [-0.5, 0.5]], rtol=1e-15)
    np.testing.assert_allclose(network.output_delta("bce", np.array([[0.75], [0.25]]), np.array([1, 0])),
                               [[-0.25], [0.25]], rtol=1e-15)


@pytest.mark.parametrize(("activation", "classes", "loss"), [
    ("relu", 1, "bce"), ("leaky-relu", 1, "mse"), ("tanh", 3, "cross-entropy"),
    ("sigmoid", 4, "cross-entropy"), ("tanh", 1, "mse"), ("sigmoid", 1, "bce")])
def test_backward_is_the_slope_of_forward_for_every_activation_and_loss(activation: str, classes: int,
                                                                      loss: str) -> None:
    """Two hidden layers of different widths, a central difference of every parameter."""
    arch = Architecture(3, (5, 4), activation, classes, loss)
    rng = np.random.default_rng(7)
    params = {name: rng.normal(size=shape) for name, shape in network.param_shapes(arch).items()}
    x, y = rng.normal(size=3), classes - 1
    cache, _ = forward(arch, x, params, y)
    if arch.f.kinked:
        assert min(np.abs(cache[f"z{l}"]).min() for l in (1, 2)) > 1e-3  # no kink within reach
    grads = backward(arch, x, y, params, cache)
    h = 1e-6
    for name, value in params.items():
        numerical = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            plus = {**params, name: value.copy()}
            plus[name][idx] += h
            minus = {**params, name: value.copy()}
            minus[name][idx] -= h
            numerical[idx] = (forward(arch, x, plus, y)[1] - forward(arch, x, minus, y)[1]) / (2 * h)
        np.testing.assert_allclose(grads["d" + name], numerical, rtol=1e-5, atol=1e-8, err_msg=name)


# ---- shapes -----------------------------------------------------------------------------------

def test_the_architecture_and_its_shapes() -> None:
    arch = Architecture(5, (6, 6, 3), "tanh", 4, "cross-entropy")
    assert arch.sizes == (5, 6, 6, 3, 4) and arch.depth == 4
    assert arch.param_names == ("W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4")
    assert arch.param_count == 6 * 6 + 6 * 7 + 3 * 7 + 4 * 4
    assert arch.label == "5-6-6-3-4" and arch.output == "softmax" and network.NOTEBOOK.output == "σ"
    assert arch.square_layers() == [2]
    assert Architecture(3, (4, 4, 4)).square_layers() == [2, 3]
    assert network.NOTEBOOK.square_layers() == []
    assert network.param_shapes(arch) == {"W1": (6, 5), "b1": (6,), "W2": (6, 6), "b2": (6,),
                                          "W3": (3, 6), "b3": (3,), "W4": (4, 3), "b4": (4,)}


@pytest.mark.parametrize("batch", [None, 7])
def test_every_tensor_has_its_layers_shape_one_row_a_sample(batch: int | None) -> None:
    arch = Architecture(5, (6, 3), "relu", 4, "cross-entropy")
    params = init_params(arch, 3, "he")
    rng = np.random.default_rng(1)
    rows = () if batch is None else (batch,)
    x = rng.normal(size=(*rows, 5))
    y = 2 if batch is None else rng.integers(0, 4, size=batch)
    cache, loss = forward(arch, x, params, y)
    grads = backward(arch, x, y, params, cache)
    assert np.isfinite(loss)
    for l, n in enumerate(arch.sizes[1:], start=1):
        assert cache[f"z{l}"].shape == cache[f"a{l}"].shape == grads[f"dz{l}"].shape == (*rows, n)
    for l in (1, 2):
        assert grads[f"da{l}"].shape == (*rows, arch.sizes[l])
    for name, shape in network.param_shapes(arch).items():
        assert params[name].shape == grads["d" + name].shape == shape


@pytest.mark.parametrize(("init", "scale"), [("notebook", lambda i, o: 1.0),
                                             ("he", lambda i, o: np.sqrt(2.0 / i)),
                                             ("xavier", lambda i, o: np.sqrt(2.0 / (i + o)))])
def test_each_init_scales_the_notebooks_draws(init: str, scale) -> None:  # type: ignore[no-untyped-def]
    arch = Architecture(5, (3,), classes=2, loss="cross-entropy")
    rs = np.random.RandomState(9)
    params = init_params(arch, 9, init)
    np.testing.assert_array_equal(params["W1"], rs.randn(3, 5) * scale(5, 3))
    np.testing.assert_array_equal(params["W2"], rs.randn(2, 3) * scale(3, 2))


# ---- mini-batches -----------------------------------------------------------------------------

@pytest.mark.parametrize(("activation", "classes", "loss"), [("relu", 1, "bce"), ("tanh", 3, "cross-entropy"),
                                                            ("sigmoid", 1, "mse")])
def test_a_batch_is_the_mean_of_its_samples(activation: str, classes: int, loss: str) -> None:
    arch = Architecture(3, (4, 2), activation, classes, loss)
    params = init_params(arch, 11, "xavier")
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(5, 3)), rng.integers(0, max(2, classes), size=5)
    cache, loss_value = forward(arch, X, params, y)
    grads = backward(arch, X, y, params, cache)
    singles = [backward(arch, X[i], int(y[i]), params, forward(arch, X[i], params, int(y[i]))[0])
               for i in range(5)]
    losses = [forward(arch, X[i], params, int(y[i]))[1] for i in range(5)]
    assert loss_value == pytest.approx(np.mean(losses), rel=1e-14)
    for name in arch.param_names:
        np.testing.assert_allclose(grads["d" + name], np.mean([s["d" + name] for s in singles], axis=0),
                                   rtol=1e-12, atol=1e-15)
    for name in ("dz3", "da2", "dz2", "da1", "dz1"):  # kept per sample, one row each
        np.testing.assert_allclose(grads[name], [s[name] for s in singles], rtol=1e-12, atol=1e-15)


def test_forward_each_gives_every_samples_loss_and_can_skip_the_output() -> None:
    arch = Architecture(2, (3,), "tanh", 3, "cross-entropy")
    params = init_params(arch, 4)
    X, y = np.array([[0.1, 0.2], [-1.0, 0.5]]), np.array([0, 2])
    cache, each = network.forward_each(arch, X, params, y, output=False)
    assert "a2" not in cache and "a1" in cache
    np.testing.assert_allclose(each, [forward(arch, X[i], params, int(y[i]))[1] for i in range(2)],
                               rtol=1e-14)


def test_forward_chunks_covers_every_row_once(monkeypatch: pytest.MonkeyPatch) -> None:
    arch = Architecture(2, (3,), "relu")
    monkeypatch.setattr(network, "ROWS_CHUNK", 2 * sum(arch.sizes))  # two rows a chunk
    params = init_params(arch, 4)
    X, y = np.random.default_rng(0).normal(size=(5, 2)), np.array([0, 1, 1, 0, 1])
    chunks = list(network.forward_chunks(arch, X, params, y))
    assert [part for part, _, _ in chunks] == [slice(0, 2), slice(2, 4), slice(4, 6)]
    _, whole = network.forward_each(arch, X, params, y)
    np.testing.assert_allclose(np.concatenate([losses for _, _, losses in chunks]), whole, rtol=1e-15)


def test_predictions_and_which_rows_decide() -> None:
    one = np.array([[0.5], [-0.5], [0.0], [np.nan]])
    np.testing.assert_array_equal(network.predictions(one), [1, 0, 0, 0])
    np.testing.assert_array_equal(network.decided(one), [True, True, True, False])
    many = np.array([[0.1, 2.0, -1.0], [3.0, 2.0, 1.0], [np.inf, 0.0, 0.0]])
    np.testing.assert_array_equal(network.predictions(many), [1, 0, 0])
    np.testing.assert_array_equal(network.decided(many), [True, True, False])
    assert network.mean_loss(np.array([1.0, 2.0, 6.0])) == 3.0


def test_kink_sides_are_the_hidden_units_sides_for_a_kinked_activation_only() -> None:
    cache, _ = forward(HAND, HAND_X, HAND_PARAMS, 1)
    sides = network.kink_sides(HAND, cache)
    assert len(sides) == 1
    np.testing.assert_array_equal(sides[0], [False, True])
    assert network.kink_sides(Architecture(2, (2,), "tanh"), cache) == []


# ---- the fault drills ---------------------------------------------------------------------------

Tensors = dict[str, np.ndarray]


def drilled(arch: Architecture, bug: str, seed: int = 5) -> tuple[Tensors, Tensors, Tensors]:
    """The true gradients, the drill's, and the forward cache, on a random sample."""
    params = init_params(arch, seed)
    x = np.random.default_rng(seed).normal(size=arch.inputs)
    cache, _ = forward(arch, x, params, 1)
    return backward(arch, x, 1, params, cache), backward(arch, x, 1, params, cache, bug), cache


def test_the_sign_drill_negates_every_gradient() -> None:
    true, broken, _ = drilled(network.NOTEBOOK, "sign")
    for name, value in true.items():
        np.testing.assert_array_equal(broken[name], -value)


def test_the_bias_drill_zeroes_the_biases_only() -> None:
    true, broken, _ = drilled(network.NOTEBOOK, "bias-grad")
    for name, value in true.items():
        expected = np.zeros_like(value) if name.startswith("db") else value
        np.testing.assert_array_equal(broken[name], expected)


def test_the_cache_drill_uses_the_last_pre_activation() -> None:
    true, broken, cache = drilled(network.NOTEBOOK, "cache")
    np.testing.assert_array_equal(broken["dW2"], np.outer(true["dz2"], cache["z1"]))
    for name in ("dW1", "db1", "db2"):
        np.testing.assert_array_equal(broken[name], true[name])


def test_the_activation_drill_takes_the_derivative_as_one() -> None:
    true, broken, cache = drilled(network.NOTEBOOK, "activation-grad", seed=42)
    assert not (cache["z1"] > 0).all()  # a dead unit, whose gradient the drill lets through
    np.testing.assert_array_equal(broken["dz1"], true["da1"])
    np.testing.assert_array_equal(broken["dW2"], true["dW2"])
    assert not np.array_equal(broken["dW1"], true["dW1"])


def test_the_transpose_drill_forgets_the_transpose_of_a_square_hidden_weight() -> None:
    arch = Architecture(3, (4, 4))
    params = init_params(arch, 5)
    true, broken, _ = drilled(arch, "transpose")
    np.testing.assert_array_equal(broken["da1"], params["W2"] @ true["dz2"])
    np.testing.assert_array_equal(broken["da2"], true["da2"])  # W3 is not square: untouched
    np.testing.assert_array_equal(broken["dW3"], true["dW3"])
    assert set(network.BUGS) == {"activation-grad", "bias-grad", "sign", "cache", "transpose", "penalty-loss"}
    assert network.BUG_ALIASES == {"relu-grad": "activation-grad"}
