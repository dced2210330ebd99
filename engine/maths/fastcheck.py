"""The vectorised gradient check: the built-in network's central differences for every
parameter, without two forward passes for each.

Nudging W_l[i, j] by ±eps moves only z_l[i], by ±eps·a_(l-1)[j]; nudging b_l[i] moves it
by ±eps. So each perturbed loss needs only the network downstream of z_l[i], computed for
a batch of perturbations at once, in blocks of at most CHUNK numbers (bounded memory at
any size), every tensor's blocks on the machine's cores at once:

- An output-layer nudge moves one logit: the loss of the nudged logits, batched.
- A hidden-layer nudge changes a_l[i] by Δa = f(z_l[i] ± step) - a_l[i], and z_L by a
  function of Δa alone, whose Taylor coefficients C_n (one column a unit) are matrix
  products over the layers, computed once (`_Reach`): z_L(Δa) = z_L + Σ Δa^n C_n[:, i].
- Through piecewise-linear activations (relu, leaky-relu), and from the last hidden layer
  through any, the series stops at n = 1: z_L moves by Δa·J[:, i], with J = ∂z_L/∂a_l,
  exactly, until some downstream unit crosses its kink. Perturbations that may cross one
  (Δa beyond the nearest crossing of unit i, with a margin) are few; they are evaluated
  exactly, layer by layer, and marked as kinks when their +eps and -eps passes see
  different sides, as the loop method marks them.
- Through smooth activations (tanh, sigmoid) with two or more layers after l, the series
  is carried to ORDER terms (the activation's Taylor coefficients composed layer by
  layer), so a nudge costs n_L·ORDER numbers instead of a pass through every later layer.
  It is used where its terms fall fast enough that the rest is below TOL of the logits
  (`_radius`); a nudge beyond that is evaluated exactly, layer by layer.
- Behind a softmax no nudge costs K numbers: the cross-entropy of z_L + s(Δa) is
  L + log E_p[e^(s(Δa))] - s_y(Δa), p = softmax(z_L), whose own Taylor coefficients in Δa
  are computed once a unit (`_cross_entropy_series`); a nudge then costs ORDER numbers.
  Along one column (s = Δa·J[:, i]) the series is exact to TOL while
  |Δa|·max|J[:, i] - E_p[J[:, i]]| <= RHO (a bound, below), where the K logits take over;
  through smooth layers, where `_radius` says so, and the exact layers beyond.

Which numbers are bit for bit those of the method before issue 28 (one K-vector, or one
pass through the later layers, a nudge): the output layer's, and every hidden layer's
behind a single sigmoid output except a smooth layer's with two or more layers after it.
The series agree with the loop method to rounding (about 1e-16·|z| / eps), which
tests/engine/test_fastcheck.py checks on random networks of every activation, and
tests/engine/test_architectures.py against an independent computation.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from engine.maths import network
from engine.maths.network import Architecture, Array, Labels, Params

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

Mask = NDArray[np.bool_]
CHUNK = 1 << 20  # numbers in one batch: bounds the memory of a check of any size
#: Nudges in one block of work: small enough that every tensor's blocks keep both cores
#: busy to the end of the check, large enough that NumPy's calls dominate Python's.
BLOCK = 1 << 15
#: Parameters from which a check's jobs go to the pool. A smaller check is less work than
#: one block and runs on the calling thread: starting the pool's threads and handing them
#: jobs this small costs more than the jobs (a small network's first check is part of the
#: headless report's start-up: issue 28). The numbers are the same either way.
POOLED = BLOCK
#: Relative margin of the kink-crossing test: perturbations this close to a crossing are
#: evaluated exactly rather than trusted to the linear formula.
MARGIN = 1e-6
#: Terms of a Taylor series in Δa kept (smooth layers, the cross-entropy).
ORDER = 6
#: The truncation a series may leave, relative to max(1, |z_L|): a sixteenth of the
#: rounding of the loss the exact evaluation would compute.
TOL = 2.0 ** -60
#: |t|·max|w - E_p[w]| up to which the cross-entropy's series along a column w (below) is
#: exact to TOL: log E_p[e^(t(w - E_p[w]))] is analytic where |t|·max|w - E_p[w]| <= 1/2 (the
#: mean of the exponentials stays within e^(1/2) - 1 < 1 of 1) and at most M = -log(2 - e^(1/2))
#: there, so Cauchy's bound leaves at most M·q^(N+1)/(1 - q) after N terms, q = 2|t|·max|w - E_p[w]|.
RHO = (TOL / (2 * -math.log(2 - math.exp(0.5)))) ** (1 / (ORDER + 1)) / 2
#: f' as a polynomial in f (coefficients of f^0, f^1, ...): tanh' = 1 - tanh², σ' = σ - σ².
#: Every derivative of f is then a polynomial in f, which gives the Taylor coefficients.
DERIVATIVE_IN_F = {"tanh": (1.0, 0.0, -1.0), "sigmoid": (0.0, 1.0, -1.0)}


def slope(loss_plus: Any, loss_minus: Any, eps: float) -> Any:
    """The central difference, divided in two steps because 2 * eps overflows for eps near
    the largest float and 1 / (2 * eps) for eps below 2.8e-309, while the slope is finite.

    Inputs:
    - loss_plus, loss_minus: L(θ + eps) and L(θ − eps), floats or arrays of one shape
    - eps: the nudge

    Returns (L(θ + eps) − L(θ − eps)) / eps / 2, of the losses' shape.
    """
    return (loss_plus - loss_minus) / eps / 2.0


def fast_numerical(arch: Architecture, params: Params, x: Array, y: Labels,
                   eps: float) -> dict[str, tuple[Array, Mask, Array]]:
    """Numerical gradients, kink masks and the kinks' one-sided slopes (stacked (left,
    right), NaN off the kinks: see engine.check.verdicts) of every parameter, in
    arch.param_names order.

    Inputs:
    - arch, params: the network, W_l of shape (n_l, n_(l-1)) and b_l of shape (n_l,)
    - x: one sample, shape (n0,)
    - y: its class index
    - eps: the nudge

    Returns, for each parameter θ by name: (numerical gradient, θ's shape; kink mask, θ's
    shape; one-sided slopes, shape (2, *θ's shape)).
    """
    cache, _ = network.forward(arch, x, params, y)
    layers = [_Layer(arch, params, cache, y, l) for l in range(1, arch.depth + 1)]
    pooled = sum(p.size for p in params.values()) >= POOLED
    _run([job for layer in layers for job in layer.reach_jobs()], pooled)
    result: dict[str, tuple[Array, Mask, Array]] = {}
    blocks: list[Callable[[], None]] = []
    found: dict[str, tuple[Array, Mask, _Sides]] = {}
    for layer in layers:
        a_prev = x if layer.l == 1 else cache[f"a{layer.l - 1}"]
        found[f"W{layer.l}"] = layer.central(eps * a_prev, eps, blocks)
        found[f"b{layer.l}"] = layer.central(np.array([eps]), eps, blocks)
    _run(blocks, pooled)
    for name, (num, kinks, sides) in found.items():
        made = sides.array()
        result[name] = (num, kinks, made) if name[0] == "W" else (num[:, 0], kinks[:, 0], made[:, :, 0])
    return result


class _Sides:
    """The one-sided slopes of a tensor's kinks, shape (2, n, m), NaN off the kinks: an array
    made when a block first judges a kink (blocks run on several threads: made once, under a
    lock), else a read-only view of one NaN. Most checks judge none, and a full array is
    twice the tensor (137 MiB for 1,000,000-9-1's W1)."""

    def __init__(self, shape: tuple[int, int, int]) -> None:
        self.shape = shape
        self._made: Array | None = None
        self._lock = threading.Lock()

    def writable(self) -> Array:
        with self._lock:
            if self._made is None:
                self._made = np.full(self.shape, np.nan)
            return self._made

    def array(self) -> Array:
        return np.broadcast_to(np.nan, self.shape) if self._made is None else self._made


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """Threads for the blocks of a big check, one a core (made on first use; imported then
    too: concurrent.futures brings logging, start-up time a small check never needs)."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="fastcheck")


def _run(jobs: list[Callable[[], None]], pooled: bool) -> None:
    """Every job, on the pool when there are several and the check is big enough (POOLED):
    they write disjoint slices, and NumPy lets go of the interpreter lock on arrays this size,
    so all cores share the check. The caller's floating-point error handling (np.errstate,
    which threads do not inherit) holds in the jobs too."""
    if pooled and len(jobs) > 1:
        handling = np.geterr()

        def run(job: Callable[[], None]) -> None:
            with np.errstate(**handling):
                job()

        list(_pool().map(run, jobs))
    else:
        for job in jobs:
            job()


def _blocks(total: int, size: int) -> Iterator[slice]:
    for start in range(0, total, max(1, size)):
        yield slice(start, min(total, start + max(1, size)))


def _crossings(z: Array, u: Array) -> tuple[Array, Array]:
    """For each column i of u = ∂z/∂a_l[i]: the smallest Δa > 0 and the largest Δa < 0 at
    which some unit of z crosses 0 (+inf and -inf when none does)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        root = -z[:, None] / u  # where z + Δa·u = 0
    at_zero = (z == 0)[:, None]
    up = np.where((root > 0) | (at_zero & (u > 0)), root, np.inf)
    down = np.where((root < 0) | (at_zero & (u < 0)), root, -np.inf)
    return np.nan_to_num(up.min(axis=0), nan=np.inf), np.nan_to_num(down.max(axis=0), nan=-np.inf)


def _taylor(activation: str, z: Array) -> list[Array]:
    """f^(m)(z) / m! for m = 1 .. ORDER, each of z's shape, from f' as a polynomial in f:
    d/dz P(f) = P'(f)·f'(f), so each derivative is the last one's derivative times f'."""
    # Here, not at the top: numpy.polynomial (every basis's class) is start-up time that a
    # network without a smooth activation never needs.
    from numpy.polynomial import polynomial

    g = network.ACTIVATIONS[activation].f(z)
    rule = np.array(DERIVATIVE_IN_F[activation])
    derivative = rule
    out = []
    for m in range(1, ORDER + 1):
        out.append(polynomial.polyval(g, derivative) / math.factorial(m))
        derivative = polynomial.polymul(polynomial.polyder(derivative), rule)
    return out


Series = dict[int, Array]  # Taylor coefficients by order n >= 1 (missing: zero), one column a unit


def _product(a: Series, b: Series) -> Series:
    """The product of two series that start at order 1, truncated after ORDER."""
    out: Series = {}
    for i, left in a.items():
        for j, right in b.items():
            if i + j <= ORDER:
                out[i + j] = out[i + j] + left * right if i + j in out else left * right
    return out


def _through(activation: str, z: Array, moved: Series) -> Series:
    """a = f(z + s(Δa)) - f(z) as a series in Δa, for s the series of z's move: Σ_m
    f^(m)(z)/m!·s^m, each power of s truncated after ORDER."""
    taylor = _taylor(activation, z)
    power: Series = moved
    out: Series = {}
    for m in range(1, ORDER + 1):
        for n, term in power.items():
            out[n] = out[n] + taylor[m - 1][:, None] * term if n in out else taylor[m - 1][:, None] * term
        power = _product(power, moved)
        if not power:
            break
    return out


def _radius(series: Series, scale: float) -> Array:
    """For each unit (column): |Δa| up to which the series' terms fall by half or more an
    order and its last term is below TOL·scale, so what it leaves out is below that too."""
    size = np.array([np.abs(series[n]).max(axis=0) if n in series else np.zeros(series[1].shape[1])
                     for n in range(1, ORDER + 1)])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(size[1:] > 0, size[1:] / size[:-1], 0.0).max(axis=0)
        by_ratio = np.where(ratio > 0, 0.5 / ratio, np.inf)
        by_last = np.where(size[-1] > 0, (TOL * scale / size[-1]) ** (1 / ORDER), np.inf)
    radius: Array = np.nan_to_num(np.minimum(by_ratio, by_last), nan=0.0)
    return radius


def _exp_means(p: Array, terms: Array) -> list[Array]:
    """E_p[e^(s(Δa))] as a series, F_0 = 1, F_1 .. F_ORDER (one number a unit each), for the
    logits' move s (terms, shape (units, ORDER, K), s_n = terms[:, n - 1]): the exponential
    by its derivative's rule E' = s'·E, order by order."""
    exp = [np.ones((terms.shape[0], terms.shape[2]))]  # e^(s_k), by order
    for n in range(1, ORDER + 1):
        term = terms[:, 0] * exp[n - 1]
        for j in range(2, n + 1):
            term += j * terms[:, j - 1] * exp[n - j]
        exp.append(term / n)
    return [e @ p for e in exp]


def _power_means(p: Array, w: Array) -> list[Array]:
    """E_p[e^(Δa·w)] as a series for a move along one column w of J (shape (K, units)):
    F_n = E_p[w^n] / n!, one product with p an order."""
    means = [np.ones(w.shape[1])]
    power = w.copy()
    for n in range(1, ORDER + 1):
        means.append(p @ power / math.factorial(n))
        if n < ORDER:
            power *= w
    return means


def _cross_entropy_series(means: list[Array], picked: list[Array]) -> Array:
    """The cross-entropy's Taylor coefficients in Δa, one row a unit: L(z + s) - L(z) =
    log E_p[e^s] - s_y, p = softmax(z), from E_p[e^s]'s series (`means`) and s_y's (its
    first terms, `picked`), the log by its derivative's rule (log F)' = F' / F. The work is
    K numbers a unit and order, once; a nudge then costs ORDER numbers."""
    log: list[Array] = []
    for n in range(1, ORDER + 1):
        rest = np.zeros(means[0].shape)
        for j in range(1, n):
            rest += j * log[j - 1] * means[n - j]
        log.append(means[n] - rest / n)
    coefficients: Array = np.array(log).T
    coefficients[:, :len(picked)] -= np.array(picked).T
    return coefficients


@dataclass(frozen=True)
class _Reach:
    """How a move Δa of a_l[i] (i in one block of units) reaches z_L and the loss: the
    series' coefficients, where they hold, and where downstream kinks are."""

    jacobian: Array  # J[:, i] = ∂z_L/∂a_l[i], the series' first term, shape (n_L, units)
    #: The series' terms, shape (units, ORDER, n_L): z_L(Δa) - z_L = (Δa, Δa², ...) @ terms[i];
    #: None where the series is the one term J[:, i] Δa, exactly.
    terms: Array | None
    radius: Array  # |Δa| up to which the series is exact to TOL (inf: exact at any size)
    up: Array  # the nearest Δa > 0 at which a downstream unit crosses its kink
    down: Array  # and the nearest Δa < 0
    #: Behind a softmax, the loss's own series, shape (units, ORDER): L(Δa) - L = (Δa, Δa²,
    #: ...) @ loss[i]; None elsewhere.
    loss: Array | None


class _Layer:
    """Perturbations of one layer's pre-activation z_l, unit by unit."""

    def __init__(self, arch: Architecture, params: Params, cache: dict[str, Array], y: Labels,
                 l: int) -> None:
        self.arch, self.params, self.cache, self.y, self.l = arch, params, cache, y, l
        self.last = l == arch.depth
        self.linear = arch.f.kinked and not self.last
        self.z = cache[f"z{l}"]
        self.a = cache[f"a{l}"]
        self.z_out = cache[f"z{arch.depth}"]
        #: The widest layer after this one: an exact batch holds this many numbers a row.
        self.width = max(arch.sizes[l + 1:] if not self.last else arch.sizes[l:])
        self.base = float(self._loss(self.z_out))  # L(θ), by the same function as the nudged losses
        finite = bool(np.isfinite(self.z_out).all()) and np.isfinite(self.base)
        self.softmax = arch.classes > 1 and finite
        self.series_ok = finite  # a series about an overflowed z_L means nothing
        self.p = network.softmax(self.z_out) if arch.classes > 1 else np.ones(1)  # p = softmax(z_L)
        self.scale = max(1.0, float(np.abs(self.z_out).max())) if finite else 1.0
        terms = 1 if self.linear or l >= arch.depth - 1 else ORDER
        #: Units whose reach is computed at once (ORDER terms of n_L numbers, and ORDER of a
        #: later layer's, a unit); the output layer has no reach, and its blocks chunk
        #: their own logits.
        self.rows = list(_blocks(self.z.size, CHUNK if self.last else CHUNK // (terms * self.width)))
        #: Nudges in a block: those carried by their logits hold n_L numbers each.
        self.nudges = BLOCK if self.last or self.softmax else \
            max(1, min(BLOCK, CHUNK // arch.classes))
        self.reaches: dict[int, _Reach] = {}

    def reach_jobs(self) -> list[Callable[[], None]]:
        """The downstream reach of each block of units, to compute before the nudges."""
        if self.last:
            return []
        return [functools.partial(self._store_reach, rows) for rows in self.rows]

    def _store_reach(self, rows: slice) -> None:
        self.reaches[rows.start] = self._reach(rows)

    def central(self, steps: Array, eps: float, jobs: list[Callable[[], None]]
                ) -> tuple[Array, Mask, _Sides]:
        """Central differences for z_l[i] nudged by ±steps[j]: arrays of shape (n_l, len(steps)),
        the kink mask, and the kinks' one-sided slopes, shape (2, n_l, len(steps)); filled
        by the blocks of work this appends to jobs."""
        n, m = self.z.size, steps.size
        num = np.empty((n, m))
        kinks = np.zeros((n, m), dtype=bool)
        # Only a kinked hidden layer's nudges can straddle a kink: without a judged kink the
        # slopes are all NaN, a read-only view of one number (the output layer's W of 10,000
        # classes would fill 80 MB with NaN).
        sides = _Sides((2, n, m))
        base = self.base

        def block(rows: slice, cols: slice) -> None:
            span = rows.stop - rows.start
            units = np.repeat(np.arange(rows.start, rows.stop), cols.stop - cols.start)
            step = np.tile(steps[cols], span)
            plus, minus, kink, both = self._pair(units, step, rows)
            shape = (span, cols.stop - cols.start)
            num[rows, cols] = slope(plus, minus, eps).reshape(shape)
            kinks[rows, cols] = kink.reshape(shape)
            judged = kink & ~both
            if judged.any():
                made = sides.writable()
                made[0, rows, cols] = np.where(judged, (base - minus) / eps, np.nan).reshape(shape)
                made[1, rows, cols] = np.where(judged, (plus - base) / eps, np.nan).reshape(shape)

        for rows in self.rows:
            span = rows.stop - rows.start
            jobs += [functools.partial(block, rows, cols) for cols in _blocks(m, self.nudges // span)]
        return num, kinks, sides

    def _reach(self, rows: slice) -> _Reach:
        """For the units in rows: the Taylor series of z_L in Δa = a_l[i]'s move (one term,
        J = ∂z_L/∂a_l, through kinked layers), and the nearest Δa either side at which a
        downstream unit crosses its kink."""
        arch, params, cache = self.arch, self.params, self.cache
        series: Series = {1: params[f"W{self.l + 1}"][:, rows]}
        up = np.full(rows.stop - rows.start, np.inf)
        down = np.full(rows.stop - rows.start, -np.inf)
        for k in range(self.l + 1, arch.depth):
            z, w_next = cache[f"z{k}"], params[f"W{k + 1}"]
            if self.linear:
                k_up, k_down = _crossings(z, series[1])
                up, down = np.minimum(up, k_up), np.maximum(down, k_down)
                series = {1: w_next @ (arch.f.derivative(z)[:, None] * series[1])}
            else:  # every order's terms through W in one product (one BLAS call, not ORDER)
                moved = _through(arch.activation, z, series)
                product = w_next @ np.concatenate(list(moved.values()), axis=1)
                series = dict(zip(moved, np.split(product, len(moved), axis=1), strict=True))
        rank_one = max(series) == 1  # z_L's move is Δa·J[:, i] exactly
        if rank_one and not self.softmax:
            return _Reach(series[1], None, np.full(up.size, np.inf), up, down, None)
        if rank_one:
            w = series[1]
            along = _cross_entropy_series(_power_means(self.p, w), [w[int(self.y)]])
            spread = np.abs(w - self.p @ w).max(axis=0)
            with np.errstate(divide="ignore"):
                return _Reach(w, None, RHO / spread, up, down, along)
        zero = np.zeros_like(series[1])
        terms = np.ascontiguousarray(
            np.stack([series.get(n, zero) for n in range(1, ORDER + 1)]).transpose(2, 0, 1))
        loss: Array | None = None
        if self.softmax:
            loss = _cross_entropy_series(_exp_means(self.p, terms), list(terms[:, :, int(self.y)].T))
        radius = _radius(series, self.scale) if self.series_ok else np.zeros(up.size)
        if loss is not None:
            own = {n + 1: row[None] for n, row in enumerate(loss.T)}
            radius = np.minimum(radius, _radius(own, self.scale))
        return _Reach(series[1], terms, radius, up, down, loss)

    def _pair(self, units: NDArray[np.intp], step: Array, rows: slice
              ) -> tuple[Array, Array, Mask, Mask]:
        """The losses with z_l[units] moved by +step and by -step, which pairs straddle a
        kink, and which cross one on both sides of θ (their one-sided slopes bound nothing)."""
        none = np.zeros(units.size, bool)
        if self.last:
            return self._exact_out(units, step), self._exact_out(units, -step), none, none
        f = self.arch.f.f
        z = self.z[units]
        da_plus = f(z + step) - self.a[units]
        da_minus = f(z - step) - self.a[units]
        reach = self.reaches[rows.start]
        local = units - rows.start
        plus = self._carried(reach, units, local, da_plus)
        minus = self._carried(reach, units, local, da_minus)
        if not self.linear:  # smooth: no kinks anywhere
            return plus, minus, none, none
        side, off = z > 0, z != 0  # a unit exactly at its kink crosses none: the kink is at θ
        kink = (z + step > 0) != (z - step > 0)
        cross_plus, cross_minus = ((z + step > 0) != side) & off, ((z - step > 0) != side) & off
        near = np.zeros(units.size, bool)
        for da in (da_plus, da_minus):
            near |= (da > 0) & (da >= reach.up[local] * (1 - MARGIN))
            near |= (da < 0) & (da <= reach.down[local] * (1 - MARGIN))
        if near.any():
            which = np.flatnonzero(near)
            plus[which], sides_plus = self._exact(units[which], da_plus[which])
            minus[which], sides_minus = self._exact(units[which], da_minus[which])
            kink[which] |= (sides_plus != sides_minus).any(axis=1)
            later = [self.cache[f"z{k}"] for k in range(self.l + 1, self.arch.depth)] or [np.zeros(0)]
            base = np.concatenate(later)
            cross_plus[which] |= ((sides_plus != (base > 0)) & (base != 0)).any(axis=1)
            cross_minus[which] |= ((sides_minus != (base > 0)) & (base != 0)).any(axis=1)
        return plus, minus, kink, cross_plus & cross_minus

    def _carried(self, reach: _Reach, units: NDArray[np.intp], local: NDArray[np.intp],
                 da: Array) -> Array:
        """The losses with a_l[units] moved by da (a block's nudges, unit by unit), carried to
        the loss by the reach's series where it holds: a unit's nudges at once, (da, da², ...)
        times its terms. Beyond, the logits of a move along J[:, i], or the exact layers."""
        terms = reach.terms
        if terms is None and reach.loss is None:
            return self._rank_one(reach, local, da)
        span = reach.jacobian.shape[1]
        t = da.reshape(span, -1)  # a unit's nudges on a row
        out: Array
        if reach.loss is not None:  # Horner's rule, every unit's own coefficients
            kept = reach.loss[:, -1, None] * t
            for n in range(ORDER - 2, -1, -1):
                kept = (kept + reach.loss[:, n, None]) * t
            out = self.base + kept.reshape(da.size)
        elif terms is not None:
            powers = np.empty((*t.shape, ORDER))
            powers[..., 0] = t
            for n in range(1, ORDER):
                powers[..., n] = powers[..., n - 1] * t
            out = self._loss(self.z_out + np.matmul(powers, terms).reshape(da.size, -1))
        far = np.abs(da) > reach.radius[local]
        if far.any():
            out[far] = self._rank_one(reach, local[far], da[far]) if terms is None else \
                self._exact(units[far], da[far])[0]
        return out

    def _rank_one(self, reach: _Reach, local: NDArray[np.intp], da: Array) -> Array:
        """The losses of the logits z_L + da·J[:, i] (the earlier method's numbers, to the bit)."""
        out = np.empty(da.size)
        for part in _blocks(da.size, CHUNK // self.arch.classes):
            out[part] = self._loss(self.z_out + da[part, None] * reach.jacobian[:, local[part]].T)
        return out

    def _loss(self, z_out: Array) -> Array:
        return network.output_loss(self.arch.loss, z_out, self.y)

    def _exact_out(self, units: NDArray[np.intp], step: Array) -> Array:
        """Output-layer nudges: one logit each. For a softmax, a nudge of logit k by δ has
        the closed form L + log1p(p_k (e^δ - 1)) - δ [k = y], constant cost instead of K;
        it is used where |δ| <= 1, which keeps log1p's argument above e^-1 - 1 (no
        cancellation), and the logits are evaluated in full elsewhere."""
        out = np.empty(units.size)
        if self.arch.classes > 1:
            small = np.abs(step) <= 1.0
            delta = step[small]
            out[small] = (self.base + np.log1p(self.p[units[small]] * np.expm1(delta))
                          - delta * (units[small] == self.y))
            rest = np.flatnonzero(~small)
            if rest.size:
                out[rest] = self._full_out(units[rest], step[rest])
            return out
        return self._full_out(units, step)

    def _full_out(self, units: NDArray[np.intp], step: Array) -> Array:
        out = np.empty(units.size)
        for part in _blocks(units.size, CHUNK // self.width):
            z = np.repeat(self.z_out[None, :], part.stop - part.start, axis=0)
            z[np.arange(z.shape[0]), units[part]] += step[part]
            out[part] = self._loss(z)
        return out

    def _exact(self, units: NDArray[np.intp], da: Array) -> tuple[Array, Mask]:
        """a_l[units] moved by da, through every later layer: the losses, and the side of
        each downstream hidden unit's kink (for a piecewise activation)."""
        arch, params, l = self.arch, self.params, self.l
        kinked = arch.f.kinked
        widths = sum(arch.sizes[l + 1:arch.depth]) if kinked else 0
        losses = np.empty(units.size)
        sides = np.zeros((units.size, widths), dtype=bool)
        w_next = params[f"W{l + 1}"]
        for part in _blocks(units.size, CHUNK // self.width):
            z = self.cache[f"z{l + 1}"][None, :] + da[part, None] * w_next[:, units[part]].T
            column = 0
            for k in range(l + 1, arch.depth):
                if kinked:
                    sides[part, column:column + z.shape[1]] = z > 0
                    column += z.shape[1]
                z = arch.f.f(z) @ params[f"W{k + 1}"].T + params[f"b{k + 1}"]
            losses[part] = self._loss(z)
        return losses, sides
