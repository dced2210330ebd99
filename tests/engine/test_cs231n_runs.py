"""cs231n's layouts run headless as a user runs them, through the model's own process:
assignment 1's neural_net.py, the assignment-2 package with --model-option, a forgotten
transpose of a square W diagnosed where it enters, and sessions keeping the options.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, run_main

pytestmark = pytest.mark.slow  # each test starts a model's process

NEURAL_NET = FIXTURES / "cs231n_neural_net.py"
PACKAGE = FIXTURES / "cs231n_package"
IMPORTED = FIXTURES / "cs231n_imported.py"
MOONS = ("--headless", "--dataset", "moons", "--batch", "16")

#: A three-layer cs231n net written out, affine - relu - affine - relu - affine - softmax.
THREE = '''
import numpy as np

class ThreeLayerNet:
    def __init__(self, input_dim, hidden_dims, num_classes, weight_scale=1.0, reg=0.0):
        dims = [input_dim, *hidden_dims, num_classes]
        self.params = {}
        for i in range(3):
            self.params['W%d' % (i + 1)] = weight_scale * np.random.randn(dims[i], dims[i + 1])
            self.params['b%d' % (i + 1)] = np.full(dims[i + 1], 0.1)

    def loss(self, X, y=None):
        p = self.params
        h1 = np.maximum(0, X @ p['W1'] + p['b1'])
        h2 = np.maximum(0, h1 @ p['W2'] + p['b2'])
        scores = h2 @ p['W3'] + p['b3']
        if y is None:
            return scores
        N = len(X)
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        probs = e / e.sum(axis=1, keepdims=True)
        loss = -np.log(probs[np.arange(N), y]).mean()
        d3 = probs.copy()
        d3[np.arange(N), y] -= 1
        d3 /= N
        dh2 = (d3 @ p['W3'].T) * (h2 > 0)
        dh1 = (dh2 @ p['W2'].T) * (h1 > 0)
        return loss, {'W3': h2.T @ d3, 'b3': d3.sum(0), 'W2': h1.T @ dh2, 'b2': dh2.sum(0),
                      'W1': X.T @ dh1, 'b1': dh1.sum(0)}
'''


def test_assignment_1s_neural_net_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_main(capsys, "--model", NEURAL_NET, *MOONS, "--hidden", "8", "--steps", "2",
                                "--reg", "0.1")
    assert status == 0, err
    assert "  TwoLayerNet(input_size=2, hidden_size=8, output_size=2), loss(X, y, reg=0.1)" in out
    assert "Analytic gradient db1 (1x8)" in out


def test_the_package_through_an_imported_class_with_batchnorm_updates_gamma_and_beta(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(PACKAGE))  # until the loader walks up to the package
    status, out, err = run_main(capsys, "--model", IMPORTED, *MOONS, "--hidden", "6,6", "--steps", "1",
                                "--model-option", "normalization=batchnorm", "--format", "json")
    assert status == 0, err
    steps = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    text = json.dumps(steps)
    assert "normalization='batchnorm'" in text
    for name in ("gamma1", "beta1", "gamma2", "beta2"):
        assert f'"d{name}"' in text or f'"{name}"' in text


def test_an_unknown_model_option_exits_2_naming_what_the_constructor_accepts(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(PACKAGE))
    status, out, err = run_main(capsys, "--model", IMPORTED, *MOONS, "--hidden", "6,6",
                                "--model-option", "dropout=0.5")
    assert status == 2 and out == ""
    assert ("--model-option dropout: cs231n_imported.py's FullyConnectedNet takes no keyword dropout; it "
            "accepts hidden_dims, input_dim, num_classes, dropout_keep_ratio, normalization") in err


@pytest.mark.parametrize(("hidden", "line", "entry"), [
    ("4,4", "dh1 = (dh2 @ p['W2'].T)", "da1"),  # a square hidden W
    ("4,2", "dh2 = (d3 @ p['W3'].T)", "da2"),  # the output layer's square W (2 classes)
])
def test_a_forgotten_transpose_of_a_square_w_is_named_where_it_enters(
        hidden: str, line: str, entry: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "three.py"
    model.write_text(THREE.replace(line, line.replace(".T)", ")")))
    status, out, err = run_main(capsys, "--model", model, *MOONS, "--hidden", hidden, "--steps", "1")
    assert status == 1, err  # the check fails
    layer = int(entry[-1]) + 1
    says = (f"transpose — matches {entry} = W{layer}·dz{layer} instead of W{layer}ᵀ·dz{layer}; "
            f"enters at {entry}")
    diagnosed = [row for row in out.splitlines() if row.startswith("  W1: ") or row.startswith("  b1: ")]
    assert diagnosed and all(says in row for row in diagnosed), out


def test_a_session_keeps_the_model_options_it_was_built_with(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(PACKAGE))
    saved = tmp_path / "run.npz"
    status, _, err = run_main(capsys, "--model", IMPORTED, *MOONS, "--hidden", "4,4", "--steps", "1",
                              "--model-option", "normalization=layernorm", "--save-session", saved)
    assert status == 0, err
    with zipfile.ZipFile(saved) as zf:
        head = json.loads(zf.read("session.json"))
    assert head["model_options"] == [["normalization", "layernorm"]]
    status, out, err = run_main(capsys, "--headless", "--session", saved, "--model", IMPORTED)
    assert status == 0, err
    assert "Updated gamma1" in out
    status, _, err = run_main(capsys, "--headless", "--session", saved, "--model", IMPORTED,
                              "--model-option", "normalization=batchnorm")
    assert status == 2 and "--model-option: this session was recorded with its own model options" in err


def test_a_bias_the_forward_pass_leaves_out_is_named_as_unused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real solution's h = max(0, X·W1), b1 forgotten: the loss never moves with b1, though
    the backward gives it a gradient. Not the numerical gradient's fault, as it once said."""
    model = tmp_path / "no_b1.py"
    model.write_text(THREE.replace("np.maximum(0, X @ p['W1'] + p['b1'])", "np.maximum(0, X @ p['W1'])"))
    status, out, err = run_main(capsys, "--model", model, *MOONS, "--hidden", "4,3", "--steps", "1")
    assert status == 1, err  # the check fails on b1
    row = next(row for row in out.splitlines() if row.startswith("  b1: "))
    assert "the loss does not change with b1 (its numerical gradient is 0 on every element)" in row
    assert "does the forward pass use b1?" in row and "enters at" not in row
