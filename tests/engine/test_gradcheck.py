"""The gradient check: verdict rule, kinks, the two methods, and the fault drills."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from engine.check.verdicts import ATOL, gradient_check, judge
from engine.maths.network import Architecture, Params
from engine.maths.network import backward as arch_backward
from engine.maths.network import forward as arch_forward
from engine.maths.network import init_params as arch_init
from engine.model.builtin import BuiltinModel, make_model

NOTEBOOK = Architecture()


def init_params(inputs: int, hidden: int, seed: int) -> Params:
    return arch_init(Architecture(inputs, (hidden,)), seed)


def forward(x, params, y):  # type: ignore[no-untyped-def]
    return arch_forward(Architecture(x.size, (params['b1'].size,)), x, params, y)


def backward(x, y, params, cache):  # type: ignore[no-untyped-def]
    return arch_backward(Architecture(x.size, (params['b1'].size,)), x, y, params, cache)

EXPECTED_FLAGS = {"activation-grad": {"W1", "b1"}, "bias-grad": {"b1", "b2"},
                  "sign": {"W1", "b1", "W2", "b2"}, "cache": {"W2"}}
NOTEBOOK_X = np.array([0.2, -0.4, 0.1])


def check(params: Params, x: np.ndarray, y: int, bug: str | None = None, method: str = "fast",
          eps: float = 1e-5):
    model = make_model(Architecture(x.size, (params['b1'].size,)), bug)
    cache, _ = model.forward(x, params, y)
    grads = model.backward(x, y, params, cache)
    return gradient_check(model, params, x, y, grads, eps, method)


# ---- the verdict rule ----------------------------------------------------------------

def test_tiny_correct_gradient_passes_where_a_naive_relative_error_would_not() -> None:
    analytic = np.array([2e-9])
    numerical = np.array([2e-9 + 2e-12])
    t = judge("W1", analytic, numerical, np.zeros(1, dtype=bool))
    assert t.max_rel_error == pytest.approx(1e-3, rel=1e-2)  # looks alarming...
    assert t.passed  # ...but the absolute error is 2e-12


def test_a_wrong_element_fails_and_is_reported_as_the_worst() -> None:
    analytic = np.array([[0.5, -0.2], [0.1, 0.3]])
    numerical = analytic.copy()
    numerical[1, 0] = 0.1 + 1e-3
    t = judge("W1", analytic, numerical, np.zeros((2, 2), dtype=bool))
    assert not t.passed and t.worst_index == (1, 0)
    assert t.worst_analytic == 0.1 and t.worst_numerical == pytest.approx(0.101)
    assert t.max_abs_diff == pytest.approx(1e-3) and int(t.failing.sum()) == 1


def test_nan_never_passes_and_kinks_are_excluded() -> None:
    kinks = np.array([False, True])
    assert not judge("b1", np.array([np.nan, 0.0]), np.array([0.0, 0.0]), kinks).passed
    t = judge("b1", np.array([0.0, 5.0]), np.array([0.0, 0.0]), kinks)
    assert t.passed and t.kink_count == 1 and t.max_abs_diff == 0.0


def test_a_tensor_of_kinks_only_is_unresolved_not_passed() -> None:
    """Nothing was judged (eps 1e308 makes every W1 element a kink), so nothing passed."""
    kinks = np.ones(2, dtype=bool)
    t = judge("b1", np.array([9.0, 5.0]), np.array([0.0, 0.0]), kinks)
    assert t.verdict == "unresolved" and not t.passed and t.worst_index is None


# ---- kinks -----------------------------------------------------------------------

def kinked_params() -> tuple[Params, np.ndarray]:
    """The notebook's network with unit 0 moved to sit 1.5e-6 above its ReLU kink."""
    params = {k: v.copy() for k, v in init_params(3, 4, 42).items()}
    z1 = params["W1"] @ NOTEBOOK_X
    params["b1"][0] = -z1[0] + 1.5e-6
    return params, NOTEBOOK_X


@pytest.mark.parametrize("method", ["fast", "loop"])
def test_kinks_are_detected_marked_and_explained(method: str) -> None:
    params, x = kinked_params()
    result = check(params, x, 1, method=method)
    assert result.tensors["b1"].kinks.tolist() == [True, False, False, False]
    assert result.tensors["W1"].kinks[0].tolist() == [True, True, False]  # eps*|x_j| > 1.5e-6 for j=0,1 only
    assert not result.tensors["W2"].kinks.any()
    assert result.passed  # the kink elements are shown but not judged
    assert any("kink" in note and "smaller eps" in note for note in result.notes)
    assert not check(params, x, 1, method=method, eps=1e-9).tensors["b1"].kinks.any()


