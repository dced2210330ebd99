"""Issue 24: one line broken in a course's file is diagnosed with its kind and where it enters
in every family: deeplearning.ai, cs231n, Nielsen and Neural Networks from Scratch (the
notebook's own drills are tests/engine/test_diagnose.py's). The files load in this process
(engine.usermodel.contract's load_source), and the check and its diagnosis run as the stepper
runs them.

What a family cannot show, and why (no test, by design):
- a missing ReLU mask in Nielsen: his Network is sigmoid in every layer, it has no ReLU;
- a missing 1/m in Nielsen: backprop(x, y) is one sample's gradient, and the 1/len(mini_batch)
  is update_mini_batch's step, which the check never sees;
- a transposed square W in Nielsen: the reference is a one-unit output (the built-in network
  has his costs only for one unit), and backprop's one `.transpose()` line serves every layer,
  so dropping it needs every W above layer 1 square: 1 × 1, its own transpose;
- a transposed W in deeplearning.ai: W2ᵀ is written once per layer (dA1 = W2.T · dZ2) with one
  output unit, so no square W above layer 1 unless the hidden layer has one unit (1 × 1 again);
- a bias summed over the wrong axis: a shape error in every family (db (1, B) or (B,) for
  (n, 1) or (n,)), which the contract names before any check (tests/engine/test_conventions.py,
  test_nnfs.py); Nielsen's backprop sums nothing (one sample's nabla_b = delta). Where batch
  and width agree the shapes coincide: cs231n's db = sum(dout, axis=1) is then measured here;
- a missing sigmoid derivative where the backward computes none: deeplearning.ai's two-layer
  dZ2 = A2 - Y and cs231n's softmax.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.check.diagnose import diagnose
from engine.check.verdicts import GradCheck, gradient_check
from engine.maths.network import SOFTMAX_LOSS, Architecture
from engine.usermodel.contract import load_source
from engine.usermodel.inprocess import InProcess
from tests.helpers import FIXTURES


def checked(fixture: str, old: str, new: str, sizes: tuple[int, ...], activation: str,
            reg: float = 0.0, batch: int = 12) -> GradCheck:
    """The broken copy's check on a batch, diagnosed with the architecture the stepper has."""
    text = (FIXTURES / fixture).read_text()
    assert text.count(old) >= 1, old
    contract = load_source(Path(fixture), text.replace(old, new).encode(), None, sizes, reg)
    params = contract.init_params(3)
    assert params is not None
    rng = np.random.default_rng(3)
    x = rng.standard_normal((batch, sizes[0]))
    y = rng.integers(0, max(2, sizes[-1]), batch)  # unbalanced: a balanced batch at init sums dz2 to ~0
    arch = Architecture(sizes[0], sizes[1:-1], activation, sizes[-1],
                        "bce" if sizes[-1] == 1 else SOFTMAX_LOSS)
    model = InProcess(contract)
    cache, loss = model.forward(x, params, y)
    grads = dict(contract.backward(x, y, params, cache))
    check = gradient_check(model, params, x, y, grads, 1e-6, "loop")
    return diagnose(check, grads, arch, params, x, y, loss, builtin=False,
                    convention=contract.convention, reg=reg)


NIELSEN_PRIME = ("delta = np.dot(self.weights[-l + 1].transpose(), delta) * sigmoid_prime(zs[-l])",
                 "delta = np.dot(self.weights[-l + 1].transpose(), delta)")
NIELSEN_OUT = ("delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])",
               "delta = self.cost_derivative(activations[-1], y)")
NNFS_RELU = ("        self.dinputs[self.inputs <= 0] = 0\n", "")
NNFS_M = ("        self.dinputs = self.dinputs / samples\n", "")
NNFS_T = ("self.dinputs = np.dot(dvalues, self.weights.T)", "self.dinputs = np.dot(dvalues, self.weights)")
NNFS_SIGMOID = ("self.dinputs = dvalues * (1 - self.output) * self.output", "self.dinputs = dvalues")
TWO = ["W1", "b1", "W2", "b2"]
DEEP = [*TWO, "W3", "b3"]

