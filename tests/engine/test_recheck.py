"""The second look at a failing element (engine.check.recheck): a kink, the step, or a real
difference; its cost; and how the report, the trace and the panel show it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from bench.false_failures import Drawn, cs231n_source, load, run
from engine.check.recheck import RECHECK_LIMIT, Rechecked, judge_element, second_step
from engine.check.verdicts import ATOL, NOISE_ULPS, RTOL, GradCheck, gradient_check, judge
from engine.maths import network
from engine.maths.network import NOTEBOOK
from engine.maths.slopes import Nudge, nudged_losses
from engine.model.builtin import BuiltinModel
from tui.app.widgets.panels import _check_line
from tui.output.report import _gradcheck_json, _Json, _verdict_lines

EPS = 1e-5
X = np.array([1.0, -2.0, 0.5])
ULP = float(np.finfo(np.float64).eps)


def look(f: Callable[[float], float], analytic: float, eps: float = EPS) -> Rechecked:
    """The second look at an element whose loss, nudged by t, is f(t)."""
    rounding = NOISE_ULPS * ULP * abs(f(0.0))
    h = second_step(eps, rounding, ATOL)
    losses = np.array([f(eps), f(-eps), f(h), f(-h)])
    return judge_element((0,), analytic, f(0.0), losses, eps, h, (ATOL, RTOL, rounding))


def relu_kink(at: float) -> Callable[[float], float]:
    """A loss whose slope jumps from 0.3 to 0.8 at t = at (a hidden unit's ReLU turning on)."""
    return lambda t: 1.0 + 0.3 * t + 0.5 * max(0.0, t - at)


# ---- one element ------------------------------------------------------------------------

def test_a_kink_between_the_two_steps_is_the_step() -> None:
    f = relu_kink(3e-6)  # beyond h (~1.8e-7), within eps: the central difference averages
    assert abs((f(EPS) - f(-EPS)) / EPS / 2 - 0.3) > 0.1
    r = look(f, 0.3)
    assert (r.status, r.label, r.excused) == ("step", "rechecked: step", True)
    assert r.slope_at_step == pytest.approx(0.3, abs=1e-8)


@pytest.mark.parametrize(("at", "analytic"), [(1e-8, 0.3), (0.0, 0.3), (0.0, 0.8), (-1e-8, 0.8)])
def test_a_kink_within_the_smaller_step_is_a_kink_whatever_side_the_code_takes(
        at: float, analytic: float) -> None:
    r = look(relu_kink(at), analytic)
    assert r.status == "kink"
    assert min(r.left, r.right) - 1e-7 <= analytic <= max(r.left, r.right) + 1e-7


def test_a_kink_within_the_smaller_step_and_another_within_eps_is_a_kink_at_the_smaller_step() -> None:
    """A batch's units turn on at 5e-8 and off at -3e-6: the slopes at eps bracket 0.58 to
    0.8, not a = 0.3; those at h (1.8e-7), 0.3 and 0.66, do."""
    f = lambda t: 1.0 + 0.3 * t + 0.5 * max(0.0, t - 5e-8) + 0.4 * min(0.0, t + 3e-6)  # noqa: E731
    r = look(f, 0.3)
    assert r.status == "kink" and r.sides_step == r.step < EPS
    assert r.left == pytest.approx(0.3) and r.right > 0.5
    assert look(f, 0.1).status == "unresolved"  # outside both: the kink within h leaves it unjudged


def test_a_value_outside_the_one_sided_slopes_at_a_kink_fails() -> None:
    assert look(relu_kink(3e-6), 0.9).status == "fail"
    assert look(relu_kink(-3e-6), 0.2).status == "fail"


def marked(f: Callable[[float], float], analytic: float) -> Rechecked:
    """The second look at a kink the cache showed and its slopes at eps found inconsistent."""
    rounding = NOISE_ULPS * ULP * abs(f(0.0))
    h = second_step(EPS, rounding, ATOL)
    losses = np.array([f(EPS), f(-EPS), f(h), f(-h)])
    return judge_element((0,), analytic, f(0.0), losses, EPS, h, (ATOL, RTOL, rounding), marked=True)


def test_a_kink_the_cache_showed_and_found_inconsistent_is_excused_by_the_step() -> None:
    assert marked(relu_kink(0.0), 2.0).status == "fail"
    assert marked(relu_kink(3e-6), 0.3).status == "step"


def test_a_kink_the_cache_showed_at_theta_with_another_within_eps_is_judged_at_the_smaller_step() -> None:
    """The course's L-layer net at init: units whose layer before is all dead sit at z = b = 0
    exactly, and another sample's unit turns off at -1.2e-6. The slopes at eps (0.58 and 0.8)
    miss the correct 0.3 (relu'(0) = 0); those at h (0.3 and 0.8) bracket it, and nothing else."""
    f = lambda t: 1.0 + 0.3 * t + 0.5 * max(0.0, t) + 0.4 * min(0.0, t + 3e-6)  # noqa: E731
    r = marked(f, 0.3)
    assert (r.status, r.sides_step) == ("kink", r.step)
    assert (r.left, r.right) == (pytest.approx(0.3), pytest.approx(0.8))
    assert marked(f, 0.8).status == "kink"  # relu'(0) = 1
    for wrong in (0.1, 0.9, -0.3):
        assert marked(f, wrong).status == "fail"


def test_a_kink_within_the_smaller_step_leaves_a_value_outside_its_slopes_unresolved() -> None:
    """At a kink closer than h no difference quotient resolves the slope: never passed."""
    for analytic in (0.9, 0.2, -5.0):
        r = look(relu_kink(0.0), analytic)
        assert (r.status, r.excused, r.cleared) == ("unresolved", False, True)
    t = judge("b1", np.array([0.9, 0.3]), np.array([0.55, 0.3]), np.zeros(2, bool),
              rechecked=(look(relu_kink(0.0), 0.9),))
    assert t.verdict == "unresolved" and t.unresolved.tolist() == [True, False]
    assert not t.failing.any()


def test_a_small_bug_in_a_smooth_loss_is_not_excused_as_a_kink() -> None:
    """f'' = 40: the one-sided slopes lie 4e-4 apart, so a = g + 1e-4 lies between them, yet the
    loss is smooth (it meets its parabola), so no kink excuses it."""
    f = lambda t: 1.0 + 0.3 * t + 20.0 * t * t  # noqa: E731
    r = look(f, 0.3 + 1e-4)
    assert min(r.left, r.right) < 0.3 + 1e-4 < max(r.left, r.right)
    assert r.status == "fail"
    assert look(f, 0.3).status == "step"  # the right value passes at the smaller step


def test_a_large_eps_truncation_error_is_the_step() -> None:
    f = lambda t: 1.0 + np.sin(30.0 * t)  # noqa: E731
    central = (f(1e-2) - f(-1e-2)) / 1e-2 / 2
    assert abs(central - 30.0) > 0.1  # the central rule fails at eps 1e-2: truncation
    assert look(f, 30.0, eps=1e-2).status == "step"
    assert look(f, 31.0, eps=1e-2).status == "fail"


def test_non_finite_numbers_fail() -> None:
    assert look(relu_kink(0.0), float("nan")).status == "fail"
    assert look(lambda t: float("inf"), 0.3).status == "fail"


def test_the_second_step_follows_the_error_analysis() -> None:
    rounding = NOISE_ULPS * ULP * 1.0  # |L| = 1
    assert second_step(1e-5, rounding, ATOL) == pytest.approx(10 * rounding / ATOL)  # ~1.8e-7
    assert second_step(1e-3, rounding, ATOL) == pytest.approx(1e-5)  # eps / 100
    assert second_step(1e-9, rounding, ATOL) == pytest.approx(1e-8)  # rounding dominates: 10 eps
    # A loss of 1e6 has a rounding error a million times larger: the step grows with it.
    assert second_step(1e-5, rounding * 1e6, ATOL) == pytest.approx(1e-4)


# ---- nudged losses ----------------------------------------------------------------------

def test_nudged_losses_are_the_forward_passes_at_each_nudge_and_leave_params_alone() -> None:
    params, x = network.init_params(NOTEBOOK, 42), X
    kept = {k: v.copy() for k, v in params.items()}
    wanted: list[Nudge] = [("W1", (1, 2), 1e-3), ("b2", (0,), -0.5), ("W9", (0, 0), 1.0), ("b1", (7,), 1.0)]
    losses = nudged_losses(lambda p: network.forward(NOTEBOOK, x, p, 1)[1], params, wanted)
    by_hand = {k: v.copy() for k, v in params.items()}
    by_hand["W1"][1, 2] += 1e-3
    assert losses[0] == network.forward(NOTEBOOK, x, by_hand, 1)[1]
    by_hand = {k: v.copy() for k, v in params.items()}
    by_hand["b2"][0] -= 0.5
    assert losses[1] == network.forward(NOTEBOOK, x, by_hand, 1)[1]
    assert np.isnan(losses[2:]).all()  # no such tensor, no such index: NaN, not an error
    assert all(np.array_equal(params[k], kept[k]) for k in params)


# ---- the check ---------------------------------------------------------------------------

class Counted(BuiltinModel):
    """The built-in network, counting the recheck's forward passes (in a list: the model is
    a frozen dataclass)."""

    calls: list[int]

    def nudged_losses(self, params, x, y, nudges, progress):  # type: ignore[no-untyped-def]
        self.calls.append(len(nudges))
        return super().nudged_losses(params, x, y, nudges, progress)


def counted(bug: str | None = None) -> Counted:
    model = Counted(NOTEBOOK, bug)
    object.__setattr__(model, "calls", [])
    return model


def test_a_check_where_nothing_fails_costs_no_extra_pass() -> None:
    model = counted()
    params, x = network.init_params(NOTEBOOK, 42), X
    grads = network.backward(NOTEBOOK, x, 1, params, network.forward(NOTEBOOK, x, params, 1)[0])
    check = gradient_check(model, params, x, 1, grads, EPS)
    assert check.passed and model.calls == []
    assert all(t.rechecked == () for t in check.tensors.values())


def test_a_real_bug_costs_six_passes_a_failing_tensor_and_still_fails() -> None:
    model = counted("sign")
    params, x = network.init_params(NOTEBOOK, 42), X
    cache = network.forward(NOTEBOOK, x, params, 1)[0]
    grads = model.backward(x, 1, params, cache)
    check = gradient_check(model, params, x, 1, grads, EPS)
    # Four for the second look at each tensor's worst element, two for its wide look.
    assert check.failed_names and sum(model.calls) == 6 * len(check.failed_names)
    for name in check.failed_names:
        (only,) = check.tensors[name].rechecked
        assert only.status == "fail"
    assert not any("judged again" in note for note in check.notes)  # nothing excused: as before


def test_correct_cs231n_code_that_fails_at_first_passes_after_the_second_look() -> None:
    """A cs231n class shows the check only its scores: no kink is marked, and ReLU units near
    0 (weight_scale 1e-3) fail the central rule; each such element is a kink or the step."""
    checks, passes = run(Drawn("cs231n", cs231n_source(1e-3), (2, 8, 2), 16), steps=10, seed=3)
    rechecked = [r for c in checks for t in c.tensors.values() for r in t.rechecked]
    assert rechecked, "the sample should fail somewhere at first (pick another seed)"
    assert all(c.passed for c in checks)
    assert {r.status for r in rechecked} <= {"kink", "step"}
    # Four passes a rechecked element: the worst of each failing tensor, then the rest.
    assert passes == 4 * len(rechecked)


@pytest.mark.parametrize("bug", ["mask", "mean"])
def test_a_broken_cs231n_backward_still_fails(bug: str) -> None:
    """A missing ReLU mask, a missing 1/m: each tensor's worst difference survives."""
    model = load(Drawn("cs231n", cs231n_source(1e-1, bug), (2, 16, 2), 8))
    rng = np.random.default_rng(0)
    params = model.init_params(1)
    assert params is not None
    x, y = rng.standard_normal((8, 2)), rng.integers(0, 2, 8)
    grads = model.backward(x, y, params, model.forward(x, params, y)[0])
    check = gradient_check(model, params, x, y, grads, EPS, "loop")
    assert check.failed_names
    assert all(r.status == "fail" for name in check.failed_names for r in check.tensors[name].rechecked)
    assert model.recheck_passes == 6 * len(check.failed_names)  # the second look, then the wide


def test_the_recheck_is_bounded() -> None:
    assert RECHECK_LIMIT >= 100  # a correct small network's kinks fit; a bug's thousands do not


# ---- what shows it -----------------------------------------------------------------------

def rechecked_check() -> GradCheck:
    analytic = np.array([[0.3, 0.5], [0.1, -0.2]])
    numerical = np.array([[0.475, 0.5], [0.1, -0.9]])  # [0, 0] straddles a kink; [1, 1] is a bug
    again = (Rechecked((0, 0), "step", 0.3, 0.65, 1.8e-7, EPS, 0.3, 0.2),
             Rechecked((1, 1), "fail", -0.9, -0.9, 1.8e-7, EPS, -0.9, 7e3))
    t = judge("W1", analytic, numerical, np.zeros((2, 2), bool), rechecked=again)
    u = judge("b1", np.array([0.8]), np.array([0.55]), np.zeros(1, bool),
              rechecked=(Rechecked((0,), "kink", 0.3, 0.8, 1.8e-7, EPS, 0.55, 0.0),))
    return GradCheck("loop", EPS, {"W1": t, "b1": u})


def test_excused_elements_leave_the_failures_and_the_worst() -> None:
    check = rechecked_check()
    t, u = check.tensors["W1"], check.tensors["b1"]
    assert t.failing.tolist() == [[False, False], [False, True]] and t.verdict == "fail"
    assert t.worst_index == (1, 1)
    assert u.passed and not u.failing.any() and u.max_abs_diff == 0.0
    assert t.cleared.tolist() == [[True, False], [False, False]]
    assert (t.recheck_of((0, 0)) or t.rechecked[1]).label == "rechecked: step"
    assert t.recheck_of((0, 1)) is None


def test_the_text_report_the_trace_and_the_panel_name_them() -> None:
    check = rechecked_check()
    lines = _verdict_lines(check)
    assert "  rechecked (failed at eps, judged again): W1 1 step; b1 1 kink" in lines
    trace = _gradcheck_json(check, _Json())
    assert [(e["index"], e["status"]) for e in trace["W1"]["rechecked"]] == \
        [([0, 0], "rechecked: step"), ([1, 1], "rechecked: fail")]
    assert trace["b1"]["rechecked"][0]["left"] == 0.3 and trace["b1"]["passed"]
    panel = _check_line(check.tensors["b1"]).plain
    assert "↻ 1 rechecked: 1 kink" in panel and "[0] rechecked: kink" in panel
    assert "rechecked: step" in _check_line(check.tensors["W1"]).plain


def test_a_check_nothing_excused_shows_nothing_new() -> None:
    t = judge("W1", np.array([1.0]), np.array([2.0]), np.zeros(1, bool),
              rechecked=(Rechecked((0,), "fail", 2.0, 2.0, 1e-7, EPS, 2.0, 1e4),))
    check = GradCheck("loop", EPS, {"W1": t})
    assert "rechecked" not in _gradcheck_json(check, _Json())["W1"]
    assert not any("rechecked" in line for line in _verdict_lines(check))
    assert "rechecked" not in _check_line(t).plain


def test_a_loss_computed_less_precisely_than_its_value_is_unresolved_not_failed() -> None:
    """A loss with noise far above its rounding (a saturated sigmoid's log(1 - a) losing digits
    to cancellation): the central differences at eps and at h disagree by more than the rule's
    tolerance, so neither can judge a value that lies within their disagreement."""
    noise = {1e-5: 3e-8, -1e-5: -3e-8}  # the loss's own error at the nudges of eps, not at h
    f = lambda t: 1.0 + 0.13 * t + noise.get(t, 0.0)  # noqa: E731
    r = look(f, 0.1325)
    assert abs(r.slope_at_step - 0.13) < 1e-6 and r.status == "unresolved"
    assert look(lambda t: 1.0 + 0.13 * t, 0.1325).status == "fail"  # a smooth loss: the bug stays


def test_a_loss_that_does_not_resolve_eps_is_unresolved_after_the_wide_look() -> None:
    """Nielsen's cross-entropy of a saturated sigmoid, -log(1 - σ(z)) at z = 26.03: 1 - a is near
    5e-12, a nudge of eps does not move a from its float, the loss stays put and its central
    difference is 0 where the true slope, a, is 1. The wide look sees the slope; an unused
    parameter's loss (flat at every step) and a wrong value still fail."""
    from engine.check.recheck import WIDE_STEP, wide

    def saturated(t: float) -> float:
        a = 1.0 / (1.0 + np.exp(-(26.03 + t)))
        return float(-np.log(1.0 - a))

    first = look(saturated, 1.0)
    assert first.status == "fail" and first.slope_at_step == 0.0  # the loss did not move
    wide_losses = saturated(WIDE_STEP), saturated(-WIDE_STEP)
    assert wide(first, 1.0, *wide_losses, ATOL).status == "unresolved"
    assert wide(first, 0.5, *wide_losses, ATOL).status == "fail"  # a wrong value still fails
    assert wide(first, 1.0, 2.0, 2.0, ATOL).status == "fail"  # flat at every step: unused
