"""The built-in model: the NumPy network of an architecture (engine.maths.network), with or
without a fault drill; and BatchMean, which hands a one-sample model a batch sample by sample.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from engine.maths import network, optimizers, penalty
from engine.maths.fastcheck import Mask, fast_numerical
from engine.maths.network import NOTEBOOK, Architecture, Array, Labels, Params, Tensors
from engine.maths.slopes import Nudge, Numerical, Progress, loop_numerical, mean_numerical, nudged_losses
from engine.model.protocol import Captured, Model


@dataclass(frozen=True)
class BuiltinModel:
    """The built-in network of an architecture, computed by engine.maths.network; with a fault
    drill, a known-broken backward. The forward pass is the true one, so the vectorised
    check still measures the true gradient and catches the broken analytic one; except
    under the penalty-loss drill, whose loss leaves the weights' penalty out (`loss_arch`):
    the check then measures the gradient of the loss this model computes, as it would of a
    user's code with that bug."""

    arch: Architecture = NOTEBOOK
    bug: str | None = None
    fast_gradcheck: bool = True
    user_code: bool = False
    log: deque[Captured] | None = None
    gradient_keys: str = "d"
    batched: bool = True

    @property
    def name(self) -> str:
        return "built-in" if self.bug is None else f"built-in with bug {self.bug!r}"

    @property
    def convention(self) -> str:
        return "notebook"

    @property
    def described(self) -> str:
        return ""

    @property
    def reg(self) -> float:
        return 0.0

    @property
    def source(self) -> bytes | None:
        return None

    @property
    def options(self) -> tuple[tuple[str, Any], ...]:
        return ()

    @property
    def run_module(self) -> bool:
        return False

    @property
    def own_update(self) -> bool:
        return False

    @property
    def own_init(self) -> bool:
        return False

    def init_params(self, seed: int) -> Params | None:
        return None

    @property
    def loss_arch(self) -> Architecture:
        """The architecture whose objective the forward pass computes: this one, or under the
        penalty-loss drill the same network without its penalty."""
        return self.arch.unpenalised() if network.drill(self.bug).unpenalised_loss else self.arch

    def forward(self, x: Array, params: Params, y: Labels) -> tuple[Tensors, float]:
        return network.forward(self.loss_arch, x, params, y)

    def backward(self, x: Array, y: Labels, params: Params, cache: Tensors) -> Tensors:
        return network.backward(self.arch, x, y, params, cache, self.bug)

    def update(self, params: Params, grads: Tensors, lr: float) -> Params:
        return network.sgd_update(params, grads, lr)

    def optimize(self, optimizer: str, params: Params, grads: Tensors, state: optimizers.OptimState,
                 settings: optimizers.Settings) -> tuple[Params, optimizers.OptimState, str] | None:
        """None: the built-in network updates by the stepper's own rules."""
        return None

    def fit_loss(self, x: Array, params: Params, y: Labels) -> float:
        return self.forward(x, params, y)[1]

    def resize(self, arch: Architecture) -> Model:
        """The same model (its drill, and what a subclass overrides) for `arch`."""
        return replace(self, arch=arch)

    def kink_sides(self, cache: Tensors) -> list[Mask]:
        return network.kink_sides(self.arch, cache)

    def numerical_gradients(self, params: Params, x: Array, y: Labels, eps: float,
                            progress: Progress | None, method: str) -> Numerical:
        """The data loss's slopes by either method, then the penalty's quotients added once
        (engine.maths.penalty: both methods mark the same kinks, |w|'s included)."""
        arch = self.loss_arch
        data = self._data_numerical(params, x, y, eps, progress, method)
        return penalty.with_penalty(data, arch.l1, arch.l2, params, eps)

    def _data_numerical(self, params: Params, x: Array, y: Labels, eps: float,
                        progress: Progress | None, method: str) -> Numerical:
        """The data loss's numerical gradients: the loop method's passes of the network without
        its penalty, or the vectorised method's, which never sees it."""
        if method == "loop" or (x.ndim == 2 and whole_batch_cheaper(self.arch.param_count, len(x))):
            return loop_numerical(replace(self, arch=self.arch.unpenalised()), params, x, y, eps, progress)
        if x.ndim == 1:
            numerical = fast_numerical(self.arch, params, x, y, eps)
        else:  # a batch: its samples one by one, each vectorised over every parameter
            labels = np.asarray(y)

            def sample(b: int) -> Numerical:
                if progress is not None:  # may raise Cancelled: escape stops a long check
                    progress(b, len(x))
                return fast_numerical(self.arch, params, x[b], int(labels[b]), eps)

            numerical = mean_numerical(sample(b) for b in range(len(x)))
        if progress is not None:
            done = 1 if x.ndim == 1 else len(x)
            progress(done, done)
        return numerical

    def nudged_losses(self, params: Params, x: Array, y: Labels, nudges: list[Nudge],
                      progress: Progress | None) -> Array:
        return nudged_losses(lambda nudged: self.forward(x, nudged, y)[1], params, nudges, progress)

    def interrupt(self) -> None:
        """Nothing to do: the only slow call, the loop check, stops at its next progress
        report when the caller's progress callback raises Cancelled."""


