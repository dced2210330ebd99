"""What every course's adapter shares: the conventions' names, the error, the adapted
functions, and the helpers that look a module's names up and read what it returns."""

from __future__ import annotations

import ast
import inspect
import keyword
import re
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.model.course_names import CS231N as CS231N
from engine.model.course_names import DLAI as DLAI
from engine.model.course_names import NOTEBOOK as NOTEBOOK

#: Per convention: (the names it needs that a module defines, those it lacks).
Found = tuple[list[str], list[str]]


class ConventionError(Exception):
    """The module fits no convention, fits two, or breaks the one it follows."""


@dataclass
class Adapted:
    """The notebook contract's functions, made from a course-style module."""

    convention: str
    forward: Callable[..., Any]
    backward: Callable[..., Any]
    sgd_update: Callable[..., Any] | None
    init_params: Callable[..., Any] | None
    #: How the model was built, as a reader takes it in ("TwoLayerNet(input_dim=2, ...)").
    described: str
    kink_names: Callable[[dict[str, Any]], list[str]] | None = None


def get(module: types.ModuleType, name: str) -> Any:
    try:
        return getattr(module, name, None)
    except BaseException:  # a module-level __getattr__ may raise anything
        return None


def has(module: types.ModuleType, name: str) -> bool:
    return callable(get(module, name))


def words(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def number(value: Any) -> Any:
    """A cost as the course returns it (np.squeeze of a (1, 1) array) as a plain number."""
    array = np.asarray(value) if isinstance(value, np.ndarray | np.generic) else None
    if array is not None and array.size == 1 and array.dtype.kind in "iuf":
        return float(array.reshape(()))
    return value


def flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    """A cache whatever its structure (dicts, tuples, lists of tuples, objects with
    attributes) as named leaves: "caches[0].linear_cache.A_prev". The course's
    linear_activation cache ((A_prev, W, b), Z) is named as the course names it."""
    if isinstance(value, dict):
        for key, item in value.items():
            flatten(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, tuple | list):
        if len(value) == 2 and isinstance(value[0], tuple) and len(value[0]) == 3 \
                and isinstance(value[1], np.ndarray):
            for name, item in zip(("A_prev", "W", "b"), value[0], strict=True):
                out[f"{path}.linear_cache.{name}"] = item
            out[f"{path}.activation_cache.Z"] = value[1]
            return
        for i, item in enumerate(value):
            flatten(item, f"{path}[{i}]", out)
    elif isinstance(value, np.ndarray | np.generic | int | float) and not isinstance(value, bool):
        out[path or "value"] = np.asarray(value)
    # anything else (a string, None, an object) says nothing as a tensor: left out


def signature_names(function: Any) -> list[str]:
    try:
        return list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return []


def call_form(function: Any, name: str, forms: tuple[tuple[str, ...], ...], file: str) -> int:
    """Which of a course's signatures for `name` the function takes (its index in `forms`,
    the first that binds, as the arguments would be passed); ConventionError naming the
    signatures expected and the one found otherwise. A builtin without a signature: 0."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return 0
    for index, form in enumerate(forms):
        try:
            signature.bind(*form)
        except TypeError:
            continue
        return index
    expected = " or ".join(f"{name}({', '.join(form)})" for form in forms)
    raise ConventionError(f"{file}: {name}{signature} cannot be called as the course calls it: {expected}")


def check_shapes(params: Any, expected: dict[str, tuple[int, ...]], source: str,
                 convention: str) -> None:
    """Parameters named and shaped as the convention has them for these sizes."""
    if not isinstance(params, dict):
        return  # the contract names what it is
    for name, shape in expected.items():
        if name not in params:
            raise ConventionError(f"{source} no {name}; the {convention} convention expects "
                                  f"{', '.join(expected)} for these sizes")
        got = np.shape(params[name])
        if got != shape:
            raise ConventionError(f"{source} {name} of shape {got}; the {convention} convention "
                                  f"expects {shape}")


@dataclass(frozen=True)
class Build:
    """What an adapter builds a course's model from: the network's sizes (n0, hidden...,
    outputs), --reg, the --model-option constructor keywords, and the file's name for messages."""

    sizes: tuple[int, ...]
    reg: float = 0.0
    options: tuple[tuple[str, Any], ...] = ()
    file: str = "model.py"


#: Longest --model-option value read, and its deepest nesting: a literal, not a program.
OPTION_CHARS = 1000
OPTION_DEPTH = 4


def plain_option(value: Any, depth: int = 0) -> bool:
    """Whether a --model-option value is plain data: None, a bool, an int, a float, a string,
    or a list, tuple or dict of those (what crosses to the model's process and into a
    session file as it is)."""
    if value is None or type(value) in (bool, int, float, str):
        return True
    if depth >= OPTION_DEPTH:
        return False
    if type(value) in (list, tuple):
        return all(plain_option(item, depth + 1) for item in value)
    if type(value) is dict:
        return all(type(k) is str and plain_option(v, depth + 1) for k, v in value.items())
    return False


def read_option(text: str) -> tuple[str, Any]:
    """KEY=VALUE as a constructor keyword: VALUE a Python literal read by ast.literal_eval
    (never run), or a bare word taken as a string (normalization=batchnorm); ValueError
    naming what is wrong otherwise."""
    key, equals, raw = text.partition("=")
    key = key.strip()
    if not equals or not key.isidentifier() or keyword.iskeyword(key):
        raise ValueError("expected KEY=VALUE with KEY a Python name, such as normalization=batchnorm")
    raw = raw.strip()
    if len(raw) > OPTION_CHARS:
        raise ValueError(f"the value is longer than {OPTION_CHARS} characters")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        if not re.fullmatch(r"[A-Za-z_][\w.-]*", raw):
            raise ValueError("the value is neither a Python literal (a number, 'a string', True, "
                             "None, [1, 2]) nor a bare word") from None
        value = raw
    if not plain_option(value):
        raise ValueError("the value must be None, True/False, a number, a string, or a list, "
                         "tuple or dict of those")
    return key, value
