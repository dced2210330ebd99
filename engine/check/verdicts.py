"""Numerical gradients by central differences, and verdicts a careful engineer trusts.

Verdict rule, per element: |a - n| <= ATOL + RTOL * max(|a|, |n|).

Why these tolerances: with eps = 1e-5 in float64, the central difference has a
truncation error of about eps^2 |f'''| / 6 (~1e-10 here) and a rounding error of
about 1e-16 |L| / eps (~1e-11 |L|). ATOL = 1e-7 sits three orders above that noise,
so a correct gradient never fails, yet far below any gradient a real bug changes.
RTOL = 1e-4 lies between cs231n's bands (1e-7 good, 1e-2 probably wrong) and is
tighter than torch.autograd.gradcheck's 1e-3 because this loss is smooth float64.
The absolute term is what keeps a tiny correct gradient (2e-9 with an error of
2e-12, a relative error of 1e-3) from crying wolf.

Rounding floor: the loss itself carries a rounding error of a few ulp, so no central
difference can resolve gradients finer than about NOISE_ULPS * 2.2e-16 * |L| / eps. When
that floor exceeds ATOL (a huge loss, or a tiny eps such as 1e-12) the absolute tolerance
is raised to it and a note says so, and elements whose analytic and numerical values are
both below the floor are "unresolved": neither passed nor failed, since a bug could hide
there. The check then admits what it cannot see instead of failing correct gradients or
passing broken ones.

Extreme eps: the slope is computed as (L+ - L-) / eps / 2, never with 2 eps or 1 / (2 eps),
which overflow (eps above 9e307) or reach infinity (eps below 2.8e-309) while the slope itself
is finite. Where a nudged loss overflows, the difference measures nothing: such elements
are unresolved too, not failed.

Kinks: ReLU and leaky ReLU are not differentiable at 0. When an element's +-eps nudge
moves some hidden unit's z across 0, in any layer, the central difference straddles the
kink and measures an average of the two slopes, so it is marked, shown, and left out of
the central rule. Such an element is judged as a subgradient instead: its two one-sided
slopes, left = (L(θ) - L(θ-eps)) / eps and right = (L(θ+eps) - L(θ)) / eps, bound what a
correct analytic value can be (any convention at the kink, relu'(0) = 0 or 1, lies between
them), so the element is "kink: consistent" when the analytic value lies in
[min - tol, max + tol] with tol = atol + rtol * max(|a|, |left|, |right|), and otherwise
"kink: inconsistent", which fails the tensor. The vectorised method (engine.maths.fastcheck)
and the loop method mark the same elements and give the same slopes. Where the nudges
cross a kink on both sides of θ (two units near their kinks), both slopes mix pieces and
bound nothing: such an element keeps no slopes (NaN) and is left out, unjudged.

Recheck: the kink rule sees only the kinks a model's cache shows (pre-activations named z...;
a cs231n class shows none). So before any element is called wrong it is judged again from four
more losses of its own, L(θ±eps) and L(θ±h) at a smaller second step h
(engine.check.recheck): "rechecked: kink" when its analytic value lies between its one-sided
slopes and the losses are not a smooth function's, "rechecked: step" when the central
difference at h agrees; both are left out of the tensor's failures, like consistent kinks.
Only a difference that survives the second look fails. A check where nothing fails costs no
extra forward pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from engine.check.recheck import (
    RECHECK_LIMIT,
    STATUSES,
    WIDE_STEP,
    Rechecked,
    judge_element,
    nudges,
    second_step,
    wide,
)
from engine.maths.fastcheck import Mask
from engine.maths.network import Array, Labels, Params, Tensors
from engine.maths.slopes import Progress

if TYPE_CHECKING:
    from engine.model.protocol import Model

ATOL = 1e-7
RTOL = 1e-4
REL_FLOOR = 1e-12  # denominator floor of the relative error, so 0/0 reads as 0
NOISE_ULPS = 8  # rounding error of a loss evaluation, in units of machine epsilon, with margin
METHODS = ("fast", "loop")

@dataclass(frozen=True)
class TensorCheck:
    """Analytic against numerical for one parameter tensor."""

    name: str
    analytic: Array
    numerical: Array
    kinks: Mask
    max_abs_diff: float  # over the elements the central rule counts (not kinks)
    max_rel_error: float
    worst_index: tuple[int, ...] | None  # the element furthest past its tolerance
    #: Elements that break the rule: the central rule off the kinks, and the kinks whose
    #: analytic value lies outside their one-sided slopes (`inconsistent`).
    failing: Mask
    unresolved: Mask  # elements below the rounding floor: the check cannot judge them
    verdict: str  # "pass", "fail", or "unresolved" (nothing fails, but something is unjudged)
    #: (left, right): the one-sided slopes (L(θ) - L(θ-eps)) / eps and (L(θ+eps) - L(θ)) / eps
    #: of each kink element, NaN elsewhere (and where the method gave none); None for a
    #: tensor without kinks, or when the method gave no slopes at all.
    one_sided: tuple[Array, Array] | None = None
    #: Kink elements whose analytic value lies outside [min, max] of their one-sided slopes
    #: (with the tolerance): "kink: inconsistent". A subset of kinks and of failing.
    inconsistent: Mask | None = None
    #: The elements that failed a first time and were judged again (engine.check.recheck),
    #: worst first; those whose status is "kink" or "step" are not in `failing`, those
    #: "unresolved" are in `unresolved`.
    rechecked: tuple[Rechecked, ...] = ()

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def kink_count(self) -> int:
        return int(self.kinks.sum())

    @property
    def inconsistent_count(self) -> int:
        return 0 if self.inconsistent is None else int(self.inconsistent.sum())

    def recheck_of(self, index: tuple[int, ...]) -> Rechecked | None:
        """The element's second look, if it had one."""
        return next((r for r in self.rechecked if r.index == tuple(index)), None)

    def rechecked_count(self, status: str) -> int:
        """How many elements the second look gave this status ("kink", "step" or "fail")."""
        return sum(r.status == status for r in self.rechecked)

    @property
    def cleared(self) -> Mask:
        """Elements that failed a first time and that the second look excused or left
        unresolved."""
        mask = np.zeros(self.kinks.shape, dtype=bool)
        for r in self.rechecked:
            mask[r.index] = r.cleared
        return mask

    @property
    def worst_is_kink(self) -> bool:
        """The worst element is a kink (judged by its one-sided slopes, not the central rule)."""
        return self.worst_index is not None and bool(self.kinks[self.worst_index])

    def kink_verdict(self, index: tuple[int, ...]) -> str | None:
        """"kink: consistent", "kink: inconsistent", "kink: unjudged" (no one-sided slopes),
        or None for an element that is not a kink."""
        if not self.kinks[index]:
            return None
        if self.inconsistent is not None and self.inconsistent[index]:
            return "kink: inconsistent"
        if self.one_sided is None or np.isnan(self.one_sided[0][index]) or self.unresolved[index]:
            return "kink: unjudged"
        return "kink: consistent"

    @property
    def worst_analytic(self) -> float | None:
        return None if self.worst_index is None else float(self.analytic[self.worst_index])

    @property
    def worst_numerical(self) -> float | None:
        return None if self.worst_index is None else float(self.numerical[self.worst_index])


