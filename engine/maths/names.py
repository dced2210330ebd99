"""The grammar of the network's tensor names, read in one place.

A name is an optional "d" (the loss's gradient with respect to the tensor), a kind and a
layer: W2 and b2 are layer 2's parameters, z2 its pre-activation, a2 its activation, dW2,
db2, dz2 and da2 their gradients. The input is x (a0 in the maths) and the loss is loss;
neither has a layer. Layers count from 1.

parse("dW2") is Name("W", 2, grad=True), and str() of a Name writes it back: "dW2".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The kinds that carry a layer number: weights, biases, pre-activations, activations.
LAYERED = ("W", "b", "z", "a")
_LAYERED = re.compile(r"(d?)([Wbza])([1-9][0-9]*)")


@dataclass(frozen=True)
class Name:
    """One tensor's name: its kind ("W", "b", "z", "a", "x" or "loss"), its layer (None for
    x and loss) and whether it is the loss's gradient with respect to that tensor."""

    kind: str
    layer: int | None = None
    grad: bool = False

    def __str__(self) -> str:
        return self.symbol if self.layer is None else f"{self.symbol}{self.layer}"

    @property
    def symbol(self) -> str:
        """The name without its layer: "dW" for dW2, "z" for z1."""
        return f"d{self.kind}" if self.grad else self.kind

    @property
    def panel_layer(self) -> int | None:
        """The layer whose step computes this tensor, as the panels group them: da2 belongs
        to layer 3 (da2 = W3ᵀ·dz3, computed in layer 3's backward), the rest to their own."""
        if self.layer is None:
            return None
        return self.layer + (self.kind == "a" and self.grad)


def parse(text: str) -> Name | None:
    """The Name `text` writes ("dW2", "z1", "x", "loss"), or None for anything else (a
    user's model's own names such as "Wi", a qualified name such as "forward.z1")."""
    if text in ("x", "loss"):
        return Name(text)
    match = _LAYERED.fullmatch(text)
    if match is None:
        return None
    return Name(match[2], int(match[3]), grad=match[1] == "d")


def layer(text: str) -> int:
    """The layer of a layered name ("W2" -> 2); ValueError for a name without one."""
    name = parse(text)
    if name is None or name.layer is None:
        raise ValueError(f"{text!r} names no layer's tensor")
    return name.layer
