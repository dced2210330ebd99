"""A frozen run configuration and the rules every value must obey.

Validation lives here, beside the defaults, so that the command line, a TOML file and
the app's form all refuse the same values with the same words.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import Any

import numpy as np

from engine.check.verdicts import METHODS
from engine.maths.network import (
    ACTIVATIONS,
    BINARY_LOSSES,
    BUG_ALIASES,
    BUGS,
    INITS,
    SOFTMAX_LOSS,
    Architecture,
)
from engine.model.builtin import bug_problem

NOTEBOOK_X = (0.2, -0.4, 0.1)
MAX_INPUTS = 1_000_000
MAX_HIDDEN = 100_000
MAX_LAYERS = 8  # hidden layers
MAX_CLASSES = 10_000
#: Parameters at most: 80 MB a copy in float64, so a step and a bounded undo history fit.
MAX_PARAMS = 10_000_000
MAX_STEPS = 1_000_000
MAX_SEED = 2**32 - 1
#: A user's model process: seconds a call may take, and its address space in MB.
MODEL_TIMEOUT = 30.0
MAX_MODEL_TIMEOUT = 86_400.0  # a day
MODEL_MEMORY_MB = 4096
MODEL_MEMORY_BOUNDS = (256, 1 << 20)  # below 256 MB NumPy itself may not load; 1 TB above
#: Learning from data. engine.data.sets holds the shapes and these bounds (a test checks they agree);
#: they are repeated here because engine.data.sets imports this module.
DATASETS = ("xor", "circle", "gauss", "spiral", "moons")
MULTICLASS = ("gauss", "spiral")  # the shapes that also come in 3 classes
MAX_SAMPLES = 100_000
MAX_NOISE = 1.0
MAX_TEST_FRACTION = 0.9
TRACES = ("summary", "full")
#: A headless run on data longer than this writes a summary trace unless --trace full.
SUMMARY_OVER = 100
#: The Config fields that exist for learning from data and training runs; a run without data
#: leaves them out of its JSON trace, so today's trace is unchanged byte for byte.
DATA_FIELDS = ("dataset", "data", "samples", "noise", "test_fraction", "standardize", "batch",
               "train_steps", "check_every", "trace")


class ConfigError(ValueError):
    """A value that breaks a rule; `key` is the flag or TOML key it came from."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


def _typed(text: str) -> str:
    """The text, if a person could have meant it as a number. Python's int() and float() also
    read 1_0 as 10 and non-ASCII digits (٣, ３), which on a command line or in a form are
    typos, not numbers: ValueError."""
    if not text.strip().isascii() or "_" in text:
        raise ValueError(text)
    return text


def whole(text: str) -> int:
    """A whole number as people type it."""
    return int(_typed(text))


def real(text: str) -> float:
    """A number as people type it (1e-5, -0.4, inf)."""
    return float(_typed(text))


def wholes(text: str) -> tuple[int, ...]:
    """Comma-separated whole numbers (8,8); empty text is no numbers."""
    return tuple(whole(part) for part in text.split(",")) if text.strip() else ()


def reals(text: str) -> tuple[float, ...]:
    """Comma-separated numbers (0.2,-0.4,0.1); empty text is no numbers."""
    return tuple(real(part) for part in text.split(",")) if text.strip() else ()


def word(text: str) -> str:
    return text.strip()


def yes_no(text: str) -> bool:
    """A switch as a form field: yes or no (true or false)."""
    answer = text.strip().lower()
    if answer in ("yes", "true"):
        return True
    if answer in ("no", "false", ""):
        return False
    raise ValueError(text)


def text_value(text: str) -> str:
    """A file name as typed: spaces around it are not part of it."""
    return text.strip()


@dataclass(frozen=True)
class Field:
    """How a setting is typed, on the command line and in the app's form alike."""

    parse: Callable[[str], Any]  # raises ValueError for text that is not of its kind
    expected: str  # what parse wants, for its error message
    hint: str  # the rule, for the form's placeholder and the flag's help


