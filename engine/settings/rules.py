"""The rules every run's settings obey: a table of named checks, each about the keys it
names, run in order; the first a config breaks is the error it gets.

`given` names the settings the user gave (by key: "test-fraction"): some rules refuse a
setting that has no effect, such as --samples without a data set, rather than ignore it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.check.verdicts import METHODS
from engine.maths.features import FeatureError
from engine.maths.features import parse as parse_features
from engine.maths.network import ACTIVATIONS, BINARY_LOSSES, BUG_ALIASES, INITS, SOFTMAX_LOSS
from engine.maths.optimizers import BUGS, OPTIMIZERS, READS
from engine.model.builtin import bug_problem
from engine.settings.bounds import (
    DATASETS,
    MAX_CLASSES,
    MAX_HIDDEN,
    MAX_INPUTS,
    MAX_LAYERS,
    MAX_NOISE,
    MAX_PARAMS,
    MAX_SAMPLES,
    MAX_SEED,
    MAX_STEPS,
    MAX_TEST_FRACTION,
    MULTICLASS,
    TRACES,
)
from engine.settings.errors import ConfigError, Namer
from engine.settings.text import shown

if TYPE_CHECKING:
    from engine.settings.config import Config


@dataclass(frozen=True)
class Rule:
    """A check by name, the settings it concerns, and the function that raises ConfigError."""

    name: str
    keys: tuple[str, ...]
    check: Callable[[Config, Collection[str]], None]


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool)


def _size(key: str, value: object, bound: int) -> None:
    if not _is_int(value):
        raise ConfigError(key, f"must be a whole number, got {shown(value)}")
    if not 1 <= int(value) <= bound:  # type: ignore[call-overload]
        raise ConfigError(key, f"must be between 1 and {bound:,}, got {shown(value)}")


def _positive(key: str, value: object) -> None:
    if not _is_number(value):
        raise ConfigError(key, f"must be a number, got {shown(value)}")
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number) or number <= 0:
        raise ConfigError(key, f"must be finite and > 0, got {shown(value)}")


def _rate(key: str, value: object) -> None:
    if not _is_number(value):
        raise ConfigError(key, f"must be a number, got {shown(value)}")
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number) or number < 0:
        raise ConfigError(key, f"must be finite and >= 0, got {shown(value)}")


def _fraction(key: str, value: object, bound: float) -> None:
    if not _is_number(value) or not 0.0 <= float(value) <= bound:  # type: ignore[arg-type]
        raise ConfigError(key, f"must be a number from 0 to {bound:g}, got {shown(value)}")


def _one_of(key: str, value: object, names: Collection[str]) -> None:
    if value not in names:
        raise ConfigError(key, f"must be one of {', '.join(names)}, got {shown(value)}")


def _switch(key: str, value: object) -> None:
    if not isinstance(value, bool):  # "no" or 0 from a file would read as true
        raise ConfigError(key, f"must be true or false, got {shown(value)}")


# ---- each setting on its own ----

def inputs(config: Config, given: Collection[str]) -> None:
    _size("inputs", config.inputs, MAX_INPUTS)


def hidden_layers(config: Config, given: Collection[str]) -> None:
    if not isinstance(config.hidden, tuple) or not 1 <= len(config.hidden) <= MAX_LAYERS:
        got = f"{len(config.hidden) or 'no'} layers" if isinstance(config.hidden, tuple) \
            else shown(config.hidden)
        raise ConfigError("hidden", f"needs 1 to {MAX_LAYERS} hidden layers (e.g. 4 or 8,8), got {got}")
    for layer, width in enumerate(config.hidden, start=1):
        if not _is_int(width) or not 1 <= int(width) <= MAX_HIDDEN:
            where = f" (layer {layer})" if len(config.hidden) > 1 else ""
            raise ConfigError("hidden", f"each layer needs a whole number of units from 1 to "
                                        f"{MAX_HIDDEN:,}, got {shown(width)}{where}")


def activation(config: Config, given: Collection[str]) -> None:
    _one_of("activation", config.activation, ACTIVATIONS)


def classes(config: Config, given: Collection[str]) -> None:
    _size("classes", config.classes, MAX_CLASSES)


def seed(config: Config, given: Collection[str]) -> None:
    if not _is_int(config.seed) or not 0 <= int(config.seed) <= MAX_SEED:
        raise ConfigError("seed", f"must be a whole number from 0 to {MAX_SEED}, got {shown(config.seed)}")


def data_values(config: Config, given: Collection[str]) -> None:
    """The data settings, each on its own."""
    if not isinstance(config.dataset, str) or config.dataset not in ("", *DATASETS):
        raise ConfigError("dataset", f"must be one of {', '.join(DATASETS)}, got {shown(config.dataset)}")
    if not isinstance(config.data, str):
        raise ConfigError("data", f"must be a file name, got {shown(config.data)}")


def dataset_or_data(config: Config, given: Collection[str]) -> None:
    if config.dataset and config.data:
        raise ConfigError("data", lambda n: f"cannot be used with {n('dataset')}: {n('dataset')} draws a "
                                            f"data set from the seed, {n('data')} reads one from a file; "
                                            "give one of them")


def sampling(config: Config, given: Collection[str]) -> None:
    _size("samples", config.samples, MAX_SAMPLES)
    _fraction("noise", config.noise, MAX_NOISE)
    _fraction("test-fraction", config.test_fraction, MAX_TEST_FRACTION)
    _switch("standardize", config.standardize)
    if not _is_int(config.batch) or not 0 <= int(config.batch) <= MAX_SAMPLES:
        raise ConfigError("batch", f"must be a whole number from 1 to {MAX_SAMPLES:,} (0: the whole "
                                   f"training split), got {shown(config.batch)}")


def training(config: Config, given: Collection[str]) -> None:
    _size("train-steps", config.train_steps, MAX_STEPS)
    if not _is_int(config.check_every) or not 0 <= int(config.check_every) <= MAX_STEPS:
        raise ConfigError("check-every", f"must be a whole number from 0 to {MAX_STEPS:,}, "
                                         f"got {shown(config.check_every)}")
    if not _is_int(config.eval_every) or not 0 <= int(config.eval_every) <= MAX_STEPS:
        raise ConfigError("eval-every", f"must be a whole number from 0 (once an epoch) to {MAX_STEPS:,}, "
                                        f"got {shown(config.eval_every)}")
    if config.trace not in ("", *TRACES):
        raise ConfigError("trace", f"must be one of {', '.join(TRACES)}, got {shown(config.trace)}")


def feature_names(config: Config, given: Collection[str]) -> None:
    """Each feature one of Playground's seven, by the features' own grammar (never evaluated)."""
    if not config.features:
        return
    if not isinstance(config.features, tuple) or not all(isinstance(f, str) for f in config.features):
        raise ConfigError("features", f"must be feature names such as x1,x2,x1^2, got "
                                      f"{shown(config.features)}")
    try:
        parse_features(config.features)
    except FeatureError as error:
        raise ConfigError("features", str(error)) from None


# ---- settings against each other ----

def loss_fits_output(config: Config, given: Collection[str]) -> None:
    """A sigmoid's loss for one output, the softmax's cross-entropy for classes."""
    if config.classes > 1 and config.loss in BINARY_LOSSES:
        raise ConfigError("loss", lambda n: f"{config.loss} applies to a single sigmoid output; with "
                                            f"{config.classes} classes the output is a softmax with "
                                            f"{SOFTMAX_LOSS} (leave {n('loss')} out)")
    if config.loss not in ("", *BINARY_LOSSES, SOFTMAX_LOSS):
        raise ConfigError("loss", f"must be one of {', '.join(BINARY_LOSSES)}, got {shown(config.loss)}")
    if config.classes == 1 and config.loss == SOFTMAX_LOSS:
        raise ConfigError("loss", lambda n: f"{SOFTMAX_LOSS} is the softmax output's loss: give "
                                            f"{n('classes')} 2 or more, or use {' or '.join(BINARY_LOSSES)}")


def parameters_fit(config: Config, given: Collection[str]) -> None:
    arch = config.architecture
    if arch.param_count > MAX_PARAMS:
        raise ConfigError("hidden", f"a {arch.label} network has {arch.param_count:,} parameters; "
                                    f"at most {MAX_PARAMS:,} fit in memory with their history")


def _needs_data(n: Namer) -> str:
    """What a data setting without data lacks, in the front end's names."""
    return f"add {n('dataset')} NAME or {n('data')} FILE.csv"