@dataclass(frozen=True)
class Diagnosis:
    """What a failing tensor's errors look like, and where they enter the backward pass.

    `kind` is one of DIAGNOSIS_KINDS; `detail` says it in a sentence with the numbers;
    `factor` is the constant of a "scale" error; `enters` names the first intermediate
    (dz_l or da_l) that is wrong, where that can be told."""

    tensor: str
    kind: str
    detail: str
    factor: float | None = None
    enters: str | None = None


DIAGNOSIS_KINDS = ("sign", "scale", "dead-units", "transpose", "zero", "wrong-cache", "regularisation",
                   "penalty-not-in-loss", "cost", "other")


@dataclass(frozen=True)
class GradCheck:
    method: str
    eps: float
    tensors: dict[str, TensorCheck]
    atol: float = ATOL  # the absolute tolerance used: ATOL, or the rounding floor if larger
    notes: tuple[str, ...] = field(default=())
    diagnosis: tuple[Diagnosis, ...] = field(default=())  # empty when every tensor passes

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.tensors.values())

    @property
    def failed_names(self) -> list[str]:
        return [name for name, check in self.tensors.items() if check.verdict == "fail"]

    @property
    def unresolved_names(self) -> list[str]:
        return [name for name, check in self.tensors.items() if check.verdict == "unresolved"]


