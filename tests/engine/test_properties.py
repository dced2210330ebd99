"""Property tests over random sizes, seeds and inputs, away from ReLU kinks."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

from engine.check.verdicts import gradient_check
from engine.maths.network import Architecture, sgd_update
from engine.maths.network import backward as arch_backward
from engine.maths.network import forward as arch_forward
from engine.maths.network import init_params as arch_init
from engine.model.builtin import BuiltinModel
from engine.settings.config import Config


def init_params(inputs, hidden, seed):  # type: ignore[no-untyped-def]
    return arch_init(Architecture(inputs, (hidden,)), seed)


def forward(x, params, y):  # type: ignore[no-untyped-def]
    return arch_forward(Architecture(x.size, (params['b1'].size,)), x, params, y)


def backward(x, y, params, cache):  # type: ignore[no-untyped-def]
    return arch_backward(Architecture(x.size, (params['b1'].size,)), x, y, params, cache)

configs = st.builds(
    lambda inputs, hidden, seed, y, scale, data: (inputs, hidden, seed, y,
                                                  np.random.default_rng(data).normal(size=inputs) * scale),
    st.integers(1, 12), st.integers(1, 12), st.integers(0, 2**32 - 1), st.integers(0, 1),
    st.floats(0.01, 3.0), st.integers(0, 2**32 - 1),
)


def kink_free(params, x, eps) -> bool:
    z1 = params["W1"] @ x + params["b1"]
    return bool(np.min(np.abs(z1)) > 1e3 * eps * (1 + np.max(np.abs(x))))


@given(configs)
def test_analytic_equals_numerical(case) -> None:
    inputs, hidden, seed, y, x = case
    params = init_params(inputs, hidden, seed)
    assume(kink_free(params, x, 1e-5))
    cache, _ = forward(x, params, y)
    grads = backward(x, y, params, cache)
    for method in ("fast", "loop"):
        model = BuiltinModel(Architecture(inputs, (hidden,)))
        check = gradient_check(model, params, x, y, grads, 1e-5, method)
        assert check.passed, (method, {n: t.max_abs_diff for n, t in check.tensors.items()})
        assert all(t.kink_count == 0 for t in check.tensors.values())


@given(configs)
def test_small_learning_rate_never_raises_the_loss(case) -> None:
    inputs, hidden, seed, y, x = case
    params = init_params(inputs, hidden, seed)
    cache, loss = forward(x, params, y)
    grads = backward(x, y, params, cache)
    norm2 = sum(float(np.sum(grads[f"d{n}"] ** 2)) for n in ("W1", "b1", "W2", "b2"))
    assume(norm2 > 1e-12)
    # A step of lr = 1e-3 / (1 + |x|^2 + |a1|^2) stays well inside the region where the
    # loss is locally quadratic with curvature bounded by that scale.
    lr = 1e-3 / (1.0 + float(x @ x) + float(cache["a1"] @ cache["a1"]) + norm2)
    _, after = forward(x, sgd_update(params, grads, lr), y)
    assert after <= loss


def test_default_x_for_other_sizes_is_reproducible() -> None:
    a = Config(inputs=5).resolved().x
    assert a == Config(inputs=5).resolved().x and len(a) == 5
    assert Config(inputs=5, seed=1).resolved().x != a
    assert Config().resolved().x == (0.2, -0.4, 0.1)