def whole_batch_cheaper(params: int, rows: int) -> bool:
    """Whether the fast check of a batch is quicker as two forward passes of the whole batch
    an element (the loop method, vectorised over the rows) than as each sample's own
    vectorised check: it is for small networks and big batches (2-8-8-1 on 160 rows: 6 ms
    against 49 ms; 100-128-64-10 on 64 rows: 3.9 s against 0.4 s). The estimates are
    seconds on this project's machine: about 20 µs a forward call plus 0.3 ns a
    multiply-add, against 150 µs a sample plus 0.25 µs a parameter. Either way the numbers
    are the same central differences, to rounding."""
    loop = 2 * params * (2e-5 + rows * params * 3e-10)
    per_sample = rows * (1.5e-4 + params * 2.5e-7)
    return loop < per_sample


class BatchMean:
    """A model that takes one sample at a time, given a batch: every call made sample by
    sample, the losses and the parameter gradients averaged (the loss of a batch is its
    samples' mean loss), the rest of the cache and the gradients stacked one row a sample,
    as the built-in network's batch pass keeps them. (A user's file that takes one sample
    is averaged the same way, by mean_forward and mean_backward, inside its own process:
    engine.usermodel.host.)"""

    def __init__(self, model: Model) -> None:
        self.inner = model

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def fast_gradcheck(self) -> bool:
        return self.inner.fast_gradcheck

    @property
    def user_code(self) -> bool:
        return self.inner.user_code

    @property
    def bug(self) -> str | None:
        return self.inner.bug

    @property
    def log(self) -> deque[Captured] | None:
        return self.inner.log

    @property
    def gradient_keys(self) -> str:
        return self.inner.gradient_keys

    @property
    def batched(self) -> bool:
        return True

    @property
    def convention(self) -> str:
        return self.inner.convention

    @property
    def described(self) -> str:
        return self.inner.described

    @property
    def reg(self) -> float:
        return self.inner.reg

    @property
    def source(self) -> bytes | None:
        return self.inner.source

    @property
    def options(self) -> tuple[tuple[str, Any], ...]:
        return self.inner.options

    @property
    def run_module(self) -> bool:
        return self.inner.run_module

    @property
    def own_update(self) -> bool:
        return self.inner.own_update

    @property
    def own_init(self) -> bool:
        return self.inner.own_init

    def init_params(self, seed: int) -> Params | None:
        return self.inner.init_params(seed)

    def forward(self, x: Array, params: Params, y: Labels) -> tuple[Tensors, float]:
        if x.ndim == 1:
            return self.inner.forward(x, params, y)
        labels = np.asarray(y)
        return mean_forward(lambda b: self.inner.forward(x[b], params, int(labels[b])), len(x))

    def backward(self, x: Array, y: Labels, params: Params, cache: Tensors) -> Tensors:
        if x.ndim == 1:
            return self.inner.backward(x, y, params, cache)
        labels = np.asarray(y)
        return mean_backward(lambda b, row: self.inner.backward(x[b], int(labels[b]), params, row),
                             cache, params, len(x))

    def update(self, params: Params, grads: Tensors, lr: float) -> Params:
        return self.inner.update(params, grads, lr)

    def optimize(self, optimizer: str, params: Params, grads: Tensors, state: optimizers.OptimState,
                 settings: optimizers.Settings) -> tuple[Params, optimizers.OptimState, str] | None:
        return self.inner.optimize(optimizer, params, grads, state, settings)

    def fit_loss(self, x: Array, params: Params, y: Labels) -> float:
        """The batch's mean loss, sample by sample: the inner model takes one at a time."""
        return self.forward(x, params, y)[1]

    def resize(self, arch: Architecture) -> Model:
        return BatchMean(self.inner.resize(arch))

    def numerical_gradients(self, params: Params, x: Array, y: Labels, eps: float,
                            progress: Progress | None, method: str) -> Numerical:
        if x.ndim == 1:
            return self.inner.numerical_gradients(params, x, y, eps, progress, method)
        labels = np.asarray(y)

        def sample(b: int) -> Numerical:
            if progress is not None:
                progress(b, len(x))
            return self.inner.numerical_gradients(params, x[b], int(labels[b]), eps, None, method)

        return mean_numerical(sample(b) for b in range(len(x)))

    def nudged_losses(self, params: Params, x: Array, y: Labels, nudges: list[Nudge],
                      progress: Progress | None) -> Array:
        """The batch's mean loss at each nudge, as this model's forward computes it."""
        return nudged_losses(lambda nudged: self.forward(x, nudged, y)[1], params, nudges, progress)

    def interrupt(self) -> None:
        self.inner.interrupt()


