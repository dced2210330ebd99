"""Course conventions: a course-style module turned into the notebook's contract inside the
model's process (engine.usermodel.host), so that everything downstream
(engine.usermodel.contract's checks, the stepper, the panels, the check, sessions) is unchanged.

    notebook         forward(x, params, y) and backward(x, y, params, cache): as always
    deeplearning-ai  Andrew Ng's course 1 (dlai.py): samples are columns
    cs231n           Stanford's assignments 1 and 2 (cs231n.py): samples are rows
    nielsen          Nielsen's Network(sizes) with backprop(x, y) (nielsen.py): columns
    nnfs             Neural Networks from Scratch's Layer_Dense and friends (nnfs.py): rows

One module per course, each with found(module) -> (the names it defines, those it lacks) and
adapt(module, Build) -> Adapted; COURSES is the table detection and adapt dispatch on. The
adapter's functions take the notebook's arguments for a batch (BATCHED = True): x (B, n0)
rows of samples and y (B,) ints, and hand the course its own layout. They only ever call
the functions of the module the user named with --model.

May import engine.maths, as engine.model does; each course's module imports common.py (and
Nielsen's the deeplearning.ai layout it shares).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from typing import Any

from engine.model.conventions import cs231n, dlai, nielsen, nnfs
from engine.model.conventions.common import (
    CS231N,
    DLAI,
    NOTEBOOK,
    Adapted,
    Build,
    ConventionError,
    Found,
    flatten,
    has,
    words,
)
from engine.model.conventions.cs231n import CS231N_KEYWORDS, expected_cs231n, row_bias
from engine.model.conventions.dlai import builtin_gradients, expected_dlai

__all__ = [
    "COLUMNS",
    "CONVENTIONS",
    "CS231N",
    "CS231N_KEYWORDS",
    "DLAI",
    "NIELSEN",
    "NNFS",
    "NOTEBOOK",
    "WITH_OPTIONS",
    "WITH_REG",
    "Adapted",
    "Build",
    "ConventionError",
    "adapt",
    "builtin_gradients",
    "detect",
    "expected_cs231n",
    "expected_dlai",
    "flatten",
    "row_bias",
]

#: Per course: how to tell what a module defines of it, and how to adapt it.
COURSES: dict[str, tuple[Callable[[types.ModuleType], Found],
                         Callable[[types.ModuleType, Build], Adapted]]] = {
    DLAI: (dlai.found, dlai.adapt),
    CS231N: (cs231n.found, cs231n.adapt),
    nielsen.NIELSEN: (nielsen.found, nielsen.adapt),
    nnfs.NNFS: (nnfs.found, nnfs.adapt),
}
CONVENTIONS = (NOTEBOOK, *COURSES)
#: Conventions in which --reg means something (the regularisation strength they take).
WITH_REG = (CS231N, nnfs.NNFS)
#: Conventions whose samples are columns (one sample's slice of a batch is a column).
COLUMNS = (DLAI, nielsen.NIELSEN)
NIELSEN, NNFS = nielsen.NIELSEN, nnfs.NNFS
#: Conventions whose model is a class built from keywords (--model-option).
WITH_OPTIONS = (CS231N,)


def _notebook(module: types.ModuleType) -> Found:
    here = [name for name in ("forward", "backward") if has(module, name)]
    return here, [name for name in ("forward", "backward") if name not in here]


def _found(module: types.ModuleType) -> dict[str, Found]:
    """Per convention: (the names it needs that the module defines, those it lacks)."""
    return {NOTEBOOK: _notebook(module), **{name: course[0](module) for name, course in COURSES.items()}}


def _lacks(convention: str, found: list[str], missing: list[str]) -> str:
    what = f"found {words(found)} but no " if found else "no "
    return f"{what}{' and no '.join(missing)} ({convention})"


def _none_found(module: types.ModuleType, file: str, found: dict[str, Found]) -> str:
    """What each convention needs, for a file that defines nothing of any (its classes named:
    a class without the convention's methods is the likeliest near miss)."""
    wants = {NOTEBOOK: "forward(x, params, y) and backward(x, y, params, cache)",
             **{name: " and ".join(missing) for name, (_, missing) in found.items() if name != NOTEBOOK}}
    classes = sorted(name for name, value in list(vars(module).items())
                     if isinstance(value, type) and getattr(value, "__module__", None) == module.__name__)
    has_classes = "" if not classes else f" (its class {classes[0]} has none of their methods)" \
        if len(classes) == 1 else f" (its classes {', '.join(classes)} have none of their methods)"
    told = "; ".join(f"{name}: {text}" for name, text in wants.items())
    return f"{file} defines none of the names a convention needs{has_classes}: {told}"


def detect(module: types.ModuleType, asked: str | None, file: str) -> str:
    """The module's convention: the one asked for if it fits, else the one it fits, or a
    ConventionError naming what was found and what is missing. A file that defines none of
    the courses' names is left to the notebook's own checks and their messages."""
    found = _found(module)
    fits = [name for name, (_, missing) in found.items() if not missing]
    if asked is not None:
        if asked in fits:
            return asked
        have, missing = found[asked]
        raise ConventionError(f"{file} does not fit --convention {asked}: "
                              f"{_lacks(asked, have, missing)}")
    if len(fits) == 1:
        return fits[0]
    if len(fits) > 1:
        both = "; ".join(f"{name} ({words(found[name][0])})" for name in fits)
        raise ConventionError(f"{file} fits more than one convention: {both}; choose one with "
                              f"--convention {'|'.join(fits)}")
    if not any(found[name][0] for name in COURSES):
        if found[NOTEBOOK][0]:
            return NOTEBOOK  # a notebook file in the making: its checks name what is missing
        raise ConventionError(_none_found(module, file, found))
    partial = [name for name in CONVENTIONS if found[name][0]]
    told = "; ".join(_lacks(name, *found[name]) for name in partial)
    raise ConventionError(f"{file} fits no convention: {told}")


def adapt(module: types.ModuleType, convention: str, sizes: Sequence[int], reg: float,
          file: str, options: Sequence[tuple[str, Any]] = ()) -> Adapted:
    """The notebook contract's functions for a course's module."""
    if convention not in COURSES:
        raise ValueError(f"no adapter for {convention!r}")
    return COURSES[convention][1](module, Build(tuple(sizes), reg, tuple(options), file))
