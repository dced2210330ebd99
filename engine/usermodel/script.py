"""A notebook, or the script Jupyter makes of one, as the Python its import runs, each line
named as the user sees it.

deeplearning.ai's students have their assignments as notebooks (.ipynb), as the .py that
"Download as Python" and `jupyter nbconvert --to script` write, or as a copy saved by hand.
None of them is plain Python: IPython's magics (`%matplotlib inline`, `%load_ext`), shell
lines (`!pip install ...`) and, in an export, the `get_ipython().run_line_magic(...)` calls
they became. The stepper runs no IPython, so:

- a magic or shell line is left out, a blank line (or `pass`, where a block needs one) in its
  place, so that every other line keeps its number;
- `%run helper.py` becomes `from helper import *`: what %run leaves in the notebook's
  namespace, imported from beside the notebook (the notebook's folder is on sys.path);
- a cell magic that times or captures its cell (`%%time`, `%%capture`) leaves the cell's
  Python; any other (`%%bash`, `%%writefile`, `%%html`) leaves the cell out.

A notebook's code cells are joined in order; `where(line)` names a line of that text as
"cell 14, line 3" (the notebook's 14th code cell), a script's as "line 57". The reading of a
notebook (nbformat) happens where the stepper runs; the model's process gets the cells, since
the Python it runs in (--python) may have no nbformat.

May import nothing of the project: engine.usermodel.contract builds a Script and imports it.
"""

from __future__ import annotations

import ast
import bisect
import re
import shlex
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

#: Cell magics whose cell is Python that runs (timed, profiled or its output captured).
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "memit", "debug"})
#: A line IPython takes as a magic or a shell command: `%name`, `%%name`, `!command`.
MAGIC_LINE = re.compile(r"^(\s*)([%!].*)$")
#: An importable module path: `%run utils/helper.py` -> utils.helper.
MODULE_PATH = re.compile(r"^(\./)?([A-Za-z_]\w*/)*[A-Za-z_]\w*(\.py)?$")
#: A Python file's absolute path, POSIX or Windows: `/home/luca/x.py`, `C:\Users\x.py`.
ABSOLUTE_PATH = re.compile(r"^(/|[A-Za-z]:[\\/]).*\.py$")


@dataclass(frozen=True)
class Dropped:
    """A line of IPython left out (or a %run made an import): where, and what it said."""

    line: int
    text: str


@dataclass(frozen=True)
class Script:
    """The Python to import, where each notebook cell begins in it, and what was left out."""

    text: str
    starts: tuple[int, ...] = ()  # the first line of each code cell; () for a .py file
    dropped: tuple[Dropped, ...] = ()

    def where(self, line: int) -> str:
        """The line as the user finds it: "cell 14, line 3" in a notebook, "line 57" in a script."""
        cell = bisect.bisect_right(self.starts, line)
        if cell == 0:
            return f"line {line}"
        return f"cell {cell}, line {line - self.starts[cell - 1] + 1}"


def from_text(text: str) -> Script:
    """A .py file: as it is when it parses apart from any `get_ipython()` call (an export's
    magics); else with its raw magic and shell lines (a copy saved by hand) left out."""
    lines, dropped = _python_lines(text.splitlines(), 1)
    return Script(_joined(lines), (), tuple(dropped))


def from_cells(cells: Sequence[str]) -> Script:
    """A notebook's code cells, in order."""
    lines: list[str] = []
    starts: list[int] = []
    dropped: list[Dropped] = []
    for cell in cells:
        first = len(lines) + 1
        starts.append(first)
        cell_lines, left_out = _python_lines(_cell_magic(cell.splitlines(), first, dropped), first)
        lines += cell_lines
        dropped += left_out
    return Script(_joined(lines), tuple(starts), tuple(dropped))


def code_cells(source: bytes) -> list[str]:
    """A notebook's code cells, read by nbformat (any version it reads, as version 4);
    ValueError saying why when the bytes are not a notebook."""
    import nbformat  # only here: a notebook is rare, and nbformat takes 0.1 s to import

    try:
        with warnings.catch_warnings():  # a cell without an id (nbformat before 4.5): not the user's concern
            warnings.simplefilter("ignore")
            notebook = nbformat.reads(source.decode("utf-8-sig"), as_version=4)  # type: ignore[no-untyped-call]
    except UnicodeDecodeError:
        raise ValueError("it is not UTF-8 text, as a notebook is") from None
    except Exception as error:  # nbformat raises JSON, validation and version errors alike
        raise ValueError(f"nbformat cannot read it as a notebook ({_first_line(error)})") from None
    return [str(cell.source) for cell in notebook.cells if cell.cell_type == "code"]


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:120]


