"""deeplearning.ai course files committed without the course's helper modules, loaded as the
student has them: backprop-stepper's stand-ins (engine.usermodel.standins) take the helpers'
place, say so, give way to a helper beside the file, and refuse clearly what they do not have.

Each course file is a fixture of tests/fixtures/dlai/ copied alone into a folder of its own;
the fixture folder itself has the helpers beside them (tests/cli/test_notebooks.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.usermodel import script
from tests.helpers import DLAI, steps_passed
from tests.helpers import DLAI_RUN as RUN
from tests.helpers import run_main as run

STAND_IN = "(not beside the file: backprop-stepper's stand-in: "
#: The L-layer helper with its one bug: relu_backward without the mask (dZ = dA where Z <= 0 too).
NO_MASK = (DLAI / "dnn_utils_v2.py").read_text().replace(
    "    dZ = np.array(dA, copy=True)\n    dZ[Z <= 0] = 0\n    return dZ\n", "    return dA\n")


def alone(tmp_path: Path, name: str) -> Path:
    """The fixture copied into a folder with no helper module beside it."""
    folder = tmp_path / "alone"
    folder.mkdir(exist_ok=True)
    return Path(shutil.copy(DLAI / name, folder))


@pytest.mark.slow
@pytest.mark.parametrize(("name", "hidden"), [
    ("planar.ipynb", "4"), ("planar_saved.py", "4"), ("step_by_step.ipynb", "4"),
    ("step_by_step.ipynb", "5,3"), ("step_by_step_export.py", "5,3"),
])
def test_a_course_file_without_its_helpers_loads_and_passes(capsys, tmp_path, name, hidden) -> None:
    assert steps_passed(capsys, alone(tmp_path, name), "--hidden", hidden) == [True] * 10


@pytest.mark.slow
def test_the_note_names_each_stand_in_and_the_line_that_imported_it(capsys, tmp_path) -> None:
    one = (*RUN, "--steps", "1", "--hidden", "4", "--model")
    status, _, err = run(capsys, *one, alone(tmp_path, "planar.ipynb"))
    assert status == 0, err
    assert ("  |   cell 1, line 8: from planar_utils import plot_decision_boundary, sigmoid, l … "
            f"{STAND_IN}sigmoid)]") in err
    assert "1 import(s) of a course helper not beside the file, given backprop-stepper's stand-in" in err
    _, _, err = run(capsys, *one, alone(tmp_path, "step_by_step_export.py"))
    assert (f"  |   line 17: from dnn_utils_v2 import * {STAND_IN}sigmoid, relu, sigmoid_backward, "
            "relu_backward)]") in err
    _, _, err = run(capsys, *one, DLAI / "planar.ipynb")
    assert "stand-in" not in err  # its helpers are beside it


@pytest.mark.slow
def test_a_helper_beside_the_file_wins_over_the_stand_in(capsys, tmp_path) -> None:
    path = alone(tmp_path, "step_by_step.ipynb")
    assert (DLAI / "dnn_utils_v2.py").read_text() != NO_MASK
    (path.parent / "dnn_utils_v2.py").write_text(NO_MASK)
    quiet = ("--steps", "1", "--quiet", "--hidden", "5,3", "--model", path)
    status, out, err = run(capsys, *RUN, *quiet)
    assert status == 1 and out.startswith("step 1: W1 FAILED, relative error "), out
    assert "stand-in" not in err


@pytest.mark.slow
def test_the_stand_ins_serve_run_module_too_and_give_way_there_as_well(capsys, tmp_path) -> None:
    """--run-module runs the whole file as in the student's environment, which had the helpers;
    a helper beside the file is found first there too (on sys.path, as Python finds it)."""
    cells = script.code_cells((DLAI / "step_by_step.ipynb").read_bytes())
    definitions = [cell for cell in cells if cell.lstrip().startswith("def ")]
    path = tmp_path / "deep.py"
    path.write_text("import numpy as np\nfrom dnn_utils_v2 import sigmoid, sigmoid_backward, relu, "
                    "relu_backward\n\n" + "\n\n".join(definitions) + "\n")
    flags = ("--steps", "2", "--quiet", "--hidden", "5,3", "--run-module", "--model", path)
    status, out, err = run(capsys, *RUN, *flags)
    assert (status, out) == (0, "passed: every gradient check passed (2 of 2 steps checked)\n"), err
    assert ("  | [deep.py: 1 import(s) of a course helper not beside the file, given backprop-stepper's "
            "stand-in (its backprop functions only; a helper beside the file wins):\n"
            f"  |   line 2: from dnn_utils_v2 import sigmoid, sigmoid_backward, relu, r … {STAND_IN}") in err
    (tmp_path / "dnn_utils_v2.py").write_text(NO_MASK)
    status, out, err = run(capsys, *RUN, *flags)
    assert status == 1 and out.startswith("step 1: W1 FAILED, relative error "), out
    assert "stand-in" not in err


@pytest.mark.slow
@pytest.mark.parametrize(("name", "text", "words"), [
    ("planar.py", "from planar_utils import plot_decision_boundary, sigmoid, load_planar_dataset, "
                  "load_extra_datasets\nX, Y = load_planar_dataset()\n",
     "planar.py failed while being imported: NotImplementedError: load_planar_dataset is in the course's "
     "planar_utils.py, which is not beside planar.py: backprop-stepper's stand-in for it has only sigmoid; "
     "put planar_utils.py beside planar.py to call load_planar_dataset (line 2, in <module>)"),
    ("application.py", "import numpy as np\nfrom dnn_app_utils_v3 import *\n",
     "application.py: init_params raised NotImplementedError: initialize_parameters_deep is in the course's "
     "dnn_app_utils_v3.py, which is not beside application.py: backprop-stepper's stand-in for it has only "
     "sigmoid, relu, sigmoid_backward, relu_backward; put dnn_app_utils_v3.py beside application.py to call "
     "initialize_parameters_deep"),
], ids=["planar-loader", "application-model"])
def test_a_name_the_stand_in_lacks_is_refused_by_name(capsys, tmp_path, name, text, words) -> None:
    path = tmp_path / name
    path.write_text(text)
    status, out, err = run(capsys, *RUN, "--steps", "1", "--hidden", "4", "--run-module", "--model", path)
    assert (status, out) == (2, "")
    assert err.rstrip().endswith(f"backprop-stepper: error: {words}"), err
