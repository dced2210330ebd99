"""Why is this number what it is: any element of any tensor the stepper shows, derived.

An Explanation is the element's formula, the same formula with the actual numbers
substituted down to the values it came from, and the result, which equals the value shown.
Sums list their terms; a parameter says where it came from; a numerical gradient shows
L(θ+ε), L(θ−ε), the quotient and the verdict, with the finite-difference side labelled.
The cells an element is computed from are its `sources`, which the app highlights.

Tensors are named as the JSON trace names them, qualified by phase where a name is
ambiguous: "params.W1" (the current parameters; bare "W1" means these), "forward.z1",
"backward.dW1", "gradcheck.W1" (the numerical gradient), "update.W1" (after the update)
and "update.before.W1".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.stepper import State

#: The phases that qualify a tensor's name, in the order the stepper computes them.
QUALIFIERS = ("params", "forward", "backward", "gradcheck", "update", "update.before")


@dataclass(frozen=True)
class Term:
    """One term of a sum, as written ("W2[0,1]·dz2[0]") and its value."""

    label: str
    value: float


@dataclass(frozen=True)
class Source:
    """A cell an element is computed from: a qualified tensor name and an index."""

    tensor: str
    index: tuple[int, ...]


@dataclass(frozen=True)
class Explanation:
    tensor: str  # the qualified name, e.g. "backward.dW1"
    index: tuple[int, ...]
    value: float  # the element as shown
    formula: str  # symbolic: "dW1[1,2] = dz1[1] · x[2]"
    substituted: str  # the numbers plugged in, ending with "= <value>"
    chain: tuple[str, ...] = ()  # further lines, one factor deeper each
    terms: tuple[Term, ...] = ()  # a sum's terms (all of them; a display shortens)
    sources: tuple[Source, ...] = ()  # the cells it is computed from (the app highlights them)
    verdict: str | None = None  # a numerical gradient's: pass, fail, kink: consistent, ...
    notes: tuple[str, ...] = ()  # e.g. why a user model's forward cannot be derived


def tensors(state: State) -> dict[str, Any]:
    """Every tensor of the state, by qualified name, in the order the stepper made them."""
    out: dict[str, Any] = {f"params.{name}": value for name, value in state.params.items()}
    if state.forward is not None:
        out |= {f"forward.{name}": value for name, value in state.forward.cache.items()}
        out["forward.loss"] = np.float64(state.forward.loss)
    if state.backward is not None:
        out |= {f"backward.{name}": value for name, value in state.backward.items()}
    if state.gradcheck is not None:
        out |= {f"gradcheck.{name}": t.numerical for name, t in state.gradcheck.tensors.items()}
    if state.update is not None:
        out |= {f"update.{name}": value for name, value in state.update.after.items()}
        out |= {f"update.before.{name}": value for name, value in state.update.before.items()}
    return out


def qualify(state: State, name: str) -> str:
    """The qualified name a user's name stands for: itself if qualified, the current
    parameter for a parameter's bare name, else the one tensor of that name; KeyError
    (whose message lists what exists, with shapes) when there is none or several."""
    known = tensors(state)
    if name in known:
        return name
    if f"params.{name}" in known:
        return f"params.{name}"
    matches = [q for q in known if q.rsplit(".", 1)[-1] == name]
    if len(matches) == 1:
        return matches[0]
    listing = ", ".join(f"{q} {tuple(np.shape(v))}" for q, v in known.items())
    if matches:
        raise KeyError(f"{name!r} is ambiguous: {', '.join(matches)}")
    raise KeyError(f"no tensor {name!r}; there are {listing}")
