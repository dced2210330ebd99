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

from engine.maths import network
from engine.maths.network import Array, Params, Tensors, sgd_update

#: An optimizer's state: its moments by name (v_W1, m_W1, s_W1, ...) and Adam's step count t.
OptimState = dict[str, Any]


@dataclass(frozen=True)
class UpdateDrill:
    """A fault drill of the update: one line of a rule broken, as people break it. Each switch
    is that line; the rules read it where the line is, and the explainer and the diagnosis read
    the same switches.

    says: the drill in a sentence, as the command line and the app list it.
    optimizers: the rules that have the line.
    kind: the diagnosis's kind, when the update is found to match this drill.
    no_bias_correction: Adam's m̂ = m and v̂ = v, the division by 1 − β^t forgotten.
    no_carry: the velocity restarts at zero each step (v_prev = 0), so μ never acts.
    """

    says: str
    optimizers: tuple[str, ...] = ()
    kind: str = ""
    no_bias_correction: bool = False
    no_carry: bool = False


#: The true update: no switch set.
NO_DRILL = UpdateDrill("The true update.")

#: The update's fault drills, by the name --inject-bug takes.
DRILLS = {
    "adam-no-bias-correction": UpdateDrill(
        "Adam without its bias correction: m and v used as they are, not divided by 1 − β^t (needs "
        "--optimizer adam).", ("adam",), "no-bias-correction", no_bias_correction=True),
    "momentum-no-carry": UpdateDrill(
        "Momentum that does not carry its velocity: v restarts at zero each step (needs --optimizer "
        "momentum or nesterov).", ("momentum", "nesterov"), "velocity-not-carried", no_carry=True),
}
#: Every fault drill, the backward's (engine.maths.network) and the update's, by name.
BUGS = network.BUGS | {name: d.says for name, d in DRILLS.items()}
#: The diagnosis kinds of a broken update: each drill's, and "other" for an update that differs
#: from its rule in another way.
UPDATE_KINDS = (*(d.kind for d in DRILLS.values()), "other")


def drill(bug: str | None) -> UpdateDrill:
    """The update's drill `bug` names, the true update for None or a drill of the backward."""
    return DRILLS.get(bug, NO_DRILL) if bug else NO_DRILL


@dataclass(frozen=True)
class Settings:
    """An update rule's numbers, cs231n's defaults: lr the learning rate (already decayed to
    its epoch's), mu the momentum, beta1 and beta2 the moments' decay rates, epsilon the
    denominator's guard; and the fault drill the rule runs with (the true update by default)."""

    lr: float = 0.1
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    drill: UpdateDrill = NO_DRILL


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
        v_prev = np.zeros_like(w) if s.drill.no_carry else state[f"v_{name}"]
        v = s.momentum * v_prev - s.lr * grads["d" + name]
        new_params[name], new_state[f"v_{name}"] = w + v, v
    return new_params, new_state


def nesterov(params: Params, grads: Tensors, state: OptimState, s: Settings) -> tuple[Params, OptimState]:
    """v ← μ·v − lr·dw; w ← w − μ·v_prev + (1 + μ)·v (cs231n's notes: the look-ahead
    gradient, rewritten in the variable that is updated)."""
    new_params: Params = {}
    new_state: OptimState = {}
    for name, w in params.items():
        v_prev = np.zeros_like(w) if s.drill.no_carry else state[f"v_{name}"]
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


def corrected(moment: Array, beta: float, t: int, drill: UpdateDrill = NO_DRILL) -> Array:
    """Adam's bias correction: moment / (1 − β^t), undoing the pull of the zero start (the
    moment as it is under the adam-no-bias-correction drill)."""
    if drill.no_bias_correction:
        return moment
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
        m_hat = corrected(m, s.beta1, t, s.drill)
        v = s.beta2 * state[f"v_{name}"] + (1 - s.beta2) * (dw ** 2)
        v_hat = corrected(v, s.beta2, t, s.drill)
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
#: Each setting as the formulas write it.
SYMBOLS = {"momentum": "μ", "beta1": "β1", "beta2": "β2", "epsilon": "ε"}
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
            out[f"mhat_{key[2:]}"] = corrected(value, settings.beta1, t, settings.drill)
    for key, value in state.items():
        if key.startswith("v_"):
            out[f"vhat_{key[2:]}"] = corrected(value, settings.beta2, t, settings.drill)
    return out


def decayed(lr: float, decay: float, epoch: int) -> float:
    """The learning rate of epoch `epoch` (from 1): lr·decay^(epoch−1), cs231n's Solver's
    lr_decay once an epoch. decay = 1 leaves lr exactly as it is."""
    return lr if decay == 1 else lr * decay ** (epoch - 1)