FIELDS = {
    "inputs": Field(whole, "a whole number", f"input size, 1 to {MAX_INPUTS:,}"),
    "hidden": Field(wholes, "comma-separated whole numbers like 8,8",
                    f"units per hidden layer, e.g. 4 or 8,8 (1 to {MAX_LAYERS} layers)"),
    "activation": Field(word, "a name", " | ".join(ACTIVATIONS)),
    "classes": Field(whole, "a whole number", f"1 (a sigmoid unit) or 2 to {MAX_CLASSES:,} (softmax)"),
    "loss": Field(word, "a name", f"{' | '.join(BINARY_LOSSES)} for one output; empty for the default"),
    "init": Field(word, "a name", " | ".join(INITS)),
    "seed": Field(whole, "a whole number", f"0 to {MAX_SEED}"),
    "x": Field(reals, "comma-separated numbers like 0.2,-0.4,0.1",
               "comma-separated; empty for the default"),
    "y": Field(whole, "a whole number", "0 or 1; a class index 0 to K-1 for K classes"),
    "lr": Field(real, "a number", "learning rate, finite and > 0"),
    "eps": Field(real, "a number", "gradient-check step, finite and > 0"),
    "steps": Field(whole, "a whole number", f"1 to {MAX_STEPS:,}"),
    "model-timeout": Field(real, "a number", f"seconds, above 0 and at most {MAX_MODEL_TIMEOUT:,.0f}"),
    "model-memory": Field(whole, "a whole number",
                          f"MB, {MODEL_MEMORY_BOUNDS[0]} to {MODEL_MEMORY_BOUNDS[1]:,}"),
    "dataset": Field(word, "a name", f"{' | '.join(DATASETS)}; empty: none"),
    "data": Field(text_value, "a file name", "a CSV file: numeric columns, the label last"),
    "samples": Field(whole, "a whole number", f"points of the data set, 1 to {MAX_SAMPLES:,}"),
    "noise": Field(real, "a number", f"0 to {MAX_NOISE:g} (a fraction of the shape's radius)"),
    "test-fraction": Field(real, "a number", f"rows held out to test, 0 to {MAX_TEST_FRACTION:g}"),
    "standardize": Field(yes_no, "yes or no", "yes: each feature to mean 0, variance 1 (training rows)"),
    "batch": Field(whole, "a whole number",
                   f"rows a step, 1 to {MAX_SAMPLES:,}; 0 for the whole training split"),
    "train-steps": Field(whole, "a whole number", f"steps a training run (t) takes, 1 to {MAX_STEPS:,}"),
    "check-every": Field(whole, "a whole number",
                         f"a training run checks gradients every Nth step, 0 (never) to {MAX_STEPS:,}"),
    "trace": Field(word, "a name", f"{' | '.join(TRACES)}; empty: summary over {SUMMARY_OVER} steps"),
}


def unreadable(key: str, text: str) -> str:
    """Why a field's text is not a value of its kind (FIELDS[key].parse refused it), in the
    words the command line and the app's form both say. Whole numbers too long to read
    (Python's int() refuses more than 4,300 digits) are out of range, not of the wrong kind."""
    if text.isascii() and all(part.strip().lstrip("+-").isdigit() for part in text.split(",")):
        return f"{shown(text)} is far out of range"
    return f"expected {FIELDS[key].expected}, got {shown(text)}"


def shown(value: object, limit: int = 40) -> str:
    """A value as an error message echoes it, cut to `limit` characters with its length: a
    5,000-digit number echoed in full would bury the message it is part of."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's 4,300-digit conversion limit
        return f"a whole number of {value.bit_length():,} bits"  # type: ignore[attr-defined]
    if len(text) <= limit:
        return text
    length = len(value) if isinstance(value, str) else len(text)
    return f"{text[:limit - 1]}… ({length:,} characters)"


def binary_size(count: int) -> str:
    """Bytes as a message says them, to three figures: 59.6 GiB, 1.05 GiB, 512 MiB, 2,048 GiB."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            value = count / scale
            return f"{value:.3g} {unit}" if value < 1000 else f"{value:,.0f} {unit}"
    return f"{count} bytes"


def default_x(inputs: int, seed: int) -> tuple[float, ...]:
    """The notebook's x for 3 inputs; otherwise standard normal values drawn from the seed
    by a generator separate from the weights', so the notebook's init stream is untouched."""
    if inputs == len(NOTEBOOK_X):
        return NOTEBOOK_X
    return tuple(float(v) for v in np.random.default_rng(seed).standard_normal(inputs))


