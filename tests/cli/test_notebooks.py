"""deeplearning.ai's assignments as students have them: notebooks, Jupyter's .py exports and
copies saved by hand, loaded unedited and checked, and their one-line bugs diagnosed as the
built-in network's are.

The fixtures (tests/fixtures/dlai/) are written for these tests in the shape of the course's
files: planar.ipynb (the planar assignment: magics, graded test cells, testCases_v2 and
planar_utils imports, tanh, compute_cost(A2, Y, parameters)), step_by_step.ipynb (the
L-layer one: dnn_utils_v2, public_tests, compute_cost(AL, Y)), step_by_step_export.py (its
nbconvert export: get_ipython() calls and `%run dnn_utils_v2.py`), planar_saved.py (a copy
saved by hand, raw `%matplotlib inline` and `!pip` lines) and two_hidden.ipynb (the planar
style with a second hidden layer, for a square W). planar_utils.py imports matplotlib and
scikit-learn at its top, which the test environment does not have.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from tests.helpers import DLAI, FIXTURES, edit, steps_passed, write_model
from tests.helpers import DLAI_RUN as RUN
from tests.helpers import run_main as run


@pytest.mark.slow
@pytest.mark.parametrize(("name", "hidden"), [
    ("planar.ipynb", "4"), ("planar_saved.py", "4"), ("step_by_step.ipynb", "4"),
    ("step_by_step.ipynb", "5,3"), ("step_by_step_export.py", "5,3"), ("two_hidden.ipynb", "4,4"),
])
def test_each_form_of_the_course_file_loads_and_passes(capsys, name, hidden) -> None:
    assert steps_passed(capsys, DLAI / name, "--hidden", hidden) == [True] * 10


@pytest.mark.slow
def test_the_older_versions_small_init_passes_at_two_hidden_layers(capsys, tmp_path) -> None:
    """v3 to v5 draw W at 0.01 with zero biases: at the first step a sample whose first layer
    is all dead feeds the second z2 = b2 = 0 exactly, and another's unit lies within eps of
    its kink: the slopes at eps bound nothing, and the second look judges b2 at h."""
    path = copy_with(tmp_path, "step_by_step.ipynb", "/ np.sqrt(layer_dims[l - 1])", "* 0.01")
    assert steps_passed(capsys, path, "--hidden", "5,3") == [True] * 10


@pytest.mark.slow
def test_the_report_lists_what_did_not_run_by_cell_and_line(capsys) -> None:
    status, out, err = run(capsys, *RUN, "--steps", "1", "--model", DLAI / "planar.ipynb", "--hidden", "4")
    assert status == 0
    for line in ("cell 1, line 10: %matplotlib inline (IPython)",
                 "cell 1, line 3: import matplotlib.pyplot as plt (no module matplotlib here)",
                 "cell 6, line 1: X_assess, Y_assess = layer_sizes_test_case()",
                 "cell 17, line 1: !pip install h5py (IPython)",
                 "planar_utils.py, line 6: import sklearn (no module sklearn here)",
                 "planar_utils.py, line 34: X_demo, Y_demo = load_planar_dataset()"):
        assert f"  |   {line}\n" in err or err.rstrip().endswith(f"  |   {line}]")
    assert "compute_cost(A2, Y, parameters)" in out


@pytest.mark.slow
def test_an_export_runs_its_percent_run_helper(capsys) -> None:
    _, _, err = run(capsys, *RUN, "--steps", "1", "--model", DLAI / "step_by_step_export.py", "--hidden", "4")
    assert "line 17: %run dnn_utils_v2.py (as from dnn_utils_v2 import *) (IPython)" in err


def copy_with(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """The fixture folder copied, `name` with one line changed (in a notebook's cells)."""
    folder = tmp_path / "course"
    shutil.copytree(DLAI, folder)
    path = folder / name
    if path.suffix == ".ipynb":
        notebook = nbformat.read(path, as_version=4)
        sources = [cell.source for cell in notebook.cells]
        for cell in notebook.cells:
            cell.source = cell.source.replace(old, new)
        assert [cell.source for cell in notebook.cells] != sources, old
        nbformat.write(notebook, path)
    else:
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))
    return path