def _joined(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


def _cell_magic(lines: list[str], first: int, dropped: list[Dropped]) -> list[str]:
    """A cell under a cell magic: its Python without the magic's line, or nothing."""
    body = [index for index, line in enumerate(lines) if line.strip()]
    if not body or not lines[body[0]].lstrip().startswith("%%"):
        return lines
    head = body[0]
    magic = lines[head].strip()
    name = magic[2:].split(maxsplit=1)[0] if len(magic) > 2 else ""
    dropped.append(Dropped(first + head, magic))
    if name in PYTHON_CELL_MAGICS:
        return [*lines[:head], "", *lines[head + 1:]]
    return [""] * len(lines)


def _python_lines(lines: list[str], first: int) -> tuple[list[str], list[Dropped]]:
    """The lines with IPython's left out: raw magic and shell lines when the text does not
    parse as it is, then every `get_ipython()` statement."""
    text = _joined(lines)
    dropped: list[Dropped] = []
    try:
        tree = ast.parse(text)
    except SyntaxError:
        lines = [_raw_magic(line, first + index, dropped) for index, line in enumerate(lines)]
        try:
            tree = ast.parse(_joined(lines))
        except SyntaxError:
            return lines, dropped  # Python's own error, with its line, when the import parses it
    for statement, magic in _ipython_calls(tree):
        start, end = statement.lineno - 1, (statement.end_lineno or statement.lineno) - 1
        indent = lines[start][:statement.col_offset]
        lines[start:end + 1] = [_replacement(indent, magic, first + start, dropped)] + [""] * (end - start)
    return lines, sorted(dropped, key=lambda item: item.line)


def _raw_magic(line: str, number: int, dropped: list[Dropped]) -> str:
    found = MAGIC_LINE.match(line)
    if found is None:
        return line
    indent, magic = found.groups()
    if magic.startswith("%") and not magic.startswith("%%"):  # a line magic: %name argument
        name, _, argument = magic[1:].partition(" ")
        return _replacement(indent, Magic(magic.rstrip(), name, argument.strip()), number, dropped)
    return _replacement(indent, Magic(magic.rstrip()), number, dropped)


@dataclass(frozen=True)
class Magic:
    """A line of IPython: as typed, and for a line magic its name and argument."""

    shown: str
    name: str = ""
    argument: str = ""


def _replacement(indent: str, magic: Magic, number: int, dropped: list[Dropped]) -> str:
    """What stands in a magic's place: an import for `%run helper.py`, the statement
    `%time f(x)` times, else nothing (a `pass` inside a block, which must not be empty)."""
    if magic.name in PYTHON_CELL_MAGICS and magic.argument:
        return f"{indent}{magic.argument}"
    module = _run_module(magic.argument) if magic.name == "run" else None
    dropped.append(Dropped(number, magic.shown + (f" (as from {module} import *)" if module else "")))
    if module is not None:
        return f"{indent}from {module} import *"
    return f"{indent}pass" if indent else ""


def _run_module(argument: str) -> str | None:
    """`%run [-i] utils/helper.py` as the module to import, utils.helper; None for what is
    not a Python file beside the notebook (a notebook, a path above it, a URL).

    An absolute path is the author's own machine (`%run '/home/luca/DeepNN/dnn_utils_v2.py'`):
    what the notebook's readers have is the folder it was shared in, so the file of that name
    beside the notebook is the one meant."""
    try:
        words = [word for word in shlex.split(argument) if not word.startswith("-")]
    except ValueError:
        return None
    if words and ABSOLUTE_PATH.match(words[0]):
        words[0] = re.split(r"[\\/]", words[0])[-1]
    if not words or not MODULE_PATH.match(words[0]):
        return None
    path = Path(words[0])
    return ".".join((*path.parent.parts, path.stem)) if path.parts[0] != "." else path.stem


def _ipython_calls(tree: ast.Module) -> Iterator[tuple[ast.stmt, Magic]]:
    """The statements that only call IPython, `get_ipython().run_line_magic('run', 'x.py')`,
    `.magic('matplotlib inline')`, `.system('pip ...')`, `.run_cell_magic(...)`, each with
    the magic it runs."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Expr) or not isinstance(node.value, ast.Call):
            continue
        call = node.value
        owner = call.func.value if isinstance(call.func, ast.Attribute) else None
        if not (isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name)
                and owner.func.id == "get_ipython"):
            continue
        assert isinstance(call.func, ast.Attribute)
        texts = [arg.value for arg in call.args
                 if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
        yield node, _magic_words(call.func.attr, texts)


def _magic_words(method: str, texts: list[str]) -> Magic:
    """The magic a get_ipython() call runs, as typed: `%run helper.py`, `!pip install h5py`."""
    if method == "magic" and texts:  # nbconvert before 2018: get_ipython().magic('run x.py')
        name, _, argument = texts[0].lstrip("%").partition(" ")
        method, texts = "run_line_magic", [name, argument]
    if method == "run_line_magic" and texts:
        name, argument = texts[0], texts[1] if len(texts) > 1 else ""
        return Magic(f"%{name} {argument}".rstrip(), name, argument.strip())
    if method == "run_cell_magic" and texts:
        return Magic(f"%%{texts[0]}")
    if method in ("system", "getoutput"):
        return Magic(f"!{texts[0] if texts else ''}")
    return Magic(f"get_ipython().{method}(...)")
