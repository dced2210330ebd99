"""The update rules of the update phase, written once: cs231n's (assignment 2, optim.py:
sgd, sgd_momentum, rmsprop, adam) and Nesterov's momentum as cs231n's notes write it
(cs231n.github.io/neural-networks-3, "Nesterov Momentum"):

    sgd        w ← w − lr·dw
    momentum   v ← μ·v − lr·dw;                 w ← w + v
    nesterov   v_prev = v;  v ← μ·v − lr·dw;    w ← w − μ·v_prev + (1 + μ)·v
    rmsprop    s ← β2·s + (1 − β2)·dw²;         w ← w − lr·dw / (√s + ε)
    adam       t ← t + 1;  m ← β1·m + (1 − β1)·dw;  m̂ = m / (1 − β1^t);
               v ← β2·v + (1 − β2)·dw²;  v̂ = v / (1 − β2^t);  w ← w − lr·m̂ / (√v̂ + ε)

Each is a pure function (params, grads, state, settings) -> (new params, new state) over
every parameter at once: nothing is changed in place, since the stepper keeps the old arrays
to undo. The state is a dict of named tensors, one per parameter and moment: v_W1 (the
velocity, or Adam's second moment), s_W1 (RMSprop's running mean of dw², cs231n's `cache`,
deeplearning.ai's S_dW), m_W1 (Adam's first moment), and Adam's step count t. They start as
cs231n's do: zeros of the parameter's shape, t = 0, and Adam counts t up before its bias
correction, so its first step divides by 1 − β1 and 1 − β2.

RMSprop's decay rate is β2 (deeplearning.ai's notation; Adam's v is the same average):
cs231n's rmsprop defaults its decay_rate to 0.99 where this module takes β2 = 0.999 unless
told, so a cs231n comparison gives --beta2 0.99.

The learning rate decays as cs231n's Solver decays it: by `decay` once an epoch, so epoch e
(from 1) updates with lr·decay^(e−1) (the Solver multiplies its learning_rate by lr_decay at
the end of each epoch; here the power is taken, which may differ from repeated products in
the last bit). decay = 1 is no decay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.maths.network import Array, Params, Tensors, sgd_update

#: An optimizer's state: its moments by name (v_W1, m_W1, s_W1, ...) and Adam's step count t.
OptimState = dict[str, Any]


@dataclass(frozen=True)
class Settings:
    """An update rule's numbers, cs231n's defaults: lr the learning rate (already decayed to
    its epoch's), mu the momentum, beta1 and beta2 the moments' decay rates, epsilon the
    denominator's guard."""

    lr: float = 0.1
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8


Rule = Callable[[Params, Tensors, OptimState, Settings], tuple[Params, OptimState]]


def sgd(params: Params, grads: Tensors, state: OptimState, s: Settings) -> tuple[Params, OptimState]:
    """w ← w − lr·dw: no state."""
    return sgd_update(params, grads, s.lr), {}


def sgd_momentum(params: Params, grads: Tensors, state: OptimState,
                 s: Settings) -> tuple[Params, OptimState]:
    """v ← μ·v − lr·dw; w ← w + v (cs231n's sgd_momentum)."""
    new_params: Params = {}
    new_state: OptimState = {}
    for name, w in params.items():
        v = s.momentum * state[f"v_{name}"] - s.lr * grads["d" + name]
        new_params[name], new_state[f"v_{name}"] = w + v, v
    return new_params, new_state


def nesterov(params: Params, grads: Tensors, state: OptimState, s: Settings) -> tuple[Params, OptimState]:
    """v ← μ·v − lr·dw; w ← w − μ·v_prev + (1 + μ)·v (cs231n's notes: the look-ahead
    gradient, rewritten in the variable that is updated)."""
    new_params: Params = {}
    new_state: OptimState = {}
    for name, w in params.items():
        v_prev = state[f"v_{name}"]
        v = s.momentum * v_prev - s.lr * grads["d" + name]
        new_params[name] = w + (-s.momentum * v_prev + (1 + s.momentum) * v)
        new_state[f"v_{name}"] = v
    return new_params, new_state


def rmsprop(params: Params, grads: Tensors, state: OptimState, s: Settings) -> tuple[Params, OptimState]:
    """s ← β2·s + (1 − β2)·dw²; w ← w − lr·dw / (√s + ε) (cs231n's rmsprop, its decay_rate
    β2)."""
    new_params: Params = {}
    new_state: OptimState = {}
    for name, w in params.items():
        dw = grads["d" + name]
        mean_square = s.beta2 * state[f"s_{name}"] + (1 - s.beta2) * (dw ** 2)
        new_params[name] = w - s.lr * dw / (np.sqrt(mean_square) + s.epsilon)
        new_state[f"s_{name}"] = mean_square
    return new_params, new_state


def corrected(moment: Array, beta: float, t: int) -> Array:
    """Adam's bias correction: moment / (1 − β^t), undoing the pull of the zero start."""
    out: Array = moment / (1 - beta ** t)
    return out


def adam(params: Params, grads: Tensors, state: OptimState, s: Settings) -> tuple[Params, OptimState]:
    """cs231n's adam: t counts up first, then m, v, their bias corrections m̂, v̂ and
    w ← w − lr·m̂ / (√v̂ + ε)."""
    t = int(state["t"]) + 1
    new_params: Params = {}
    new_state: OptimState = {}
    for name, w in params.items():
        dw = grads["d" + name]
        m = s.beta1 * state[f"m_{name}"] + (1 - s.beta1) * dw
        m_hat = corrected(m, s.beta1, t)
        v = s.beta2 * state[f"v_{name}"] + (1 - s.beta2) * (dw ** 2)
        v_hat = corrected(v, s.beta2, t)
        new_params[name] = w - s.lr * m_hat / (np.sqrt(v_hat) + s.epsilon)
        new_state[f"m_{name}"], new_state[f"v_{name}"] = m, v
    new_state["t"] = t
    return new_params, new_state


#: Each optimizer by the name --optimizer takes, with the moments its state keeps a parameter
#: (the prefix of their names) and whether it counts its steps (t).
RULES: dict[str, Rule] = {"sgd": sgd, "momentum": sgd_momentum, "nesterov": nesterov,
                          "rmsprop": rmsprop, "adam": adam}
MOMENTS: dict[str, tuple[str, ...]] = {"sgd": (), "momentum": ("v",), "nesterov": ("v",),
                                       "rmsprop": ("s",), "adam": ("m", "v")}
OPTIMIZERS = tuple(RULES)
#: The settings each optimizer reads besides lr (a setting it does not read is refused).
READS: dict[str, tuple[str, ...]] = {"sgd": (), "momentum": ("momentum",), "nesterov": ("momentum",),
                                     "rmsprop": ("beta2", "epsilon"),
                                     "adam": ("beta1", "beta2", "epsilon")}
#: How each optimizer is named in words.
TITLES = {"sgd": "SGD", "momentum": "SGD with momentum", "nesterov": "Nesterov momentum",
          "rmsprop": "RMSprop", "adam": "Adam"}


def init_state(optimizer: str, params: Params) -> OptimState:
    """The state before the first update, as cs231n starts it: each moment zeros of its
    parameter's shape (np.zeros_like), and Adam's t = 0."""
    state: OptimState = {f"{moment}_{name}": np.zeros_like(w)
                         for moment in MOMENTS[optimizer] for name, w in params.items()}
    if optimizer == "adam":
        state["t"] = 0
    return state


def step(optimizer: str, params: Params, grads: Tensors, state: OptimState,
         settings: Settings) -> tuple[Params, OptimState]:
    """One update by the named rule: the new parameters and the new state."""
    return RULES[optimizer](params, grads, state, settings)


def bias_corrected(optimizer: str, state: OptimState, settings: Settings) -> Tensors:
    """What an update computed on the way that its state does not keep: Adam's m̂ and v̂ of
    each parameter (mhat_W1, vhat_W1), from the new state, by the same function adam() used,
    so they are its numbers bit for bit. Nothing for the other rules."""
    if optimizer != "adam" or not state:
        return {}
    t = int(state["t"])
    out: Tensors = {}
    for key, value in state.items():
        if key.startswith("m_"):
            out[f"mhat_{key[2:]}"] = corrected(value, settings.beta1, t)
    for key, value in state.items():
        if key.startswith("v_"):
            out[f"vhat_{key[2:]}"] = corrected(value, settings.beta2, t)
    return out


def decayed(lr: float, decay: float, epoch: int) -> float:
    """The learning rate of epoch `epoch` (from 1): lr·decay^(epoch−1), cs231n's Solver's
    lr_decay once an epoch. decay = 1 leaves lr exactly as it is."""
    return lr if decay == 1 else lr * decay ** (epoch - 1)
