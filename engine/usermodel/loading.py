"""How a user's model file is imported as it was written: where it sits (a package, or a
plain file with sibling modules beside it), and which of its top-level statements run at
import.

Course code is rarely a module of definitions alone. cs231n's `cs231n/classifiers/fc_net.py`
imports `from ..layers import *` (2019 on) or `from cs231n.layers import *` (before), so it
must be imported under its dotted name with its package's root on sys.path; a
deeplearning.ai file imports `dnn_utils_v2` from its own folder; and many files are scripts
that load a data set, train and plot when run. The stepper only needs the definitions, so
by default the statements that would run the file's own training or its I/O are left out
(`skipped`), and the user is told which; `--run-module` runs the whole file.

The rule, from the ast of each top-level statement (what runs at import: a function's
decorators and defaults, a class's body, never a function's body):
- imports, `def`, `class`, and an `if __name__ == "__main__":` block (it never runs: the
  module is not `__main__`) are kept;
- a statement is skipped when it calls a function or class the file defines itself (its
  training), or a loader: `open`, `input`, NumPy's file readers and writers, anything of
  matplotlib, pickle, h5py, pandas, scikit-learn, nnfs, Nielsen's `mnist_loader` and the
  like (`IO_MODULES`), or a function named like a data loader (`load_data`, `read_csv`,
  `fetch_openml`: `LOADER_NAME`);
- a statement is skipped when it hands a function the file defines to another (a graded
  test cell's `layer_sizes_test(layer_sizes)`), or calls a test helper (`*_test_case`,
  `testCases_v2`, `public_tests`: `TEST_NAME`);
- an import of a module that is not here (not installed, not beside the file) is skipped
  when no function of the file needs it, or when it is a plotting or data library
  (`IO_MODULES`): a notebook's `testCases_v2` or matplotlib need not be there;
- a statement that reads a name only a skipped statement bound is skipped too, since it
  would fail with a NameError (`print(X.shape)` after `X, y = load_data()`).
Everything else (constants, simple assignments, `np.random.seed(1)`) runs.

Nothing here runs the user's code: engine.usermodel.contract imports the module.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import os
import re
import site
import sysconfig
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

#: Modules whose calls at import load data, draw, or talk to the world.
IO_MODULES = frozenset({
    "matplotlib", "pylab", "seaborn", "plotly", "pandas", "h5py", "pickle", "cPickle", "_pickle", "dill",
    "joblib", "gzip", "bz2", "lzma", "zipfile", "tarfile", "shelve", "csv", "PIL", "imageio", "cv2",
    "skimage", "sklearn", "scipy", "nnfs", "mnist_loader", "mnist", "urllib", "urllib2", "requests",
    "wget", "tensorflow", "keras", "torch", "torchvision", "IPython", "subprocess", "webbrowser",
})
#: NumPy's functions that read or write files.
NUMPY_IO = frozenset({"load", "loadtxt", "genfromtxt", "fromfile", "save", "savez", "savez_compressed",
                      "savetxt", "memmap", "recfromcsv", "recfromtxt"})
#: Built-in functions that read, prompt, or run more code.
BUILTIN_IO = frozenset({"open", "input", "exec", "eval", "breakpoint", "help", "get_ipython", "display"})
#: A function named as a data loader: load_data, load_CIFAR10, read_csv, fetch_openml, ...
LOADER_NAME = re.compile(r"^(load|read|fetch|download)|_loader$|^get_\w*data")
#: A course's test helper or its module: layer_sizes_test_case, forward_propagation_test,
#: testCases_v2, public_tests, test_utils. A test cell needs nothing the stepper does.
TEST_NAME = re.compile(r"(^|_)tests?(_cases?)?(_|$)|^testCases")
EXCERPT = 60  # characters of a skipped statement shown


@dataclass(frozen=True)
class Placement:
    """Where the file is imported from: its module name, the package it belongs to ("" for a
    plain file), and the folders put first on sys.path (the package's root, the file's own)."""

    name: str
    package: str
    folders: tuple[Path, ...]


@dataclass(frozen=True)
class Skipped:
    """A top-level statement left out of the import: where it begins ("line 12", or in a
    notebook "cell 4, line 2"), an excerpt, and the names it would have bound (which the
    module then lacks). Or, `stood_in`, an import of a course helper that is not beside the
    file, which ran with backprop-stepper's stand-in (engine.usermodel.standins): said in the
    same note, since the file then runs with code that is not the course's."""

    where: str
    excerpt: str
    names: tuple[str, ...] = ()
    line: int = 0  # in the text that ran: the order the note lists them in
    stood_in: bool = False


PLAIN_NAME = "backprop_stepper_model"  # a plain file's module name: never a module's own


