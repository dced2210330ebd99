"""The defaults reproduce the seed notebook: its printed numbers and its code's results."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.maths.network import Architecture, forward, init_params
from engine.run.stepper import Phase, Stepper
from engine.settings.config import Config
from tui.cli.main import main

# Printed by the notebook (backprop_seed_notebook.txt).
INITIAL_LOSS = 1.1732865037089109
FINAL_LOSS = 0.9036177230801858
DW1 = [[-0.03342232, 0.06684463, -0.01671116],
       [0.26428194, -0.52856388, 0.13214097],
       [0.0, -0.0, 0.0],
       [0.07766893, -0.15533787, 0.03883447]]
DW2 = [[-0.15154094, -0.25889318, -0.0, -0.17080231]]
UPDATED_W1 = [[0.50005638, -0.14494876, 0.64935965],
              [1.49660166, -0.18129699, -0.24735105],
              [1.57921282, 0.76743473, -0.46947439],
              [0.53479315, -0.44788391, -0.4696132]]
UPDATED_W2 = [[0.25711637, -1.88739093, -1.72491783, -0.5452073]]


def one_step() -> Stepper:
    stepper = Stepper(Config())
    stepper.run_steps(1)
    return stepper


def test_printed_numbers() -> None:
    state = one_step().state
    assert state.forward is not None and state.backward is not None and state.update is not None
    assert state.forward.loss == pytest.approx(INITIAL_LOSS, abs=1e-12)
    assert state.update.loss_after == pytest.approx(FINAL_LOSS, abs=1e-12)
    np.testing.assert_allclose(state.backward["dW1"], DW1, atol=5e-9)
    np.testing.assert_allclose(state.backward["dW2"], DW2, atol=5e-9)
    np.testing.assert_allclose(state.params["W1"], UPDATED_W1, atol=5e-9)
    np.testing.assert_allclose(state.params["W2"], UPDATED_W2, atol=5e-9)
    # The notebook computes -0.0 where a dead unit zeroes a negative product; so do we.
    assert np.signbit(state.backward["dW1"][2, 1]) and np.signbit(state.backward["dW2"][0, 2])


def test_every_tensor_matches_the_notebook_code(notebook) -> None:
    rs = np.random.RandomState(42)
    params = {"W1": rs.randn(4, 3), "b1": np.zeros(4), "W2": rs.randn(1, 4), "b2": np.zeros(1)}
    x = np.array([0.2, -0.4, 0.1])
    stepper = Stepper(Config())
    for name, value in stepper.initial.params.items():
        np.testing.assert_array_equal(value, params[name])
    for _ in range(3):
        cache, loss = notebook.forward(x, params, 1)
        grads = notebook.backward(x, 1, params, cache)
        stepper.next()
        ours = stepper.state
        assert ours.forward is not None
        for name in ("x", "z1", "a1", "z2", "a2"):
            np.testing.assert_allclose(ours.forward.cache[name], cache[name], rtol=1e-13, atol=1e-15)
        assert ours.forward.loss == pytest.approx(loss, abs=1e-12)
        stepper.next()
        assert stepper.state.backward is not None
        for name, value in grads.items():
            np.testing.assert_allclose(stepper.state.backward[name], value, rtol=1e-12, atol=1e-15)
        stepper.next()
        assert stepper.next() is Phase.UPDATE
        notebook.sgd_update(params, grads, lr=0.1)
        for name, value in params.items():
            np.testing.assert_allclose(stepper.state.params[name], value, rtol=1e-12, atol=1e-15)


def test_notebook_numerical_gradients_agree(notebook) -> None:
    params = init_params(Architecture(), 42)
    x = np.array([0.2, -0.4, 0.1])
    num_dw1, num_dw2 = notebook.numerical_gradient({k: v.copy() for k, v in params.items()}, x, 1)
    stepper = Stepper(Config())
    for _ in range(3):
        stepper.next()
    state = stepper.state
    assert state.last_phase is Phase.GRADCHECK
    assert state.gradcheck is not None
    np.testing.assert_allclose(state.gradcheck.tensors["W1"].numerical, num_dw1, atol=1e-10)
    np.testing.assert_allclose(state.gradcheck.tensors["W2"].numerical, num_dw2, atol=1e-10)
    assert state.gradcheck.passed


def test_loss_is_notebook_loss_away_from_saturation(notebook) -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        params = {"W1": rng.normal(size=(4, 3)), "b1": rng.normal(size=4),
                  "W2": rng.normal(size=(1, 4)), "b2": rng.normal(size=1)}
        x = rng.normal(size=3)
        for y in (0, 1):
            _, ours = forward(Architecture(), x, params, y)
            _, theirs = notebook.forward(x, params, y)
            assert ours == pytest.approx(theirs, abs=1e-12)


def test_headless_text_report(capsys) -> None:
    assert main(["--headless"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Initial loss: 1.17328650370891")
    assert "\nAnalytic gradient dW1 (4x3):\n [[-0.03342232  0.06684463 -0.01671116]\n" in out
    # The notebook prints "-0." where a dead unit zeroes a negative product; the report writes
    # 0 (a negative zero reads as a tiny negative value), the value still -0.0 bit for bit
    # (test_printed_numbers).
    assert " [ 0.          0.          0.        ]" in out
    assert "\nAnalytic gradient dW2 (1x4):\n [[-0.15154094 -0.25889318  0.         -0.17080231]]" in out
    assert "Max absolute difference between analytic and numerical gradients:\nW1: " in out
    for name in ("b1", "W2", "b2"):
        assert f"\n{name}: " in out
    assert "\nUpdated W1 (4x3):\n [[ 0.50005638 -0.14494876  0.64935965]" in out
    assert "\nUpdated W2 (1x4):\n [[ 0.25711637 -1.88739093 -1.72491783 -0.5452073 ]]" in out
    # The notebook prints no bias blocks; ours follow its format, with the values of its maths
    # (db = dz; b <- b - lr db): a dead unit's bias gradient is 0 and its bias does not move.
    assert "\nAnalytic gradient db1 (4,):\n [-0.16711158  1.32140969  0.          0.38834467]\n" in out
    assert "\nAnalytic gradient db2 (1,):\n [-0.69065141]\n" in out
    assert "\nUpdated b1 (4,):\n [ 0.01671116 -0.13214097  0.         -0.03883447]\n" in out
    assert "\nUpdated b2 (1,):\n [0.06906514]\n" in out
    assert "\nFinal loss after one SGD step: 0.903617723080185" in out
    assert out.rstrip().endswith("Loss decreased after the SGD update.")


def test_headless_json_is_the_stepper_trace(capsys) -> None:
    assert main(["--headless", "--format", "json", "--steps", "3"]) == 0
    trace = json.loads(capsys.readouterr().out)
    assert trace["config"]["x"] == [0.2, -0.4, 0.1] and trace["warnings"] == []
    stepper = Stepper(Config())
    states = list(stepper.iter_steps(3))
    assert [s["step"] for s in trace["steps"]] == [1, 2, 3]
    for record, state in zip(trace["steps"], states, strict=True):
        assert record["forward"]["loss"] == state.forward.loss
        assert np.shape(record["forward"]["z2"]) == (1,) and np.shape(record["update"]["b2"]) == (1,)
        for name in ("dW1", "db1", "dW2", "db2"):
            assert np.array_equal(record["backward"][name], state.backward[name])
        for name in ("W1", "b1", "W2", "b2"):
            assert np.array_equal(record["update"][name], state.update.after[name])
            check = record["gradcheck"][name]
            assert check["passed"] is True and check["max_abs_diff"] < 1e-9
            assert np.shape(check["numerical"]) == np.shape(state.params[name])
    assert trace["steps"][0]["forward"]["loss"] == pytest.approx(INITIAL_LOSS, abs=1e-12)
    assert trace["steps"][0]["update"]["loss_after"] == pytest.approx(FINAL_LOSS, abs=1e-12)


def test_headless_does_not_import_textual() -> None:
    import subprocess
    import sys

    code = ("import sys; from tui.cli.main import main; import contextlib, io\n"
            "with contextlib.redirect_stdout(io.StringIO()): main(['--headless'])\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("seed", [0, 1, 7, 1234, 2**32 - 1])
def test_json_trace_equals_the_notebook_math_on_random_configs(notebook, seed: int, capsys) -> None:
    """Random sizes, inputs, labels and learning rates, several steps, every tensor."""
    rng = np.random.default_rng(seed)
    inputs, hidden, y = int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.integers(0, 2))
    x = rng.normal(size=inputs) * float(rng.uniform(0.1, 3))
    lr = float(rng.uniform(0.01, 1.0))
    argv = ["--headless", "--format", "json", "--steps", "4", "--seed", str(seed),
            "--inputs", str(inputs), "--hidden", str(hidden), "--y", str(y), "--lr", repr(lr),
            "--x", ",".join(repr(float(v)) for v in x)]
    assert main(argv) == 0
    trace = json.loads(capsys.readouterr().out)
    rs = np.random.RandomState(seed)
    params = {"W1": rs.randn(hidden, inputs), "b1": np.zeros(hidden), "W2": rs.randn(1, hidden),
              "b2": np.zeros(1)}
    for name, value in params.items():
        np.testing.assert_array_equal(trace["initial_params"][name], value)
    for record in trace["steps"]:
        cache, loss = notebook.forward(x, params, y)
        for name in ("x", "z1", "a1", "z2", "a2"):
            np.testing.assert_allclose(record["forward"][name], cache[name], rtol=1e-12, atol=1e-14)
        assert record["forward"]["loss"] == pytest.approx(loss, rel=1e-12, abs=1e-12)
        grads = notebook.backward(x, y, params, cache)
        for name, value in grads.items():
            np.testing.assert_allclose(record["backward"][name], value, rtol=1e-12, atol=1e-14)
        notebook.sgd_update(params, grads, lr=lr)
        for name, value in params.items():
            np.testing.assert_allclose(record["update"][name], value, rtol=1e-12, atol=1e-14)
        _, loss_after = notebook.forward(x, params, y)
        assert record["update"]["loss_after"] == pytest.approx(loss_after, rel=1e-12, abs=1e-12)
