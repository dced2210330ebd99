"""The small interface the stepper drives, so that any implementation can be stepped.

A model is three functions with the notebook's signatures, plus the loop gradient
check's numerical gradients (a model in another process computes them there, in one
request) and a way to stop a call that is running. The built-in one is the NumPy
network of an architecture, with or without a fault drill; a user's own file
(engine.usermodel.client) is the other.

Every fact a caller needs of a model is stated here (its convention, its regularisation,
its source, whether it made its own parameters, how it is resized), so that no caller has
to ask which kind of model it holds.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from engine.maths.network import Architecture, Array, Labels, Params, Tensors
from engine.maths.optimizers import OptimState, Settings
from engine.maths.slopes import Nudge, Numerical, Progress


class Cancelled(Exception):
    """A phase stopped before it finished, at the user's request: nothing is committed."""


@dataclass(frozen=True)
class Captured:
    """Text a user's code printed (stdout and stderr together) in one import or call.

    `source` is "import", "forward", "backward", "sgd_update", "update rule" (the file's own
    cs231n rule), "background" (printed between calls, by a thread of the user's) or "exit"
    (atexit handlers), or "error" for an error the app logs."""

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

    @property
    def batched(self) -> bool:
        """True when forward, backward and the check take a batch (rows of samples) whole;
        False when they take one sample, and BatchMean hands them a batch sample by sample."""
        ...

    @property
    def gradient_keys(self) -> str:
        """How the model's backward keys its gradients: "d" for 'd' + name (the notebook's
        dW1), "name" for the parameter's own name (cs231n's grads['W1']). The stepper always
        holds them as 'd' + name."""
        ...

    @property
    def convention(self) -> str:
        """The course convention the model's code follows (engine.model.conventions):
        "notebook" for the built-in network and a notebook-style file."""
        ...

    @property
    def described(self) -> str:
        """How a course's model was built, e.g. "TwoLayerNet(input_dim=2, ...)"; "" for the
        notebook convention, whose functions are called as they are."""
        ...

    @property
    def reg(self) -> float:
        """The L2 regularisation strength a course's model was built with (its loss counts
        it, so a reference gradient must too); 0.0 for a model without one."""
        ...

    @property
    def source(self) -> bytes | None:
        """The code that runs, a user's file as it was read (a session records its hash, to
        replay only that code); None for the built-in network, which is the engine's own."""
        ...

    @property
    def options(self) -> tuple[tuple[str, Any], ...]:
        """--model-option's constructor keywords a course's model class was built with, in
        order (a session replays them); () for a model built from none."""
        ...

    @property
    def run_module(self) -> bool:
        """True when the file's whole top level ran at import (--run-module), which may leave
        other module state than its definitions alone (a session replays it the same way)."""
        ...

    @property
    def own_update(self) -> bool:
        """True when a user's file defines sgd_update, its own SGD step."""
        ...

    @property
    def own_init(self) -> bool:
        """True when init_params gave the model's own parameters; False when the stepper
        draws the architecture's W1, b1, ... (known once init_params has been called)."""
        ...

    def init_params(self, seed: int) -> Params | None:
        """The model's own initial parameters, or None to take the architecture's."""
        ...

    def forward(self, x: Array, params: Params, y: Labels) -> tuple[Tensors, float]: ...

    def backward(self, x: Array, y: Labels, params: Params, cache: Tensors) -> Tensors: ...

    def update(self, params: Params, grads: Tensors, lr: float) -> Params: ...

    def optimize(self, optimizer: str, params: Params, grads: Tensors, state: OptimState,
                 settings: Settings) -> tuple[Params, OptimState, str] | None:
        """The update by the model's own rule of `optimizer` (a user's file may bring cs231n's:
        engine.usermodel.rules): the new parameters and state; None when it has none, and the
        stepper's rule (engine.maths.optimizers) runs."""
        ...

    def fit_loss(self, x: Array, params: Params, y: Labels) -> float:
        """forward's loss alone: the fit to every row of the data needs no cache, and a
        model in another process need not send one as large as the data."""
        ...

    def resize(self, arch: Architecture) -> Model:
        """The model for a network of `arch`'s sizes (the app's form changed them): the
        built-in network is rebuilt; a user's file is imported again with the new sizes
        at its next call, and is itself the model returned."""
        ...

    def numerical_gradients(self, params: Params, x: Array, y: Labels, eps: float,
                            progress: Progress | None, method: str) -> Numerical:
        """Central differences of every parameter element, where a nudge crossed a kink, and
        the kinks' one-sided slopes (engine.maths.slopes.Numerical), by `method` ("fast" only
        where fast_gradcheck says it applies)."""
        ...

    def nudged_losses(self, params: Params, x: Array, y: Labels, nudges: list[Nudge],
                      progress: Progress | None) -> Array:
        """The loss at params with one element moved, for each (name, index, step) nudge: what
        the check's recheck of a failing element needs (engine.check.verdicts), one forward
        pass a nudge, nothing for the elements that passed."""
        ...

    def interrupt(self) -> None:
        """Called from another thread: stop the running call, which then raises Cancelled."""
        ...
