"""A model file loaded as it was written: inside its package (relative or absolute imports,
with or without __init__.py files), beside its sibling modules, a script's training and I/O
left out at import (--run-module runs them), in the user's own Python (--python), and an
error's frames from every file of the user's.

The fixtures (tests/fixtures/pkg_relative, pkg_absolute, sibling, trains_at_import.py,
missing_module.py) reproduce the layouts and quirks of public cs231n, deeplearning.ai and
Neural Networks from Scratch files.
"""

from __future__ import annotations

import ast
import json
import shutil
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from engine.usermodel import loading
from engine.usermodel.client import Loading, ModelError, load_model
from engine.usermodel.interpreter import check_python
from tests.helpers import FIXTURES, ROOT
from tests.helpers import run_main as run

RELATIVE = FIXTURES / "pkg_relative" / "course" / "classifiers" / "fc_net.py"
ABSOLUTE = FIXTURES / "pkg_absolute" / "course" / "classifiers" / "fc_net.py"
SIBLING = FIXTURES / "sibling" / "model.py"
TRAINS = FIXTURES / "trains_at_import.py"
MISSING = FIXTURES / "missing_module.py"


def skipped_of(text: str) -> list[tuple[int, str]]:
    tree = ast.parse(text)
    return [(int(item.where.removeprefix("line ")), item.excerpt) for item in loading.skip_runs(tree, text)]


# ---- where the file sits ------------------------------------------------------------------------

@pytest.mark.parametrize("path", [RELATIVE, ABSOLUTE], ids=["relative", "absolute"])
def test_a_packaged_file_is_imported_by_its_dotted_name_from_its_root(path) -> None:
    placement = loading.place(path, ast.parse(path.read_text()))
    root = path.parents[2]
    assert placement == loading.Placement("course.classifiers.fc_net", "course.classifiers",
                                          (root, path.parent))


def test_an_init_file_naming_the_package_places_it_too(tmp_path) -> None:
    """cs231n 2019's assignment 1: classifiers/__init__.py imports `from
    cs231n.classifiers.k_nearest_neighbor import *` and cs231n/ has no __init__.py; the
    classifier file itself imports no cs231n module."""
    classifiers = tmp_path / "cs231n" / "classifiers"
    classifiers.mkdir(parents=True)
    (classifiers / "__init__.py").write_text("from cs231n.classifiers.knn import *\n")
    (classifiers / "knn.py").write_text("")
    path = classifiers / "neural_net.py"
    path.write_text("import numpy as np\n")
    placement = loading.place(path, ast.parse(path.read_text()))
    assert (placement.name, placement.folders[0]) == ("cs231n.classifiers.neural_net", tmp_path)


def test_a_plain_file_is_imported_with_its_folder_on_the_path() -> None:
    placement = loading.place(SIBLING, ast.parse(SIBLING.read_text()))
    assert placement == loading.Placement(loading.PLAIN_NAME, "", (SIBLING.parent,))


def test_an_absolute_import_names_a_package_only_when_the_folder_holds_the_module(tmp_path) -> None:
    """A folder named numpy around the file does not make `import numpy.linalg` the user's."""
    path = tmp_path / "numpy" / "model.py"
    path.parent.mkdir()
    path.write_text("import numpy.linalg\n")
    assert loading.place(path, ast.parse(path.read_text())).package == ""


# ---- what runs at import ------------------------------------------------------------------------

def test_a_script_keeps_its_definitions_and_leaves_its_training_and_io_out() -> None:
    assert skipped_of(TRAINS.read_text()) == [
        (46, 'X = np.loadtxt("train_set.csv", delimiter=",")'),
        (47, "Y = X[:, -1]"),
        (48, 'print("training on", X.shape)'),
        (49, "params = train(X[:, :-1], Y, epochs=1000)"),
        (50, 'with open("params.pkl", "wb") as f: …'),
    ]


@pytest.mark.parametrize(("text", "skipped"), [
    ("N = 4\nSIZES = [N, 8, 1]\n", []),
    ("import numpy as np\nnp.random.seed(1)\nnp.set_printoptions(precision=3)\n", []),
    ("try:\n    import cupy as xp\nexcept ImportError:\n    import numpy as xp\n", []),
    ("def f():\n    return 1\nf()\n", [3]),
    ("class Net:\n    pass\nnet = Net()\nnet.fit()\nnet = 3\nprint(net)\n", [3, 4]),
    ("import matplotlib.pyplot as plt\nplt.rcParams['a'] = 1\nplt.plot([1])\n", [3]),
    ("from nnfs.datasets import spiral_data\nimport nnfs\nnnfs.init()\nX, y = spiral_data(100, 3)\n", [3, 4]),
    ("from lr_utils import load_dataset\nX, Y = load_dataset()\nm = X.shape[0]\n", [2, 3]),
    ("import numpy as np\nD = np.load('w.npy')\nx = input()\n", [2, 3]),
    ("def f():\n    pass\nif __name__ == '__main__':\n    f()\n", []),
    ("def f():\n    pass\nfor i in range(3):\n    f()\n", [3]),
    ("def f(x=open('a')):\n    pass\n", [1]),
], ids=["constants", "seed", "try-import", "own-call", "dependants", "plot", "nnfs", "loader",
        "numpy-io", "main-block", "loop", "default"])