def judge(name: str, analytic: Array, numerical: Array, kinks: Mask, atol: float = ATOL,
          rtol: float = RTOL, floor: float = 0.0, one_sided: tuple[Array, Array] | None = None,
          rechecked: tuple[Rechecked, ...] = ()) -> TensorCheck:
    """Apply the verdict rule to one tensor: the central rule off the kinks, and at the kinks
    (given their one-sided slopes, `one_sided` = (left, right)) the subgradient rule.

    `floor` is the rounding floor when it has raised atol: elements smaller than it on
    both sides are unresolved rather than judged. Kinks without one-sided slopes (NaN, or
    none given) are left out: nothing bounds what their analytic value may be. Elements a
    second look (`rechecked`) cleared are left out of the failures and the central rule's
    largest differences (unresolved ones are unresolved), and are the worst only if nothing
    else counts."""
    analytic = np.asarray(analytic, dtype=np.float64).reshape(numerical.shape)
    excused = _excused(rechecked, kinks.shape)
    central = ~kinks if excused is None else ~kinks & ~excused[0]
    with np.errstate(invalid="ignore", over="ignore"):
        central_rule = _central_rule(analytic, numerical, kinks, central, (atol, rtol, floor))
        failing, unresolved, excess, max_abs_diff, max_rel_error = central_rule
        counted = ~kinks
        inconsistent = np.zeros(kinks.shape, dtype=bool)
        if one_sided is not None and kinks.any():
            at_kinks = _judge_kinks(analytic, kinks, one_sided, atol, rtol, floor)
            one_sided = at_kinks.one_sided
            unresolved |= at_kinks.unresolved
            inconsistent = at_kinks.inconsistent
            failing |= inconsistent
            excess = np.where(at_kinks.judged, at_kinks.excess, excess)
            counted = counted | at_kinks.judged
        if excused is not None:
            failing, inconsistent = failing & ~excused[0], inconsistent & ~excused[0]
            unresolved |= excused[2]
            excess = np.where(excused[0], excused[1], excess)
    has_counted = bool(counted.any())
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(excess)), excess.shape))
    return TensorCheck(
        name=name,
        analytic=analytic,
        numerical=numerical,
        kinks=kinks,
        max_abs_diff=max_abs_diff,
        max_rel_error=max_rel_error,
        worst_index=worst if has_counted else None,
        failing=failing,
        unresolved=unresolved,
        # Every element an unjudged kink: nothing was judged, so nothing passed either.
        verdict="fail" if failing.any() else "unresolved" if unresolved.any() or not has_counted
        else "pass",
        # Kept only for a tensor with kinks, and no mask's memory without one: the undo
        # history holds every check, and most tensors of most checks have no kink.
        one_sided=one_sided if kinks.any() else None,
        inconsistent=inconsistent if inconsistent.any() else np.broadcast_to(np.False_, kinks.shape),
        rechecked=rechecked,
    )


#: Elements judged at a time by the central rule: its arrays of differences, scales and
#: tolerances are this long, not the tensor's size (1,000,000-9-1's W1: 69 MiB each).
JUDGED_AT_ONCE = 2**14