def test_a_model_computing_in_float32_gets_a_warning() -> None:
    class Float32Model(BuiltinModel):
        def forward(self, x, params, y):  # type: ignore[no-untyped-def]
            low = {k: v.astype(np.float32) for k, v in params.items()}
            cache, loss = forward(x.astype(np.float32), low, y)
            return cache, float(np.float32(loss))

    model = Float32Model(NOTEBOOK, fast_gradcheck=False)
    params = init_params(3, 4, 42)  # float64, as the stepper always makes them
    grads = backward(NOTEBOOK_X, 1, params, forward(NOTEBOOK_X, params, 1)[0])
    result = gradient_check(model, params, NOTEBOOK_X, 1, grads, 1e-5, "loop")
    assert any("float32" in note and "precision" in note for note in result.notes)
    assert not any("float32" in note for note in check(params, NOTEBOOK_X, 1).notes)


def test_huge_loss_leaves_small_gradients_unresolved_instead_of_passing_a_bug() -> None:
    params, x = init_params(3, 4, 42), np.array([1e150, 1e150, 1e150])
    result = check(params, x, 1, bug="bias-grad")
    # |L| ~ 5e150: the bias gradients (~1) are far below the floor, so the zeros the bug returns
    # can be neither confirmed nor refuted; the huge W gradients are resolved and agree.
    assert {"b1", "b2"} <= set(result.unresolved_names) and not result.passed
    assert result.failed_names == [] and not result.tensors["b1"].failing.any()
    assert not result.tensors["W1"].unresolved[~(params["W1"] @ x <= 0)].any()


# ---- the two methods -----------------------------------------------------------------

sizes = st.tuples(st.integers(1, 10), st.integers(1, 10), st.integers(0, 2**32 - 1),
                  st.integers(0, 1), st.floats(0.05, 4.0))


def random_case(inputs: int, hidden: int, seed: int, scale: float) -> tuple[Params, np.ndarray]:
    params = init_params(inputs, hidden, seed)
    x = np.random.default_rng(seed + 1).normal(size=inputs) * scale
    return params, x


def kink_free(params: Params, x: np.ndarray, eps: float = 1e-5) -> bool:
    z1 = params["W1"] @ x + params["b1"]
    return bool(np.min(np.abs(z1)) > 10 * eps * max(1.0, float(np.max(np.abs(x)))))


@given(sizes)
def test_fast_and_loop_agree(case) -> None:
    inputs, hidden, seed, y, scale = case
    params, x = random_case(inputs, hidden, seed, scale)
    fast, loop = check(params, x, y, method="fast"), check(params, x, y, method="loop")
    for name in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(fast.tensors[name].numerical, loop.tensors[name].numerical,
                                   rtol=1e-6, atol=1e-8)
        assert (fast.tensors[name].kinks == loop.tensors[name].kinks).all()
    assert fast.method == "fast" and loop.method == "loop"