@dataclass(frozen=True)
class Config:
    inputs: int = 3
    hidden: tuple[int, ...] = (4,)  # units per hidden layer; a single int means one layer
    activation: str = "relu"
    classes: int = 1
    loss: str = ""  # "" means the output's default: bce for one unit, cross-entropy for softmax
    seed: int = 42
    x: tuple[float, ...] = field(default=())  # () means default_x(inputs, seed)
    y: int = 1
    lr: float = 0.1
    eps: float = 1e-5
    steps: int = 1
    gradcheck: bool = True
    gradcheck_method: str = "fast"
    inject_bug: str | None = None
    init: str = "notebook"
    # Learning from data (engine.data.batches); without dataset or data, the one sample x, y.
    dataset: str = ""  # a generated shape: xor, circle, gauss, spiral or moons
    data: str = ""  # a CSV file's path: numeric columns, the label last
    samples: int = 200
    noise: float = 0.1
    test_fraction: float = 0.2
    standardize: bool = False
    batch: int = 0  # rows a step; 0: the whole training split
    train_steps: int = 100  # steps of the app's training run (t)
    check_every: int = 0  # a training run checks gradients every Nth step; 0: never
    trace: str = ""  # "full" or "summary"; "": summary once a headless run has over 100 steps

    def __post_init__(self) -> None:
        if isinstance(self.hidden, int | np.integer) and not isinstance(self.hidden, bool):
            object.__setattr__(self, "hidden", (self.hidden,))
        elif isinstance(self.hidden, list):
            object.__setattr__(self, "hidden", tuple(self.hidden))

    def resolved(self) -> Config:
        """The same config with the defaults that depend on other values filled in (x from
        the size and seed, the loss from the output, a fault drill's current name), once
        the values are known good."""
        x = self.x or default_x(self.inputs, self.seed)
        bug = BUG_ALIASES.get(self.inject_bug, self.inject_bug) if self.inject_bug else None
        return replace(self, x=x, loss=self.architecture.loss, inject_bug=bug)

    @cached_property
    def architecture(self) -> Architecture:
        loss = self.loss or (SOFTMAX_LOSS if self.classes > 1 else BINARY_LOSSES[0])
        return Architecture(self.inputs, tuple(self.hidden), self.activation, self.classes, loss)

    @property
    def learns_from_data(self) -> bool:
        return bool(self.dataset or self.data)

    @property
    def shape_label(self) -> str:
        return self.architecture.label

    def as_dict(self) -> dict[str, Any]:
        """The settings as JSON writes them; without data, the data fields are left out (they
        say nothing about a run on the single sample, whose trace stays as it was)."""
        if self.learns_from_data:  # the single sample's x and y play no part
            return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("x", "y")} \
                | {"hidden": list(self.hidden)}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in DATA_FIELDS} \
            | {"x": list(self.x), "hidden": list(self.hidden)}


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool)


def _check_size(key: str, value: object, bound: int) -> None:
    if not _is_int(value):
        raise ConfigError(key, f"must be a whole number, got {shown(value)}")
    if not 1 <= int(value) <= bound:  # type: ignore[call-overload]
        raise ConfigError(key, f"must be between 1 and {bound:,}, got {shown(value)}")


def _check_positive(key: str, value: object) -> None:
    if not _is_number(value):
        raise ConfigError(key, f"must be a number, got {shown(value)}")
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number) or number <= 0:
        raise ConfigError(key, f"must be finite and > 0, got {shown(value)}")


def _changed(config: Config) -> set[str]:
    """The keys (as the flags spell them) whose values differ from the defaults."""
    default = Config()
    return {f.name.replace("_", "-") for f in fields(config)
            if getattr(config, f.name) != getattr(default, f.name)}


def _check_fraction(key: str, value: object, bound: float) -> None:
    if not _is_number(value) or not 0.0 <= float(value) <= bound:  # type: ignore[arg-type]
        raise ConfigError(key, f"must be a number from 0 to {bound:g}, got {shown(value)}")