@dataclass(frozen=True)
class Fault:
    """A parameter whose update is not its rule's: the drill it matches (its kind, "other" for
    none) and what differs, in a sentence with the numbers."""

    tensor: str
    kind: str
    detail: str


def _words(optimizer: str, name: str, kind: str, moved: float, true: float, state: OptimState,
           settings: Settings) -> str:
    """What a broken update did to one parameter, with its figures."""
    size = f"the largest step of {name} was {moved:.4g} where {TITLES[optimizer]}'s is {true:.4g}"
    if kind == "no-bias-correction":
        t = int(state["t"])
        c1, c2 = 1 - settings.beta1 ** t, 1 - settings.beta2 ** t
        return (f"{size}: the update used m and v as they are, not divided by 1 − β1^t = {c1:.4g} and "
                f"1 − β2^t = {c2:.4g} (t = {t}), so its step is about (1 − β1^t)/√(1 − β2^t) = "
                f"{c1 / np.sqrt(c2):.4g} times Adam's while t is small")
    if kind == "velocity-not-carried":
        return (f"{size}: the velocity restarted at zero (v = −lr·d{name}), so μ = {settings.momentum:g} "
                "never acts and the update is plain SGD's")
    return f"{size}: it matches none of the update's drills"


def diagnose(optimizer: str, params: Params, grads: Tensors, state: OptimState, settings: Settings,
             after: Params, after_state: OptimState | None = None, rtol: float = 1e-9) -> list[Fault]:
    """The parameters whose update `after` is not the true rule's from the same parameters,
    gradients and state, each with the drill whose rule it matches (every element, to rtol).
    The drills are the hypotheses: a drill differs from the truth in one line. With
    `after_state` (what a user's own rule returned), a parameter whose update is right but
    whose state is not (a moment not stored, Adam's t not counted) is a fault too: the next
    step would go wrong from it."""
    true_settings = Settings(settings.lr, settings.momentum, settings.beta1, settings.beta2, settings.epsilon)
    true, true_state = step(optimizer, params, grads, state, true_settings)
    hypotheses = {d.kind: step(optimizer, params, grads, state, Settings(
        settings.lr, settings.momentum, settings.beta1, settings.beta2, settings.epsilon, d))[0]
        for d in DRILLS.values() if optimizer in d.optimizers}
    faults = []
    for name, w in params.items():
        if np.allclose(after[name], true[name], rtol=rtol, atol=0.0):
            stored = _state_fault(optimizer, name, state, true_state, after_state, rtol)
            faults += [] if stored is None else [stored]
            continue
        kind = next((k for k, made in hypotheses.items()
                     if np.allclose(after[name], made[name], rtol=rtol, atol=0.0)), "other")
        moved, true_moved = (float(np.max(np.abs(a - w), initial=0.0)) for a in (after[name], true[name]))
        t_state = {"t": int(state.get("t", 0)) + 1}
        faults.append(Fault(name, kind, _words(optimizer, name, kind, moved, true_moved, t_state, settings)))
    return faults


def _state_fault(optimizer: str, name: str, state: OptimState, true_state: OptimState,
                 after_state: OptimState | None, rtol: float) -> Fault | None:
    """A parameter updated rightly whose returned state is not the rule's: the first moment
    that differs (or Adam's t), in words with its figures; None when all agree. A velocity
    returned as it was given was not stored, so the next step does not carry it."""
    if after_state is None:
        return None
    for moment in MOMENTS[optimizer]:
        key = f"{moment}_{name}"
        if np.allclose(after_state[key], true_state[key], rtol=rtol, atol=0.0):
            continue
        if moment == "v" and optimizer in ("momentum", "nesterov") and \
                np.array_equal(after_state[key], state[key]):
            return Fault(name, "velocity-not-carried", f"{name} was updated rightly, but the velocity "
                         f"{key} came back as it was given: the new v was not stored, so the next step "
                         "starts from the old one and μ never carries it")
        gap = float(np.max(np.abs(np.asarray(after_state[key]) - true_state[key])))
        return Fault(name, "other", f"{name} was updated rightly, but the {key} it returned differs "
                     f"from {TITLES[optimizer]}'s by up to {gap:.4g}, so the next step starts from a "
                     "wrong state")
    if optimizer == "adam" and after_state["t"] != true_state["t"]:
        return Fault(name, "other", f"{name} was updated rightly, but t came back as {after_state['t']} "
                     f"where Adam's count is {true_state['t']} (t counts up by one a step)")
    return None