def _central_rule(analytic: Array, numerical: Array, kinks: Mask, central: Mask,
                  rule: tuple[float, float, float]) -> tuple[Mask, Mask, Array, float, float]:
    """The central rule, JUDGED_AT_ONCE elements at a time: the failing and unresolved
    elements (kinks are neither), how many tolerances each element's difference is (-inf at
    the kinks, for the worst's ranking), and the largest absolute and relative differences
    over the `central` elements (0.0 when there are none). Every element by the same
    operations as on the whole tensor at once, so the same numbers."""
    atol, rtol, floor = rule
    flat_a, flat_n = np.reshape(analytic, -1), np.reshape(numerical, -1)
    flat_kinks, flat_central = np.reshape(kinks, -1), np.reshape(central, -1)
    size = flat_a.size
    failing, unresolved = np.empty(size, dtype=bool), np.empty(size, dtype=bool)
    excess = np.empty(size)
    largest = np.array([-np.inf, -np.inf])  # |a - n| and the relative error, over `central`
    for start in range(0, size, JUDGED_AT_ONCE):
        part = slice(start, start + JUDGED_AT_ONCE)
        a, n, kink, counts = flat_a[part], flat_n[part], flat_kinks[part], flat_central[part]
        diff = np.abs(a - n)
        scale = np.maximum(np.abs(a), np.abs(n))
        tolerance = atol + rtol * scale
        # A numerical value that overflowed measured nothing, so it cannot fail a finite analytic.
        unmeasured = ~np.isfinite(n) & np.isfinite(a)
        unresolved[part] = ((scale < floor) | unmeasured) & ~kink
        # NaN never passes: "not <=" is True for NaN.
        failing[part] = ~(diff <= tolerance) & ~kink & ~unresolved[part]
        rel = diff / np.maximum(scale, REL_FLOOR)
        excess[part] = np.where(~kink, np.nan_to_num(diff / tolerance, nan=np.inf), -np.inf)
        largest = np.maximum(largest, [np.max(diff, where=counts, initial=-np.inf),
                                       np.max(rel, where=counts, initial=-np.inf)])
    shape = np.shape(kinks)
    found = (float(largest[0]), float(largest[1])) if bool(np.any(central)) else (0.0, 0.0)
    return failing.reshape(shape), unresolved.reshape(shape), excess.reshape(shape), *found


def _excused(rechecked: tuple[Rechecked, ...],
             shape: tuple[int, ...]) -> tuple[Mask, Array, Mask] | None:
    """The elements a second look cleared (excused, or left unresolved), their excess ranked
    below every counted element's (excess - 1, at most 0): the worst element is one still
    judged as it was; and which of them are unresolved."""
    if not any(r.cleared for r in rechecked):
        return None
    mask = np.zeros(shape, dtype=bool)
    unjudged = np.zeros(shape, dtype=bool)
    excess = np.zeros(shape)
    for r in rechecked:
        if r.cleared:
            mask[r.index] = True
            unjudged[r.index] = r.status == "unresolved"
            excess[r.index] = min(r.excess, 1.0) - 1.0
    return mask, excess, unjudged


@dataclass(frozen=True)
class _AtKinks:
    """The subgradient rule's findings at a tensor's kinks (see the module's docstring)."""

    one_sided: tuple[Array, Array]  # (left, right), in the tensor's shape
    judged: Mask  # kinks with both slopes, above the floor and measured
    unresolved: Mask  # kinks below the rounding floor, or whose slopes overflowed
    inconsistent: Mask  # judged kinks whose analytic value lies outside their slopes
    excess: Array  # how many tolerances outside its slopes each kink lies (NaN: infinitely)