def without_data(config: Config, given: Collection[str]) -> None:
    """Settings that mean nothing without data are refused rather than ignored."""
    if config.learns_from_data:
        return
    if config.batch > 1:
        raise ConfigError("batch", lambda n: f"the single sample is a batch of 1; a batch of "
                                             f"{config.batch} needs data: {_needs_data(n)}")
    for key in ("samples", "noise"):
        if key in given:
            raise ConfigError(key, lambda n: f"only applies to a generated data set: add {n('dataset')} NAME")
    for key in ("test-fraction", "standardize", "trace", "features"):
        if key in given or (key == "features" and config.features):
            raise ConfigError(key, lambda n: f"only applies to learning from data: {_needs_data(n)}")


def data_gives_samples(config: Config, given: Collection[str]) -> None:
    """With data, the data give the rows: a CSV file's samples and noise, and the single
    sample's x and y, are not the user's to give."""
    if not config.learns_from_data:
        return
    if config.data:
        for key in ("samples", "noise"):
            if key in given:
                raise ConfigError(key, lambda n: f"only applies to a generated data set ({n('dataset')}); "
                                                 "a CSV file's rows are its samples: leave it out")
    for key in ("x", "y"):
        if key in given:
            raise ConfigError(key, lambda n: f"the data give the samples and their labels; {n('x')} and "
                                             f"{n('y')} are the single sample's, without {n('dataset')} or "
                                             f"{n('data')}: leave it out")


