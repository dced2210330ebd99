"""The tree's layers hold: every import of the project's own modules goes in an allowed
direction, Textual stays out of the engine and out of the command line's import, and no
module imports itself back through another (no cycle).

The rules are the package docstrings' "may import" lines, written once here as data. The
imports are read from the source (ast), so an import inside a function counts too; the
few that open the app from the command line are listed by name, each with its reason.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: The engine's layers, lowest first: a module may import its own layer and those before it.
ENGINE = ("engine.files", "engine.maths", "engine.model", "engine.check", "engine.settings",
          "engine.data", "engine.usermodel", "engine.run", "engine.explain")
#: The front ends' packages and what each may import besides the whole engine.
TUI: dict[str, frozenset[str]] = {
    "tui.text": frozenset(),
    "tui.keys": frozenset(),
    "tui.output": frozenset({"tui.text"}),
    "tui.cli": frozenset({"tui.text", "tui.keys", "tui.output"}),
    "tui.app": frozenset({"tui.text", "tui.keys", "tui.output", "tui.cli"}),
    "tui.__main__": frozenset({"tui.cli"}),
    "tui.verify": frozenset({"tui.cli"}),
}
#: Imports against the layers, each with the reason it is allowed. Function-local only.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("tui.cli.launch", "tui.app.app"): "the command line opens the app (imported there, so that "
                                       "the headless run never pays for Textual)",
    ("tui.cli.launch", "tui.app.writer"): "the same: installed just before the app runs",
}
#: What never imports Textual, even at the top of a module (the headless run's start-up).
NO_TEXTUAL = ("engine", "tui.text", "tui.keys", "tui.output", "tui.cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for top in ("engine", "tui") for path in (ROOT / top).rglob("*.py")}


def imports(path: Path, known: dict[str, Path]) -> Iterator[tuple[str, bool]]:
    """Each project module or third-party top-level name the file imports, and whether the
    import is at the module's top level (run on import) rather than inside a function."""
    tree = ast.parse(path.read_text(), str(path))
    top = set(map(id, tree.body))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module
                     for alias in node.names]
        at_top = id(node) in top or any(id(node) in map(id, ast.walk(stmt)) for stmt in tree.body
                                        if isinstance(stmt, ast.If | ast.Try) and id(stmt) in top)
        for name in names:
            yield name, at_top


def type_checking_only(path: Path) -> set[str]:
    """Modules imported under `if TYPE_CHECKING:` (for annotations; never run)."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.If) and isinstance(stmt.test, ast.Name) and stmt.test.id == "TYPE_CHECKING":
            for node in ast.walk(stmt):
                if isinstance(node, ast.ImportFrom) and node.module:
                    found.add(node.module)
    return found


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def allowed(importer: str, imported: str) -> bool:
    source, target = package_of(importer), package_of(imported)
    if source == target or (importer, imported) in EXCEPTIONS:
        return True
    if source in ENGINE:
        return target in ENGINE and ENGINE.index(target) <= ENGINE.index(source)
    if source == "engine":
        return False
    return target.startswith("engine") or target in TUI[source]


def violations(known: dict[str, Path]) -> list[str]:
    found = []
    for importer, path in sorted(known.items()):
        for imported, _ in imports(path, known):
            if imported.split(".")[0] in ("engine", "tui") and not allowed(importer, imported):
                found.append(f"{importer} imports {imported}")
    return found


def test_every_import_goes_down_the_layers() -> None:
    assert violations(modules()) == []


def test_a_forbidden_import_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check itself can fail: the maths importing the run, or the engine importing the app."""
    known = modules()
    for importer, line in (("engine.maths.network", "from engine.run.stepper import Stepper"),
                           ("engine.run.stepper", "import tui.app.app"),
                           ("tui.output.report", "from tui.app.app import StepperApp")):
        bad = tmp_path / f"{importer}.py"
        bad.write_text(known[importer].read_text() + f"\n{line}\n")
        assert violations({**known, importer: bad}) == [f"{importer} imports {line.split()[1]}"]


def test_no_textual_where_the_headless_run_starts() -> None:
    known = modules()
    for name, path in known.items():
        if name.startswith(NO_TEXTUAL):
            on_import = {imported for imported, at_top in imports(path, known) if at_top}
            on_import -= type_checking_only(path)
            assert not {m for m in on_import if m.split(".")[0] == "textual" or m.startswith("tui.app")}, name


def cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Every back edge a depth-first search meets, as the loop it closes."""
    state: dict[str, int] = {}
    found: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                found.append([*trail[trail.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])
    return found


def test_no_import_cycle_between_modules() -> None:
    """Module-level imports only: a function-local one runs after both modules have loaded,
    and one under TYPE_CHECKING never runs."""
    known = modules()
    graph = {name: sorted({imported for imported, at_top in imports(path, known)
                           if at_top and imported in known and imported != name}
                          - type_checking_only(path))
             for name, path in known.items()}
    assert cycles(graph) == []
    assert cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c", "a"]]


def test_every_package_says_its_job_and_what_it_may_import() -> None:
    for init in [*(ROOT / "engine").rglob("__init__.py"), *(ROOT / "tui").rglob("__init__.py")]:
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        name = module_name(init)
        if name in ("tui.app.widgets", "tui.app.screens"):
            assert doc, name
            continue
        assert "import" in doc.lower(), f"{name}: its docstring names no allowed imports"