def _judge_kinks(analytic: Array, kinks: Mask, one_sided: tuple[Array, Array], atol: float,
                 rtol: float, floor: float) -> _AtKinks:
    """The subgradient rule: a kink's analytic value must lie between its one-sided slopes,
    within atol + rtol * max(|a|, |left|, |right|)."""
    left = np.asarray(one_sided[0], dtype=np.float64).reshape(analytic.shape)
    right = np.asarray(one_sided[1], dtype=np.float64).reshape(analytic.shape)
    low, high = np.minimum(left, right), np.maximum(left, right)
    k_scale = np.maximum(np.abs(analytic), np.maximum(np.abs(left), np.abs(right)))
    k_tol = atol + rtol * k_scale
    outside = np.maximum(low - analytic, analytic - high)  # > 0 outside the interval
    judged = kinks & ~np.isnan(left) & ~np.isnan(right)
    k_unmeasured = judged & (~np.isfinite(low) | ~np.isfinite(high)) & np.isfinite(analytic)
    k_unresolved = judged & ((k_scale < floor) | k_unmeasured)
    judged &= ~k_unresolved
    # NaN analytic never passes.
    inconsistent = judged & ~(outside <= k_tol)
    return _AtKinks((left, right), judged, k_unresolved, inconsistent,
                    np.nan_to_num(outside / k_tol, nan=np.inf))


def method_for(model: Model, method: str) -> str:
    """The method a check of this model uses: the vectorised one computes the built-in
    network's loss, so any other model is checked element by element."""
    return method if model.fast_gradcheck else "loop"


def gradient_check(model: Model, params: Params, x: Array, y: Labels, grads: Tensors,
                   eps: float, method: str = "fast", progress: Progress | None = None,
                   atol: float = ATOL, rtol: float = RTOL) -> GradCheck:
    """Numerical gradients of the model's loss for every parameter, and verdicts."""
    notes: list[str] = []
    method = method_for(model, method)
    with np.errstate(all="ignore"):
        cache, loss = model.forward(x, params, y)
        floor = _rounding_floor(float(loss), eps)
        if floor > atol:
            notes.append(_floor_note(float(loss), eps, floor))
            atol = floor
        else:
            floor = 0.0
        numerical = model.numerical_gradients(params, x, y, eps, progress, method)
        tensors = {}
        for name, measured in numerical.items():
            num, kinks = measured[0], measured[1]
            sides = measured[2] if len(measured) > 2 else None
            tensors[name] = judge(name, grads["d" + name], num, kinks, atol, rtol, floor,
                                  None if sides is None else (sides[0], sides[1]))
        rounding = _rounding_floor(float(loss), 1.0)  # a loss's rounding error: the floor at eps 1
        tensors, left_out = recheck(model, (params, x, y), float(loss), tensors, eps,
                                    (atol, rtol, floor, rounding), progress)
    notes.extend(_recheck_notes(tensors, left_out))
    notes.extend(_kink_notes(tensors, eps))
    notes.extend(_eps_notes(tensors, eps))
    notes.extend(_precision_notes([*params.values(), *cache.values(), loss]))
    return GradCheck(method=method, eps=eps, tensors=tensors, atol=atol, notes=tuple(notes))


