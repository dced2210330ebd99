"""A frozen run configuration, its defaults (the schema's) and its validation.

Validation lives beside the defaults, so that the command line, a TOML file and the app's
form all refuse the same values with the same words: engine.settings.rules holds the rules,
engine.settings.schema the settings. The names the rest of the project imports from here
(bounds, ConfigError, shown, ...) are re-exported below.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import Any

import numpy as np

from engine.maths.features import canonical, split
from engine.maths.network import BINARY_LOSSES, BUG_ALIASES, SOFTMAX_LOSS, Architecture
from engine.maths.optimizers import READS
from engine.settings import rules
from engine.settings.bounds import DATASETS as DATASETS
from engine.settings.bounds import MAX_CLASSES as MAX_CLASSES
from engine.settings.bounds import MAX_INPUTS as MAX_INPUTS
from engine.settings.bounds import MAX_MODEL_TIMEOUT as MAX_MODEL_TIMEOUT
from engine.settings.bounds import MAX_NOISE as MAX_NOISE
from engine.settings.bounds import MAX_PARAMS as MAX_PARAMS
from engine.settings.bounds import MAX_SAMPLES as MAX_SAMPLES
from engine.settings.bounds import MAX_SEED as MAX_SEED
from engine.settings.bounds import MAX_STEPS as MAX_STEPS
from engine.settings.bounds import MAX_TEST_FRACTION as MAX_TEST_FRACTION
from engine.settings.bounds import MODEL_MEMORY_BOUNDS as MODEL_MEMORY_BOUNDS
from engine.settings.bounds import MODEL_MEMORY_MB as MODEL_MEMORY_MB
from engine.settings.bounds import MODEL_TIMEOUT as MODEL_TIMEOUT
from engine.settings.bounds import MULTICLASS as MULTICLASS
from engine.settings.bounds import SUMMARY_OVER as SUMMARY_OVER
from engine.settings.errors import ConfigError as ConfigError
from engine.settings.floats import Floats
from engine.settings.rules import check_fitted as check_fitted
from engine.settings.rules import outputs_for as outputs_for
from engine.settings.schema import BY_KEY
from engine.settings.text import binary_size as binary_size
from engine.settings.text import shown as shown

NOTEBOOK_X = (0.2, -0.4, 0.1)
#: The Config fields that exist for learning from data and training runs; a run without data
#: leaves them out of its JSON trace, so today's trace is unchanged byte for byte.
#: The optimizer's settings: a JSON trace names those the run's optimizer reads (and decay when
#: it decays), so a plain SGD run's trace is unchanged byte for byte.
OPTIMIZER_FIELDS = ("optimizer", "momentum", "beta1", "beta2", "epsilon", "decay")
DATA_FIELDS = ("dataset", "data", "samples", "noise", "test_fraction", "standardize", "batch",
               "train_steps", "check_every", "trace", "features", "eval_every")
#: The penalty rates: a run without them leaves them out of its JSON trace too, which stays
#: the trace it always was.
PENALTY_FIELDS = ("l1", "l2")


def default_x(inputs: int, seed: int) -> tuple[float, ...] | Floats:
    """The notebook's x for 3 inputs; otherwise standard normal values drawn from the seed
    by a generator separate from the weights', so the notebook's init stream is untouched:
    read as a tuple of them, held as one array (a million inputs': 7.6 MiB, not 31)."""
    if inputs == len(NOTEBOOK_X):
        return NOTEBOOK_X
    return Floats(np.random.default_rng(seed).standard_normal(inputs))


def _default(key: str) -> Any:
    """A field's default, as the schema declares it."""
    return BY_KEY[key].default


@dataclass(frozen=True)
class Config:
    inputs: int = _default("inputs")
    hidden: tuple[int, ...] = _default("hidden")  # units per hidden layer; a single int means one layer
    activation: str = _default("activation")
    classes: int = _default("classes")
    loss: str = _default("loss")  # "" means the output's default: bce for one unit, cross-entropy for softmax
    seed: int = _default("seed")
    x: tuple[float, ...] | Floats = field(default=_default("x"))  # () means default_x(inputs, seed)
    y: int = _default("y")
    lr: float = _default("lr")
    optimizer: str = _default("optimizer")  # engine.maths.optimizers: sgd, momentum, nesterov, rmsprop, adam
    momentum: float = _default("momentum")
    beta1: float = _default("beta1")
    beta2: float = _default("beta2")
    epsilon: float = _default("epsilon")
    decay: float = _default("decay")  # the learning rate's decay once an epoch; 1: none
    eps: float = _default("eps")
    steps: int = _default("steps")
    gradcheck: bool = _default("gradcheck")
    gradcheck_method: str = _default("gradcheck-method")
    inject_bug: str | None = _default("inject-bug")
    init: str = _default("init")
    l1: float = _default("l1")  # the weights' penalty rates (engine.maths.penalty)
    l2: float = _default("l2")
    # Learning from data (engine.data.batches); without dataset or data, the one sample x, y.
    dataset: str = _default("dataset")  # a generated shape: xor, circle, gauss, spiral or moons
    data: str = _default("data")  # a CSV file's path: numeric columns, the label last
    samples: int = _default("samples")
    noise: float = _default("noise")
    test_fraction: float = _default("test-fraction")
    standardize: bool = _default("standardize")
    batch: int = _default("batch")  # rows a step; 0: the whole training split
    train_steps: int = _default("train-steps")  # steps of the app's training run (t)
    check_every: int = _default("check-every")  # a training run checks gradients every Nth step; 0: never
    trace: str = _default("trace")  # "full" or "summary"; "": summary once a headless run has over 100 steps
    #: The network's inputs as features of the data's two columns (engine.maths.features); (): the
    #: columns themselves. Last, so a config's other fields keep their places in a trace.
    features: tuple[str, ...] = field(default=_default("features"))
    #: Steps between measurements of the whole training and test sets' loss and accuracy
    #: (engine.run.stepper.Stepper.measures); 0: once an epoch. Last, as features is.
    eval_every: int = _default("eval-every")

    def __post_init__(self) -> None:
        if isinstance(self.hidden, int | np.integer) and not isinstance(self.hidden, bool):
            object.__setattr__(self, "hidden", (self.hidden,))
        elif isinstance(self.hidden, list):
            object.__setattr__(self, "hidden", tuple(self.hidden))
        if isinstance(self.features, str | list):  # a TOML file's "x1,x1^2" or ["x1", "x1^2"]
            object.__setattr__(self, "features", split(self.features) if isinstance(self.features, str)
                               else tuple(self.features))

    def resolved(self) -> Config:
        """The same config with the defaults that depend on other values filled in (x from
        the size and seed, the loss from the output, a fault drill's current name), once
        the values are known good."""
        x = self.x or default_x(self.inputs, self.seed)
        bug = BUG_ALIASES.get(self.inject_bug, self.inject_bug) if self.inject_bug else None
        return replace(self, x=x, loss=self.architecture.loss, inject_bug=bug,
                       features=canonical(self.features) if self.features else ())

    @cached_property
    def architecture(self) -> Architecture:
        loss = self.loss or (SOFTMAX_LOSS if self.classes > 1 else BINARY_LOSSES[0])
        return Architecture(self.inputs, tuple(self.hidden), self.activation, self.classes, loss,
                            float(self.l1), float(self.l2))

    @property
    def learns_from_data(self) -> bool:
        return bool(self.dataset or self.data)

    @property
    def shape_label(self) -> str:
        return self.architecture.label

    @property
    def optimizer_reads(self) -> tuple[str, ...]:
        """The optimizer settings this run uses: the optimizer and what it reads, and decay when
        it decays; none for plain SGD without decay."""
        used = (*(("optimizer", *READS[self.optimizer]) if self.optimizer != "sgd" else ()),
                *(("decay",) if self.decay != 1 else ()))
        return tuple(name for name in OPTIMIZER_FIELDS if name in used)

    def as_dict(self, arrays: bool = False) -> dict[str, Any]:
        """The settings as JSON writes them; without data, the data fields are left out (they
        say nothing about a run on the single sample, whose trace stays as it was), and so are
        the penalty rates when both are 0, the optimizer's settings it does not read. With
        `arrays`, a drawn x (Floats) is left as it is, for a writer that takes arrays (the JSON
        trace's head): a list of a million Python floats is 31 MiB."""
        unused = (*(() if self.architecture.penalised else PENALTY_FIELDS),
                  *(() if self.features else ("features",)),
                  *(() if self.eval_every else ("eval_every",)),
                  *(("x", "y") if self.learns_from_data else DATA_FIELDS),
                  *({*OPTIMIZER_FIELDS} - {*self.optimizer_reads}))
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in unused}
        listed = {"hidden": list(self.hidden)} | ({"features": list(self.features)} if self.features else {})
        x = self.x if arrays and isinstance(self.x, Floats) else list(self.x)
        return out | listed | ({} if self.learns_from_data else {"x": x})


def changed(config: Config) -> set[str]:
    """The keys whose values differ from the defaults."""
    return {f.name.replace("_", "-") for f in fields(config)
            if getattr(config, f.name) != f.default}


def validate(config: Config, given: Collection[str] | None = None) -> Config:
    """Check every value (engine.settings.rules); return the config with defaults resolved, or
    raise ConfigError.

    `given` names the settings the user gave (by key: "test-fraction"): some rules refuse a
    setting that has no effect, such as --samples without a data set, rather than ignore it.
    None: every value that differs from its default counts as given."""
    rules.check(config, changed(config) if given is None else given)
    return config.resolved()
