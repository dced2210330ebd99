"""The small interface the stepper drives, so that any implementation can be stepped.

A model is three functions with the notebook's signatures, plus the loop gradient
check's numerical gradients (a model in another process computes them there, in one
request) and a way to stop a call that is running. The built-in one is the NumPy
network; fault drills and a user's own file (engine.usermodel) are others.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from engine import network
from engine.gradcheck import Mask, Progress, loop_numerical
from engine.network import Array, Params, Tensors


class Cancelled(Exception):
    """A phase stopped before it finished, at the user's request: nothing is committed."""


@dataclass(frozen=True)
class Captured:
    """Text a user's code printed (stdout and stderr together) in one import or call.

    `source` is "import", "forward", "backward", "sgd_update", "background" (printed
    between calls, by a thread of the user's) or "exit" (atexit handlers), or "error" for
    an error the app logs."""

    source: str
    text: str

    @property
    def during(self) -> str:
        """When it was printed, as a heading says it: "in forward", "while being imported"."""
        return {"import": "while being imported", "background": "between calls",
                "exit": "at exit"}.get(self.source, f"in {self.source}")


class Model(Protocol):
    """What the stepper calls, and what the app and the report need to know of a model."""

    @property
    def name(self) -> str: ...

    @property
    def fast_gradcheck(self) -> bool:
        """True when the vectorised gradient check computes exactly this model's loss."""
        ...

    @property
    def user_code(self) -> bool:
        """A user's own file: fault drills do not apply to it, and any call may be slow."""
        ...

    @property
    def bug(self) -> str | None:
        """The fault drill injected into the built-in backward, if any."""
        ...

    @property
    def log(self) -> deque[Captured] | None:
        """What a user's code printed, oldest first; None for a model that prints nothing."""
        ...

    def forward(self, x: Array, params: Params, y: float) -> tuple[Tensors, float]: ...

    def backward(self, x: Array, y: float, params: Params, cache: Tensors) -> Tensors: ...

    def update(self, params: Params, grads: Tensors, lr: float) -> Params: ...

    def numerical_gradients(self, params: Params, x: Array, y: float, eps: float,
                            progress: Progress | None) -> dict[str, tuple[Array, Mask]]:
        """Central differences of every parameter element, and where a nudge crossed a kink."""
        ...

    def interrupt(self) -> None:
        """Called from another thread: stop the running call, which then raises Cancelled."""
        ...


@dataclass(frozen=True)
class BuiltinModel:
    """The notebook's network, computed by engine.network; with a fault drill, a known-broken
    backward. The forward pass is always the built-in one, so the vectorised check still
    measures the true gradient and catches the broken analytic one."""

    name: str = "built-in"
    bug: str | None = None
    fast_gradcheck: bool = True
    user_code: bool = False
    log: deque[Captured] | None = None

    def forward(self, x: Array, params: Params, y: float) -> tuple[Tensors, float]:
        return network.forward(x, params, y)

    def backward(self, x: Array, y: float, params: Params, cache: Tensors) -> Tensors:
        if self.bug is not None:
            return BUGS[self.bug](x, y, params, cache)
        return network.backward(x, y, params, cache)

    def update(self, params: Params, grads: Tensors, lr: float) -> Params:
        return network.sgd_update(params, grads, lr)

    def numerical_gradients(self, params: Params, x: Array, y: float, eps: float,
                            progress: Progress | None) -> dict[str, tuple[Array, Mask]]:
        return loop_numerical(self, params, x, y, eps, progress)

    def interrupt(self) -> None:
        """Nothing to do: the only slow call, the loop check, stops at its next progress
        report when the caller's progress callback raises Cancelled."""


def _relu_grad_bug(x: Array, y: float, params: Params, cache: Tensors) -> Tensors:
    """The ReLU derivative taken as 1 everywhere: dead units still pass gradient."""
    dz2 = cache["a2"] - y
    da1 = params["W2"][0] * dz2[0]
    dz1 = da1
    return {"dW1": np.outer(dz1, x), "db1": dz1.copy(), "dW2": np.outer(dz2, cache["a1"]),
            "db2": dz2.copy(), "dz2": dz2, "da1": da1, "dz1": dz1}


def _bias_grad_bug(x: Array, y: float, params: Params, cache: Tensors) -> Tensors:
    """The biases forgotten: db1 and db2 returned as zeros."""
    grads = network.backward(x, y, params, cache)
    return grads | {"db1": np.zeros_like(grads["db1"]), "db2": np.zeros_like(grads["db2"])}


def _sign_bug(x: Array, y: float, params: Params, cache: Tensors) -> Tensors:
    """dz2 = y - a2: every gradient points uphill."""
    grads = network.backward(x, y, params, cache)
    return {name: -value for name, value in grads.items()}


def _cache_bug(x: Array, y: float, params: Params, cache: Tensors) -> Tensors:
    """dW2 computed from the pre-activation z1 instead of the activation a1."""
    grads = network.backward(x, y, params, cache)
    return grads | {"dW2": np.outer(grads["dz2"], cache["z1"])}


BUGS = {
    "relu-grad": _relu_grad_bug,
    "bias-grad": _bias_grad_bug,
    "sign": _sign_bug,
    "cache": _cache_bug,
}
BUG_DESCRIPTIONS = {name: (fn.__doc__ or "").strip() for name, fn in BUGS.items()}


def make_model(bug: str | None = None) -> Model:
    if bug is None:
        return BuiltinModel()
    return BuiltinModel(name=f"built-in with bug {bug!r}", bug=bug)
