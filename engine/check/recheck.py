"""The second look at an element that fails: is it a kink, the step, or a real difference?

The central rule (engine.check.verdicts) fails an element whose analytic value a differs from
(L(θ+eps) - L(θ-eps)) / eps / 2. A correct gradient fails it too when a ReLU kink lies within
eps of θ: the difference then averages two slopes. The kink rule finds such elements only
where the model's cache shows its pre-activations; a cs231n class shows only its scores. So
every failing element is judged again here, from four more losses of its own and nothing the
model exposes: L(θ±eps) and L(θ±h), at a second step h.

The second step. The central difference at step s errs by truncation, about s^2 |f'''| / 6, and
by rounding, about u / s with u = NOISE_ULPS * 2.2e-16 * |L| (a loss's rounding error). So h is
the smallest step whose rounding error is a tenth of atol, h = 10 u / atol (1.8e-7 for |L| = 1
and atol = 1e-7), and no smaller than eps / 100: its central difference is then accurate to
atol / 10 (its truncation error, 1e-14 |f'''|, is nothing), and the smaller h, the less likely a
kink lies within it. Where that h is not below eps (a tiny eps, where rounding dominates), the
second step is 10 eps instead: ten times less rounding error, and the truncation error of so
small a step is still far below atol.

The verdict, per element, with the tolerances of the central rule:
- "step": the central difference at h agrees with a. The kink lay between h and eps from θ,
  or eps's truncation or rounding error made the difference.
- "kink": a lies between the one-sided slopes (L(θ) - L(θ-s)) / s and (L(θ+s) - L(θ)) / s
  (within atol + rtol * max(|a|, |left|, |right|), as at a marked kink; the rounding error
  u / s raises atol where larger) at s = eps or, where one kink lies within h and another
  within eps, at s = h; and the four losses are not a smooth function's: the parabola
  through L(θ-eps), L(θ) and L(θ+eps) misses L(θ±h) by more than a quarter of the central
  rule's tolerance (in slope units) plus the losses' rounding. A smooth loss meets its
  parabola to (eps^2 |f'''| / 6) h; a kink within eps misses it by about half the jump in
  slope, and the jump is at least twice the difference that failed the element. Without that
  evidence a small bug in a smooth loss could hide between the one-sided slopes, which lie
  eps |f''| apart.
- "unresolved": neither, but a kink lies within h of θ (the one-sided slopes at h differ by
  more than h times the curvature eps measured, which is all a smooth loss's differ by) and
  the losses are not a smooth function's. The slope changes within the smallest step the
  loss's rounding allows (a deep layer of weights drawn at cs231n's 1e-3 has pre-activations
  near 1e-9), so no difference quotient can judge a: the element is neither passed nor
  failed, as below the rounding floor, and its tensor says so.
- "unresolved" too: the central differences at eps and at h disagree by more than the rule's
  tolerance, which those of a smooth loss computed to its rounding never do, and a lies within
  that disagreement of them. The file computes its loss less precisely than its value says
  (Nielsen's cross-entropy, log(1 - a) of a saturated sigmoid, loses digits to cancellation),
  so the quotients' own error exceeds the difference that failed the element: it cannot be
  judged at these steps. A wrong gradient of a smooth loss has quotients that agree.
- "unresolved" as well, after a wide look: an element that would fail is nudged once more by
  ±WIDE_STEP (1e-2), and where that central difference agrees with a (to WIDE_RTOL, a
  percent: its truncation error is far smaller for the losses met here), the loss does not
  resolve nudges of eps. A saturated sigmoid does that: 1 - a near 5e-12 moves by less than a
  float's last digit, so Nielsen's cross-entropy of it stays the same float and its central
  difference is 0 where the true slope is 1. A wrong gradient of a smooth loss disagrees at
  every step, and a parameter the forward pass never uses leaves the loss flat at every step
  too: both still fail. Two more passes, for elements that would fail only.
- "fail": none of these: the difference survives a second look, and the element fails.

A kink the model's cache showed, found inconsistent by its one-sided slopes at eps (engine.
check.verdicts), is excused by the step, or as a kink by its slopes at h alone where a kink
lies within h (the evidence `within_h` above): the cache proved a kink, and the slopes at eps
bound nothing when another kink lies within eps on one side while a unit sits exactly at its
kink at θ (a layer whose units are all dead feeds the next one z = b exactly, so with the
course's zero biases every such sample sits at its kink). The slopes at eps then mix the
pieces past the other kink into one side; those at h are the two one-sided derivatives at θ,
which bracket any convention at the kink. A value outside them still fails.

Cost: four forward passes a failing element, none when nothing fails. At most RECHECK_LIMIT
elements are judged again in one check, the worst first: beyond that many failures a check
has found a bug, and a note says how many were left as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from engine.maths.fastcheck import slope
from engine.maths.network import Array
from engine.maths.slopes import Nudge

#: Elements judged again in one check at most (four forward passes each).
RECHECK_LIMIT = 256
#: The second step is at least eps / SMALLEST_STEP, or eps * LARGER_STEP where rounding dominates.
SMALLEST_STEP = 100.0
LARGER_STEP = 10.0
STATUSES = ("kink", "step", "unresolved", "fail")
#: The wide look's step, and how closely its central difference must agree (see above). No
#: wide look where eps itself is within WIDE_STEP / 10: it would measure nothing new.
WIDE_STEP = 1e-2
WIDE_RTOL = 1e-2


@dataclass(frozen=True)
class Rechecked:
    """One failing element judged again: its status, and the numbers that decided it."""

    index: tuple[int, ...]
    status: str  # one of STATUSES
    left: float  # (L(θ) - L(θ-s)) / s, s = `sides_step`
    right: float  # (L(θ+s) - L(θ)) / s
    step: float  # the second step h
    sides_step: float  # s: eps, or h where the slopes at h bracket the analytic value and eps's do not
    slope_at_step: float  # (L(θ+h) - L(θ-h)) / h / 2
    excess: float  # how many tolerances off the element stays (at most 1 unless it fails)

    @property
    def excused(self) -> bool:
        """Passed the second look: a kink or the step (an unresolved element is not judged)."""
        return self.status in ("kink", "step")

    @property
    def cleared(self) -> bool:
        """No longer failing: excused, or left unresolved."""
        return self.status != "fail"

    @property
    def label(self) -> str:
        """"rechecked: kink", "rechecked: step", "rechecked: unresolved" or "rechecked: fail"."""
        return f"rechecked: {self.status}"


def second_step(eps: float, rounding: float, atol: float) -> float:
    """h (see the module's docstring): the smallest step whose rounding error `rounding` / h is
    atol / 10, at least eps / 100; 10 eps where that is not below eps."""
    h = max(eps / SMALLEST_STEP, 10.0 * rounding / atol)
    return h if h < eps else eps * LARGER_STEP


def nudges(name: str, index: tuple[int, ...], eps: float, h: float) -> list[Nudge]:
    """The four nudges of one element, in the order judge_element takes their losses."""
    return [(name, index, eps), (name, index, -eps), (name, index, h), (name, index, -h)]


def judge_element(index: tuple[int, ...], analytic: float, base: float, losses: Array,
                  eps: float, h: float, tolerance: tuple[float, float, float],
                  marked: bool = False) -> Rechecked:
    """One element's second look (the module's docstring).

    Inputs:
    - index, analytic: the element and its analytic gradient a
    - base: L(θ)
    - losses: L(θ+eps), L(θ-eps), L(θ+h), L(θ-h)
    - eps, h: the check's step and the second one
    - tolerance: (atol, rtol, rounding): the rule's tolerances, and a loss's rounding error u
    - marked: the element is a kink the model's cache showed, already judged by its one-sided
      slopes at eps and found inconsistent: only the step, or its slopes at h where a kink
      lies within h, can excuse it (the module's docstring)

    Returns its Rechecked: status "step", "kink", "unresolved" or "fail".
    """
    atol, rtol, rounding = tolerance
    plus, minus, plus_h, minus_h = (float(v) for v in losses)
    if not np.isfinite([analytic, base, plus, minus, plus_h, minus_h]).all():
        return Rechecked(index, "fail", np.nan, np.nan, h, eps, np.nan, np.inf)  # nothing to go on
    with np.errstate(all="ignore"):
        at_h = float(slope(plus_h, minus_h, h))
        tol_h = max(atol, rounding / h) + rtol * max(abs(analytic), abs(at_h))
        step_excess = abs(analytic - at_h) / tol_h
        sides = {s: _bracket(analytic, (base - low) / s, (high - base) / s,
                             max(atol, rounding / s), rtol)
                 for s, low, high in ((eps, minus, plus), (h, minus_h, plus_h))}
        # The slopes closer to bracketing a; a marked kink's at eps were found inconsistent.
        sides_step = h if marked else min(sides, key=lambda s: sides[s][2])
        left, right, kink_excess = sides[sides_step]
        curvature = (plus - 2.0 * base + minus) / eps / eps
        central = float(slope(plus, minus, eps))
        miss = max(abs(plus_h - (base + h * central + h * h * curvature / 2)),
                   abs(minus_h - (base - h * central + h * h * curvature / 2))) / h
        noise = 3.0 * rounding * (1.0 + (h / eps) ** 2) / h
        smooth_bound = atol + rtol * max(abs(analytic), abs(central))
        # A kink within h: the one-sided slopes at h differ by more than h times the curvature
        # eps measured, plus their rounding (a smooth loss's differ by h f''; a kink within
        # eps but not h only raises the curvature at eps).
        within_h = abs(plus_h - 2.0 * base + minus_h) / h > abs(h * curvature) + 4.0 * rounding / h
        spread = abs(central - at_h)  # what the two steps disagree by: the quotients' own error
        noisy = spread > noise + smooth_bound and \
            min(central, at_h) - spread <= analytic <= max(central, at_h) + spread
    non_smooth = miss > noise + smooth_bound / 4
    status = "step" if step_excess <= 1.0 else \
        ("kink" if kink_excess <= 1.0 and within_h else "fail") if marked else \
        "kink" if kink_excess <= 1.0 and non_smooth else \
        "unresolved" if (non_smooth and within_h) or noisy else "fail"
    excess = {"step": step_excess, "kink": kink_excess}.get(status, min(step_excess, kink_excess))
    return Rechecked(index, status, float(left), float(right), h, sides_step, at_h,
                     float(np.nan_to_num(excess, nan=np.inf)))


def wide(rechecked: Rechecked, analytic: float, plus: float, minus: float, atol: float) -> Rechecked:
    """A failing element's wide look (the module's docstring): unresolved where the central
    difference at ±WIDE_STEP, from the losses `plus` and `minus` there, agrees with a."""
    with np.errstate(all="ignore"):
        at_wide = float(slope(plus, minus, WIDE_STEP))
        agrees = abs(analytic - at_wide) <= atol + WIDE_RTOL * max(abs(analytic), abs(at_wide))
    return replace(rechecked, status="unresolved") if agrees and np.isfinite(at_wide) else rechecked


def _bracket(analytic: float, left: float, right: float, atol: float,
             rtol: float) -> tuple[float, float, float]:
    """(left, right, how many tolerances a lies outside [min, max] of them, 0 inside), with
    the kink rule's tolerance atol + rtol * max(|a|, |left|, |right|)."""
    tol = atol + rtol * max(abs(analytic), abs(left), abs(right))
    return left, right, max(min(left, right) - analytic, analytic - max(left, right), 0.0) / tol