@pytest.mark.slow
def test_an_error_names_the_cell_and_the_line(capsys, tmp_path) -> None:
    path = copy_with(tmp_path, "planar.ipynb", "A1 = np.tanh(Z1)", "A1 = np.tanh(Z1) + undefined_name")
    status, _, err = run(capsys, *RUN, "--steps", "1", "--model", path, "--hidden", "4")
    assert status == 2
    assert err.rstrip().endswith("(cell 9, line 7, in forward_propagation)")
    assert 'File "' + str(path) + '", cell 9, line 7, in forward_propagation' in err


@pytest.mark.slow
def test_a_syntax_error_names_the_cell_and_the_line(capsys, tmp_path) -> None:
    path = copy_with(tmp_path, "step_by_step.ipynb", "    Z = np.dot(W, A) + b", "    Z = np.dot(W, A) +")
    status, out, err = run(capsys, *RUN, "--steps", "1", "--model", path, "--hidden", "4")
    assert (status, out) == (2, "")
    assert err.startswith("backprop-stepper: error: step_by_step.ipynb, cell 4, line 2: syntax error:")


@pytest.mark.slow
def test_a_cost_of_neither_signature_is_named_with_both(capsys, tmp_path) -> None:
    path = copy_with(tmp_path, "planar.ipynb", "def compute_cost(A2, Y, parameters):",
                     "def compute_cost(A2, Y, parameters, lambd):")
    status, _, err = run(capsys, *RUN, "--steps", "1", "--model", path, "--hidden", "4")
    assert status == 2
    assert ("planar.ipynb: compute_cost(A2, Y, parameters, lambd) cannot be called as the course calls "
            "it: compute_cost(AL, Y) or compute_cost(A2, Y, parameters)") in err