def test_progress_is_reported_and_can_cancel() -> None:
    params, x = init_params(3, 4, 42), NOTEBOOK_X
    seen: list[tuple[int, int]] = []
    check_grads = backward(x, 1, params, forward(x, params, 1)[0])
    gradient_check(BuiltinModel(), params, x, 1, check_grads, 1e-5, "loop",
                   progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (21, 21) and all(total == 21 for _, total in seen)

    class Cancelled(Exception):
        pass

    def cancel(done: int, total: int) -> None:
        raise Cancelled

    with pytest.raises(Cancelled):
        gradient_check(BuiltinModel(), params, x, 1, check_grads, 1e-5, "loop", progress=cancel)


# ---- fault drills -----------------------------------------------------------------------

@pytest.mark.parametrize("method", ["fast", "loop"])
@pytest.mark.parametrize("bug", sorted(EXPECTED_FLAGS))
def test_each_bug_is_flagged_on_exactly_its_tensors_on_the_default_config(bug: str, method: str) -> None:
    result = check(init_params(3, 4, 42), NOTEBOOK_X, 1, bug=bug, method=method)
    assert set(result.failed_names) == EXPECTED_FLAGS[bug]


def bug_is_visible(bug: str, params: Params, x: np.ndarray, y: int) -> bool:
    """Whether the bug changes each of its tensors by far more than the tolerance.

    A bug that leaves a gradient unchanged (relu-grad with no dead unit) cannot be
    seen by any check, so random cases where that happens are set aside.
    """
    cache, _ = forward(x, params, y)
    true = backward(x, y, params, cache)
    broken = arch_backward(Architecture(x.size, (params["b1"].size,)), x, y, params, cache, bug)
    return all(float(np.max(np.abs(true["d" + n] - broken["d" + n]))) > 1e3 * ATOL
               for n in EXPECTED_FLAGS[bug])


@given(sizes, st.sampled_from(sorted(EXPECTED_FLAGS)))
def test_each_bug_is_flagged_on_exactly_its_tensors_on_random_kink_free_configs(case, bug: str) -> None:
    inputs, hidden, seed, y, scale = case
    params, x = random_case(inputs, hidden, seed, scale)
    assume(kink_free(params, x) and bug_is_visible(bug, params, x, y))
    assert set(check(params, x, y, bug=bug).failed_names) == EXPECTED_FLAGS[bug]


@given(sizes)
def test_no_false_alarm_with_the_correct_backward(case) -> None:
    inputs, hidden, seed, y, scale = case
    params, x = random_case(inputs, hidden, seed, scale)
    assume(kink_free(params, x))
    result = check(params, x, y)
    assert result.passed, {n: t.max_abs_diff for n, t in result.tensors.items()}


def test_tiny_eps_raises_the_tolerance_to_the_rounding_floor_and_says_so() -> None:
    params = init_params(3, 4, 42)
    result = check(params, NOTEBOOK_X, 1, eps=1e-12)
    assert result.atol > 1e-4 and result.failed_names == []  # rounding noise of ~1e-4 is not a bug...
    # ...but the dead unit's zero gradients are below the floor: a bug there would be invisible.
    assert result.unresolved_names == ["W1", "b1", "W2"] and result.tensors["b2"].passed
    assert any("rounding floor" in note and "eps near 1e-5" in note for note in result.notes)
    assert set(check(params, NOTEBOOK_X, 1, bug="relu-grad", eps=1e-12).failed_names) == {"W1", "b1"}
    default = check(params, NOTEBOOK_X, 1)
    assert default.atol == ATOL and not default.notes  # ...and the usual case is untouched


# ---- extreme eps ---------------------------------------------------------------------

@pytest.mark.parametrize("eps", [5e-324, 1e-310, 1e-300, 1e-12, 1e-5, 1.0, 1e10, 1e300, 1e308,
                                 float(np.finfo(np.float64).max)])
def test_fast_and_loop_give_the_same_verdicts_at_any_legal_eps(eps: float) -> None:
    params = init_params(3, 4, 42)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            fast = check(params, NOTEBOOK_X, 1, eps=eps)
            loop = check(params, NOTEBOOK_X, 1, eps=eps, method="loop")
    assert {n: t.verdict for n, t in fast.tensors.items()} == \
        {n: t.verdict for n, t in loop.tensors.items()}
    assert fast.failed_names == [] or eps > 1e-3  # only truncation error fails a correct network
    if eps < 1e-300:
        assert fast.unresolved_names == ["W1", "b1", "W2", "b2"]  # the floor swamps every gradient


def test_an_overflowed_numerical_value_is_unresolved_not_passed() -> None:
    t = judge("W2", np.array([0.5, 0.5]), np.array([np.inf, np.nan]), np.zeros(2, dtype=bool))
    assert t.verdict == "unresolved" and t.unresolved.all()


@pytest.mark.parametrize(("dtype", "noted"), [(np.float16, True), (np.float32, True),
                                              (np.complex64, True), (np.longdouble, False)])
def test_the_precision_note_is_for_dtypes_coarser_than_float64_only(dtype, noted: bool) -> None:
    class CastingModel(BuiltinModel):
        def forward(self, x, params, y):  # type: ignore[no-untyped-def]
            cache, loss = forward(x, params, y)
            return cache | {"z1": cache["z1"].astype(dtype)}, loss

    params = init_params(3, 4, 42)
    grads = backward(NOTEBOOK_X, 1, params, forward(NOTEBOOK_X, params, 1)[0])
    notes = gradient_check(CastingModel(NOTEBOOK, fast_gradcheck=False), params, NOTEBOOK_X, 1,
                           grads, 1e-5, "loop").notes
    precision = [note for note in notes if "less precise than float64" in note]
    assert bool(precision) == noted and all(np.dtype(dtype).name in note for note in precision)
