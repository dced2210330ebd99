"""engine.maths.fastcheck against engine.maths.slopes: the vectorised central differences,
kink masks and one-sided slopes equal the element-by-element method's, on every activation
and loss, across kinks, at large eps and split into blocks; and the slope itself at the
ends of the float range.

The loop method is driven through a small adapter of the network's own forward pass, so
these tests need nothing above engine.maths.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.maths import fastcheck, network
from engine.maths.fastcheck import fast_numerical, slope
from engine.maths.network import Architecture, Array, Labels, Params, Tensors
from engine.maths.slopes import loop_numerical
from tests.helpers import FIXTURES


class Plain:
    """The network as the loop method sees a model: its forward pass and its kink sides."""

    def __init__(self, arch: Architecture) -> None:
        self.arch = arch

    def forward(self, x: Array, params: Params, y: Labels) -> tuple[Tensors, float]:
        return network.forward(self.arch, x, params, y)

    def kink_sides(self, cache: Tensors) -> list[np.ndarray]:
        return network.kink_sides(self.arch, cache)


def both(arch: Architecture, params: Params, x: Array, y: Labels, eps: float
         ) -> tuple[dict[str, tuple[Array, Array, Array]], dict[str, tuple[Array, Array, Array]]]:
    return fast_numerical(arch, params, x, y, eps), loop_numerical(Plain(arch), params, x, y, eps, None)


def assert_same(fast: dict[str, tuple[Array, Array, Array]], loop: dict[str, tuple[Array, Array, Array]],
                rtol: float = 1e-7, atol: float = 1e-9) -> None:
    assert list(fast) == list(loop)
    for name in loop:
        (f_num, f_kinks, f_sides), (l_num, l_kinks, l_sides) = fast[name], loop[name]
        assert f_num.shape == l_num.shape and f_sides.shape == (2, *l_num.shape)
        np.testing.assert_allclose(f_num, l_num, rtol=rtol, atol=atol, err_msg=name)
        np.testing.assert_array_equal(f_kinks, l_kinks, err_msg=name)
        np.testing.assert_array_equal(np.isnan(f_sides), np.isnan(l_sides), err_msg=name)
        np.testing.assert_allclose(f_sides, l_sides, rtol=rtol, atol=atol, err_msg=name)


CASES = [(activation, classes, loss) for activation in network.ACTIVATIONS
         for classes, loss in ((1, "bce"), (1, "mse"), (3, "cross-entropy"))]


@pytest.mark.parametrize(("activation", "classes", "loss"), CASES)
def test_fast_equals_loop_for_every_activation_and_loss(activation: str, classes: int, loss: str) -> None:
    arch = Architecture(3, (4, 3), activation, classes, loss)
    params = network.init_params(arch, 12, "xavier")
    x = np.random.default_rng(12).normal(size=3)
    fast, loop = both(arch, params, x, classes - 1, 1e-5)
    assert_same(fast, loop)
    grads = network.backward(arch, x, classes - 1, params, network.forward(arch, x, params, classes - 1)[0])
    for name in arch.param_names:  # and both are the gradient, away from kinks
        if not fast[name][1].any():
            np.testing.assert_allclose(fast[name][0], grads["d" + name], rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("eps", [0.3, 3.0])
@pytest.mark.parametrize("activation", ["relu", "leaky-relu"])
def test_fast_equals_loop_where_large_nudges_cross_downstream_kinks(activation: str, eps: float) -> None:
    arch = Architecture(2, (5, 5, 4), activation, 3, "cross-entropy")
    params = network.init_params(arch, 3, "he")
    fast, loop = both(arch, params, np.array([0.4, -0.9]), 2, eps)
    assert any(kinks.any() for _, kinks, _ in loop.values())  # the case does cross kinks
    assert_same(fast, loop, rtol=1e-6, atol=1e-9)


def test_at_x_zero_every_bias_nudge_straddles_its_kink_and_keeps_both_slopes() -> None:
    """x = 0 puts every z1 = b1 = 0 on its kink: a bias nudge of -eps leaves the unit dead
    (left slope 0) and +eps wakes it (right slope W2[0, i] (a2 - y))."""
    arch = network.NOTEBOOK
    params = network.init_params(arch, 42)
    x = np.zeros(3)
    fast, loop = both(arch, params, x, 1, 1e-5)
    assert_same(fast, loop)
    num, kinks, sides = fast["b1"]
    assert kinks.all() and not fast["W1"][1].any()  # W1's nudges are eps x = 0: no move
    a2 = network.sigmoid(params["b2"])[0]
    np.testing.assert_allclose(sides[0], 0.0, atol=1e-12)
    np.testing.assert_allclose(sides[1], params["W2"][0] * (a2 - 1), rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(num, (sides[0] + sides[1]) / 2, rtol=1e-4, atol=1e-9)
    for name in ("W2", "b2"):
        assert np.isnan(fast[name][2]).all()  # no kinks, no one-sided slopes


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_a_check_split_in_blocks_equals_it_whole(activation: str, monkeypatch: pytest.MonkeyPatch) -> None:
    arch = Architecture(4, (6, 5), activation, 3, "cross-entropy")
    params = network.init_params(arch, 8, "he")
    x = np.random.default_rng(8).normal(size=4)
    whole = fast_numerical(arch, params, x, 0, 0.5)
    monkeypatch.setattr(fastcheck, "CHUNK", 7)  # blocks of a few numbers, on the thread pool
    monkeypatch.setattr(fastcheck, "POOLED", 0)
    assert_same(fast_numerical(arch, params, x, 0, 0.5), whole, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_a_small_check_runs_on_the_calling_thread_with_the_pools_numbers(
        activation: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Below POOLED parameters no thread is started (the headless report's start-up), and
    the numbers are those of the same check on the pool, to the bit."""
    arch = Architecture(4, (6, 5), activation, 3, "cross-entropy")
    params = network.init_params(arch, 8, "he")
    x = np.random.default_rng(8).normal(size=4)
    monkeypatch.setattr(fastcheck, "CHUNK", 7)  # several blocks, so the pool would get them
    monkeypatch.setattr(fastcheck, "POOLED", 0)
    pooled = fast_numerical(arch, params, x, 0, 0.5)
    monkeypatch.undo()
    monkeypatch.setattr(fastcheck, "CHUNK", 7)

    def no_pool() -> None:
        raise AssertionError("a small check started the thread pool")

    monkeypatch.setattr(fastcheck, "_pool", no_pool)
    here = fast_numerical(arch, params, x, 0, 0.5)
    assert list(here) == list(pooled)
    for name, arrays in pooled.items():
        for mine, theirs in zip(here[name], arrays, strict=True):
            np.testing.assert_array_equal(mine, theirs, err_msg=name)


