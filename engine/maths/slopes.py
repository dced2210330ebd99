"""Numerical slopes of a model's loss: central differences element by element, and the
one-sided slopes at a kink.

Extreme eps: the slope is computed as (L+ - L-) / eps / 2, never with 2 eps or 1 / (2 eps),
which overflow (eps above 9e307) or reach infinity (eps below 2.8e-309) while the slope itself
is finite.

Kinks: ReLU and leaky ReLU are not differentiable at 0. When an element's +-eps nudge
moves some hidden unit's z across 0, in any layer, the central difference straddles the
kink and measures an average of the two slopes; the element is marked, and its two
one-sided slopes, left = (L(θ) - L(θ-eps)) / eps and right = (L(θ+eps) - L(θ)) / eps, are
kept for the verdict (engine.check.verdicts). The vectorised method (engine.maths.fastcheck)
and the loop method here mark the same elements and give the same slopes. Where the nudges
cross a kink on both sides of θ (two units near their kinks), both slopes mix pieces and
bound nothing: such an element keeps no slopes (NaN).

Nudged losses: the recheck of an element that fails (engine.check.verdicts) needs the loss
at a few single-element nudges of θ, and nothing else; `nudged_losses` evaluates them with
any forward pass, so a model answers that request alike in-process and in its own process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

import numpy as np

from engine.maths.fastcheck import Mask, slope
from engine.maths.network import Array, Labels, Params, Tensors

#: Called as progress(done, total) while a check runs; it may raise to cancel.
Progress = Callable[[int, int], None]
#: One element of one parameter moved by a step: (name, index, step).
Nudge = tuple[str, tuple[int, ...], float]


class BlackBox(Protocol):
    """All the black-box method needs of a model: its forward pass, and the sides of the
    kinks its cache shows."""

    def forward(self, x: Array, params: Params, y: Labels) -> tuple[Tensors, float]: ...

    def kink_sides(self, cache: Tensors) -> list[Mask]: ...


def pre_activation_sides(cache: Tensors) -> list[Mask]:
    """The kink rule for a model whose activations are unknown (a user's): which side of 0
    each cached pre-activation is on, for every numeric array whose name starts with "z",
    except the last one, the output's logit (a sigmoid or softmax is smooth there). For the
    notebook's cache (x, z1, a1, z2, a2) that is z1: where its ReLU kinks.

    Inputs:
    - cache: a model's forward cache, by name, any values

    Returns one mask (z > 0) of each such array's shape, in the cache's order.
    """
    sides = []
    for name, value in cache.items():
        if name.startswith("z"):
            try:
                array = np.asarray(value)
            except Exception:  # a user's object may raise anything from __array__
                continue
            if array.dtype.kind in "biuf":
                sides.append(array > 0)
    return sides[:-1]


def central_difference(model: BlackBox, work: Params, name: str, idx: tuple[int, ...], x: Array,
                       y: Labels, eps: float) -> tuple[float, bool, float, float, list[Mask], list[Mask]]:
    """One element of the notebook's black-box method: two forward passes with the element
    nudged by +-eps (restored after), and whether the nudge crossed a kink, i.e. the two
    evaluations put some unit on different sides of it (model.kink_sides). Also the two
    losses L(θ+eps) and L(θ-eps) and the two passes' kink sides, for the one-sided slopes.

    Inputs:
    - model: its forward pass and kink sides
    - work: the parameters, by name, nudged in place and restored
    - name, idx: the element nudged, work[name][idx]
    - x, y: the sample, shape (n0,), or a batch's, (B, n0) and (B,)
    - eps: the nudge

    Returns (slope, kink, L(θ+eps), L(θ-eps), the + pass's kink sides, the − pass's), the
    sides as model.kink_sides gives them.
    """
    tensor = work[name]
    orig = tensor[idx]
    tensor[idx] = orig + eps
    cache_plus, loss_plus = model.forward(x, work, y)
    tensor[idx] = orig - eps
    cache_minus, loss_minus = model.forward(x, work, y)
    tensor[idx] = orig
    plus, minus = model.kink_sides(cache_plus), model.kink_sides(cache_minus)
    kink = len(plus) == len(minus) and any(
        p.shape == m.shape and bool(np.any(p != m)) for p, m in zip(plus, minus, strict=True))
    return slope(loss_plus, loss_minus, eps), kink, float(loss_plus), float(loss_minus), plus, minus


#: What a numerical method gives for each parameter: the central differences, the kink
#: mask, and the one-sided slopes stacked as (left, right) (shape (2, *shape), NaN where
#: not a kink). Plain NumPy, so it crosses the pipe from a user's model process.
Numerical = dict[str, tuple[Array, Mask, Array]]


def _off_kink(model: BlackBox, cache: Tensors) -> list[Mask]:
    """Which units of θ's pass are off their kink (z != 0): the sides of z and of -z."""
    negated = {name: -value if isinstance(value, np.ndarray) and value.dtype.kind in "if" else value
               for name, value in cache.items()}
    return [p | n if p.shape == n.shape else np.ones_like(p)
            for p, n in zip(model.kink_sides(cache), model.kink_sides(negated), strict=False)]


def _crosses(base: list[Mask], off: list[Mask], nudged: list[Mask]) -> bool:
    """Whether a nudged pass put some unit that θ's pass has off its kink on its other side
    (a unit exactly at its kink crosses nothing: the kink is at θ itself)."""
    return len(base) == len(nudged) == len(off) and any(
        b.shape == n.shape == o.shape and bool(np.any((b != n) & o))
        for b, o, n in zip(base, off, nudged, strict=True))


def loop_numerical(model: BlackBox, params: Params, x: Array, y: Labels, eps: float,
                   progress: Progress | None, every: int | None = None) -> Numerical:
    """The notebook's method, element by element: works for any model. Progress is
    reported every `every` elements (by default about 200 times in all). L(θ) is computed
    once, at the first kink (a model without kinks is called twice an element, no more).

    Inputs:
    - model: its forward pass and kink sides
    - params: the parameters by name, any shapes (copied, never changed)
    - x, y: the sample, shape (n0,), or a batch's, (B, n0) and (B,)
    - eps: the nudge
    - progress: called as progress(done, total), or None

    Returns Numerical: for each parameter θ, (slopes, θ's shape; kink mask, θ's shape;
    one-sided slopes, shape (2, *θ's shape)).
    """
    work = {name: np.array(value, dtype=np.float64, copy=True) for name, value in params.items()}
    total = sum(value.size for value in work.values())
    every = every or max(1, total // 200)
    done = 0
    base: tuple[float, list[Mask], list[Mask]] | None = None
    result: Numerical = {}
    with np.errstate(all="ignore"):
        for name in work:
            num = np.zeros_like(work[name])
            kinks = np.zeros(num.shape, dtype=bool)
            sides = np.full((2, *num.shape), np.nan)
            for idx in np.ndindex(num.shape):
                num[idx], kinks[idx], plus, minus, s_plus, s_minus = central_difference(
                    model, work, name, idx, x, y, eps)
                if kinks[idx]:
                    if base is None:
                        cache, loss = model.forward(x, work, y)
                        base = float(loss), model.kink_sides(cache), _off_kink(model, cache)
                    if not (_crosses(base[1], base[2], s_plus) and _crosses(base[1], base[2], s_minus)):
                        sides[(0, *idx)] = (base[0] - minus) / eps
                        sides[(1, *idx)] = (plus - base[0]) / eps
                done += 1
                if progress is not None and done % every == 0:
                    progress(done, total)
            result[name] = (num, kinks, sides)
    if progress is not None and total % every:
        progress(total, total)
    return result


def mean_numerical(samples: Iterable[Numerical]) -> Numerical:
    """A batch's numerical gradients from its samples' (the central difference of a mean
    loss is the mean of the samples' central differences). An element is a kink where any
    sample's nudge crossed one; its one-sided slopes are the means of the samples' (a sample
    that crossed no kink contributes its central difference to both), NaN where some sample
    crossed kinks on both sides.

    Inputs:
    - samples: each sample's Numerical, the same parameters of the same shapes

    Returns their Numerical mean, of the same shapes.
    """
    total: Numerical = {}
    count = 0
    for part in samples:
        count += 1
        for name, (num, kinks, sides) in part.items():
            sided = np.where(kinks, sides, num)
            if name not in total:
                total[name] = (num.copy(), kinks.copy(), sided)
            else:
                acc = total[name]
                total[name] = (acc[0] + num, acc[1] | kinks, acc[2] + sided)
    return {name: (num / count, kinks, np.where(kinks, sides / count, np.nan))
            for name, (num, kinks, sides) in total.items()}


def nudged_losses(loss: Callable[[Params], float], params: Params, nudges: Iterable[Nudge],
                  progress: Progress | None = None) -> Array:
    """The loss at θ with one element moved, for each nudge: one forward pass a nudge.

    Inputs:
    - loss: the model's loss at some parameters (its forward pass on the step's sample or batch)
    - params: θ, by name (copied, never changed)
    - nudges: (name, index, step) each; params[name][index] + step is evaluated, then restored
    - progress: called as progress(done, total) after each pass, or None

    Returns the losses, one a nudge, in the nudges' order (NaN where a name or index is not
    θ's: a request from another process is not trusted to name only real elements).
    """
    work = {name: np.array(value, dtype=np.float64, copy=True) for name, value in params.items()}
    wanted = list(nudges)
    losses = np.full(len(wanted), np.nan)
    with np.errstate(all="ignore"):
        for i, (name, idx, step) in enumerate(wanted):
            tensor = work.get(name)
            if tensor is None or len(idx) != tensor.ndim or not all(
                    0 <= k < n for k, n in zip(idx, tensor.shape, strict=True)):
                continue
            orig = tensor[idx]
            tensor[idx] = orig + step
            try:
                losses[i] = float(loss(work))
            finally:
                tensor[idx] = orig
            if progress is not None:
                progress(i + 1, len(wanted))
    return losses