def dataset_shape(config: Config, given: Collection[str]) -> None:
    """A generated data set has 2 features and 2 classes (3 for some), a sample a class at least."""
    if not config.learns_from_data or not config.dataset:
        return
    if "inputs" in given and config.inputs != 2:
        raise ConfigError("inputs", lambda n: f"the data decide the inputs: {config.dataset} has 2 "
                                              f"features, got {shown(config.inputs)} "
                                              f"(leave {n('inputs')} out)")
    most = 3 if config.dataset in MULTICLASS else 2
    if config.classes > most:
        kinds = "2 or 3 classes" if most == 3 else \
            f"2 classes; only {' and '.join(MULTICLASS)} also come in 3"
        raise ConfigError("classes", f"{config.dataset} comes in {kinds}, got {shown(config.classes)}")
    if config.samples < max(2, config.classes):
        raise ConfigError("samples", f"must be at least the number of classes "
                                     f"({max(2, config.classes)}), got {shown(config.samples)}")


def sample(config: Config, given: Collection[str]) -> None:
    """The single sample: x one value an input, y a label of the output."""
    if config.x:
        if len(config.x) != config.inputs:
            raise ConfigError("x", f"needs exactly {config.inputs} values (one per input), "
                                   f"got {len(config.x)}")
        for i, value in enumerate(config.x):
            if not _is_number(value) or not math.isfinite(float(value)):
                raise ConfigError("x", f"value {i + 1} must be a finite number, got {shown(value)}")
    if isinstance(config.y, bool) or not _is_int(config.y) or not 0 <= config.y < max(2, config.classes):
        rule = "0 or 1" if config.classes == 1 else f"a class index from 0 to {config.classes - 1}"
        raise ConfigError("y", f"must be {rule}, got {shown(config.y)}")


def stepping(config: Config, given: Collection[str]) -> None:
    _positive("lr", config.lr)
    _rate("l1", config.l1)
    _rate("l2", config.l2)
    _positive("eps", config.eps)
    _size("steps", config.steps, MAX_STEPS)
    _switch("gradcheck", config.gradcheck)
    _one_of("gradcheck-method", config.gradcheck_method, METHODS)
    _one_of("init", config.init, INITS)


def _below_one(key: str, value: object) -> None:
    """A decay rate: the share of a running average kept a step, 0 <= rate < 1 (1 would
    keep the zero start for ever, and Adam's bias correction would divide by 0)."""
    if not _is_number(value) or not 0.0 <= float(value) < 1.0:  # type: ignore[arg-type]
        raise ConfigError(key, f"must be a number from 0 up to but not including 1, got {shown(value)}")


