"""A frozen run configuration and the rules every value must obey.

Validation lives here, beside the defaults, so that the command line, a TOML file and
the app's form all refuse the same values with the same words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from engine.gradcheck import METHODS
from engine.model import BUGS
from engine.network import INITS

NOTEBOOK_X = (0.2, -0.4, 0.1)
MAX_INPUTS = 1_000_000
MAX_HIDDEN = 100_000
#: Parameters at most: 80 MB a copy in float64, so a step and a bounded undo history fit.
MAX_PARAMS = 10_000_000
MAX_STEPS = 1_000_000
MAX_SEED = 2**32 - 1
#: A user's model process: seconds a call may take, and its address space in MB.
MODEL_TIMEOUT = 30.0
MAX_MODEL_TIMEOUT = 86_400.0  # a day
MODEL_MEMORY_MB = 4096
MODEL_MEMORY_BOUNDS = (256, 1 << 20)  # below 256 MB NumPy itself may not load; 1 TB above


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


def param_count(inputs: int, hidden: int) -> int:
    return hidden * inputs + hidden + hidden + 1


def default_x(inputs: int, seed: int) -> tuple[float, ...]:
    """The notebook's x for 3 inputs; otherwise standard normal values drawn from the seed
    by a generator separate from the weights', so the notebook's init stream is untouched."""
    if inputs == len(NOTEBOOK_X):
        return NOTEBOOK_X
    return tuple(float(v) for v in np.random.default_rng(seed).standard_normal(inputs))


@dataclass(frozen=True)
class Config:
    inputs: int = 3
    hidden: int = 4
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

    def resolved(self) -> Config:
        """The same config with the default x filled in, once the sizes are known good."""
        if self.x:
            return self
        return replace(self, x=default_x(self.inputs, self.seed))

    @property
    def shape_label(self) -> str:
        return f"{self.inputs}-{self.hidden}-1"

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)} | {"x": list(self.x)}


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


def validate(config: Config) -> Config:
    """Check every value; return the config with defaults resolved, or raise ConfigError."""
    _check_size("inputs", config.inputs, MAX_INPUTS)
    _check_size("hidden", config.hidden, MAX_HIDDEN)
    count = param_count(config.inputs, config.hidden)
    if count > MAX_PARAMS:
        raise ConfigError("hidden", f"a {config.shape_label} network has {count:,} parameters; "
                                    f"at most {MAX_PARAMS:,} fit in memory with their history")
    if not _is_int(config.seed) or not 0 <= int(config.seed) <= MAX_SEED:
        raise ConfigError("seed", f"must be a whole number from 0 to {MAX_SEED}, got {shown(config.seed)}")
    if config.x:
        if len(config.x) != config.inputs:
            raise ConfigError("x", f"needs exactly {config.inputs} values (one per input), "
                                   f"got {len(config.x)}")
        for i, value in enumerate(config.x):
            if not _is_number(value) or not math.isfinite(float(value)):
                raise ConfigError("x", f"value {i + 1} must be a finite number, got {shown(value)}")
    if config.y not in (0, 1) or isinstance(config.y, bool) or not _is_int(config.y):
        raise ConfigError("y", f"must be 0 or 1, got {shown(config.y)}")
    _check_positive("lr", config.lr)
    _check_positive("eps", config.eps)
    _check_size("steps", config.steps, MAX_STEPS)
    if config.gradcheck_method not in METHODS:
        raise ConfigError("gradcheck-method", f"must be one of {', '.join(METHODS)}, "
                                              f"got {shown(config.gradcheck_method)}")
    if config.init not in INITS:
        raise ConfigError("init", f"must be one of {', '.join(INITS)}, got {shown(config.init)}")
    if config.inject_bug is not None and config.inject_bug not in BUGS:
        raise ConfigError("inject-bug", f"must be one of {', '.join(BUGS)}, got {shown(config.inject_bug)}")
    return config.resolved()
