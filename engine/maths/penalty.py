"""The weights' penalty (L1 and L2 regularisation), written once: its value, its gradient and
its difference quotients.

    P(W) = l1·Σ|W| + (l2/2)·ΣW²,   ∂P/∂W = l1·sign(W) + l2·W

summed over every weight matrix W_1 .. W_L, never over a bias. Weights only, as TensorFlow
Playground, cs231n and Goodfellow et al. (Deep Learning, 7.1) have it: a bias moves a unit's
threshold without scaling any input, so shrinking it makes the function no smoother, and a
penalised bias can keep a unit from the offset its data need.

The 1/2 of the L2 term is chosen so that its gradient is l2·W: the rate is then the weight
decay it causes, W ← W − lr·(dW + l2·W). Playground's L2 has the derivative w (its penalty
is w²/2); cs231n's later loss adds 0.5·reg·ΣW², whose gradient is reg·W: the same numbers.
The L1 term's gradient is l1·sign(W) with sign(0) = 0: |w| has no derivative at 0, every
value in [−l1, l1] is a subgradient there, and 0 is the one NumPy's sign gives.

The penalty belongs to the objective, once: a batch's loss is its samples' mean data loss
plus P (not P a sample), so its dW_l is the mean of its samples' plus ∂P/∂W_l.

The gradient check nudges W[i, j] by ±eps. The vectorised method nudges the pre-activations,
so it never sees P; the loop method's data loss is taken without it too (engine.model.builtin),
and P's own difference quotients are added to both by `with_penalty`, once, after the samples'
mean: the two methods give the same numbers and mark the same elements. Where |w| < eps the
nudges cross the kink of |w| at 0 and the central difference averages the slopes −l1 and
+l1: such an element is marked a kink, and its one-sided slopes (P's added to the data
loss's) are kept for the subgradient rule (engine.check.verdicts), as at a ReLU's kink.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
Mask = NDArray[np.bool_]
#: A numerical method's result, by parameter: (central differences, kink mask, one-sided
#: slopes stacked (left, right), NaN off the kinks): engine.maths.slopes.Numerical.
Measured = dict[str, tuple[Array, Mask, Array]]


def is_weight(name: str) -> bool:
    """Whether a parameter is penalised: the weight matrices W1 .. WL, not the biases."""
    return name.startswith("W")


def value(l1: float, l2: float, weights: list[Array]) -> float:
    """P = l1·Σ|W| + (l2/2)·ΣW² over the given weight matrices.

    Inputs:
    - l1, l2: the rates, >= 0
    - weights: W_1 .. W_L, any shapes

    Returns P, a float (0.0 when both rates are 0).
    """
    total = 0.0
    for W in weights:
        if l1:
            total += l1 * float(np.abs(W).sum())
        if l2:
            total += 0.5 * l2 * float(np.square(W).sum())
    return total


def gradient(l1: float, l2: float, W: Array) -> Array:
    """∂P/∂W = l1·sign(W) + l2·W, elementwise (sign(0) = 0: a subgradient).

    Inputs:
    - l1, l2: the rates, >= 0
    - W: one weight matrix

    Returns the gradient, W's shape (zeros when both rates are 0).
    """
    out = np.zeros_like(W, dtype=np.float64)
    if l1:
        out = out + l1 * np.sign(W)
    if l2:
        out = out + l2 * W
    return out


def quotients(l1: float, l2: float, W: Array, eps: float) -> tuple[Array, Mask, Array]:
    """P's difference quotients at every element of W nudged by ±eps.

    Central: l1·(|w+eps| − |w−eps|)/(2eps) + l2·w (the L2 term's quotient is exactly l2·w).
    One-sided: left = (P(w) − P(w−eps))/eps, right = (P(w+eps) − P(w))/eps, i.e.
    l1·(|w| − |w−eps|)/eps + l2·(w − eps/2) and l1·(|w+eps| − |w|)/eps + l2·(w + eps/2).
    A kink where l1 > 0 and the nudges put w on both sides of 0 (as a z is judged at its
    ReLU's kink).

    Inputs:
    - l1, l2: the rates, >= 0
    - W: one weight matrix
    - eps: the check's nudge

    Returns (central quotients, kink mask, one-sided slopes stacked (left, right), shape
    (2, *W.shape)), the slopes given for every element.
    """
    with np.errstate(all="ignore"):
        up, down = np.abs(W + eps), np.abs(W - eps)
        here = np.abs(W)
        central = l1 * ((up - down) / eps / 2.0) + l2 * W
        left = l1 * ((here - down) / eps) + l2 * (W - eps / 2.0)
        right = l1 * ((up - here) / eps) + l2 * (W + eps / 2.0)
    kinks = ((W + eps > 0) != (W - eps > 0)) if l1 > 0 else np.zeros(W.shape, dtype=bool)
    return central, kinks, np.stack([left, right])


def with_penalty(measured: Measured, l1: float, l2: float, params: dict[str, Array],
                 eps: float) -> Measured:
    """A data loss's numerical gradients made the objective's: P's quotients added to every
    weight's. An element is a kink where the data loss or P has one; its one-sided slopes
    are the sum of the two's, the data loss's central difference standing in for its own
    where only P kinks (its loss is smooth there, as mean_numerical takes a sample that
    crossed no kink), NaN where the data loss's slopes bound nothing.

    Inputs:
    - measured: the data loss's Numerical (engine.maths.slopes), by parameter name
    - l1, l2: the rates, >= 0
    - params: the parameters the check measured at, by name
    - eps: the check's nudge

    Returns the objective's Numerical, of the same names and shapes (itself when both rates
    are 0).
    """
    if not (l1 > 0 or l2 > 0):
        return measured
    out = dict(measured)
    for name, (num, kinks, sides) in measured.items():
        if not is_weight(name):
            continue
        p_num, p_kinks, p_sides = quotients(l1, l2, np.asarray(params[name], dtype=np.float64), eps)
        both = kinks | p_kinks
        data_sides = np.where(kinks, sides, num)  # the data loss's own slopes where it kinks
        with np.errstate(all="ignore"):
            merged = np.where(both, data_sides + p_sides, np.nan)
        out[name] = (num + p_num, both, merged)
    return out
