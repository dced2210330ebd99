"""Test modules share helpers through tests.helpers (and tests.reference, tests.waits, ...),
never by importing one another: a test module imported by another runs its module-level
code there, is collected through it, and cannot be moved or split without breaking it.

Imports are read from the source (ast), so an import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def is_test_module(name: str) -> bool:
    """tests.test_x, tests.engine.test_y: a module pytest collects."""
    parts = name.split(".")
    return parts[0] == "tests" and parts[-1].startswith("test_")


def imported_test_modules(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [name for name in names if is_test_module(name)]
    return found


def test_no_test_module_imports_another() -> None:
    offenders = {str(path.relative_to(TESTS)): imported
                 for path in sorted(TESTS.rglob("*.py")) if "fixtures" not in path.parts
                 if (imported := imported_test_modules(path.read_text()))}
    assert offenders == {}


def test_the_check_sees_every_form_of_the_import() -> None:
    source = ("from tests.test_cli import run\n"
              "import tests.test_stepper\n"
              "from tests import test_sessions\n"
              "def f():\n    from tests.engine.test_network import NOTEBOOK\n"
              "from tests.helpers import snapshot\n"
              "from tests.waits import until\n")
    assert imported_test_modules(source) == ["tests.test_cli", "tests.test_stepper", "tests.test_sessions",
                                             "tests.engine.test_network"]
