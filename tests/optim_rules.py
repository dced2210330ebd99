"""A cs231n-style package for the tests of a model file's own update rules: cs231n's four
rules written here from their formulas (the assignment's optim.py shape), their broken
variants, and the assignment's layout around the notebook's functions."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import NO_UPDATE, edit

#: cs231n's four rules as the assignment's optim.py shapes them (settings by setdefault, the
#: state in config), written here from the formulas.
OPTIM = '''import numpy as np


def sgd(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    w -= config["learning_rate"] * dw
    return w, config


def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    config["velocity"] = v
    return next_w, config


def rmsprop(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    config["cache"] = config["decay_rate"] * config["cache"] + (1 - config["decay_rate"]) * dw ** 2
    next_w = w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"])
    return next_w, config


def adam(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("t", 0)
    config["t"] += 1
    config["m"] = config["beta1"] * config["m"] + (1 - config["beta1"]) * dw
    mt = config["m"] / (1 - config["beta1"] ** config["t"])
    config["v"] = config["beta2"] * config["v"] + (1 - config["beta2"]) * (dw ** 2)
    vt = config["v"] / (1 - config["beta2"] ** config["t"])
    next_w = w - config["learning_rate"] * mt / (np.sqrt(vt) + config["epsilon"])
    return next_w, config
'''
ADAM_CORRECTION = '    mt = config["m"] / (1 - config["beta1"] ** config["t"])\n'
#: Adam with neither moment divided by 1 − β^t (as one public student copy has it).
UNCORRECTED = edit(edit(OPTIM, ADAM_CORRECTION, '    mt = config["m"]\n'),
                   '    vt = config["v"] / (1 - config["beta2"] ** config["t"])\n', '    vt = config["v"]\n')
STORED_VELOCITY = '    config["velocity"] = v\n'


def package(tmp_path: Path, optim: str = OPTIM, model: str = NO_UPDATE) -> Path:
    """cs231n's layout: course/optim.py beside course/classifiers/net.py (the notebook's
    functions, without their sgd_update, so that the package's sgd is the SGD step); the
    model file's path."""
    (tmp_path / "course" / "classifiers").mkdir(parents=True)
    (tmp_path / "course" / "__init__.py").write_text("")
    (tmp_path / "course" / "classifiers" / "__init__.py").write_text("")
    (tmp_path / "course" / "optim.py").write_text(optim)
    path = tmp_path / "course" / "classifiers" / "net.py"
    path.write_text(model)
    return path
