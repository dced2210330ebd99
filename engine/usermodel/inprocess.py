"""A user's forward and backward given as functions, called in this process through the same
Contract a model file's process calls them through (engine.usermodel.contract): the same
checks of what they return, the same messages, the same gradient keys.

For a test suite that already holds its functions (tui.verify.check_functions): no file to
import and no process to start, so nothing shields the caller from what the functions do
(an infinite loop is the test's own), and what they print goes where the test's output goes.
A model file is better run as the command line runs it, in a process of its own
(engine.usermodel.client).
"""

from __future__ import annotations

from typing import Any

from engine.maths.fastcheck import Mask
from engine.maths.network import Architecture, Array, Labels, Params, Tensors
from engine.maths.optimizers import OptimState, Settings
from engine.maths.slopes import Nudge, Numerical, Progress, loop_numerical, nudged_losses
from engine.model.conventions import NOTEBOOK
from engine.usermodel.contract import D_NAME, Contract


class InProcess:
    """The Model protocol over a Contract in this process. A contract that takes one sample
    at a time (no BATCHED) says so (`batched` False), and the stepper hands it a batch
    sample by sample (engine.model.builtin.BatchMean), as a model file's process does."""

    fast_gradcheck = False  # the vectorised check computes the built-in network's loss, not theirs
    user_code = True
    bug = None
    log = None  # what the functions print is not captured: it goes where the caller's output goes
    convention = NOTEBOOK
    described = ""
    reg = 0.0
    source = None  # no file: a session cannot record it
    options: tuple[tuple[str, Any], ...] = ()
    run_module = False

    def __init__(self, contract: Contract) -> None:
        self.contract = contract

    @property
    def name(self) -> str:
        return self.contract.name

    @property
    def batched(self) -> bool:
        return self.contract.batched

    @property
    def gradient_keys(self) -> str:
        return self.contract.gradient_keys or D_NAME

    @property
    def own_update(self) -> bool:
        return self.contract.own_update

    @property
    def own_init(self) -> bool:
        return self.contract.own_init

    def init_params(self, seed: int) -> Params | None:
        return self.contract.init_params(seed)

    def forward(self, x: Array, params: Params, y: Labels) -> tuple[Tensors, float]:
        return self.contract.forward(x, params, y)

    def fit_loss(self, x: Array, params: Params, y: Labels) -> float:
        return self.contract.forward(x, params, y)[1]

    def backward(self, x: Array, y: Labels, params: Params, cache: Tensors) -> Tensors:
        return self.contract.backward(x, y, params, cache)

    def update(self, params: Params, grads: Tensors, lr: float) -> Params:
        return self.contract.update(params, grads, lr, self.gradient_keys)

    def optimize(self, optimizer: str, params: Params, grads: Tensors, state: OptimState,
                 settings: Settings) -> tuple[Params, OptimState, str] | None:
        numbers = (settings.lr, settings.momentum, settings.beta1, settings.beta2, settings.epsilon)
        return self.contract.optimize(optimizer, params, grads, state, numbers)

    def kink_sides(self, cache: Tensors) -> list[Mask]:
        return self.contract.kink_sides(cache)

    def resize(self, arch: Architecture) -> InProcess:
        """The same functions: they take whatever shapes their parameters have."""
        return self

    def numerical_gradients(self, params: Params, x: Array, y: Labels, eps: float,
                            progress: Progress | None, method: str = "loop") -> Numerical:
        """The loop method, element by element, as a model file's process computes it."""
        return loop_numerical(self.contract, params, x, y, eps, progress)

    def nudged_losses(self, params: Params, x: Array, y: Labels, nudges: list[Nudge],
                      progress: Progress | None) -> Array:
        return nudged_losses(lambda moved: self.fit_loss(x, moved, y), params, nudges, progress)

    def interrupt(self) -> None:
        """Nothing to end: the functions run in the caller's thread, which ctrl+c reaches."""
