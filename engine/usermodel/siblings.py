"""The helper modules beside a model file, imported by the rule the file is: definitions only.

A deeplearning.ai notebook imports its course's helpers from its own folder: planar_utils.py
(which imports matplotlib and scikit-learn at the top, for its plots and data sets),
testCases_v2.py, dnn_utils_v2.py, lr_utils.py (h5py). The stepper needs only their
definitions (sigmoid, relu_backward), so a helper beside the file is imported as the file is
(engine.usermodel.loading): IPython's lines dropped, and the statements that would load,
plot or need a module that is not here left out, so that a notebook loads in the stepper's
own Python without the course's plotting and data libraries. Only a plain file's folder is
served this way (a package's modules are imported by Python, as they were written), and
never with --run-module.

May import engine.usermodel.loading and engine.usermodel.script.
"""

from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import importlib.util
import linecache
import types
from collections.abc import Callable, Sequence
from pathlib import Path

from engine.usermodel import loading, script


class Siblings(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds a top-level module `name` as `folder/name.py` and imports it definitions-only,
    keeping what it left out (`skipped`, each named by file and line)."""

    def __init__(self, folder: Path, missing: Callable[[str], bool]) -> None:
        self.folder = folder
        self.missing = missing
        self.skipped: list[loading.Skipped] = []

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        file = self.folder / f"{fullname}.py"
        if path is not None or "." in fullname or not file.is_file():
            return None
        return importlib.util.spec_from_file_location(fullname, file, loader=self)

    def exec_module(self, module: types.ModuleType) -> None:
        file = Path(str(module.__file__))
        found = script.from_text(importlib.util.decode_source(file.read_bytes()))
        tree = ast.parse(found.text, str(file))  # a SyntaxError is the import's, named by file
        linecache.cache[str(file)] = (len(found.text), None, found.text.splitlines(True), str(file))
        named = f"{file.name}, line {{}}".format
        self.skipped += [loading.Skipped(named(item.line), f"{item.text} (IPython)")
                         for item in found.dropped]
        self.skipped += loading.skip_runs(tree, found.text, named, self.missing)
        exec(compile(tree, str(file), "exec", dont_inherit=True), module.__dict__)
