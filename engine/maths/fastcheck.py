"""The vectorised gradient check: the built-in network's central differences for every
parameter, without two forward passes for each.

Nudging W_l[i, j] by ±eps moves only z_l[i], by ±eps·a_(l-1)[j]; nudging b_l[i] moves it
by ±eps. So each perturbed loss needs only the network downstream of z_l[i], computed for
a batch of perturbations at once, in blocks of at most CHUNK numbers (bounded memory at
any size):

- An output-layer nudge moves one logit: the loss of the nudged logits, batched.
- A hidden-layer nudge changes a_l[i] by Δa = f(z_l[i] ± step) - a_l[i]. Through smooth
  activations (tanh, sigmoid) the rest of the network is evaluated for the whole batch.
- Through piecewise-linear ones (relu, leaky-relu) the network downstream is exactly
  linear until some unit crosses its kink, so z_L moves by Δa·J[:, i], with J = ∂z_L/∂a_l
  computed once: a batch costs n_L numbers a perturbation instead of a pass through every
  layer. Perturbations that may cross a downstream kink (Δa beyond the nearest crossing
  of unit i, with a margin) are few; they are evaluated exactly, layer by layer, and
  marked as kinks when their +eps and -eps passes see different sides, as the loop
  method marks them.

The numbers equal the loop method's up to rounding (about 1e-16·|z| / eps), which
tests/engine/test_architectures.py checks against an independent computation.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.maths import network
from engine.maths.network import Architecture, Array, Labels, Params

Mask = NDArray[np.bool_]
CHUNK = 1 << 20  # numbers in one batch: bounds the memory of a check of any size
#: Relative margin of the kink-crossing test: perturbations this close to a crossing are
#: evaluated exactly rather than trusted to the linear formula.
MARGIN = 1e-6


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
    result: dict[str, tuple[Array, Mask, Array]] = {}
    for l in range(1, arch.depth + 1):
        layer = _Layer(arch, params, cache, y, l)
        a_prev = x if l == 1 else cache[f"a{l - 1}"]
        result[f"W{l}"] = layer.central(eps * a_prev, eps)
        num, kinks, sides = layer.central(np.array([eps]), eps)
        result[f"b{l}"] = (num[:, 0], kinks[:, 0], sides[:, :, 0])
    return result


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """Threads for the blocks of a big check, one a core (made on first use)."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="fastcheck")


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

    def central(self, steps: Array, eps: float) -> tuple[Array, Mask, Array]:
        """Central differences for z_l[i] nudged by ±steps[j]: arrays of shape (n_l, len(steps)),
        the kink mask, and the kinks' one-sided slopes, shape (2, n_l, len(steps))."""
        n, m = self.z.size, steps.size
        num = np.empty((n, m))
        kinks = np.zeros((n, m), dtype=bool)
        sides = np.full((2, n, m), np.nan)
        base = float(self._loss(self.z_out))  # L(θ), by the same function as the nudged losses

        def block(rows: slice, cols: slice, reach: tuple[Array, Array, Array] | None) -> None:
            span = rows.stop - rows.start
            units = np.repeat(np.arange(rows.start, rows.stop), cols.stop - cols.start)
            step = np.tile(steps[cols], span)
            plus, minus, kink, both = self._pair(units, step, rows, reach)
            shape = (span, cols.stop - cols.start)
            num[rows, cols] = slope(plus, minus, eps).reshape(shape)
            kinks[rows, cols] = kink.reshape(shape)
            judged = kink & ~both
            if judged.any():
                sides[0, rows, cols] = np.where(judged, (base - minus) / eps, np.nan).reshape(shape)
                sides[1, rows, cols] = np.where(judged, (plus - base) / eps, np.nan).reshape(shape)

        blocks = []
        for rows in _blocks(n, CHUNK // self.width):
            reach = self._reach(rows) if self.linear else None
            span = rows.stop - rows.start
            blocks += [(rows, cols, reach) for cols in _blocks(m, CHUNK // (span * self.arch.classes))]
        # Blocks write disjoint slices; NumPy lets go of the interpreter lock on arrays this
        # size, so blocks on the machine's other cores finish a big check sooner.
        if len(blocks) > 1:
            list(_pool().map(lambda args: block(*args), blocks))
        else:
            block(*blocks[0])
        return num, kinks, sides

    def _reach(self, rows: slice) -> tuple[Array, Array, Array]:
        """For the units in rows: J = ∂z_L/∂a_l (one column a unit), and the nearest Δa
        either side at which a downstream unit crosses its kink."""
        arch, params, cache = self.arch, self.params, self.cache
        u = params[f"W{self.l + 1}"][:, rows]
        up = np.full(u.shape[1], np.inf)
        down = np.full(u.shape[1], -np.inf)
        for k in range(self.l + 1, arch.depth):
            z = cache[f"z{k}"]
            k_up, k_down = _crossings(z, u)
            up, down = np.minimum(up, k_up), np.maximum(down, k_down)
            u = params[f"W{k + 1}"] @ (arch.f.derivative(z)[:, None] * u)
        return u, up, down

    def _pair(self, units: NDArray[np.intp], step: Array, rows: slice,
              reach: tuple[Array, Array, Array] | None) -> tuple[Array, Array, Mask, Mask]:
        """The losses with z_l[units] moved by +step and by -step, which pairs straddle a
        kink, and which cross one on both sides of θ (their one-sided slopes bound nothing)."""
        none = np.zeros(units.size, bool)
        if self.last:
            return self._exact_out(units, step), self._exact_out(units, -step), none, none
        f = self.arch.f.f
        z = self.z[units]
        da_plus = f(z + step) - self.a[units]
        da_minus = f(z - step) - self.a[units]
        if reach is None:  # smooth: no kinks anywhere
            return self._exact(units, da_plus)[0], self._exact(units, da_minus)[0], none, none
        jacobian, up, down = reach
        local = units - rows.start
        side, off = z > 0, z != 0  # a unit exactly at its kink crosses none: the kink is at θ
        kink = (z + step > 0) != (z - step > 0)
        cross_plus, cross_minus = ((z + step > 0) != side) & off, ((z - step > 0) != side) & off
        plus = self._loss(self.z_out + da_plus[:, None] * jacobian[:, local].T)
        minus = self._loss(self.z_out + da_minus[:, None] * jacobian[:, local].T)
        near = np.zeros(units.size, bool)
        for da in (da_plus, da_minus):
            near |= (da > 0) & (da >= up[local] * (1 - MARGIN))
            near |= (da < 0) & (da <= down[local] * (1 - MARGIN))
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
            p = network.softmax(self.z_out)
            loss = float(self._loss(self.z_out))
            delta = step[small]
            out[small] = loss + np.log1p(p[units[small]] * np.expm1(delta)) - delta * (units[small] == self.y)
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
