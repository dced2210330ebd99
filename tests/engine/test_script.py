"""A notebook's cells or a Jupyter export as the Python its import runs (engine.usermodel.script),
and the definitions-only rule's parts for course files: test cells, imports of modules that
are not here, helper modules beside the file (engine.usermodel.loading, siblings)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import nbformat
import pytest

from engine.usermodel import loading, script
from engine.usermodel.contract import load_source
from engine.usermodel.siblings import Siblings


def test_magic_and_shell_lines_are_left_out_and_every_other_line_keeps_its_number() -> None:
    made = script.from_cells(["%matplotlib inline\nimport numpy as np\n!pip install h5py",
                              "x = 1\n%load_ext autoreload"])
    assert made.text == "\nimport numpy as np\n\nx = 1\n\n"
    assert [(item.line, item.text) for item in made.dropped] == [
        (1, "%matplotlib inline"), (3, "!pip install h5py"), (5, "%load_ext autoreload")]
    assert (made.starts, made.where(2), made.where(4), made.where(5)) == (
        (1, 4), "cell 1, line 2", "cell 2, line 1", "cell 2, line 2")


def test_a_script_names_its_lines_as_the_file_does() -> None:
    made = script.from_text("import numpy as np\n%matplotlib inline\nx = 1\n")
    assert (made.text, made.where(3)) == ("import numpy as np\n\nx = 1\n", "line 3")


def test_percent_run_becomes_an_import_of_the_helper_beside_the_notebook() -> None:
    made = script.from_cells(["%run helper.py\n%run -i utils/tools.py\n%run other.ipynb\n%run ../up.py"])
    assert made.text.splitlines() == ["from helper import *", "from utils.tools import *", "", ""]


def test_percent_run_of_an_absolute_path_imports_the_file_of_that_name_beside_the_notebook() -> None:
    """The author's machine's path: the readers have the folder the notebook was shared in."""
    made = script.from_cells(["%run '/home/ana/DeepNN/dnn_utils_v2.py'\n%run 'C:\\Users\\ana\\cases.py'\n"
                              "%run /home/ana/notes.ipynb"])
    assert made.text.splitlines() == ["from dnn_utils_v2 import *", "from cases import *", ""]
    assert made.dropped[0].text == "%run '/home/ana/DeepNN/dnn_utils_v2.py' (as from dnn_utils_v2 import *)"


def test_a_magic_inside_a_block_leaves_a_pass_and_time_keeps_its_statement() -> None:
    made = script.from_cells(["def f():\n    %matplotlib inline\n    %time g()\n    return 1"])
    assert made.text == "def f():\n    pass\n    g()\n    return 1\n"


@pytest.mark.parametrize(("magic", "kept"), [("%%time", True), ("%%capture out", True),
                                             ("%%bash", False), ("%%writefile helper.py", False)])
def test_a_cell_magic_keeps_its_cell_only_when_it_is_python(magic, kept) -> None:
    made = script.from_cells([f"{magic}\nx = 1\ny = 2"])
    assert made.text == ("\nx = 1\ny = 2\n" if kept else "\n\n\n")
    assert made.dropped[0].text == magic


def test_an_exports_get_ipython_calls_are_left_out_or_imported() -> None:
    text = ("import numpy as np\n"
            "get_ipython().run_line_magic('matplotlib', 'inline')\n"
            "get_ipython().magic('run planar_utils.py')\n"
            "if True:\n    get_ipython().system('pip install h5py')\n"
            "get_ipython().run_cell_magic('bash', '', 'ls\\n')\n"
            "get_ipython().run_line_magic('timeit', 'f(x)')\n")
    made = script.from_text(text)
    assert made.text == "import numpy as np\n\nfrom planar_utils import *\nif True:\n    pass\n\nf(x)\n"
    assert [item.text for item in made.dropped] == [
        "%matplotlib inline", "%run planar_utils.py (as from planar_utils import *)", "!pip install h5py",
        "%%bash"]


def test_a_script_that_parses_is_left_as_it_is_whatever_its_strings_hold() -> None:
    text = 'doc = """\n%d items\n!important\n"""\n'
    assert script.from_text(text).text == text


def test_code_cells_are_read_by_nbformat_in_order() -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("a = 1"), nbformat.v4.new_markdown_cell("# x"),
                      nbformat.v4.new_code_cell("b = 2")]
    assert script.code_cells(nbformat.writes(notebook).encode()) == ["a = 1", "b = 2"]
    with pytest.raises(ValueError, match="nbformat cannot read it as a notebook"):
        script.code_cells(b'{}')
    with pytest.raises(ValueError, match="not UTF-8"):
        script.code_cells(b"\xff\xfe")


# ---- the definitions-only rule, for course files --------------------------------------------------

def skipped(text: str, missing: frozenset[str] = frozenset()) -> list[str]:
    tree = ast.parse(text)
    return [item.excerpt for item in loading.skip_runs(tree, text, missing=missing.__contains__)]


def test_graded_test_cells_are_skipped() -> None:
    text = ("def layer_sizes(X, Y):\n    return 1\n"
            "X_assess, Y_assess = layer_sizes_test_case()\n"
            "layer_sizes_test(layer_sizes)\n"
            "t_X, t_p = L_model_forward_test_case_2hidden()\n"
            "latest = contest(3)\n")
    assert skipped(text) == ["X_assess, Y_assess = layer_sizes_test_case()", "layer_sizes_test(layer_sizes)",
                             "t_X, t_p = L_model_forward_test_case_2hidden()"]


def test_an_import_of_a_module_not_here_is_skipped_unless_a_function_needs_it() -> None:
    text = ("import numpy as np\nfrom testCases_v2 import *\nimport matplotlib.pyplot as plt\n"
            "from dnn_utils import relu\n"
            "X = forward_case()\nplt.rcParams['a'] = 1\n"
            "def forward(x):\n    plt.plot(x)\n    return relu(x)\n")
    assert skipped(text, frozenset({"testCases_v2", "matplotlib", "dnn_utils"})) == [
        "from testCases_v2 import * (no module testCases_v2 here)",
        "import matplotlib.pyplot as plt (no module matplotlib here)",
        "X = forward_case()", "plt.rcParams['a'] = 1"]
    assert skipped(text) == []


def test_a_helper_beside_the_file_is_imported_definitions_only(tmp_path, monkeypatch) -> None:
    (tmp_path / "course_helper_for_test.py").write_text(
        "import numpy as np\nimport course_plotting_not_installed as plots\n%matplotlib inline\n"
        "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))\nX = load_dataset()\n")
    finder = Siblings(tmp_path, lambda name: name == "course_plotting_not_installed")
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    monkeypatch.delitem(sys.modules, "course_helper_for_test", raising=False)
    import course_helper_for_test  # type: ignore[import-not-found]

    assert course_helper_for_test.sigmoid(0.0) == 0.5
    assert [(item.where, item.excerpt) for item in finder.skipped] == [
        ("course_helper_for_test.py, line 3", "%matplotlib inline (IPython)"),
        ("course_helper_for_test.py, line 2",
         "import course_plotting_not_installed as plots (no module course_plotting_not_installed here)"),
        ("course_helper_for_test.py, line 6", "X = load_dataset()")]


def test_a_notebooks_cells_run_as_one_module(tmp_path: Path) -> None:
    path = tmp_path / "model.ipynb"
    cells = ("import numpy as np\n%matplotlib inline",
             "def forward(x, params, y=None):\n    return {}, float(np.sum(params['W1']))",
             "def backward(x, y, params, cache):\n    return {'dW1': np.ones_like(params['W1'])}")
    contract = load_source(path, b"", cells=cells)
    assert contract.where(4) == "cell 2, line 2"
    assert [(item.where, item.excerpt) for item in contract.skipped] == [
        ("cell 1, line 2", "%matplotlib inline (IPython)")]
