"""A dead network: every parameter's gradient is exactly zero, so no step can change it.

A gradient check cannot see this: the numerical slopes of a loss that no parameter moves
are zero too, so a dead network passes, or fails only where a kink flips a unit, and a
diagnosis then names one tensor ("zero" at b2) for what is the whole network's state. The
finding says it as it is, and where the backward signal stops: going down from the output,
the first gradient the backward pass kept that is all zero (the built-in network's dz2, a
deeplearning.ai file's dA1); a model that keeps none of its intermediates (a cs231n class)
is named by its output layer's parameters, which the signal reaches first.

Exact zeros, not small numbers: a ReLU that is off everywhere, a mask of zeros, a forgotten
term give exact zeros; a vanishing gradient is small, and alive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.maths.network import Params, Tensors
from engine.run.stepper import State, View

#: A gradient's layer: dz2, dA1, dW3, or a flattened course name such as caches[1]...dZ.
_LAYER = re.compile(r"d([A-Za-z]+?)_?(\d+)$")


@dataclass(frozen=True)
class Dead:
    """Where the backward signal stops: `tensor` the first all-zero gradient from the output
    down (a gradient of the model's own naming), `layer` its layer (None when unknown)."""

    tensor: str
    layer: int | None

    @property
    def message(self) -> str:
        verb = "are" if ", " in self.tensor else "is"
        where = "" if self.layer is None else f"layer {self.layer}: "
        return f"every gradient is zero: the signal stops at {where}{self.tensor} {verb} all zero"

    def as_dict(self) -> dict[str, Any]:
        return {"message": self.message, "stops_at": self.tensor, "layer": self.layer}


def all_zero(value: Any) -> bool:
    """Real numbers, every one exactly 0 (an empty tensor is not a signal that stopped)."""
    try:
        array = np.asarray(value)
    except Exception:  # a user's object may raise anything from __array__
        return False
    return array.dtype.kind in "biuf" and array.size > 0 and not np.any(array)


def _layer(name: str) -> int | None:
    match = _LAYER.search(name)
    return int(match[2]) if match else None


def _signal_order(names: list[str]) -> list[str]:
    """Intermediate gradients from the output down: by layer, highest first; in a layer the
    one nearer the output first (dz before da: dz_l = da_l ⊙ f′(z_l) is computed after da_l,
    which W_(l+1)ᵀ·dz_(l+1) made, so walking down meets dz_(l+1), then da_l, then dz_l)."""

    def key(name: str) -> float:
        layer = _layer(name)
        below = 0.5 if name[1:2].lower() == "z" else 0.0  # dz_l lies below da_l
        return below - (layer if layer is not None else -1)

    return sorted(names, key=key)


def dead_network(params: Params, grads: Tensors) -> Dead | None:
    """The finding for a backward pass's gradients, or None while any parameter's is not
    all zero (or some are missing: the contract names those)."""
    mine = [f"d{name}" for name in params]
    if not mine or not all(name in grads and all_zero(grads[name]) for name in mine):
        return None
    intermediates = _signal_order([name for name in grads if name not in mine])
    for name in intermediates:
        if all_zero(grads[name]):
            return Dead(name, _layer(name))
    layers = [layer for layer in map(_layer, mine) if layer is not None]
    if not layers:
        return Dead(", ".join(mine), None)
    top = max(layers)
    return Dead(", ".join(name for name in mine if _layer(name) == top), top)


def of_state(state: State) -> Dead | None:
    """dead_network of a state's backward pass (None before one)."""
    return None if state.backward is None else dead_network(state.params, state.backward)


def of_view(view: View) -> Dead | None:
    """of_state of what a screen shows: the whole batch behind a sample's slice (a sample's
    own intermediate gradients may be zero where the batch's are not)."""
    return of_state(view.state if view.sample is None else view.sample.batch)