def _check_count(key: str, value: object) -> None:
    if not _is_int(value) or not 0 <= int(value) <= MAX_STEPS:  # type: ignore[call-overload]
        raise ConfigError(key, f"must be a whole number from 0 to {MAX_STEPS:,}, got {shown(value)}")


NEEDS_DATA = "add --dataset NAME or --data FILE.csv"


def _check_data(config: Config, given: Collection[str]) -> None:
    """The data settings, each on its own, then against each other and the network."""
    if not isinstance(config.dataset, str) or config.dataset not in ("", *DATASETS):
        raise ConfigError("dataset", f"must be one of {', '.join(DATASETS)}, got {shown(config.dataset)}")
    if not isinstance(config.data, str):
        raise ConfigError("data", f"must be a file name, got {shown(config.data)}")
    if config.dataset and config.data:
        raise ConfigError("data", "cannot be used with --dataset: --dataset draws a data set from the "
                                  "seed, --data reads one from a file; give one of them")
    _check_size("samples", config.samples, MAX_SAMPLES)
    _check_fraction("noise", config.noise, MAX_NOISE)
    _check_fraction("test-fraction", config.test_fraction, MAX_TEST_FRACTION)
    if not isinstance(config.standardize, bool):
        raise ConfigError("standardize", f"must be true or false, got {shown(config.standardize)}")
    if not _is_int(config.batch) or not 0 <= int(config.batch) <= MAX_SAMPLES:
        raise ConfigError("batch", f"must be a whole number from 1 to {MAX_SAMPLES:,} (0: the whole "
                                   f"training split), got {shown(config.batch)}")
    _check_size("train-steps", config.train_steps, MAX_STEPS)
    _check_count("check-every", config.check_every)
    if config.trace not in ("", *TRACES):
        raise ConfigError("trace", f"must be one of {', '.join(TRACES)}, got {shown(config.trace)}")
    if not config.learns_from_data:
        if config.batch > 1:
            raise ConfigError("batch", f"the single sample is a batch of 1; a batch of {config.batch} "
                                       f"needs data: {NEEDS_DATA}")
        for key in ("samples", "noise"):
            if key in given:
                raise ConfigError(key, "only applies to a generated data set: add --dataset NAME")
        for key in ("test-fraction", "standardize", "trace"):
            if key in given:
                raise ConfigError(key, f"only applies to learning from data: {NEEDS_DATA}")
        return
    if config.data:
        for key in ("samples", "noise"):
            if key in given:
                raise ConfigError(key, "only applies to a generated data set (--dataset); a CSV "
                                       "file's rows are its samples: leave it out")
    for key in ("x", "y"):
        if key in given:
            raise ConfigError(key, "the data give the samples and their labels; --x and --y are the "
                                   "single sample's, without --dataset or --data: leave it out")
    if config.dataset:
        if "inputs" in given and config.inputs != 2:
            raise ConfigError("inputs", f"the data decide the inputs: {config.dataset} has 2 "
                                        f"features, got {shown(config.inputs)} (leave --inputs out)")
        most = 3 if config.dataset in MULTICLASS else 2
        if config.classes > most:
            kinds = "2 or 3 classes" if most == 3 else \
                f"2 classes; only {' and '.join(MULTICLASS)} also come in 3"
            raise ConfigError("classes", f"{config.dataset} comes in {kinds}, got {shown(config.classes)}")
        if config.samples < max(2, config.classes):
            raise ConfigError("samples", f"must be at least the number of classes "
                                         f"({max(2, config.classes)}), got {shown(config.samples)}")


def outputs_for(classes: int) -> tuple[int, ...]:
    """The output sizes (--classes) a network for K classes of data may have: one sigmoid unit
    or a softmax of two for two classes, a softmax unit a class for more."""
    return (1, 2) if classes == 2 else (classes,)


def check_fitted(config: Config, given: Collection[str], name: str, features: int, classes: int) -> None:
    """What the command line (or the form) gave against what a data set turned out to hold:
    the data decide the inputs and the classes. `classes` is the data's K (2 or more)."""
    if "inputs" in given and config.inputs != features:
        raise ConfigError("inputs", f"the data decide the inputs: {name} has {features} feature(s), "
                                    f"got {shown(config.inputs)} (leave --inputs out)")
    if "classes" in given and config.classes not in outputs_for(classes):
        raise ConfigError("classes", f"the data decide the classes: {name} has labels 0..{classes - 1} "
                                     f"({classes} classes), got {shown(config.classes)} "
                                     f"(leave --classes out)")