def optimizer(config: Config, given: Collection[str]) -> None:
    """The update rule and its numbers; a number the rule does not read is refused rather than
    ignored (--beta1 with momentum would change nothing)."""
    _one_of("optimizer", config.optimizer, OPTIMIZERS)
    for key in ("momentum", "beta1", "beta2"):
        _below_one(key, getattr(config, key))
    _positive("epsilon", config.epsilon)
    if not _is_number(config.decay) or not 0.0 < float(config.decay) <= 1.0:
        raise ConfigError("decay", f"must be a number above 0 and at most 1 (1: no decay), got "
                                   f"{shown(config.decay)}")
    unread = [key for key in ("momentum", "beta1", "beta2", "epsilon")
              if key in given and key not in READS[config.optimizer]]
    if unread:
        users = " or ".join(name for name, read in READS.items() if unread[0] in read)
        raise ConfigError(unread[0], lambda n: f"only applies to {n('optimizer')} {users}; the "
                                               f"{config.optimizer} update does not read it: leave it out")


def fault_drill(config: Config, given: Collection[str]) -> None:
    """A known-broken backward by name (or an older name), with a place in this network."""
    if config.inject_bug is None:
        return
    bug = BUG_ALIASES.get(config.inject_bug, config.inject_bug)
    if bug not in BUGS:
        raise ConfigError("inject-bug", f"must be one of {', '.join(BUGS)}, got {shown(config.inject_bug)}")
    problem = bug_problem(config.architecture, bug, not config.learns_from_data or "inputs" in given,
                          config.optimizer)
    if problem:
        raise ConfigError("inject-bug", problem)


RULES: tuple[Rule, ...] = (
    Rule("inputs", ("inputs",), inputs),
    Rule("hidden layers", ("hidden",), hidden_layers),
    Rule("activation", ("activation",), activation),
    Rule("classes", ("classes",), classes),
    Rule("the loss fits the output", ("loss", "classes"), loss_fits_output),
    Rule("the parameters fit in memory", ("hidden", "inputs", "classes"), parameters_fit),
    Rule("seed", ("seed",), seed),
    Rule("data set and file", ("dataset", "data"), data_values),
    Rule("a data set or a file, not both", ("dataset", "data"), dataset_or_data),
    Rule("sampling and the split", ("samples", "noise", "test-fraction", "standardize", "batch"), sampling),
    Rule("training runs and the trace", ("train-steps", "check-every", "eval-every", "trace"), training),
    Rule("features", ("features",), feature_names),
    Rule("data settings need data", ("batch", "samples", "noise", "test-fraction", "standardize", "trace",
                                     "features"), without_data),
    Rule("the data give the samples", ("samples", "noise", "x", "y"), data_gives_samples),
    Rule("a data set's shape", ("inputs", "classes", "samples"), dataset_shape),
    Rule("the single sample", ("x", "y", "inputs", "classes"), sample),
    Rule("stepping", ("lr", "l1", "l2", "eps", "steps", "gradcheck", "gradcheck-method", "init"), stepping),
    Rule("the optimizer", ("optimizer", "momentum", "beta1", "beta2", "epsilon", "decay"), optimizer),
    Rule("the fault drill fits the network", ("inject-bug", "hidden", "l1", "l2", "optimizer"), fault_drill),
)


def check(config: Config, given: Collection[str]) -> None:
    """Every rule in order: ConfigError for the first the config breaks."""
    for rule in RULES:
        rule.check(config, given)


# ---- the settings against the data ----

def outputs_for(classes: int) -> tuple[int, ...]:
    """The output sizes (--classes) a network for K classes of data may have: one sigmoid unit
    or a softmax of two for two classes, a softmax unit a class for more."""
    return (1, 2) if classes == 2 else (classes,)


def check_fitted(config: Config, given: Collection[str], name: str, features: int, classes: int) -> None:
    """What the user gave against what a data set turned out to hold: the data decide the
    inputs and the classes. `classes` is the data's K (2 or more)."""
    if "inputs" in given and config.inputs != features:
        raise ConfigError("inputs", lambda n: f"the data decide the inputs: {name} has {features} "
                                              f"feature(s), got {shown(config.inputs)} "
                                              f"(leave {n('inputs')} out)")
    if "classes" in given and config.classes not in outputs_for(classes):
        raise ConfigError("classes", lambda n: f"the data decide the classes: {name} has labels "
                                               f"0..{classes - 1} ({classes} classes), got "
                                               f"{shown(config.classes)} (leave {n('classes')} out)")