#: id -> (fixture, (good line, broken copy), sizes, the stepper's activation, reg,
#:        {failing tensor: (kind, where it enters)})
CASES: dict[str, tuple[str, tuple[str, str], tuple[int, ...], str, float, dict[str, tuple[str, str]]]] = {
    "dlai-relu": ("dlai_two_layer.py", ("np.int64(A1 > 0)", "1"), (2, 4, 1), "relu", 0.0,
                  dict.fromkeys(["W1", "b1"], ("dead-units", "dz1"))),
    "dlai-m": ("dlai_two_layer.py", ("= 1 / m * ", "= "), (2, 4, 1), "relu", 0.0,
               dict.fromkeys(TWO, ("scale", "dz2"))),
    "dlai-sigmoid": ("dlai_deep.py", ("dZ = dA * s * (1 - s)", "dZ = dA"), (2, 5, 4, 1), "relu", 0.0,
                     dict.fromkeys(DEEP, ("dead-units", "dz3"))),
    "cs231n-relu": ("cs231n_two_layer.py", ("dx = dout * (x > 0)", "dx = dout * 1"), (2, 4, 3),
                    "relu", 0.0, dict.fromkeys(["W1", "b1"], ("dead-units", "dz1"))),
    "cs231n-m": ("cs231n_two_layer.py", ("    dx /= N\n", ""), (2, 4, 3), "relu", 0.0,
                 dict.fromkeys(TWO, ("scale", "dz2"))),
    "cs231n-transpose": ("cs231n_two_layer.py", ("dx = dout.dot(w.T)", "dx = dout.dot(w)"), (3, 3, 3),
                         "relu", 0.0, dict.fromkeys(["W1", "b1"], ("transpose", "da1"))),
    "nielsen-sigmoid": ("nielsen_network.py", NIELSEN_PRIME, (2, 4, 1), "relu", 0.0,
                        dict.fromkeys(["W1", "b1"], ("dead-units", "dz1"))),
    "nielsen2-sigmoid": ("nielsen_network2.py", NIELSEN_PRIME, (2, 4, 3, 1), "relu", 0.0,
                         dict.fromkeys(TWO, ("dead-units", "dz2"))),
    "nielsen-output-sigmoid": ("nielsen_network.py", NIELSEN_OUT, (2, 4, 1), "relu", 0.0,
                               dict.fromkeys(TWO, ("dead-units", "dz2"))),
    "nnfs-relu": ("nnfs_book.py", NNFS_RELU, (2, 4, 3), "relu", 0.0,
                  dict.fromkeys(["W1", "b1"], ("dead-units", "dz1"))),
    "nnfs-m": ("nnfs_model.py", NNFS_M, (2, 4, 3), "relu", 0.0, dict.fromkeys(TWO, ("scale", "dz2"))),
    "nnfs-transpose": ("nnfs_book.py", NNFS_T, (3, 3, 3), "relu", 0.0,
                       dict.fromkeys(["W1", "b1"], ("transpose", "da1"))),
    "nnfs-sigmoid": ("nnfs_book.py", NNFS_SIGMOID, (2, 4, 1), "relu", 0.0,
                     dict.fromkeys(TWO, ("dead-units", "dz2"))),
    "nnfs-relu-reg": ("nnfs_model.py", NNFS_RELU, (2, 4, 3), "relu", 0.1,
                      dict.fromkeys(["W1", "b1"], ("dead-units", "dz1"))),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_broken_line_is_diagnosed_with_its_kind_and_entry_in_every_family(case: str) -> None:
    fixture, (old, new), sizes, activation, reg, expected = CASES[case]
    check = checked(fixture, old, new, sizes, activation, reg)
    assert not any("no reference" in note or "differs" in note for note in check.notes), check.notes
    assert check.failed_names == list(expected)
    assert {d.tensor: (d.kind, d.enters) for d in check.diagnosis} == expected


def test_a_bias_summed_over_the_wrong_axis_where_the_shapes_coincide_enters_at_db() -> None:
    """cs231n's db = sum(dout, axis=1) with a batch of 4 and 4 units in each layer: b2's sum
    over the softmax's classes is 0 for each sample (zero); b1's matches no known bug (other);
    both enter at their own db, nothing above them being wrong."""
    check = checked("cs231n_two_layer.py", "db = np.sum(dout, axis=0)", "db = np.sum(dout, axis=1)",
                    (2, 4, 4), "relu", batch=4)
    assert {d.tensor: (d.kind, d.enters) for d in check.diagnosis} == \
        {"b1": ("other", "db1"), "b2": ("zero", "db2")}