@pytest.mark.parametrize("eps", [1e-5, 0.5, 2.0])
def test_a_softmax_output_nudge_near_and_far(eps: float) -> None:
    """Nudges of the output logits by |δ| <= 1 take the closed form, larger ones the full
    loss; both equal the loop method's."""
    arch = Architecture(2, (3,), "tanh", 4, "cross-entropy")
    params = network.init_params(arch, 21)
    fast, loop = both(arch, params, np.array([1.5, -0.5]), 3, eps)
    assert_same(fast, loop, rtol=1e-9, atol=1e-10)  # rounding: about 1e-16 |L| / eps


def test_the_central_difference_at_the_ends_of_the_float_range() -> None:
    assert slope(3.0, 1.0, 0.5) == 2.0
    assert slope(1.0, -1.0, 1e308) == pytest.approx(1e-308)  # 2 eps would overflow
    assert slope(1e-310, -1e-310, 1e-310) == pytest.approx(1.0)  # 1 / (2 eps) would be inf
    np.testing.assert_array_equal(slope(np.array([1.0, 4.0]), np.array([0.0, 0.0]), 1.0), [0.5, 2.0])


#: Networks whose numbers the method before issue 28 computed (tests/fixtures/fastcheck_before.npz,
#: from that method at commit 1d9f78e): (inputs, hidden, activation, classes, loss, eps), each
#: drawn with seed 30 + its index, and the tensors whose path is unchanged, to the bit: every
#: tensor behind one sigmoid output, except a smooth layer's with two layers after it (a
#: series now); behind a softmax, the output layer's.
BEFORE = [((3, (4, 3), "relu", 1, "bce", 1e-5), ("W1", "b1", "W2", "b2", "W3", "b3")),
          ((4, (5,), "leaky-relu", 1, "mse", 1e-5), ("W1", "b1", "W2", "b2")),
          ((2, (5, 5, 4), "relu", 1, "bce", 0.3), ("W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4")),
          ((3, (5,), "tanh", 1, "bce", 1e-5), ("W1", "b1", "W2", "b2")),
          ((3, (4, 3), "sigmoid", 1, "mse", 1e-3), ("W2", "b2", "W3", "b3")),
          ((3, (4, 3), "relu", 6, "cross-entropy", 1e-5), ("W3", "b3")),
          ((3, (4, 3), "tanh", 6, "cross-entropy", 0.5), ("W3", "b3"))]


