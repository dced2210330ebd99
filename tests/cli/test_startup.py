"""Start-up: the headless report imports only what it needs (issue 28, item 7).

Each module below costs the headless start tens of milliseconds and is imported inside the
function that needs it (with a comment saying why). These tests run a fresh interpreter, so
a module imported at the top of any module on the report's path again makes them fail.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Modules the plain headless report (no --explain, no model, no session, no diverged step,
#: no --version) never needs.
LAZY = ("engine.explain", "engine.usermodel.contract", "engine.model.conventions", "engine.run.session",
        "tui.cli.explain", "importlib.metadata", "tempfile", "tomllib", "zipfile", "tui.cli.reportfile")

_LOADED = ("import contextlib, io, json, sys\n"
           "{run}\n"
           "print(json.dumps(sorted(m for m in sys.modules)))")


def loaded_after(run: str) -> set[str]:
    """The modules a fresh interpreter holds after `run`."""
    done = subprocess.run([sys.executable, "-c", _LOADED.format(run=run)], capture_output=True, text=True,
                          check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def _of(modules: set[str], package: str) -> list[str]:
    return sorted(m for m in modules if m == package or m.startswith(package + "."))


def test_importing_the_command_line_leaves_the_lazy_modules_out() -> None:
    modules = loaded_after("import tui.cli.main")
    assert {package: _of(modules, package) for package in LAZY} == {package: [] for package in LAZY}


@pytest.mark.parametrize("flags", [["--headless"], ["--headless", "--format", "json", "--steps", "2"]])
def test_the_headless_report_leaves_the_lazy_modules_out(flags: list[str]) -> None:
    run = ("from tui.cli.main import main\n"
           f"with contextlib.redirect_stdout(io.StringIO()): assert main({flags!r}) == 0")
    modules = loaded_after(run)
    assert {package: _of(modules, package) for package in LAZY} == {package: [] for package in LAZY}


def test_explain_still_loads_what_it_needs() -> None:
    """The other side: --explain imports engine.explain when it is given (a lazy import that
    never ran would leave its names undefined)."""
    run = ("from tui.cli.main import main\n"
           "with contextlib.redirect_stdout(io.StringIO()): "
           "assert main(['--headless', '--explain', 'dW1[1,1]']) == 0")
    assert "engine.explain.elements" in loaded_after(run)
