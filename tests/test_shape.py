"""Every function of engine/ and tui/ stays small enough to read at once: at most 60 lines
(its docstring included) and a cyclomatic complexity of at most 15, as radon counts it.

A function past either limit is split into named steps or turned into a table; the limits
are the ones the project chose when it was laid out in layers (issue 23), and this test keeps
them from eroding one exception at a time.
"""

from __future__ import annotations

import ast
from pathlib import Path

from radon.complexity import cc_visit
from radon.visitors import Function

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 60
MAX_COMPLEXITY = 15


def functions(source: str) -> list[Function]:
    """Every function and method radon sees in a module (a class's methods included)."""
    found: list[Function] = []
    for block in cc_visit(source):
        if isinstance(block, Function):
            found.append(block)
        else:
            found.extend(block.methods)
    return found


def too_big(source: str, where: str) -> list[str]:
    return [f"{where}:{f.lineno} {f.fullname}: {f.endline - f.lineno + 1} lines, complexity {f.complexity}"
            for f in functions(source)
            if f.endline - f.lineno + 1 > MAX_LINES or f.complexity > MAX_COMPLEXITY]


def test_no_function_is_too_long_or_too_branchy() -> None:
    found = [line for top in ("engine", "tui") for path in sorted((ROOT / top).rglob("*.py"))
             for line in too_big(path.read_text(), str(path.relative_to(ROOT)))]
    assert found == []


def test_the_limits_catch_a_long_function_and_a_branchy_one() -> None:
    long = "def f():\n" + "    x = 1\n" * MAX_LINES
    branchy = "def g(x):\n" + "".join(f"    if x == {i}:\n        return {i}\n"
                                       for i in range(MAX_COMPLEXITY))
    short = "def h(x):\n    return x\n"
    assert [line.split()[:2] for line in too_big(long + branchy + short, "m")] == [
        ["m:1", "f:"], [f"m:{MAX_LINES + 2}", "g:"]]


def test_no_two_classes_share_a_name() -> None:
    """One meaning per name: a reader who meets `Field` or `Forward` knows which it is."""
    seen: dict[str, list[str]] = {}
    for top in ("engine", "tui"):
        for path in sorted((ROOT / top).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ClassDef):
                    seen.setdefault(node.name, []).append(str(path.relative_to(ROOT)))
    assert {name: where for name, where in seen.items() if len(where) > 1} == {}
