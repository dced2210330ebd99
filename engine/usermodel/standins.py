"""Stand-ins for deeplearning.ai's course helper modules, for a file whose helpers were not
committed beside it.

Coursera's workspace puts the course's helper modules (planar_utils.py, dnn_utils_v2.py, ...)
beside each assignment; students commit the notebook alone, so half of the public course
files fail at `from dnn_utils_v2 import sigmoid, ...` although their backprop code is all
there. What they take from a helper is a few functions of the maths, written here from the
helpers' API: `sigmoid(Z) -> (A, cache)` with the cache Z, `relu(Z) -> (A, Z)`,
`sigmoid_backward(dA, cache) -> dZ`, `relu_backward(dA, cache) -> dZ` (0 where Z <= 0), and
planar_utils's plain `sigmoid(x) -> s`. No version of these helpers has a tanh: the planar
notebook calls np.tanh itself.

`StandIns` sits at the end of sys.meta_path in the model's process, so a module found anywhere
else (beside the file, installed) always wins. Every other name the helper has (its data
loaders and plots; for dnn_app_utils the course's model functions) imports too, so that the
course's `from planar_utils import plot_decision_boundary, sigmoid, ...` succeeds, but it
raises NotImplementedError naming what is missing when called: the stand-in never pretends
to be the data set or the course's solution. Each stand-in used is said, with the line that
imported it, in the note of what the import left out (engine.usermodel.loading.skipped_words).

May import engine.usermodel.loading.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import linecache
import sys
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from engine.usermodel import loading

# ---- the maths, in the helpers' forms -------------------------------------------------

def plain_sigmoid(x: Any) -> Any:
    """planar_utils.sigmoid: σ(x) = 1 / (1 + e^(-x)), as it is written (e^(-x) overflows to inf
    far below 0, and σ to 0, as the course's does)."""
    return 1 / (1 + np.exp(-x))


def sigmoid(Z: Any) -> tuple[Any, Any]:
    """The L-layer helpers' sigmoid: A = σ(Z), and Z as the cache sigmoid_backward reads."""
    return plain_sigmoid(Z), Z


def relu(Z: Any) -> tuple[Any, Any]:
    """A = max(0, Z), and Z as the cache relu_backward reads."""
    return np.maximum(0, Z), Z


def sigmoid_backward(dA: Any, cache: Any) -> Any:
    """dZ = dA · σ'(Z) = dA · σ(Z)(1 − σ(Z)), Z the cache."""
    s = plain_sigmoid(cache)
    return dA * s * (1 - s)


def relu_backward(dA: Any, cache: Any) -> Any:
    """dZ = dA where Z > 0, 0 where Z <= 0 (the kink's side the course takes), in dA's dtype.
    dA must have Z's shape, as the course's helper asserts: broadcasting a wrong one would
    hide the caller's bug."""
    Z = np.asarray(cache)
    if np.shape(dA) != Z.shape:
        raise ValueError(f"relu_backward got dA of shape {np.shape(dA)} for a cache Z of shape "
                         f"{Z.shape}; they must match")
    return np.where(Z <= 0, 0, dA)


# ---- the helper modules ---------------------------------------------------------------

@dataclass(frozen=True)
class Helper:
    """A course helper module: the backprop functions it stands in for, and the rest of its
    names (import, then refuse to run)."""

    functions: dict[str, Callable[..., Any]]
    others: tuple[str, ...] = ()


ACTIVATIONS: dict[str, Callable[..., Any]] = {
    "sigmoid": sigmoid, "relu": relu, "sigmoid_backward": sigmoid_backward, "relu_backward": relu_backward}
#: dnn_app_utils (the "Application" assignment) has the course's own solution beside them.
APPLICATION = ("load_data", "initialize_parameters", "initialize_parameters_deep", "linear_forward",
               "linear_activation_forward", "L_model_forward", "compute_cost", "linear_backward",
               "linear_activation_backward", "L_model_backward", "update_parameters", "predict",
               "print_mislabeled_images")
HELPERS: dict[str, Helper] = {
    "planar_utils": Helper({"sigmoid": plain_sigmoid},
                           ("plot_decision_boundary", "load_planar_dataset", "load_extra_datasets")),
    "dnn_utils": Helper(ACTIVATIONS),  # W4A1 (2021 on)
    "dnn_utils_v2": Helper(ACTIVATIONS),
    "dnn_app_utils_v2": Helper(ACTIVATIONS, APPLICATION),
    "dnn_app_utils_v3": Helper(ACTIVATIONS, APPLICATION),
}
#: Where an import runs from inside Python's own import machinery (importlib.import_module,
#: importlib.util.find_spec): not the importer's line.
IMPORT_MACHINERY = ("<frozen importlib", str(Path(importlib.__file__).parent))


def not_here(name: str, module: str, file: str) -> Callable[..., NoReturn]:
    """A helper's function the stand-in does not have: importable, refusing when called."""
    has = ", ".join(HELPERS[module].functions)

    def stand_in(*_: Any, **__: Any) -> NoReturn:
        raise NotImplementedError(f"{name} is in the course's {module}.py, which is not beside {file}: "
                                  f"backprop-stepper's stand-in for it has only {has}; put "
                                  f"{module}.py beside {file} to call {name}")

    stand_in.__name__ = stand_in.__qualname__ = name
    return stand_in


class StandIns(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds a course helper no other finder found, and fills it with the stand-ins; keeps a
    note of each one used (`used`), at the line that imported it."""

    def __init__(self, path: Path, where: Callable[[int], str] = "line {}".format) -> None:
        self.path = path
        self.where = where
        self.used: list[loading.Skipped] = []

    def install(self) -> None:
        """Last on sys.meta_path, in place of an earlier file's (a process imports one file,
        but a test may import several in one process)."""
        sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, StandIns)]
        sys.meta_path.append(self)

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if path is not None or fullname not in HELPERS:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, origin="backprop-stepper's stand-in")

    def exec_module(self, module: types.ModuleType) -> None:
        name = module.__name__
        helper = HELPERS[name]
        module.__dict__.update(np=np, **helper.functions)  # the helper's own `import numpy as np`
        # Python names a module's file in "cannot import name 'x' from 'dnn_utils_v2' (...)"
        module.__file__ = f"backprop-stepper's stand-in: {name}.py is not beside {self.path.name}"
        module.__dict__.update({other: not_here(other, name, self.path.name) for other in helper.others})
        self.used.append(self._said(name, helper))

    def _said(self, name: str, helper: Helper) -> loading.Skipped:
        """The note's line: where the import is (in the file, or in a helper beside it) and
        what the stand-in has."""
        filename, line = _importer()
        where = self.where(line) if filename == str(self.path) else f"{Path(filename).name}, line {line}"
        text = linecache.getline(filename, line).strip() or f"import {name}"
        if len(text) > loading.EXCERPT:
            text = text[:loading.EXCERPT - 1].rstrip() + " …"
        has = ", ".join(helper.functions)
        return loading.Skipped(where, f"{text} (not beside the file: backprop-stepper's stand-in: {has})",
                               line=line, stood_in=True)


def _importer() -> tuple[str, int]:
    """The file and line of the import statement that is importing a stand-in now."""
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None and (frame.f_code.co_filename == __file__ or
                                 frame.f_code.co_filename.startswith(IMPORT_MACHINERY)):
        frame = frame.f_back
    return ("", 0) if frame is None else (frame.f_code.co_filename, frame.f_lineno or 0)
