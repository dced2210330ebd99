"""--model: a user's own forward/backward, loaded from a file and stepped like the built-in.

Model files are written to tmp_path, mostly by text substitution of the seed notebook's code,
so each broken case differs from working code by exactly the fault it tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.config import Config
from engine.network import NOTEBOOK as NOTEBOOK_NET
from engine.stepper import Phase, Stepper
from engine.usermodel import ModelError, UserModel, load_model
from tests.test_stepper import snapshot
from tui.__main__ import main

PARAM_NAMES = NOTEBOOK_NET.param_names
GRAD_NAMES = tuple('d' + name for name in PARAM_NAMES)

NOTEBOOK = (Path(__file__).parent / "fixtures" / "notebook.py").read_text()
#: The notebook's functions without its import-time run_demo() call, so a contract broken
#: at run time is met by the stepper, not first by the notebook's own demo.
DEFINITIONS = NOTEBOOK.replace("\nrun_demo()", "\n")
GRADS_LINE = "    grads = {'dW1': dW1, 'db1': db1, 'dW2': dW2, 'db2': db2}"
RELU_DERIVATIVE = "    return (z > 0).astype(float)"
BROKEN_RELU_DERIVATIVE = "    return np.ones_like(z)"


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def write(tmp_path: Path, text: str, name: str = "model.py") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def json_trace(capsys: pytest.CaptureFixture[str], *argv: object) -> dict:
    status, out, err = run(capsys, "--headless", "--format", "json", *argv)
    assert status == 0, err
    return json.loads(out)


@pytest.fixture
def no_app(monkeypatch: pytest.MonkeyPatch) -> list[Stepper]:
    """StepperApp.run replaced: records the stepper it would have shown, opens nothing."""
    import tui.app

    started: list[Stepper] = []
    monkeypatch.setattr(tui.app.StepperApp, "run", lambda app, *a, **k: started.append(app.stepper))
    return started


# ---- the notebook's own code, through --model ---------------------------------------------------

def test_notebook_model_gives_the_built_in_trace(tmp_path, capsys) -> None:
    path = write(tmp_path, NOTEBOOK)  # run_demo() included: it prints at import
    theirs = json_trace(capsys, "--steps", 3, "--model", path)
    ours = json_trace(capsys, "--steps", 3)
    assert theirs["model"] == "model.py" and ours["model"] == "built-in"
    assert theirs["warnings"] == [] and theirs["config"] == ours["config"]
    close = {"rtol": 0, "atol": 1e-9}
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(theirs["initial_params"][name], ours["initial_params"][name])
    for mine, builtin in zip(theirs["steps"], ours["steps"], strict=True):
        for name in ("x", "z1", "a1", "z2", "a2", "loss"):
            np.testing.assert_allclose(mine["forward"][name], builtin["forward"][name], **close)
        assert set(mine["backward"]) == set(GRAD_NAMES)
        for name in GRAD_NAMES:
            np.testing.assert_allclose(mine["backward"][name], builtin["backward"][name], **close)
        assert mine["gradcheck"]["method"] == "loop" and builtin["gradcheck"]["method"] == "fast"
        assert mine["gradcheck"]["passed"] is True
        for name in PARAM_NAMES:
            np.testing.assert_allclose(mine["gradcheck"][name]["numerical"],
                                       builtin["gradcheck"][name]["numerical"], **close)
        for name in (*PARAM_NAMES, "loss_after"):
            np.testing.assert_allclose(mine["update"][name], builtin["update"][name], **close)


def test_import_output_goes_to_stderr_never_stdout(tmp_path, capsys) -> None:
    path = write(tmp_path, NOTEBOOK)
    status, out, err = run(capsys, "--headless", "--model", path)
    assert status == 0
    assert out.startswith("Model: model.py (gradients keyed 'd' + name, as grads['dW1'])\n"
                          "Initial loss: 1.17328650370891")
    assert out.count("Initial loss:") == 1
    assert "model.py printed while being imported:\n  | Initial loss: 1.1732865037089109" in err
    status, out, err = run(capsys, "--headless", "--format", "json", "--model", path)
    assert "Initial loss" not in out and "Initial loss" in err


def test_broken_relu_derivative_is_flagged_on_w1_and_b1_only(tmp_path, capsys) -> None:
    path = write(tmp_path, edit(NOTEBOOK, RELU_DERIVATIVE, BROKEN_RELU_DERIVATIVE), "broken.py")
    trace = json_trace(capsys, "--model", path)
    check = trace["steps"][0]["gradcheck"]
    assert check["passed"] is False
    assert {name: check[name]["passed"] for name in PARAM_NAMES} == \
        {"W1": False, "b1": False, "W2": True, "b2": True}
    status, out, _ = run(capsys, "--headless", "--model", path)
    assert status == 0
    assert "Gradient check FAILED on W1, b1 (loop method" in out


# ---- broken model files: exit 2, a clear message, nothing on stdout -----------------------------

def _raising_backward() -> str:
    return edit(DEFINITIONS, "    x = cache['x']\n", "    x = cache['x']\n    scale = 1 / 0\n")


BROKEN: dict[str, tuple[str | None, str]] = {
    # name: (file text, or None for no file; text the message must contain)
    "missing file": (None, "no such Python model file: "),
    "syntax error": ("import numpy as np\n\ndef forward(x, params, y=None:\n    pass\n",
                     "model.py, line 3: syntax error"),
    "sys.exit on import": ("import sys\nprint('bye')\nsys.exit(3)\n",
                           "model.py called sys.exit(3) while being imported"),
    "exit() on import": ("exit()\n", "model.py called exit() or sys.exit() while being imported"),
    "raises on import": ("def load():\n    raise RuntimeError('no GPU here')\n\nload()\n",
                         "model.py failed while being imported: RuntimeError: no GPU here "
                         "(line 2, in load)"),
    "no backward": (edit(DEFINITIONS, "def backward(", "def backprop("),
                    "model.py defines no backward(x, y, params, cache) function"),
    "backward signature": (edit(DEFINITIONS, "def backward(x, y, params, cache):",
                                "def backward(x, y, params):"),
                           "model.py: backward(x, y, params) cannot be called as "
                           "backward(x, y, params, cache): too many positional arguments"),
    "backward argument order": (edit(DEFINITIONS, "def backward(x, y, params, cache):",
                                     "def backward(params, cache, x, y):"),
                                "model.py: backward(params, cache, x, y) takes its arguments in "
                                "another order; the stepper calls backward(x, y, params, cache)"),
    "missing gradient key": (edit(DEFINITIONS, GRADS_LINE, GRADS_LINE.replace(", 'db2': db2", "")),
                             "model.py: backward returned no db2; expected exactly dW1, db1, dW2, db2"),
    "extra gradient key": (edit(DEFINITIONS, GRADS_LINE, GRADS_LINE.replace("}", ", 'dz1': dz1}")),
                           "model.py: backward returned unexpected key(s) 'dz1'; expected exactly "
                           "dW1, db1, dW2, db2"),
    "wrong shape": (edit(DEFINITIONS, GRADS_LINE, GRADS_LINE.replace("'dW1': dW1", "'dW1': dW1.T")),
                    "model.py: backward returned dW1 of shape (3, 4); expected (4, 3), the shape of W1"),
    "non-finite gradient": (edit(DEFINITIONS, GRADS_LINE, GRADS_LINE.replace("'db1': db1",
                                                                             "'db1': db1 / 0")),
                            "model.py: backward returned a non-finite db1 (4 of 4 element(s) NaN or "
                            "inf) although x, params and cache are finite"),
    "exception in backward": (_raising_backward(),
                              "model.py: backward raised ZeroDivisionError: division by zero "
                              "(line 54, in backward)"),
    "forward returns a bare cache": (edit(DEFINITIONS, "    return cache, loss", "    return cache"),
                                     "model.py: forward(x, params, y) returned a dict; when y is "
                                     "given it must return (cache, loss)"),
    "loss is not a scalar": (edit(DEFINITIONS, "    return cache, loss", "    return cache, a2 * [1, 1]"),
                             "model.py: forward's loss must be a real number, got an array of "
                             "shape (2,) (float64)"),
}


@pytest.mark.parametrize("headless", [True, False], ids=["headless", "app"])
@pytest.mark.parametrize("case", BROKEN)
def test_broken_model_exits_2_with_a_clear_message(tmp_path, capsys, no_app, case, headless) -> None:
    text, expected = BROKEN[case]
    path = tmp_path / "model.py" if text is None else write(tmp_path, text)
    status, out, err = run(capsys, *(["--headless"] if headless else []), "--model", path)
    assert status == 2 and no_app == []
    assert out == ""
    last = err.rstrip().splitlines()[-1]  # the message comes last, where the eye lands
    assert last.startswith("backprop-stepper: error: ") and expected in last
    assert "Traceback" not in err and "usermodel.py" not in err and "stepper.py" not in err
    ours = [line for line in err.splitlines() if not line.startswith("  ")]
    assert len(ours) <= 3, err


def test_directory_is_not_a_model(tmp_path, capsys, no_app) -> None:
    for extra in (["--headless"], []):
        status, out, err = run(capsys, *extra, "--model", tmp_path)
        assert (status, out, no_app) == (2, "", [])
        assert f"{tmp_path} is a directory, not a Python model file" in err and "Traceback" not in err


def test_exception_in_backward_shows_the_users_own_lines(tmp_path, capsys) -> None:
    path = write(tmp_path, _raising_backward())
    status, _, err = run(capsys, "--headless", "--model", path)
    assert status == 2
    assert f'  File "{path}", line 54, in backward\n    scale = 1 / 0' in err
    assert err.count('  File "') == 1  # the user's frame only, none of the stepper's


def test_output_before_a_failure_is_shown_on_stderr(tmp_path, capsys) -> None:
    text = edit(_raising_backward(), "    scale = 1 / 0", "    print('dz2 is next')\n    scale = 1 / 0")
    for extra in (["--headless"], []):
        status, out, err = run(capsys, *extra, "--model", write(tmp_path, text))
        assert status == 2 and out == ""
        assert "model.py printed in backward:\n  | dz2 is next\n" in err


def test_model_and_inject_bug_together_are_a_usage_error(tmp_path, capsys) -> None:
    path = write(tmp_path, DEFINITIONS)
    status, out, err = run(capsys, "--headless", "--model", path, "--inject-bug", "sign")
    assert (status, out) == (2, "")
    assert "--model and --inject-bug cannot be used together" in err
    config = tmp_path / "run.toml"
    config.write_text('inject-bug = "sign"\n')
    status, out, err = run(capsys, "--headless", "--config", config, "--model", path)
    assert (status, out) == (2, "") and "--model and --inject-bug" in err


def test_a_toml_file_cannot_name_a_model(tmp_path, capsys) -> None:
    """A settings file must not run code the command line never named."""
    write(tmp_path, "raise SystemExit('ran')\n", "mine.py")
    config = tmp_path / "run.toml"
    for value in ('"mine.py"', "3"):
        config.write_text(f"model = {value}\n")
        status, out, err = run(capsys, "--headless", "--config", config)
        assert (status, out) == (2, "") and "pass --model FILE on the command line" in err


def test_app_path_loads_the_model_before_the_app(tmp_path, capsys, no_app) -> None:
    path = write(tmp_path, edit(NOTEBOOK, "    z1 = W1.dot(x) + b1\n",
                                "    z1 = W1.dot(x) + b1\n    print('forward ran')\n"))
    status, out, err = run(capsys, "--model", path)
    assert (status, out, err) == (0, "", "")
    [stepper] = no_app
    assert isinstance(stepper.model, UserModel)
    assert stepper.model.import_output.startswith("forward ran\nInitial loss: 1.17328650370891")
    # The rehearsal before the app ran forward, but the app's log starts with the import.
    assert [c.source for c in stepper.model.log] == ["import"]
    assert stepper.state is stepper.initial and stepper.depth == 0


# ---- the engine: UserModel and the stepper ------------------------------------------------------

IN_PLACE_UPDATE = """
def sgd_update(params, grads, lr):
    for name in ('W1', 'b1', 'W2', 'b2'):
        params[name] -= lr * grads['d' + name]