def recheck(model: Model, step: tuple[Params, Array, Labels], loss: float,
            tensors: dict[str, TensorCheck], eps: float, rule: tuple[float, float, float, float],
            progress: Progress | None = None) -> tuple[dict[str, TensorCheck], int]:
    """Failing elements judged again (engine.check.recheck), in at most two requests for the
    model's losses at four nudges an element; nothing asked when nothing fails.

    First the worst element of each failing tensor. A tensor whose worst difference survives
    fails whatever its other elements are, so they are left as they were: a real bug costs
    four passes a tensor. Where the worst was excused, the tensor's other failing elements
    are judged too (RECHECK_LIMIT in all at most, the worst first).

    Inputs:
    - model, step: the model, and the step's (params, x, y) the check measured
    - loss: L(θ), the loss the check's forward pass gave
    - tensors: the first verdicts, by name
    - eps: the check's step
    - rule: (atol, rtol, floor, rounding): the verdict rule's tolerances, its rounding floor
      (0.0 unless it raised atol), and a loss's rounding error u (the floor times eps)

    Returns the tensors judged again, and how many failing elements of excused tensors were
    left as they were (beyond RECHECK_LIMIT).
    """
    failing = {name: _failing(t, rule[0], rule[1]) for name, t in tensors.items() if t.failing.any()}
    if not failing:
        return tensors, 0
    look = _SecondLook(model, step, loss, eps, rule, progress)
    found = {name: look.judge([(name, elements[0][0])], tensors) for name, elements in failing.items()}
    rest = [(name, index) for name, elements in failing.items() if found[name][0].cleared
            for index, _ in elements[1:]]
    budget = max(0, RECHECK_LIMIT - len(found))
    for r, (name, _) in zip(look.judge(rest[:budget], tensors), rest[:budget], strict=True):
        found[name].append(r)
    out = dict(tensors)
    for name, again in found.items():
        t = tensors[name]
        out[name] = judge(name, t.analytic, t.numerical, t.kinks, rule[0], rule[1], rule[2],
                          t.one_sided, tuple(again))
    return out, max(0, len(rest) - budget)


class _SecondLook:
    """The model's losses at the nudges of some elements, and their second verdicts."""

    def __init__(self, model: Model, step: tuple[Params, Array, Labels], loss: float, eps: float,
                 rule: tuple[float, float, float, float], progress: Progress | None) -> None:
        self.model, self.step, self.loss, self.eps, self.progress = model, step, loss, eps, progress
        self.tolerance = (rule[0], rule[1], rule[3])
        self.h = second_step(eps, rule[3], rule[0])

    def judge(self, elements: list[tuple[str, tuple[int, ...]]],
              tensors: dict[str, TensorCheck]) -> list[Rechecked]:
        """One request for every element's four losses; each element's Rechecked, in order."""
        if not elements:
            return []
        wanted = [n for name, index in elements for n in nudges(name, index, self.eps, self.h)]
        params, x, y = self.step
        losses = np.asarray(self.model.nudged_losses(params, x, y, wanted, self.progress),
                            dtype=np.float64)
        found = [judge_element(index, float(tensors[name].analytic[index]), self.loss,
                               losses[4 * k:4 * k + 4], self.eps, self.h, self.tolerance,
                               bool(tensors[name].kinks[index]))
                 for k, (name, index) in enumerate(elements)]
        return self.wide_look(elements, found, tensors)

    def wide_look(self, elements: list[tuple[str, tuple[int, ...]]], found: list[Rechecked],
                  tensors: dict[str, TensorCheck]) -> list[Rechecked]:
        """The elements that still fail (and no marked kink), nudged by ±WIDE_STEP in one
        request: a loss that does not resolve eps (a saturated output) leaves them unresolved."""
        failing = [k for k, r in enumerate(found)
                   if r.status == "fail" and not tensors[elements[k][0]].kinks[elements[k][1]]]
        if not failing or self.eps * 10 >= WIDE_STEP:
            return found
        wanted = [(elements[k][0], elements[k][1], sign * WIDE_STEP) for k in failing for sign in (1, -1)]
        params, x, y = self.step
        losses = np.asarray(self.model.nudged_losses(params, x, y, wanted, self.progress),
                            dtype=np.float64)
        out = list(found)
        for j, k in enumerate(failing):
            name, index = elements[k]
            out[k] = wide(found[k], float(tensors[name].analytic[index]), float(losses[2 * j]),
                          float(losses[2 * j + 1]), self.tolerance[0])
        return out


def _failing(t: TensorCheck, atol: float, rtol: float) -> list[tuple[tuple[int, ...], float]]:
    """A tensor's failing elements, each with how far past its tolerance it lies, worst first."""
    indices = list(zip(*np.nonzero(t.failing), strict=True)) if t.failing.ndim else \
        ([()] if bool(t.failing) else [])
    with np.errstate(all="ignore"):
        diff = np.abs(t.analytic - t.numerical)
        tol = atol + rtol * np.maximum(np.abs(t.analytic), np.abs(t.numerical))
        excess = np.nan_to_num(diff / tol, nan=np.inf)
    found = [(tuple(int(i) for i in index), float(excess[tuple(index)])) for index in indices]
    return sorted(found, key=lambda item: -item[1])