def validate(config: Config, given: Collection[str] | None = None) -> Config:
    """Check every value; return the config with defaults resolved, or raise ConfigError.

    `given` names the settings the user gave (as the flags spell them: "test-fraction"):
    some rules refuse a setting that has no effect, such as --samples without a data set,
    rather than ignore it. None: every value that differs from its default counts as given."""
    given = _changed(config) if given is None else given
    _check_size("inputs", config.inputs, MAX_INPUTS)
    if not isinstance(config.hidden, tuple) or not 1 <= len(config.hidden) <= MAX_LAYERS:
        got = f"{len(config.hidden) or 'no'} layers" if isinstance(config.hidden, tuple) \
            else shown(config.hidden)
        raise ConfigError("hidden", f"needs 1 to {MAX_LAYERS} hidden layers (e.g. 4 or 8,8), got {got}")
    for layer, width in enumerate(config.hidden, start=1):
        if not _is_int(width) or not 1 <= int(width) <= MAX_HIDDEN:
            where = f" (layer {layer})" if len(config.hidden) > 1 else ""
            raise ConfigError("hidden", f"each layer needs a whole number of units from 1 to "
                                        f"{MAX_HIDDEN:,}, got {shown(width)}{where}")
    if config.activation not in ACTIVATIONS:
        raise ConfigError("activation", f"must be one of {', '.join(ACTIVATIONS)}, "
                                        f"got {shown(config.activation)}")
    _check_size("classes", config.classes, MAX_CLASSES)
    if config.classes > 1 and config.loss in BINARY_LOSSES:
        raise ConfigError("loss", f"{config.loss} applies to a single sigmoid output; with "
                                  f"{config.classes} classes the output is a softmax with "
                                  f"{SOFTMAX_LOSS} (leave --loss out)")
    if config.loss not in ("", *BINARY_LOSSES, SOFTMAX_LOSS):
        raise ConfigError("loss", f"must be one of {', '.join(BINARY_LOSSES)}, got {shown(config.loss)}")
    if config.classes == 1 and config.loss == SOFTMAX_LOSS:
        raise ConfigError("loss", f"{SOFTMAX_LOSS} is the softmax output's loss: give --classes 2 "
                                  f"or more, or use {' or '.join(BINARY_LOSSES)}")
    arch = config.architecture
    if arch.param_count > MAX_PARAMS:
        raise ConfigError("hidden", f"a {arch.label} network has {arch.param_count:,} parameters; "
                                    f"at most {MAX_PARAMS:,} fit in memory with their history")
    if not _is_int(config.seed) or not 0 <= int(config.seed) <= MAX_SEED:
        raise ConfigError("seed", f"must be a whole number from 0 to {MAX_SEED}, got {shown(config.seed)}")
    _check_data(config, given)
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
    _check_positive("lr", config.lr)
    _check_positive("eps", config.eps)
    _check_size("steps", config.steps, MAX_STEPS)
    if not isinstance(config.gradcheck, bool):  # "no" or 0 from a file would read as true
        raise ConfigError("gradcheck", f"must be true or false, got {shown(config.gradcheck)}")
    if config.gradcheck_method not in METHODS:
        raise ConfigError("gradcheck-method", f"must be one of {', '.join(METHODS)}, "
                                              f"got {shown(config.gradcheck_method)}")
    if config.init not in INITS:
        raise ConfigError("init", f"must be one of {', '.join(INITS)}, got {shown(config.init)}")
    if config.inject_bug is not None:
        bug = BUG_ALIASES.get(config.inject_bug, config.inject_bug)
        if bug not in BUGS:
            raise ConfigError("inject-bug", f"must be one of {', '.join(BUGS)}, "
                                            f"got {shown(config.inject_bug)}")
        problem = bug_problem(arch, bug)
        if problem:
            raise ConfigError("inject-bug", problem)
    return config.resolved()
