"""Where a model file's own update rule is found: cs231n's `rule(w, dw, config)` of the run's
optimizer (engine.model.conventions.optim), defined by the file itself or, for a file in a
package, by the package's `optim` module, where cs231n's assignment keeps it
(`cs231n/optim.py` beside `cs231n/classifiers/fc_net.py`; its Solver does
`from cs231n import optim`). A student's rules are then stepped as the Solver would call
them, with nothing copied into the model file.

Looked up when an update first asks for the optimizer, not at import: a package whose
optim.py is unfinished still loads and steps with plain SGD, and a broken optim.py is named
the first time it is needed.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.model.conventions.optim import PACKAGE_MODULE, RULE_ARGS, RULE_NAMES


@dataclass(frozen=True)
class OwnRule:
    """A file's update rule: the function, and where it is, as the notes say it
    ("adam in cs231n/optim.py")."""

    function: Callable[..., Any]
    where: str


def _rule_in(module: types.ModuleType, name: str) -> Callable[..., Any] | None:
    """The module's function `name` when it is an update rule (w, dw, config): a function of
    that name that takes other arguments is something else of the file's (a training loop)."""
    try:
        found = getattr(module, name, None)
    except BaseException:  # a module-level __getattr__ may raise anything
        return None
    if not inspect.isfunction(found):
        return None
    taken = [p.name for p in inspect.signature(found).parameters.values()
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return found if tuple(taken[:3]) == RULE_ARGS else None


def _package_rules(module: types.ModuleType) -> types.ModuleType | None:
    """The optim module of the package the file belongs to, imported (its errors raised), or
    None when the file is in no package or the package has none."""
    top = (module.__package__ or "").partition(".")[0]
    if not top:
        return None
    name = f"{top}.{PACKAGE_MODULE}"
    try:
        if importlib.util.find_spec(name) is None:
            return None
    except (ImportError, ValueError):
        return None
    return importlib.import_module(name)


def find(module: types.ModuleType, optimizer: str, file: str) -> OwnRule | None:
    """The update rule of `optimizer` the file brings, its own before its package's; None when
    neither has one (nesterov never has: cs231n's file has no such function). Whatever
    importing the package's optim module raises is raised."""
    name = RULE_NAMES.get(optimizer)
    if name is None:
        return None
    own = _rule_in(module, name)
    if own is not None:
        return OwnRule(own, f"{name} in {file}")
    package = _package_rules(module)
    found = None if package is None else _rule_in(package, name)
    if found is None or package is None:
        return None
    place = Path(package.__file__ or PACKAGE_MODULE)
    return OwnRule(found, f"{name} in {place.parent.name}/{place.name}")
