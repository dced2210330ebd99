"""The stand-ins for deeplearning.ai's course helpers (engine.usermodel.standins): each function
against a reference computed another way (the backward ones against a central difference of
their forward), the finder's place behind every other, and the note that says it was used.

The command line's runs of whole course files without their helpers are tests/cli/test_standins.py.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.usermodel import loading, standins
from engine.usermodel.contract import load_source
from engine.usermodel.standins import StandIns

RNG = np.random.default_rng(7)
Z = RNG.standard_normal((4, 6)) * 3
DA = RNG.standard_normal((4, 6))
EPS = 1e-6


def central_difference(forward: Callable[[Any], Any], Z: np.ndarray, dA: np.ndarray) -> np.ndarray:
    """d/dZ of sum(dA · forward(Z)), element by element: what dZ = backward(dA, Z) must be."""
    dZ = np.zeros_like(Z)
    for index in np.ndindex(Z.shape):
        up, down = Z.copy(), Z.copy()
        up[index] += EPS
        down[index] -= EPS
        dZ[index] = (np.sum(dA * forward(up)) - np.sum(dA * forward(down))) / (2 * EPS)
    return dZ


def test_the_sigmoids_are_the_logistic_function_and_the_courses_keeps_z_as_its_cache() -> None:
    reference = (1 + np.tanh(Z / 2)) / 2  # σ(z) = (1 + tanh(z/2)) / 2
    np.testing.assert_allclose(standins.plain_sigmoid(Z), reference, rtol=1e-14)
    A, cache = standins.sigmoid(Z)
    np.testing.assert_allclose(A, reference, rtol=1e-14)
    assert cache is Z
    assert standins.plain_sigmoid(0.0) == 0.5  # planar_utils's takes a number too


def test_relu_is_max_of_zero_and_z_and_keeps_z_as_its_cache() -> None:
    A, cache = standins.relu(Z)
    assert np.array_equal(A, Z * (Z > 0)) and cache is Z


@pytest.mark.parametrize(("forward", "backward"), [
    (lambda Z: standins.sigmoid(Z)[0], standins.sigmoid_backward),
    (lambda Z: standins.relu(Z)[0], standins.relu_backward),
], ids=["sigmoid", "relu"])
def test_each_backward_is_the_central_difference_of_its_forward(forward, backward) -> None:
    away = np.where(np.abs(Z) < 1e-3, 1.0, Z)  # off relu's kink, where no difference is one-sided
    np.testing.assert_allclose(backward(DA, away), central_difference(forward, away, DA), atol=1e-8)


def test_relu_backward_takes_zero_at_the_kink_keeps_da_s_dtype_and_refuses_a_wrong_shape() -> None:
    Z = np.array([[-1.0, 0.0, 2.0]])
    assert np.array_equal(standins.relu_backward(np.array([[5.0, 5.0, 5.0]]), Z), [[0.0, 0.0, 5.0]])
    assert standins.relu_backward(np.array([[1, 2, 3]], dtype=np.float32), Z).dtype == np.float32
    with pytest.raises(ValueError, match=r"dA of shape \(3,\) for a cache Z of shape \(1, 3\)"):
        standins.relu_backward(np.ones(3), Z)


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's sys.meta_path as it was after the test, and no course helper imported
    before it or left imported after it."""
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    for name in standins.HELPERS:
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield
    for name in standins.HELPERS:
        sys.modules.pop(name, None)


@pytest.fixture
def finder(fresh: None) -> StandIns:
    """The stand-ins last on sys.meta_path, for a model.ipynb."""
    found = StandIns(Path("/course/model.ipynb"))
    found.install()
    return found


def test_every_name_of_the_helper_imports_and_the_others_say_what_is_missing(finder) -> None:
    from planar_utils import (  # type: ignore[import-not-found]
        load_extra_datasets,
        load_planar_dataset,
        plot_decision_boundary,
        sigmoid,
    )

    assert sigmoid is standins.plain_sigmoid
    assert callable(plot_decision_boundary) and callable(load_extra_datasets)
    with pytest.raises(NotImplementedError) as error:
        load_planar_dataset()
    assert str(error.value) == ("load_planar_dataset is in the course's planar_utils.py, which is not beside "
                                "model.ipynb: backprop-stepper's stand-in for it has only sigmoid; put "
                                "planar_utils.py beside model.ipynb to call load_planar_dataset")
    import dnn_app_utils_v3  # type: ignore[import-not-found]

    assert dnn_app_utils_v3.relu_backward is standins.relu_backward
    with pytest.raises(NotImplementedError, match=r"^L_model_forward is in the course's dnn_app_utils_v3"):
        dnn_app_utils_v3.L_model_forward(None, None)


def test_a_module_found_anywhere_else_wins_and_only_course_helpers_are_served(finder, tmp_path,
                                                                               monkeypatch) -> None:
    (tmp_path / "dnn_utils.py").write_text("def relu(Z):\n    return 'the real one'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import dnn_utils  # type: ignore[import-not-found]

    assert dnn_utils.relu(0) == "the real one" and finder.used == []
    with pytest.raises(ModuleNotFoundError):
        import testCases_v2  # type: ignore[import-not-found]  # noqa: F401


def test_each_stand_in_is_said_at_the_line_that_imported_it(fresh) -> None:
    cells = ("import numpy as np", "from dnn_utils_v2 import sigmoid, sigmoid_backward, relu, relu_backward",
             "def forward(x, params, y=None):\n    return {}, float(np.sum(relu(params['W1'])[0]))",
             "def backward(x, y, params, cache):\n"
             "    return {'dW1': relu_backward(np.ones_like(params['W1']), params['W1'])}")
    contract = load_source(Path("model.ipynb"), b"", cells=cells)
    said = ("from dnn_utils_v2 import sigmoid, sigmoid_backward, relu, r … (not beside the file: "
            "backprop-stepper's stand-in: sigmoid, relu, sigmoid_backward, relu_backward)")
    assert [(item.where, item.excerpt, item.stood_in) for item in contract.skipped] == [
        ("cell 2, line 1", said, True)]
    assert loading.skipped_words("model.ipynb", contract.skipped) == (
        "[model.ipynb: 1 import(s) of a course helper not beside the file, given backprop-stepper's "
        "stand-in (its backprop functions only; a helper beside the file wins):\n"
        f"  cell 2, line 1: {said}]\n")


def test_the_note_lists_the_statements_left_out_then_the_stand_ins() -> None:
    note = loading.skipped_words("net.py", [
        loading.Skipped("line 3", "import planar_utils (stand-in)", stood_in=True),
        loading.Skipped("line 12", "train()")])
    assert note == ("[net.py: 1 top-level statement(s) not run at import, since they run the file's own "
                    "training, tests or I/O, need IPython or a module not here (--run-module runs the "
                    "whole file);\n  line 12: train()\n1 import(s) of a course helper not beside the file, "
                    "given backprop-stepper's stand-in (its backprop functions only; a helper beside the "
                    "file wins):\n  line 3: import planar_utils (stand-in)]\n")