def test_the_rule_for_each_kind_of_statement(text, skipped) -> None:
    assert [line for line, _ in skipped_of(text)] == skipped


def test_the_note_names_each_statement_by_line() -> None:
    note = loading.skipped_words("net.py", [loading.Skipped("line 12", "train()")])
    assert note == ("[net.py: 1 top-level statement(s) not run at import, since they run the file's own "
                    "training, tests or I/O, need IPython or a module not here (--run-module runs the "
                    "whole file):\n  line 12: train()]\n")


# ---- whose frames a traceback keeps -------------------------------------------------------------

def test_frames_are_the_users_files_not_ours_pythons_or_installed_packages(tmp_path) -> None:
    model = tmp_path / "model.py"
    assert loading.users_file(str(model), model)
    assert loading.users_file(str(tmp_path / "layers.py"), model)
    assert loading.users_file(str(SIBLING), model)  # a fixture: in the repository, not in engine/
    assert not loading.users_file(str(ROOT / "engine" / "usermodel" / "contract.py"), model)
    assert not loading.users_file(np.__file__, model)
    assert not loading.users_file(str(Path(sysconfig.get_paths()["stdlib"]) / "json" / "__init__.py"), model)
    assert not loading.users_file("<string>", model)


# ---- --python -----------------------------------------------------------------------------------

def fake_python(tmp_path: Path, script: str) -> str:
    path = tmp_path / "python"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize(("script", "words"), [
    ("echo 3 8 10", "is Python 3.8.10; your model's process needs Python 3.11 or later"),
    ("echo 3 12 1; exit 1", "(Python 3.12.1) has no NumPy"),
    ("echo 'SyntaxError: invalid syntax' >&2; exit 1", "does not run as Python 3 (it said: SyntaxError"),
], ids=["old", "no-numpy", "python2"])
def test_a_python_that_cannot_run_the_model_is_refused_in_one_line(tmp_path, script, words) -> None:
    python = fake_python(tmp_path, script)
    with pytest.raises(ModelError, match=None) as raised:
        check_python(python)
    assert raised.value.message.startswith(f"--python {python}") and words in raised.value.message


def test_a_missing_or_unrunnable_python_is_refused(tmp_path) -> None:
    plain = tmp_path / "python3"
    plain.write_text("")
    for given, words in ((str(tmp_path / "none"), "no such program"), (str(plain), "not executable")):
        with pytest.raises(ModelError) as raised:
            check_python(given)
        assert raised.value.message == f"--python {given}: {words}"


def test_a_python_with_numpy_is_taken_with_its_links_kept() -> None:
    assert check_python(sys.executable) == sys.executable


# ---- the command line ---------------------------------------------------------------------------

@pytest.mark.parametrize("flag", [["--run-module"], ["--python", sys.executable]])
def test_the_loading_flags_need_a_model(capsys, flag) -> None:
    status, out, err = run(capsys, "--headless", *flag)
    assert (status, out) == (2, "")
    assert f"{flag[0]} only applies to your own model: add --model FILE.py" in err


# ---- loading, in the model's process ------------------------------------------------------------

def passes(capsys, *argv: object) -> tuple[dict, str]:
    status, out, err = run(capsys, "--headless", "--format", "json", "--steps", "2", *argv)
    assert status == 0, err
    trace = json.loads(out)
    assert all(step["gradcheck"]["passed"] for step in trace["steps"])
    return trace, err


@pytest.mark.slow
@pytest.mark.parametrize("path", [RELATIVE, ABSOLUTE, SIBLING], ids=["relative", "absolute", "sibling"])
def test_a_file_loads_in_its_package_or_beside_its_siblings(capsys, path) -> None:
    passes(capsys, "--model", path)


@pytest.mark.slow
def test_a_script_loads_with_its_training_left_out_and_says_so(capsys) -> None:
    _, err = passes(capsys, "--model", TRAINS)
    assert "trains_at_import.py: 5 top-level statement(s) not run at import" in err
    assert "  |   line 49: params = train(X[:, :-1], Y, epochs=1000)\n" in err
    assert "training on (" not in err  # its print did not run