def diagnosis(capsys: pytest.CaptureFixture[str], *argv: object) -> list[str]:
    """The first step's diagnosis, a line a failing tensor (the check's notes left out: the
    kinks of two networks' different draws differ)."""
    _, out, _ = run(capsys, *RUN, "--steps", "1", *argv)
    lines = out.split("Diagnosis:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return [line.strip() for line in lines if line.startswith("  ") and ": " in line.split()[0] + " "]


@pytest.mark.slow
def test_a_missing_relu_mask_is_diagnosed_as_the_built_in_drill(capsys, tmp_path) -> None:
    path = copy_with(tmp_path, "step_by_step.ipynb", "dZ = relu_backward(dA, activation_cache)", "dZ = dA")
    course = diagnosis(capsys, "--model", path, "--hidden", "5,3")
    assert course and course == diagnosis(capsys, "--inject-bug", "activation-grad", "--hidden", "5,3")


@pytest.mark.slow
def test_a_buggy_notebook_fails_the_build_and_the_correct_one_passes(capsys, tmp_path) -> None:
    path = copy_with(tmp_path, "step_by_step.ipynb", "dZ = relu_backward(dA, activation_cache)", "dZ = dA")
    quiet = ("--steps", "2", "--quiet", "--hidden", "5,3", "--model")
    status, out, _ = run(capsys, *RUN, *quiet, path)
    assert status == 1
    assert out.splitlines()[0].startswith("step 1: W1 FAILED, relative error ")
    assert out.splitlines()[-1] == ("FAILED: gradient check failed on W1, b1, W2, b2 at 2 of 2 checked "
                                    "steps, first at step 1 (2 steps run)")
    status, out, _ = run(capsys, *RUN, *quiet, DLAI / "step_by_step.ipynb")
    assert (status, out) == (0, "passed: every gradient check passed (2 of 2 steps checked)\n")


@pytest.mark.slow
def test_a_transposed_square_w_enters_where_the_built_in_says(capsys, tmp_path) -> None:
    path = copy_with(tmp_path, "two_hidden.ipynb", "dA1 = np.dot(W2.T, dZ2)", "dA1 = np.dot(W2, dZ2)")
    course = diagnosis(capsys, "--model", path, "--hidden", "4,4")
    says = "transpose — matches da1 = W2·dz2 instead of W2ᵀ·dz2; enters at da1 (W2, b2, W3, b3 pass)"
    assert course == [f"W1: {says}", f"b1: {says}"]
    assert course == diagnosis(capsys, "--inject-bug", "transpose", "--hidden", "4,4")


@pytest.mark.slow
def test_a_missing_relu_mask_in_one_layer_enters_at_its_dz(capsys, tmp_path) -> None:
    """The course's dZ1 (columns) is matched to the built-in dz1: the error enters there."""
    path = copy_with(tmp_path, "two_hidden.ipynb", "dZ1 = dA1 * (A1 > 0)", "dZ1 = dA1")
    course = diagnosis(capsys, "--model", path, "--hidden", "4,4")
    assert course[0].startswith("W1: ") and course[0].endswith("enters at dz1 (W2, b2, W3, b3 pass)")


@pytest.mark.slow
def test_a_missing_1_over_m_in_a_tanh_net_is_a_scale_with_no_kink(capsys, tmp_path) -> None:
    path = copy_with(tmp_path, "planar.ipynb", "dW1 = (1 / m) * np.dot(dZ1, X.T)", "dW1 = np.dot(dZ1, X.T)")
    _, out, _ = run(capsys, *RUN, "--steps", "1", "--model", path, "--hidden", "4")
    assert "kink" not in out
    batched = write_model(tmp_path, edit((FIXTURES / "batched.py").read_text(), "dW1 = dz1.T @ X / B",
                                         "dW1 = dz1.T @ X"))
    expected = ["W1: scale — analytic = 16 × true on every element; enters at dW1 (W2, b2 pass)"]
    assert diagnosis(capsys, "--model", path, "--hidden", "4") == expected
    assert diagnosis(capsys, "--model", batched, "--hidden", "4") == expected


@pytest.mark.slow
def test_a_cost_that_is_not_the_loss_the_backward_differentiates_enters_at_the_loss(capsys, tmp_path) -> None:
    """A public v6c copy's compute_cost is -Σ Y log A2 alone (no (1 - Y) term, no 1/m) while its
    backward is the mean cross-entropy's: the gradients are right for a loss it does not compute."""
    path = copy_with(tmp_path, "planar.ipynb", "    cost = - np.sum(logprobs) / m\n",
                     "    cost = - np.sum(np.multiply(np.log(A2), Y))\n")
    found = diagnosis(capsys, "--model", path, "--hidden", "4")
    assert [line.split(":")[0] for line in found] == ["W1", "b1", "W2", "b2"]
    assert all(line.split(": ", 1)[1].startswith("cost — matches the gradient of the mean binary "
                                                  "cross-entropy (") for line in found)
    assert found[0].endswith("the backward pass differentiates another loss than the forward pass "
                             "computes; enters at the loss")


@pytest.mark.slow
def test_a_bias_summed_over_the_wrong_axis_is_named_by_its_shape(capsys, tmp_path) -> None:
    path = copy_with(tmp_path, "planar.ipynb", "db1 = (1 / m) * np.sum(dZ1, axis=1, keepdims=True)",
                     "db1 = (1 / m) * np.sum(dZ1, axis=0, keepdims=True)")
    status, _, err = run(capsys, *RUN, "--steps", "1", "--model", path, "--hidden", "4")
    assert status == 2
    assert err.rstrip().endswith("planar.ipynb: backward returned db1 of shape (1, 16); expected (4, 1), "
                                 "the shape of b1")


@pytest.mark.slow
def test_a_file_that_is_not_a_notebook_is_refused(capsys, tmp_path) -> None:
    path = tmp_path / "broken.ipynb"
    path.write_text('{"cells": [')
    status, out, err = run(capsys, *RUN, "--steps", "1", "--model", path)
    assert (status, out) == (2, "")
    assert err.startswith("backprop-stepper: error: broken.ipynb: nbformat cannot read it as a notebook (")
