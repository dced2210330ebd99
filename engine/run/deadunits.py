"""Dead units: hidden ReLU units that are off (z_l <= 0) in this step's forward pass, so that
they pass no gradient back (their dz_l and db_l are 0, and their row of dW_l).

Only ReLU has dead units: leaky ReLU, tanh and sigmoid pass some gradient everywhere. A
user's model caches what it likes under z_l: its units are marked only when z_l holds real
numbers, one per unit of W_l, in shape (n_l,); otherwise the reason is returned (Unmarked)
for the panels to say.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engine.maths.network import Params
from engine.run.stepper import State, View

Mask = NDArray[np.bool_]


def layer_count(params: Params) -> int | None:
    """L when the parameters are named as the maths names them, W1, b1, ..., WL, bL (the
    built-in network, the notebook's file); None for a model with names of its own."""
    L = len(params) // 2
    names = {f"{kind}{l}" for l in range(1, L + 1) for kind in "Wb"}
    return L if L and set(params) == names else None


@dataclass(frozen=True)
class Unmarked:
    """Why layer l's dead units cannot be marked: its z_l (`value`, as the model cached it;
    `array`, as NumPy reads it) is not real numbers, or not one number per unit of W_l."""

    name: str  # z_l
    value: object
    array: np.ndarray
    units: int

    @property
    def real(self) -> bool:
        """Whether z_l holds real numbers (then its shape is what is wrong)."""
        return self.array.dtype.kind in "biuf"


def dead_units(state: State, layer: int = 1) -> tuple[Mask | None, Unmarked | None]:
    """Layer l's units with z_l <= 0 in this step's forward pass (None before a forward
    pass, or when its z_l and W_l are not there), or why they cannot be marked."""
    z_name, w_name = f"z{layer}", f"W{layer}"
    if state.forward is None or z_name not in state.forward.cache or w_name not in state.params:
        return None, None
    z = state.forward.cache[z_name]
    units = state.params[w_name].shape[0]
    try:
        array = np.asarray(z)
    except Exception:  # a user's object may raise anything from __array__
        array = np.asarray(None)
    if array.dtype.kind not in "biuf" or array.shape != (units,):
        return None, Unmarked(z_name, z, array, units)
    with np.errstate(invalid="ignore"):
        return array <= 0, None


def dead_layers(view: View) -> tuple[dict[int, Mask], dict[int, Unmarked]]:
    """dead_units of every hidden layer of a ReLU network, by layer, and why a layer's
    cannot be marked; nothing for the other activations."""
    if view.config.activation != "relu":
        return {}, {}
    L = layer_count(view.state.params) or 2  # a model of its own names: its z1 and W1, if any
    dead, unmarked = {}, {}
    for l in range(1, L):
        mask, why = dead_units(view.state, l)
        if mask is not None:
            dead[l] = mask
        if why is not None:
            unmarked[l] = why
    return dead, unmarked