@pytest.mark.slow
def test_run_module_runs_the_whole_file(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the script's own data, where it reads them
    rows = np.random.default_rng(0).normal(size=(3, 4))
    rows[:, -1] = [0, 1, 1]
    np.savetxt("train_set.csv", rows, delimiter=",")
    _, err = passes(capsys, "--model", TRAINS, "--run-module")
    assert "training on (3, 4)" in err and "not run at import" not in err
    assert (tmp_path / "params.pkl").is_file()


@pytest.mark.slow
def test_a_missing_module_names_the_python_that_lacked_it(capsys) -> None:
    status, out, err = run(capsys, "--headless", "--model", MISSING)
    assert (status, out) == (2, "")
    last = err.rstrip().splitlines()[-1]
    assert last == (
        "backprop-stepper: error: missing_module.py failed while being imported: ModuleNotFoundError: "
        "No module named 'course_plotting_helpers_not_installed' (line 6, in <module>); "
        f"{sys.executable}, the Python your model runs in, has no module "
        "course_plotting_helpers_not_installed, and no course_plotting_helpers_not_installed.py is beside "
        f"missing_module.py: install it there ({sys.executable} -m pip install "
        "course_plotting_helpers_not_installed) or run your model with your own Python (--python PATH)")
    assert "Traceback" not in err


@pytest.mark.slow
def test_an_error_in_a_sibling_module_keeps_its_file_and_line(capsys, tmp_path) -> None:
    folder = tmp_path / "course"
    shutil.copytree(SIBLING.parent, folder)
    helpers = folder / "helpers.py"
    helpers.write_text(helpers.read_text().replace("    return da * (z > 0)\n",
                                                   "    raise ValueError('no mask')\n"))
    status, _, err = run(capsys, "--headless", "--model", folder / "model.py")
    assert status == 2
    line = next(n for n, text in enumerate(helpers.read_text().splitlines(), 1) if "no mask" in text)
    assert err.rstrip().endswith(f"backward raised ValueError: no mask (helpers.py, line {line}, in "
                                 "relu_backward)")
    assert f'File "{helpers}", line {line}, in relu_backward' in err
    assert f'File "{folder / "model.py"}"' in err and "contract.py" not in err


@pytest.mark.slow
def test_the_package_file_run_is_the_one_read_not_the_one_on_disk_now(tmp_path) -> None:
    """A restarted process compiles the bytes read at load (a session records their hash),
    though the file sits in a package the process imports from disk."""
    shutil.copytree(RELATIVE.parents[2], tmp_path / "pkg")
    path = tmp_path / "pkg" / "course" / "classifiers" / "fc_net.py"
    model = load_model(path, sizes=(3, 4, 1))
    try:
        path.write_text("raise SystemExit('not this code')\n")
        model.close()  # the next call starts a new process, which imports the file again
        params = {"W1": np.ones((4, 3)), "b1": np.zeros(4), "W2": np.ones((1, 4)), "b2": np.zeros(1)}
        _, loss = model.forward(np.ones(3), params, 1)
        assert loss == pytest.approx(-np.log(1 / (1 + np.exp(-12.0))))
    finally:
        model.close()


@pytest.mark.slow
def test_python_runs_the_model_in_the_interpreter_given(capsys, tmp_path) -> None:
    model = load_model(SIBLING, sizes=(3, 4, 1), loading=Loading(python=sys.executable))
    try:
        assert model.loading.python == sys.executable and model.skipped == ()
    finally:
        model.close()
    status, out, err = run(capsys, "--headless", "--model", SIBLING, "--python", str(tmp_path / "none"))
    assert (status, out) == (2, "")
    missing = tmp_path / "none"
    assert err.rstrip().splitlines()[-1] == f"backprop-stepper: error: --python {missing}: no such program"


@pytest.mark.slow
def test_a_session_recorded_with_run_module_replays_with_it(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    np.savetxt("train_set.csv", [[0.5, -1.0, 2.0, 1.0], [1.0, 0.0, -2.0, 0.0]], delimiter=",")
    saved = tmp_path / "run.npz"
    status, _, err = run(capsys, "--headless", "--model", TRAINS, "--run-module", "--save-session", saved)
    assert status == 0, err
    status, _, err = run(capsys, "--headless", "--session", saved, "--model", TRAINS)
    assert status == 0 and "training on (2, 4)" in err  # its whole top level ran again
    status, _, err = run(capsys, "--headless", "--model", TRAINS, "--save-session", saved)
    assert status == 0, err
    status, _, err = run(capsys, "--headless", "--session", saved, "--model", TRAINS, "--run-module")
    assert status == 2 and "--run-module: this session was recorded with the file's training" in err


@pytest.mark.slow
def test_a_load_failure_names_the_statements_left_out(capsys, tmp_path) -> None:
    """An nnfs chapter builds its layers at the top level: when the file then fits no
    contract, what was not run is part of the answer."""
    path = tmp_path / "chapter.py"
    path.write_text("class Layer_Dense:\n    pass\n\ndense1 = Layer_Dense()\ndense1.forward = None\n"
                    "print(dense1)\n")  # lines 5 and 6 bind no name: not named
    status, _, err = run(capsys, "--headless", "--model", path)
    assert status == 2
    # The nnfs convention sees the book's Layer_Dense and names what else it needs; the lines
    # that would have built the layers are named after it.
    assert "chapter.py fits no convention: found Layer_Dense but no Activation_ReLU" in err
    assert err.rstrip().endswith("(nnfs) (not run at import: line 4; --run-module runs them)")