def _recheck_notes(tensors: dict[str, TensorCheck], left_out: int) -> list[str]:
    """What the second look found, when it excused some element."""
    rechecked = [r for t in tensors.values() for r in t.rechecked]
    if not any(r.cleared for r in rechecked):  # every difference survived: the failures say it
        return []
    counts = {status: sum(r.status == status for r in rechecked) for status in STATUSES}
    h = rechecked[0].step
    lines = [f"{len(rechecked)} element(s) failed the central rule and were judged again from "
             f"L(θ±eps) and L(θ±{h:.2g}): {counts['kink']} a kink (the analytic value lies between "
             f"the one-sided slopes), {counts['step']} the step (the central difference at "
             f"{h:.2g} agrees), {counts['fail']} still failing"
             + (f", {counts['unresolved']} unresolved (kinks closer to θ than {h:.2g} on both "
                "sides: no difference quotient can judge them)" if counts["unresolved"] else "")]
    if left_out:
        lines.append(f"{left_out} more failing element(s) were not judged again (at most "
                     f"{RECHECK_LIMIT} a check), and fail")
    return lines


def _rounding_floor(loss: float, eps: float) -> float:
    """The smallest gradient a central difference of this loss resolves (the module's
    docstring: the loss's rounding error over eps)."""
    return NOISE_ULPS * float(np.finfo(np.float64).eps) * abs(loss) / eps


def _floor_note(loss: float, eps: float, floor: float) -> str:
    what = f"gradients below {floor:.2g}" if math.isfinite(floor) else "any gradient"
    return (f"rounding floor: with |L| = {abs(loss):.3g} and eps = {eps:g}, central "
            f"differences cannot resolve {what}; atol raised to the floor, and elements "
            "below it on both sides are unresolved, not passed"
            + (" (try eps near 1e-5)" if eps < 1e-7 else ""))


def _kink_notes(tensors: dict[str, TensorCheck], eps: float) -> list[str]:
    """How many elements were judged at a kink, and how many of those were inconsistent."""
    kinks_total = sum(check.kink_count for check in tensors.values())
    if not kinks_total:
        return []
    smaller = f", e.g. {eps / 100:g}" if eps / 100 > 0 else ""
    bad = sum(check.inconsistent_count for check in tensors.values())
    return [f"{kinks_total} element(s) straddle a kink at eps={eps:g}: judged by their "
            f"one-sided slopes instead of the central difference ({bad} inconsistent); "
            f"try a smaller eps{smaller}"]


def _eps_notes(tensors: dict[str, TensorCheck], eps: float) -> list[str]:
    """A failure under a large eps may be the truncation error's, not a bug's."""
    if eps > 1e-3 and any(check.verdict == "fail" for check in tensors.values()):
        return [f"eps = {eps:g} is large: the central difference's truncation error grows as "
                "eps squared, so failures may be eps, not bugs (try eps near 1e-5)"]
    return []


def _precision_notes(computed: list[object]) -> list[str]:
    """The stepper's parameters are float64; a model may still compute in lower precision,
    where central differences are unreliable. Higher precision (long double) only makes
    the differences more accurate: no note."""
    coarse = sorted({str(v.dtype) for v in computed if isinstance(v, np.ndarray | np.generic)
                     and v.dtype.kind in "fc" and np.finfo(v.dtype).eps > np.finfo(np.float64).eps})
    if not coarse:
        return []
    return [f"the model computes in {', '.join(coarse)}, less precise than float64: central "
            "differences are unreliable there (float32 gives relative errors near 1e-1 at "
            "eps 1e-5), so failures may be precision, not bugs"]
