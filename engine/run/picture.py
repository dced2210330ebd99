"""What a model computes, as far as it is known: whose formulas the panels may show, and
the output (its classes and loss) the JSON trace's config states.

The built-in network is known exactly, drill or not (a drill breaks its backward, not its
maths). A course's file follows its convention, and the convention fixes the maths:

    cs231n           rows; affine -> relu -> ... -> affine -> softmax, cross-entropy over
                     max(2, classes) scores (a binary data set is a 2-class softmax);
    deeplearning-ai  columns; Z = W·A_prev + b, A = g(Z), the output a sigmoid with binary
                     cross-entropy for one unit, a softmax with cross-entropy for K.

A notebook-style file says nothing of its maths. It is the notebook's network only when its
forward pass is measured to be: the built-in network's cache names, every one of them, and
its numbers and loss, at the state shown (the notebook's own code cell saved as a file is
that). Anything else computes what its code says; its formulas, classes and loss are
unknown, and nothing here pretends otherwise. So is any other convention: its file's
output is its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.maths import network
from engine.maths.network import SOFTMAX_LOSS, Architecture, Array, Labels
from engine.run.stepper import Forward, State, View

#: Whose maths a model computes: the built-in network's, a course convention's, its own.
BUILTIN, CS231N, DLAI, OWN = "built-in", "cs231n", "deeplearning-ai", "own"
NOTEBOOK = "notebook"
#: A file's forward is the built-in network's when every number agrees to this (rounding of
#: the same operations in another order, not a different computation).
RTOL, ATOL = 1e-9, 1e-12


@dataclass(frozen=True)
class Maths:
    """`kind`: BUILTIN, CS231N, DLAI or OWN; `classes`: the output's units and `loss` its
    loss ("bce", "mse", "cross-entropy"), each None where the file's code alone knows it."""

    kind: str
    classes: int | None
    loss: str | None


def inputs(config_x: Sequence[float], config_y: int, forward: Forward) -> tuple[Array, Labels]:
    """What a forward pass computed on: its batch, or the one sample of the config."""
    if forward.batch is not None:
        return forward.batch
    return np.array(config_x, dtype=np.float64), config_y


def same_numbers(mine: Any, theirs: Any) -> bool:
    """Two cached values hold the same real numbers, shape for shape, to rounding."""
    try:
        a, b = np.asarray(mine), np.asarray(theirs)
    except Exception:  # a user's object may raise anything from __array__
        return False
    if a.dtype.kind not in "biuf" or b.dtype.kind not in "biuf" or a.shape != b.shape:
        return False
    return bool(np.allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True))


def computes_builtin(arch: Architecture, x: Array, y: Labels, params: Any, forward: Forward) -> bool:
    """Whether a forward pass is the built-in network's of `arch`: every tensor its cache
    holds, under the same name, and the loss, the same numbers."""
    if not all(f"{kind}{l}" in params for l in range(1, arch.depth + 1) for kind in "Wb"):
        return False
    try:
        with np.errstate(all="ignore"):
            cache, loss = network.forward(arch, x, params, y)
    except (ValueError, IndexError, TypeError):  # parameters of other shapes
        return False
    return all(name in forward.cache and same_numbers(forward.cache[name], value)
               for name, value in cache.items()) and same_numbers(forward.loss, loss)


def course_output(convention: str, arch: Architecture) -> Maths | None:
    """The output a course's convention defines, or None for a convention that defines none."""
    if convention == CS231N:
        return Maths(CS231N, max(2, arch.classes), SOFTMAX_LOSS)
    if convention == DLAI:
        return Maths(DLAI, arch.classes, "bce" if arch.classes == 1 else SOFTMAX_LOSS)
    return None


class Measured:
    """computes_builtin of the last forward pass asked about, kept: the app asks once a
    frame, and a forward pass (frozen) answers the same every time."""

    def __init__(self) -> None:
        self.forward: Forward | None = None
        self.answer = False

    def __call__(self, arch: Architecture, config_x: Sequence[float], config_y: int,
                 state: State) -> bool:
        forward = state.forward
        if forward is None:
            return False
        if forward is not self.forward:
            x, y = inputs(config_x, config_y, forward)
            # After the update the state holds the new parameters; its forward pass, the old.
            params = state.params if state.update is None else state.update.before
            self.answer = computes_builtin(arch, x, y, params, forward)
            self.forward = forward
        return self.answer


_measured = Measured()


def of_state(user_code: bool, convention: str, arch: Architecture, config_x: Sequence[float],
            config_y: int, state: State) -> Maths:
    """What the model computes at `state` (a batch's whole state, not a sample's slice)."""
    if not user_code:
        return Maths(BUILTIN, arch.classes, arch.loss)
    course = course_output(convention, arch)
    if course is not None:
        return course
    if convention == NOTEBOOK and _measured(arch, config_x, config_y, state):
        return Maths(BUILTIN, arch.classes, arch.loss)
    return Maths(OWN, None, None)


def of_view(view: View) -> Maths:
    """of_state() of what a screen shows: the whole batch behind a sample's slice (its
    forward pass holds the batch's inputs, so the sample's x in the view's config is unused)."""
    state = view.state if view.sample is None else view.sample.batch
    config = view.config
    return of_state(view.user_code, view.convention, config.architecture, config.x, config.y, state)
