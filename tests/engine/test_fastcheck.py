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
    assert_same(fast_numerical(arch, params, x, 0, 0.5), whole, rtol=1e-12, atol=1e-15)


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