def place(path: Path, tree: ast.Module) -> Placement:
    """The file's place: its package is the chain of folders with an `__init__.py` above it,
    lengthened as far as its relative imports climb (`from ..layers import *` needs two) or
    up to a folder its absolute imports name (`from cs231n.layers import *` in
    cs231n/classifiers/, or in an `__init__.py` that runs first), since Python 3 imports a
    folder without `__init__.py` as a package."""
    trees = [tree]
    folder = path.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        trees.append(_parsed(folder / "__init__.py"))
        folder = folder.parent
    depth = max(len(trees) - 1, _relative_depth(tree), *(_absolute_depth(path, each) for each in trees))
    ancestors = [path.parent, *path.parent.parents]
    depth = min(depth, len(ancestors) - 1)
    if depth == 0:
        return Placement(PLAIN_NAME, "", (path.parent,))
    package = ".".join(folder.name for folder in reversed(ancestors[:depth]))
    return Placement(f"{package}.{path.stem}", package, _unique(ancestors[depth], path.parent))


def _parsed(path: Path) -> ast.Module:
    """A package's `__init__.py`, for its imports; an empty module if it cannot be read (its
    import will say why)."""
    try:
        return ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return ast.Module(body=[], type_ignores=[])


def _unique(*folders: Path) -> tuple[Path, ...]:
    return tuple(dict.fromkeys(folders))


def _relative_depth(tree: ast.Module) -> int:
    """How many packages the file's relative imports need above it: `from . import x`, one."""
    return max((node.level for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)), default=0)


def _absolute_depth(path: Path, tree: ast.Module) -> int:
    """How far up the folder an absolute import names lies: `from cs231n.layers import *` in
    cs231n/classifiers/fc_net.py is two, when cs231n/ holds layers.py (or a layers/ folder)."""
    ancestors = [path.parent, *path.parent.parents]
    depth = 0
    for dotted in _absolute_imports(tree):
        head, _, rest = dotted.partition(".")
        child = rest.partition(".")[0]
        for level, folder in enumerate(ancestors, start=1):
            holds = (folder / f"{child}.py").is_file() or (folder / child).is_dir()
            if child and folder.name == head and holds:
                depth = max(depth, level)
                break
    return depth


def _absolute_imports(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


# ---- the statements that run at import ------------------------------------------------

def skip_runs(tree: ast.Module, source: str, where: Callable[[int], str] = "line {}".format,
              missing: Callable[[str], bool] = lambda _: False) -> list[Skipped]:
    """Take the statements that run the file's training or I/O out of `tree` (in place), and
    say which they were, each line named by `where` (a notebook's cell and line).

    `missing(name)` says whether a top-level module cannot be imported here: an import of
    one is left out too when only statements at import would use it (a notebook's test
    cells, `testCases_v2`; its plots, matplotlib), so that the definitions load without it.
    A function that needs it keeps the import, which then fails with its hint."""
    own = {node.name for node in tree.body
           if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
    aliases = _aliases(tree)
    needed = _read_in_bodies(tree)
    unbound: set[str] = set()  # names only a skipped statement bound
    kept: list[ast.stmt] = []
    skipped: list[Skipped] = []
    for statement in tree.body:
        absent = _absent_module(statement, missing, needed)
        if absent is not None or _runs(statement, own, aliases, unbound):
            names = _bound(statement)
            if "*" in names:  # a star import of a module not here: what it would bind is unknown
                names = _free(tree) - {"*"}
            unbound |= names
            excerpt = _excerpt(source, statement) + (f" (no module {absent} here)" if absent else "")
            skipped.append(Skipped(where(statement.lineno), excerpt, tuple(sorted(names)), statement.lineno))
        else:
            unbound -= _bound(statement)
            kept.append(statement)
    tree.body = kept
    return skipped


def _runs(statement: ast.stmt, own: set[str], aliases: dict[str, str], unbound: set[str]) -> bool:
    if isinstance(statement, ast.Import | ast.ImportFrom) or _is_main_block(statement):
        return False
    for node in _evaluated(statement):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in unbound:
            return True
        if isinstance(node, ast.Call) and (_calls_run(node.func, own, aliases) or _hands_own(node, own)):
            return True
    return isinstance(statement, ast.AugAssign) and _dotted(statement.target).partition(".")[0] in unbound


def _absent_module(statement: ast.stmt, missing: Callable[[str], bool], needed: set[str]) -> str | None:
    """The module a top-level import names that is not here and that no function needs
    (a plotting or data library's never is: a function using it draws or loads), or None."""
    if isinstance(statement, ast.Import):
        modules = [alias.name for alias in statement.names]
    elif isinstance(statement, ast.ImportFrom) and statement.level == 0 and statement.module:
        modules = [statement.module]
    else:
        return None
    for module in modules:
        top = module.partition(".")[0]
        if missing(top) and (top in IO_MODULES or not _bound(statement) & needed):
            return top
    return None


def _read_in_bodies(tree: ast.Module) -> set[str]:
    """The names the file's functions and classes read in their bodies (run when called)."""
    at_import = {id(node) for statement in tree.body for node in _evaluated(statement)}
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)
            and isinstance(node.ctx, ast.Load) and id(node) not in at_import}


def _free(tree: ast.Module) -> set[str]:
    """The names the file reads but never binds, nor Python does: what a star import supplied."""
    bound = set().union(*(_bound(statement) for statement in tree.body), dir(builtins))
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)
            and isinstance(node.ctx, ast.Load)} - bound


