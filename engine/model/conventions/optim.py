"""cs231n's update rules (assignment 2's `cs231n/optim.py`), as a model file may bring them.

Each rule updates one parameter: `rule(w, dw, config=None) -> (next_w, config)`, where
`config` holds the settings and the state the rule carries from one step to the next:

    sgd           learning_rate
    sgd_momentum  learning_rate, momentum, velocity
    rmsprop       learning_rate, decay_rate, epsilon, cache
    adam          learning_rate, beta1, beta2, epsilon, m, v, t

The stepper keeps the state as engine.maths.optimizers names it (v_W1, s_W1, m_W1 and Adam's
t), so this module is the translation both ways: the config a rule is called with, made from
the stepper's settings and state, and the state read back from the config it returns. cs231n's
rules fill a missing setting with `config.setdefault`, so every setting is given: the rule
then runs with the stepper's numbers, and its result can be held against the stepper's own
rule from the same numbers (engine.maths.optimizers.diagnose). RMSprop's decay_rate is β2
there (see that module). Nesterov's momentum has no function in cs231n's file.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.maths.optimizers import OptimState, Settings

#: Each optimizer's function name in cs231n's optim.py.
RULE_NAMES = {"sgd": "sgd", "momentum": "sgd_momentum", "rmsprop": "rmsprop", "adam": "adam"}
#: The rule's signature as cs231n writes it; a function of that name with another third
#: parameter is some other function (a training loop called sgd), not an update rule.
RULE_ARGS = ("w", "dw", "config")
#: Per optimizer: each moment of the stepper's state and the config key cs231n keeps it under.
CONFIG_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "sgd": (), "momentum": (("v", "velocity"),), "rmsprop": (("s", "cache"),),
    "adam": (("m", "m"), ("v", "v")),
}
#: The package module cs231n's Solver takes its rules from (`from cs231n import optim`).
PACKAGE_MODULE = "optim"


def config(optimizer: str, name: str, state: OptimState, settings: Settings) -> dict[str, Any]:
    """The config parameter `name`'s rule is called with: the settings and its state (copies:
    a rule may update them in place)."""
    made: dict[str, Any] = {"learning_rate": settings.lr}
    if optimizer == "momentum":
        made["momentum"] = settings.momentum
    elif optimizer == "rmsprop":
        made |= {"decay_rate": settings.beta2, "epsilon": settings.epsilon}
    elif optimizer == "adam":
        made |= {"beta1": settings.beta1, "beta2": settings.beta2, "epsilon": settings.epsilon,
                 "t": int(state["t"])}
    for moment, key in CONFIG_KEYS[optimizer]:
        made[key] = np.array(state[f"{moment}_{name}"], dtype=np.float64)
    return made


def moments(optimizer: str, name: str) -> dict[str, str]:
    """The config keys a rule returns its state under, each with the stepper's name for it:
    {"velocity": "v_W1"} for momentum."""
    return {key: f"{moment}_{name}" for moment, key in CONFIG_KEYS[optimizer]}


def steps(optimizer: str, configs: list[dict[str, Any]]) -> int | None:
    """Adam's step count after the update: the t every parameter's config came back with,
    which must agree (None when they do not, or when it is not a whole number)."""
    if optimizer != "adam":
        return 0
    counts = {c.get("t") for c in configs}
    if len(counts) != 1:
        return None
    (t,) = counts
    return int(t) if isinstance(t, int | np.integer) and not isinstance(t, bool) else None