@pytest.mark.parametrize("index", range(len(BEFORE)))
def test_the_unchanged_paths_give_the_earlier_numbers_to_the_bit(index: int) -> None:
    (n0, hidden, activation, classes, loss, eps), unchanged = BEFORE[index]
    arch = Architecture(n0, hidden, activation, classes, loss)
    params = network.init_params(arch, 30 + index, "he")
    x = np.random.default_rng(30 + index).normal(size=n0)
    before = np.load(FIXTURES / "fastcheck_before.npz")
    now = fast_numerical(arch, params, x, classes - 1 if classes > 1 else 1, eps)
    for name in arch.param_names:
        for part, array in zip(("num", "kinks", "sides"), now[name], strict=True):
            if name in unchanged:
                np.testing.assert_array_equal(array, before[f"{index}/{name}/{part}"], err_msg=name)
            else:  # a series: the same numbers to rounding
                np.testing.assert_allclose(array, before[f"{index}/{name}/{part}"], rtol=1e-7, atol=1e-9)


def random_net(seed: int, activation: str, classes: int) -> tuple[Architecture, Params, Array, int]:
    """A small network of 1 to 3 hidden layers of random widths, its He draws and a sample."""
    rng = np.random.default_rng(seed)
    hidden = tuple(int(n) for n in rng.integers(2, 7, size=rng.integers(1, 4)))
    loss = "cross-entropy" if classes > 1 else ("bce", "mse")[seed % 2]
    arch = Architecture(int(rng.integers(1, 5)), hidden, activation, classes, loss)
    x = rng.normal(size=arch.inputs)
    return arch, network.init_params(arch, seed, "he"), x, int(rng.integers(classes))


@pytest.mark.parametrize("eps", [1e-5, 1e-3, 0.1])
@pytest.mark.parametrize("classes", [1, 4])
@pytest.mark.parametrize("activation", list(network.ACTIVATIONS))
def test_random_nets_of_every_activation_agree_with_the_loop(activation: str, classes: int,
                                                              eps: float) -> None:
    """The series (softmax, smooth layers) and their exact fallbacks, on nets of 1 to 3
    hidden layers: the loop method's numbers to rounding, kinks and slopes alike."""
    for seed in range(4):
        arch, params, x, y = random_net(seed * 7 + classes, activation, classes)
        fast, loop = both(arch, params, x, y, eps)
        assert_same(fast, loop, rtol=1e-7, atol=1e-9 if eps < 0.1 else 1e-7)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_a_wide_softmax_behind_a_hidden_layer_takes_the_series_and_agrees(
        activation: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hidden nudge before 300 classes is carried by the cross-entropy's series, never by
    its 300 logits (at eps 1e-5 every one is within RHO), and gives the loop's numbers."""
    arch = Architecture(5, (6,), activation, 300, "cross-entropy")
    params = network.init_params(arch, 4, "he")
    x = np.random.default_rng(4).normal(size=5)
    loop = loop_numerical(Plain(arch), params, x, 17, 1e-5, None)

    def no_logits(*args: object) -> Array:
        raise AssertionError("a hidden nudge evaluated its logits")

    monkeypatch.setattr(fastcheck._Layer, "_rank_one", no_logits)
    assert_same(fast_numerical(arch, params, x, 17, 1e-5), loop)


def test_past_the_series_radius_a_nudge_takes_the_logits_or_the_layers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With the series' reach cut to nothing every hidden nudge is evaluated exactly, and
    the numbers are the series' to rounding: neither path is the other's accident."""
    arch = Architecture(3, (5, 4), "tanh", 5, "cross-entropy")
    params = network.init_params(arch, 9, "he")
    x = np.random.default_rng(9).normal(size=3)
    series = fast_numerical(arch, params, x, 2, 1e-4)
    monkeypatch.setattr(fastcheck, "RHO", 0.0)
    monkeypatch.setattr(fastcheck, "TOL", 0.0)
    assert_same(fast_numerical(arch, params, x, 2, 1e-4), series, rtol=1e-8, atol=1e-10)


def test_the_taylor_coefficients_of_each_smooth_activation() -> None:
    """f^(m)(z)/m! from f' as a polynomial in f, against known values at z = 0: tanh's
    series z - z³/3 + 2z⁵/15, σ's 1/2 + z/4 - z³/48 + z⁵/480."""
    zero = np.zeros(1)
    tanh = [float(c[0]) for c in fastcheck._taylor("tanh", zero)]
    sigmoid = [float(c[0]) for c in fastcheck._taylor("sigmoid", zero)]
    np.testing.assert_allclose(tanh, [1, 0, -1 / 3, 0, 2 / 15, 0][:fastcheck.ORDER], atol=1e-15)
    np.testing.assert_allclose(sigmoid, [1 / 4, 0, -1 / 48, 0, 1 / 480, 0][:fastcheck.ORDER], atol=1e-15)