"""
RETURNING_UPDATE = """
def sgd_update(params, grads, lr):
    return {name: params[name] - lr * grads['d' + name] for name in ('W1', 'b1', 'W2', 'b2')}
"""
NO_UPDATE = edit(DEFINITIONS, "def sgd_update(", "def notebook_sgd_update(")


@pytest.mark.parametrize("text", [DEFINITIONS, NO_UPDATE + IN_PLACE_UPDATE, NO_UPDATE + RETURNING_UPDATE,
                                  NO_UPDATE], ids=["notebook", "in-place", "returning", "none"])
def test_every_update_style_steps_like_the_built_in(tmp_path, text) -> None:
    model = load_model(write(tmp_path, text))
    assert model.own_update is (text is not NO_UPDATE)
    stepper, builtin = Stepper(Config(), model=model), Stepper(Config())
    for _ in range(3):
        before = snapshot(stepper.state)
        stepper.run_steps(1)
        builtin.run_steps(1)
        for name in PARAM_NAMES:
            np.testing.assert_allclose(stepper.state.params[name], builtin.state.params[name],
                                       rtol=0, atol=1e-12)
            assert not stepper.state.params[name].flags.writeable
        after = snapshot(stepper.state)
        for _ in range(4):
            stepper.back()
        assert snapshot(stepper.state) == before  # the user's update touched no stored array
        stepper.run_steps(1)
        assert snapshot(stepper.state) == after


def test_a_model_error_leaves_the_stepper_state_untouched(tmp_path) -> None:
    text = edit(DEFINITIONS, GRADS_LINE, GRADS_LINE + "\n    CALLS.append(1)\n"
                "    if len(CALLS) > 1:\n        grads = {}") + "\nCALLS = []\n"
    stepper = Stepper(Config(), model=load_model(write(tmp_path, text)))
    stepper.run_steps(1)  # the first backward is fine, every later one returns {}
    assert stepper.next() is Phase.FORWARD
    before, depth = snapshot(stepper.state), stepper.depth
    with pytest.raises(ModelError, match="backward returned no dW1, db1, dW2, db2"):
        stepper.next()
    with pytest.raises(ModelError):
        stepper.compute()
    assert snapshot(stepper.state) == before and stepper.depth == depth
    assert stepper.next_phase is Phase.BACKWARD


def test_printing_is_captured_into_the_log_and_the_callback(tmp_path, capsys) -> None:
    text = edit(DEFINITIONS, "    dz2 = (a2 - y)", "    print('backward sees', y)\n    dz2 = (a2 - y)")
    model = load_model(write(tmp_path, "print('loading')\n" + text))
    seen = []
    model.on_output = seen.append
    stepper = Stepper(Config(), model=model)
    stepper.next()
    stepper.next()
    assert capsys.readouterr() == ("", "")
    assert model.import_output == "loading\n"
    assert [(c.source, c.text) for c in model.log] == [("import", "loading\n"),
                                                        ("backward", "backward sees 1\n")]
    assert seen == [model.log[1]]


def test_input_in_user_code_fails_instead_of_blocking(tmp_path) -> None:
    model = load_model(write(tmp_path, edit(DEFINITIONS, "    x = cache['x']\n",
                                            "    x = cache['x']\n    input('continue? ')\n")))
    stepper = Stepper(Config(), model=model)
    stepper.next()
    with pytest.raises(ModelError, match="backward raised EOFError") as raised:
        stepper.next()
    assert "input('continue? ')" in raised.value.user_traceback
    assert raised.value.message == str(raised.value)


def test_one_element_loss_is_accepted(tmp_path) -> None:
    text = edit(DEFINITIONS, "    return cache, loss", "    return cache, np.array([loss])")
    stepper = Stepper(Config(), model=load_model(write(tmp_path, text)))
    stepper.next()
    assert stepper.state.forward is not None
    assert stepper.state.forward.loss == pytest.approx(1.1732865037089109, abs=1e-15)


def test_a_diverging_run_is_shown_not_called_a_contract_violation(tmp_path, capsys) -> None:
    path = write(tmp_path, DEFINITIONS)
    theirs = json_trace(capsys, "--model", path, "--lr", "1e308", "--steps", 2)
    ours = json_trace(capsys, "--lr", "1e308", "--steps", 2)
    assert theirs["warnings"] and ours["warnings"]
    assert theirs["steps"][0]["update"]["W1"] == ours["steps"][0]["update"]["W1"]
