"""Shared fixtures. The colour and theme variables are cleared so snapshots do not pick up
the environment they run in."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
from pathlib import Path
from types import ModuleType

import pytest

for variable in ("TEXTUAL_THEME", "NO_COLOR", "FORCE_COLOR", "COLORTERM", "TEXTUAL"):
    os.environ.pop(variable, None)

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def notebook() -> ModuleType:
    """The seed notebook's code cell, imported as a module (its run_demo output swallowed)."""
    spec = importlib.util.spec_from_file_location("seed_notebook", FIXTURES / "notebook.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with contextlib.redirect_stdout(io.StringIO()):
        spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def close_user_models(monkeypatch: pytest.MonkeyPatch):
    """Every model process a test starts is ended with the test, as the command line does
    on exit: a suite that loads a hundred models would otherwise hold a hundred processes."""
    from engine import usermodel

    opened: list[usermodel.UserModel] = []
    start = usermodel.UserModel.start

    def recording_start(self: usermodel.UserModel) -> None:
        opened.append(self)
        start(self)

    monkeypatch.setattr(usermodel.UserModel, "start", recording_start)
    yield
    for model in opened:
        model.close()
