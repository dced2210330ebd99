"""A tensor's statistics as the panels' summaries and zoom show them: min, max, mean, norm.

Taken in one pass over the values, scaled once, with no copy of values that are already
float64 and finite, and without BLAS: OpenBLAS runs a dot product of more than about 10,000
values on several threads, and on a busy 2-core machine waiting for them to be scheduled
cost about 8 ms a product (against 0.03 ms on one thread) at every new 784x256 tensor, four
to twelve of them a key (issue 28). NumPy's own summation does the same sum on this thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Statistics:
    """Of the finite values of a tensor (the magnitudes of complex numbers); `low` and the
    rest None when none is finite."""

    what: str  # "|v| " for complex numbers' magnitudes, else ""
    size: int
    finite: int
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    norm: float | None = None

    @property
    def nonfinite(self) -> int:
        return self.size - self.finite


def real_values(value: np.ndarray) -> tuple[np.ndarray, str]:
    """Float64 values to take statistics of, and what they are: the magnitudes of complex
    numbers, integers and booleans as floats (a huge integer rounded). Float64 values are
    not copied."""
    value = np.asarray(value)
    if value.dtype.kind == "c":
        with np.errstate(all="ignore"):
            return np.abs(value).astype(np.float64).ravel(), "|v| "
    if value.dtype.kind in "biuf":
        return np.asarray(value, dtype=np.float64).ravel(), ""
    return np.zeros(0), ""


def statistics(value: np.ndarray) -> Statistics:
    """The statistics of `value`'s finite values. The mean and the norm are taken of the
    values divided by the largest magnitude, so that neither the sum nor the squares
    overflow (200 values of 1.7e308 overflow even halved; 1e300 squares to inf)."""
    real, what = real_values(value)
    finite_mask = np.isfinite(real)
    finite = real if finite_mask.all() else real[finite_mask]
    if not finite.size:
        return Statistics(what, real.size, 0)
    low, high = float(finite.min()), float(finite.max())
    scale = max(abs(low), abs(high))
    if scale == 0:
        return Statistics(what, real.size, finite.size, low, high, 0.0, 0.0)
    scaled = finite / scale
    mean = scale * float(np.mean(scaled))
    norm = scale * math.sqrt(float(np.einsum("i,i->", scaled, scaled)))
    return Statistics(what, real.size, finite.size, low, high, mean, norm)