def mean_forward(forward: Callable[[int], tuple[Tensors, float]], count: int) -> tuple[Tensors, float]:
    """A batch's forward pass from its samples' (forward(b) runs sample b): the loss of a
    batch is its samples' mean loss, and its cache is theirs stacked one row a sample.
    Written once for BatchMean and for a user's model process (engine.usermodel.host), which
    hands a file without BATCHED = True its batch this way in one request."""
    passes = [forward(b) for b in range(count)]
    return _stacked([cache for cache, _ in passes]), float(np.mean([loss for _, loss in passes]))


def mean_backward(backward: Callable[[int, Tensors], Tensors], cache: Tensors, params: Params,
                  count: int) -> Tensors:
    """A batch's gradients from its samples' (backward(b, row) runs sample b with its row of
    the stacked cache): a parameter's gradient is the mean of the samples' (the gradient of
    the mean loss), any other gradient the samples' stacked one row a sample."""
    grads = [backward(b, {name: value[b] for name, value in cache.items()}) for b in range(count)]
    means = {f"d{name}" for name in params}
    return {name: np.mean([g[name] for g in grads], axis=0) if name in means
            else np.stack([np.asarray(g[name]) for g in grads])
            for name in grads[0]}


def _stacked(caches: list[Tensors]) -> Tensors:
    """The samples' caches as one, each entry's values stacked one row a sample (an entry
    that is not an array of one shape across samples is kept as a list)."""
    out: Tensors = {}
    for name in caches[0]:
        values = [cache.get(name) for cache in caches]
        arrays = [np.asarray(v) if isinstance(v, np.ndarray | float | int) else None for v in values]
        same = all(a is not None and a.shape == arrays[0].shape for a in arrays)  # type: ignore[union-attr]
        out[name] = np.stack(arrays) if same else values  # type: ignore[arg-type]
    return out


#: Every fault drill: the backward's and the update's (engine.maths.optimizers).
BUGS = optimizers.BUGS


def bug_problem(arch: Architecture, bug: str, inputs_known: bool = True,
                optimizer: str = "sgd") -> str | None:
    """Why a fault drill cannot be injected into this network, or None when it can.
    `inputs_known`: False while a data set's inputs are still to be read (the architecture's
    inputs are then the default, not the network's), so the message names the hidden layers.
    An update's drill needs the optimizer whose line it breaks."""
    update_drill = optimizers.DRILLS.get(bug)
    if update_drill is not None and optimizer not in update_drill.optimizers:
        wanted = " or ".join(update_drill.optimizers)
        return (f"the {bug} drill breaks the {wanted} update; this run's optimizer is {optimizer} "
                f"(add --optimizer {update_drill.optimizers[0]})")
    if bug == "transpose" and not arch.square_layers():
        return (f"the transpose drill needs two adjacent hidden layers of equal width (e.g. "
                f"--hidden 8,8) so that a W is square; {_network_words(arch, inputs_known)}")
    if network.drill(bug).unpenalised_loss and not arch.penalised:
        return ("the penalty-loss drill leaves the weights' penalty out of the loss, and this "
                "network has none: give --l1 or --l2 a rate above 0 (e.g. --l2 0.01)")
    return None


def _network_words(arch: Architecture, inputs_known: bool) -> str:
    """The network as it is: its sizes, or its hidden layers and outputs while its inputs are
    the data's, still unread (no W_1 takes part in the drill)."""
    if inputs_known:
        return f"this network is {arch.label}"
    widths = " and ".join(", ".join(str(n) for n in arch.hidden).rsplit(", ", 1))
    layers = "layer has" if len(arch.hidden) == 1 else "layers have"
    return (f"this network's hidden {layers} {widths} units and its output layer {arch.sizes[-1]} "
            f"(its inputs are the data's)")


def make_model(arch: Architecture = NOTEBOOK, bug: str | None = None) -> Model:
    return BuiltinModel(arch, network.BUG_ALIASES.get(bug, bug) if bug else None)
