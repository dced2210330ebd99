"""A numerical gradient (any model's): the central difference (L(θ+ε) − L(θ−ε)) / ε / 2,
with both losses recomputed through the forward pass, and the verdict with its tolerance."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.check.verdicts import RTOL, TensorCheck
from engine.explain.explanation import Explanation, Source, Term
from engine.explain.written import element_label, num
from engine.maths import network
from engine.maths.fastcheck import slope
from engine.maths.network import Array, Labels, Params, Tensors
from engine.maths.network import forward as network_forward
from engine.run.stepper import View

ForwardFn = Callable[[Array, Params, Labels], tuple[Tensors, float]]


def _verdict(t: TensorCheck, index: tuple[int, ...]) -> str:
    again = t.recheck_of(index)
    if again is not None and again.cleared:  # failed at eps, cleared by a second look
        return again.label
    if t.kinks[index]:
        return t.kink_verdict(index) or "kink"
    return "unresolved" if t.unresolved[index] else "fail" if t.failing[index] else "pass"


def _builtin_forward(view: View) -> ForwardFn:
    """The built-in network's forward pass, as a model's forward is called: its loss without
    the penalty under the penalty-loss drill, as the model computed it."""
    arch = view.config.architecture
    if network.drill(view.bug).unpenalised_loss:
        arch = arch.unpenalised()

    def forward(x: Array, params: Params, y: Labels) -> tuple[Tensors, float]:
        return network_forward(arch, x, params, y)

    return forward


def _nudged(view: View, forward: ForwardFn, name: str, index: tuple[int, ...],
            eps: float) -> tuple[float, float, float]:
    """L(θ + ε), L(θ − ε) and L(θ) of the batch's mean loss (the loss the check took), the
    element nudged in a copy of the parameters the step used."""
    state = view.state
    used = state.update.before if state.update is not None else state.params
    x: Array = np.asarray(view.config.x, dtype=np.float64) if view.sample is None else view.sample.X
    y: Labels = int(view.config.y) if view.sample is None else view.sample.labels
    work = {k: np.array(v, dtype=np.float64, copy=True) for k, v in used.items()}
    orig = work[name][index]
    with np.errstate(all="ignore"):
        work[name][index] = orig + eps
        _, plus = forward(x, work, y)
        work[name][index] = orig - eps
        _, minus = forward(x, work, y)
        work[name][index] = orig
        _, middle = forward(x, work, y)
    return float(plus), float(minus), float(middle)


def explain(view: View, q: str, name: str, index: tuple[int, ...], value: float,
            forward: ForwardFn | None) -> Explanation:
    """gradcheck.θ[index]; `forward` recomputes a user's model's nudged losses (the built-in
    network's own forward pass when None), and without one they are not recomputed."""
    assert view.state.gradcheck is not None
    check = view.state.gradcheck
    t = check.tensors[name]
    label = element_label(name, index)
    eps, atol = float(check.eps), float(check.atol)
    a, n = float(t.analytic[index]), float(t.numerical[index])
    if forward is None and not view.user_code:
        forward = _builtin_forward(view)
    tol = atol + RTOL * max(abs(a), abs(n))
    verdict = _verdict(t, index)
    notes = [f"numerical (the finite-difference estimate, this tensor): {num(n)}; beside it the "
             f"analytic (the backward pass's d{label}): {num(a)}",
             f"|a − n| = {num(abs(a - n))}; tolerance atol + rtol·max(|a|, |n|) = {atol:g} + {RTOL:g} · "
             f"{num(max(abs(a), abs(n)))} = {num(tol)}: {verdict}"]
    formula = f"numerical d{label} = (L({label} + ε) − L({label} − ε)) / ε / 2, ε = {eps:g}"
    used_name = "update.before" if view.state.update is not None else "params"
    sources = (Source(f"{used_name}.{name}", index),)
    if forward is None:
        if t.kinks[index]:
            notes.append(kink_note(t, index, a, None, None))
        notes.append("the losses L(θ ± ε) are not recomputed here (no forward pass given)")
        return Explanation(q, index, value, formula, f"{formula} = {num(n)}", sources=sources,
                           verdict=verdict, notes=tuple(notes))
    plus, minus, middle = _nudged(view, forward, name, index, eps)
    quotient = float(slope(plus, minus, eps))
    if quotient != n:
        notes.append(f"the check ({check.method} method) computed {n!r}; nudging the element through "
                     f"the forward pass gives {quotient!r} (a rounding difference of "
                     f"{num(abs(quotient - n))}: the {check.method} method evaluates the same losses "
                     "in another order)")
    if t.kinks[index]:
        notes.append(kink_note(t, index, a, (middle - minus) / eps, (plus - middle) / eps))
    return Explanation(q, index, value, formula,
                       f"{formula} = ({plus!r} − {minus!r}) / {eps:g} / 2 = {num(quotient)}",
                       sources=sources, verdict=verdict, notes=tuple(notes), operation="central-difference",
                       operands=(Term("L(θ + ε)", plus), Term("L(θ − ε)", minus), Term("ε", eps)))


def kink_note(t: TensorCheck, index: tuple[int, ...], a: float, left: float | None,
              right: float | None) -> str:
    """A kink element is judged by its one-sided slopes (the check's own, where it kept
    them): the analytic value must lie between them, a subgradient check."""
    if t.one_sided is not None and not np.isnan(t.one_sided[0][index]):
        left, right = float(t.one_sided[0][index]), float(t.one_sided[1][index])
    verdict = t.kink_verdict(index)
    if left is None or right is None or verdict == "kink: unjudged":
        return ("the ±ε nudge crosses a kink on both sides (or the slopes are unknown), so neither "
                "one-sided difference bounds the gradient: left out of the verdict")
    where = "lies" if verdict == "kink: consistent" else "does not lie"
    return (f"the ±ε nudge crosses a kink, so the central difference averages two slopes; judged by the "
            f"one-sided ones instead: left (L(θ) − L(θ − ε)) / ε = {num(left)}, right (L(θ + ε) − L(θ)) / ε "
            f"= {num(right)}; the analytic {num(a)} {where} between them, within the tolerance: {verdict}")