def _calls_run(callee: ast.expr, own: set[str], aliases: dict[str, str]) -> bool:
    """Whether a call of `callee` runs the file's own code or a loader."""
    dotted = _dotted(callee)
    if not dotted:
        return False
    head, _, rest = dotted.partition(".")
    if head in own:
        return True
    full = aliases.get(head, head) + (f".{rest}" if rest else "")
    top, last = full.partition(".")[0], full.rpartition(".")[2]
    if top in IO_MODULES or (top == "numpy" and last in NUMPY_IO):
        return True
    return full in BUILTIN_IO or bool(LOADER_NAME.search(last) or TEST_NAME.search(last)
                                       or TEST_NAME.search(top))


def _hands_own(call: ast.Call, own: set[str]) -> bool:
    """Whether a call is handed a function the file defines, to run it: a graded test cell's
    `layer_sizes_test(layer_sizes)`."""
    arguments = [*call.args, *(keyword.value for keyword in call.keywords)]
    return any(isinstance(argument, ast.Name) and argument.id in own for argument in arguments)


def _dotted(node: ast.expr) -> str:
    """`np.random.seed` as written; "" for a callee that is not a dotted name."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Each imported name and the module path it stands for: plt -> matplotlib.pyplot."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found[alias.asname or alias.name.partition(".")[0]] = \
                    alias.name if alias.asname else alias.name.partition(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                if alias.name != "*":
                    found[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return found


def _is_main_block(statement: ast.stmt) -> bool:
    """`if __name__ == "__main__":`, either way round."""
    if not isinstance(statement, ast.If) or not isinstance(statement.test, ast.Compare):
        return False
    test = statement.test
    sides = [test.left, *test.comparators]
    names = [side.id for side in sides if isinstance(side, ast.Name)]
    texts = [side.value for side in sides if isinstance(side, ast.Constant)]
    return len(sides) == 2 and names == ["__name__"] and texts == ["__main__"]


def _evaluated(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a statement that run when it runs: a function's decorators and defaults
    but not its body, a lambda's defaults, a class's bases and body."""
    yield node
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        children: list[ast.AST] = [*node.args.defaults, *filter(None, node.args.kw_defaults)]
        if not isinstance(node, ast.Lambda):
            children += node.decorator_list
    else:
        children = list(ast.iter_child_nodes(node))
    for child in children:
        yield from _evaluated(child)


def _bound(statement: ast.stmt) -> set[str]:
    """The names a top-level statement binds."""
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {statement.name}
    names = {node.id for node in _evaluated(statement)
             if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    for node in _evaluated(statement):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(alias.asname or alias.name).partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


def _excerpt(source: str, statement: ast.stmt) -> str:
    """The statement's first line, shortened."""
    text = (ast.get_source_segment(source, statement) or "").strip().splitlines()
    first = text[0].strip() if text else type(statement).__name__
    more = len(text) > 1
    if len(first) > EXCERPT:
        first, more = first[:EXCERPT - 1].rstrip(), True
    return first + (" …" if more else "")


def skipped_words(file: str, skipped: list[Skipped] | tuple[Skipped, ...]) -> str:
    """The note the model log and the report show: each statement left out, by line, then
    each course helper a stand-in took the place of."""
    left_out = [item for item in skipped if not item.stood_in]
    stood_in = [item for item in skipped if item.stood_in]
    lines = []
    if left_out:
        lines.append(f"[{file}: {len(left_out)} top-level statement(s) not run at import, since they run "
                     "the file's own training, tests or I/O, need IPython or a module not here "
                     "(--run-module runs the whole file)" + (";" if stood_in else ":"))
        lines += [f"  {item.where}: {item.excerpt}" for item in left_out]
    if stood_in:
        lines.append(("" if left_out else f"[{file}: ") + f"{len(stood_in)} import(s) of a course helper "
                     "not beside the file, given backprop-stepper's stand-in (its backprop functions "
                     "only; a helper beside the file wins):")
        lines += [f"  {item.where}: {item.excerpt}" for item in stood_in]
    return "\n".join(lines) + "]\n"


# ---- whose file a traceback's frame is in ----------------------------------------------

@cache
def _not_users() -> tuple[str, ...]:
    """The folders whose files are not the user's: the stepper's engine, Python's standard
    library and the installed packages (site-packages), of the Python this process runs."""
    paths = sysconfig.get_paths()
    folders = {Path(__file__).resolve().parents[1], *(Path(paths[key]) for key in
                                                      ("stdlib", "platstdlib", "purelib", "platlib"))}
    with contextlib.suppress(Exception):
        folders |= {Path(folder) for folder in [*site.getsitepackages(), site.getusersitepackages()]}
    return tuple(str(folder.resolve()) + os.sep for folder in folders)


def users_file(filename: str, model: Path) -> bool:
    """Whether a traceback's frame is in a file of the user's: the model file, its package, its
    sibling modules, anything but the stepper's code, the standard library and site-packages."""
    if filename == str(model):
        return True
    if filename.startswith("<") or not os.path.isabs(filename):
        return False
    return not os.path.realpath(filename).startswith(_not_users())
