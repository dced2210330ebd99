"""--model: a user's own forward/backward, loaded from a file and stepped like the built-in.

Model files are written to tmp_path, mostly by text substitution of the seed notebook's code,
so each broken case differs from working code by exactly the fault it tests.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from engine.maths.network import NOTEBOOK as NOTEBOOK_NET
from engine.maths.slopes import central_difference
from engine.run.stepper import Phase, Stepper
from engine.settings.config import Config
from engine.usermodel.client import ModelError, UserModel, load_model
from engine.usermodel.contract import RESERVED_NAMES, Contract, load_source
from tests.helpers import DEFINITIONS, GRADS_LINE, NO_UPDATE, NOTEBOOK, THREE_LAYER_PATH, edit, snapshot
from tests.helpers import run_main as run
from tests.helpers import write_model as write
from tui.output.report import json_report

pytestmark = pytest.mark.slow  # starts a user's model process in most tests (-m 'not slow' leaves it out)

PARAM_NAMES = NOTEBOOK_NET.param_names
GRAD_NAMES = tuple('d' + name for name in PARAM_NAMES)

RELU_DERIVATIVE = "    return (z > 0).astype(float)"
BROKEN_RELU_DERIVATIVE = "    return np.ones_like(z)"


def json_trace(capsys: pytest.CaptureFixture[str], *argv: object, status: int = 0) -> dict:
    """The run's JSON trace; its exit status must be `status` (1: a check fails or it diverges)."""
    got, out, err = run(capsys, "--headless", "--format", "json", *argv)
    assert got == status, err
    return json.loads(out)


@pytest.fixture
def no_app(monkeypatch: pytest.MonkeyPatch) -> list[Stepper]:
    """StepperApp.run replaced: records the stepper it would have shown, opens nothing."""
    import tui.app.app

    started: list[Stepper] = []
    monkeypatch.setattr(tui.app.app.StepperApp, "run", lambda app, *a, **k: started.append(app.stepper))
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
    path = write(tmp_path, NOTEBOOK)  # its run_demo() at import runs with --run-module only
    status, out, err = run(capsys, "--headless", "--model", path, "--run-module")
    assert status == 0
    assert out.startswith("Model: model.py (gradients keyed 'd' + name, as grads['dW1'])\n"
                          "Initial loss: 1.17328650370891")
    assert out.count("Initial loss:") == 1
    assert "model.py printed while being imported:\n  | Initial loss: 1.1732865037089109" in err
    status, out, err = run(capsys, "--headless", "--format", "json", "--model", path, "--run-module")
    assert "Initial loss" not in out and "Initial loss" in err


def test_broken_relu_derivative_is_flagged_on_w1_and_b1_only(tmp_path, capsys) -> None:
    path = write(tmp_path, edit(NOTEBOOK, RELU_DERIVATIVE, BROKEN_RELU_DERIVATIVE), "broken.py")
    trace = json_trace(capsys, "--model", path, status=1)
    check = trace["steps"][0]["gradcheck"]
    assert check["passed"] is False
    assert {name: check[name]["passed"] for name in PARAM_NAMES} == \
        {"W1": False, "b1": False, "W2": True, "b2": True}
    status, out, _ = run(capsys, "--headless", "--model", path)
    assert status == 1
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
                            "inf, the first db1[0] = -inf) although x, params and cache are finite"),
    "non-finite gradients, the first returned named": (  # in the file's order, not the parameters'
        edit(DEFINITIONS, GRADS_LINE, "    grads = {'db2': db2, 'dW2': dW2 * np.array([[1, np.nan, 1, 1]]), "
             "'db1': db1 / 0, 'dW1': dW1}"),
        "model.py: backward returned a non-finite dW2 (1 of 4 element(s) NaN or inf, the first dW2[0,1] = "
        "nan) although x, params and cache are finite"),
    "exception in backward": (_raising_backward(),
                              "model.py: backward raised ZeroDivisionError: division by zero "
                              "(line 54, in backward)"),
    "forward returns a bare cache": (edit(DEFINITIONS, "    return cache, loss", "    return cache"),
                                     "model.py: forward(x, params, y) returned a dict; when y is "
                                     "given it must return (cache, loss)"),
    "init_params non-finite": (DEFINITIONS + "\ndef init_params(seed):\n    print('making W')\n"
                               "    return {'W': np.array([1.0, np.nan])}\n",
                               "model.py: init_params returned a non-finite W (1 of 2 element(s) NaN "
                               "or inf, the first W[1] = nan)"),
    "init_params raises": (DEFINITIONS + "\ndef init_params(seed):\n"
                           "    return {'W': np.ones(2) @ np.ones(3)}\n",
                           "model.py: init_params raised ValueError: matmul"),
    "init_params signature": (DEFINITIONS + "\ndef init_params():\n    return {}\n",
                              "model.py: init_params() cannot be called as init_params(seed)"),
    "loss is not a scalar": (edit(DEFINITIONS, "    return cache, loss", "    return cache, a2 * [1, 1]"),
                             "model.py: forward's loss must be a real number, got an array of "
                             "shape (2,) (float64)"),
}


@pytest.mark.parametrize("headless", [True, False], ids=["headless", "app"])
@pytest.mark.parametrize("case", BROKEN)
def test_broken_model_exits_2_with_a_clear_message(tmp_path, capsys, no_app, case, headless) -> None:
    text, expected = BROKEN[case]
    path = tmp_path / "model.py" if text is None else write(tmp_path, text)
    whole = ["--run-module"] if case.endswith("on import") else []  # a call at import runs with it only
    status, out, err = run(capsys, *(["--headless"] if headless else []), "--model", path, *whole)
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


def test_output_of_a_failing_init_params_is_shown_on_stderr(tmp_path, capsys, no_app) -> None:
    text, _ = BROKEN["init_params non-finite"]
    for extra in (["--headless"], []):
        status, out, err = run(capsys, *extra, "--model", write(tmp_path, text))
        assert (status, out, no_app) == (2, "", [])
        assert "model.py printed in init_params:\n  | making W\n" in err


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
    status, out, err = run(capsys, "--model", path, "--run-module")  # run_demo() at import too
    assert (status, out, err) == (0, "", "")
    [stepper] = no_app
    assert isinstance(stepper.model, UserModel)
    assert stepper.model.import_output.startswith("forward ran\nInitial loss: 1.17328650370891")
    # The rehearsal before the app ran forward, but the app's log starts with the import.
    assert [c.source for c in stepper.model.log] == ["import"]
    assert stepper.state is stepper.initial and stepper.history_length == 0


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
    before, kept = snapshot(stepper.state), stepper.history_length
    with pytest.raises(ModelError, match="backward returned no dW1, db1, dW2, db2"):
        stepper.next()
    with pytest.raises(ModelError):
        stepper.compute()
    assert snapshot(stepper.state) == before and stepper.history_length == kept
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
    theirs = json_trace(capsys, "--model", path, "--lr", "1e308", "--steps", 2, status=1)
    ours = json_trace(capsys, "--lr", "1e308", "--steps", 2, status=1)
    assert theirs["warnings"] and ours["warnings"]
    assert theirs["steps"][0]["update"]["W1"] == ours["steps"][0]["update"]["W1"]


#: The notebook's functions with the loss not clipped, as deeplearning.ai's compute_cost writes
#: it: once the output saturates (a2 exactly 1.0), (1 - y) log(1 - a2) is 0 · -inf = NaN.
UNCLIPPED = edit(DEFINITIONS, "a2_clip = np.clip(a2, eps, 1 - eps)", "a2_clip = a2")


def test_a_non_finite_loss_breaks_the_contract_only_at_the_parameters_a_run_starts_from() -> None:
    """At the first parameters forward is called with (a run's initial ones) a NaN loss from
    finite inputs is the file's fault; at parameters training moved it to, it is the run
    diverging, returned for the stepper to show."""
    stepper = Stepper(Config())
    x, y, started = stepper.x, stepper.config.y, stepper.initial.params
    saturated = {**started, "b2": np.array([1e3])}
    with pytest.raises(ModelError, match=r"non-finite loss \(nan\) although x and params are finite"):
        contract(UNCLIPPED).forward(x, saturated, y)
    trained = contract(UNCLIPPED)
    assert np.isfinite(trained.forward(x, started, y)[1])
    assert np.isnan(trained.forward(x, saturated, y)[1])


def test_a_loss_that_overflows_once_trained_is_a_divergence_exit_1(tmp_path, capsys) -> None:
    trace = json_trace(capsys, "--model", write(tmp_path, UNCLIPPED), "--lr", "1e4", "--steps", 3,
                       status=1)
    assert trace["steps"][0]["update"]["loss_after"] is None  # NaN, as JSON writes it
    assert any("diverged" in warning.lower() for warning in trace["warnings"]), trace["warnings"]


# ---- your own model, any shape: init_params and the two gradient-key conventions --------------
#
# The contract's checks run in-process here (engine.usermodel.contract.load_source, no model process), so
# the many edge cases cost microseconds; the model process and the report are tested after.

THREE_LAYER = THREE_LAYER_PATH.read_text()
THREE_NAMES = ("Wi", "bi", "Wh", "bh", "Wo", "bo")
THREE_SHAPES = {"Wi": [4, 3], "bi": [4], "Wh": [4, 4], "bh": [4], "Wo": [1, 4], "bo": [1]}


def contract(text: str, name: str = "model.py") -> Contract:
    return load_source(Path(name), text.encode())


def with_init(body: str) -> Contract:
    """The notebook's functions with an init_params(seed) returning `body`."""
    return contract(DEFINITIONS + f"\n\ndef init_params(seed):\n    return {body}\n")


BAD_INIT: dict[str, tuple[str, str]] = {
    # name: (what init_params returns, text the message must contain)
    "not a dict": ("[np.ones(2)]", "init_params(seed) must return a dict of parameter arrays, got a list"),
    "None": ("None", "init_params(seed) must return a dict of parameter arrays, got None"),
    "empty dict": ("{}", "init_params(seed) must return a dict of parameter arrays, got an empty dict"),
    "int name": ("{1: np.ones(2)}", "parameter names must be non-empty printable strings, got 1"),
    "empty name": ("{'': np.ones(2)}", "parameter names must be non-empty printable strings, got ''"),
    "control character": ("{'W\\x1b[2J': np.ones(2)}", "non-empty printable strings, got 'W\\x1b[2J'"),
    "reserved name": ("{'W': np.ones(2), 'eps': np.ones(1)}",
                      "init_params's parameter name 'eps' is one the JSON trace uses"),
    "bool array": ("{'W': np.ones(2, dtype=bool)}",
                   "init_params returned W as an array of shape (2,) (bool); it must hold real numbers"),
    "complex array": ("{'W': np.ones(2) * 1j}", "init_params returned W as an array of shape (2,) "
                      "(complex128); it must hold real numbers"),
    "strings": ("{'W': 'ones'}", "init_params returned W as an array of shape () (<U4)"),
    "ragged list": ("{'W': [[1.0], [1.0, 2.0]]}", "init_params returned W that is not an array of numbers"),
    "NaN": ("{'W': np.array([1.0, np.nan]), 'b': np.zeros(1)}",
            "init_params returned a non-finite W (1 of 2 element(s) NaN or inf, the first W[1] = "
            "nan)"),
    "beyond float64": ("{'W': np.full(2, np.finfo(np.longdouble).max)}",
                       "init_params returned a non-finite W (2 of 2 element(s) NaN or inf, the first "
                       "W[0] = inf)"),
    "no elements": ("{'W': np.ones((0, 3))}", "init_params returned W of shape (0, 3); a parameter "
                    "needs at least one element"),
    "huge": ("{'W': np.zeros(10_000_001, dtype=np.int8)}",
             "init_params returned 10,000,001 parameters; at most 10,000,000 fit in memory"),
    "raises": ("{'W': np.ones(2) @ np.ones(3)}", "init_params raised ValueError: matmul"),
}


@pytest.mark.parametrize("case", BAD_INIT)
def test_a_broken_init_params_is_named(case: str) -> None:
    body, expected = BAD_INIT[case]
    model = with_init(body)
    if case == "beyond float64" and np.finfo(np.longdouble).max <= np.finfo(np.float64).max:
        pytest.skip("long double is float64 here")
    with pytest.raises(ModelError) as raised:
        model.init_params(42)
    assert raised.value.message.startswith("model.py: ")
    assert expected in raised.value.message, raised.value.message


def test_init_params_numbers_become_float64_arrays_of_their_own_shapes() -> None:
    model = with_init("{'W': np.arange(6).reshape(2, 3), 'h': np.ones(2, np.float32) / 3, "
                      "'t': 2, 'rows': [[1, 2]], 'k': np.ones((2, 1, 3))}")
    params = model.init_params(0)
    assert params is not None
    assert {name: value.shape for name, value in params.items()} == \
        {"W": (2, 3), "h": (2,), "t": (), "rows": (1, 2), "k": (2, 1, 3)}
    assert all(type(value) is np.ndarray and value.dtype == np.float64 for value in params.values())
    np.testing.assert_array_equal(params["W"], np.arange(6.0).reshape(2, 3))
    assert params["h"][0] == np.float32(1) / np.float32(3)  # widened, not recomputed
    assert contract(DEFINITIONS).init_params(0) is None  # none: the stepper uses the flags'


def test_init_params_gets_the_seed_and_a_signature_that_cannot_take_it_is_a_load_error() -> None:
    params = with_init("{'W': np.full(1, float(seed))}").init_params(7)
    assert params is not None and params["W"][0] == 7.0
    for signature, words in [("()", "init_params() cannot be called as init_params(seed)"),
                             ("(seed, scale)", "init_params(seed, scale) cannot be called as "
                                               "init_params(seed)")]:
        with pytest.raises(ModelError, match=re.escape(words)):
            contract(DEFINITIONS + f"\ndef init_params{signature}:\n    return {{}}\n")
    assert with_init("{'W': np.ones(1)}").own_init


#: A model whose parameter names start with 'd', one of them 'd' + another: under the 'd'
#: convention the gradient of 'ense' is keyed 'dense', the name of the other parameter.
#: backward's keys follow MODE[0]; each gradient is its parameter times 10, so a gradient
#: filed under the wrong parameter shows.
KEYED = """
import numpy as np
MODE = ['d']

def init_params(seed):
    return {'dense': np.full((2, 2), 1.0), 'ense': np.full(3, 2.0)}

def forward(x, params, y=None):
    cache = {'z': params['dense'].sum() + params['ense'].sum()}
    return cache, float(cache['z'])

def backward(x, y, params, cache):
    g = {name: value * 10 for name, value in params.items()}
    mode = MODE[0]
    if mode == 'd':
        return {'d' + name: value for name, value in g.items()}
    if mode == 'name':
        return g
    if mode == 'both':
        return g | {'ddense': g['dense']}
    if mode == 'neither':
        return {'grad_' + name: value for name, value in g.items()}
    if mode == 'extra':
        return g | {'lr': 0.1}
    if mode == 'missing':
        return {'dense': g['dense']}
    if mode == 'wrong shape':
        return {'dense': g['dense'], 'ense': g['dense']}
    return {}

def sgd_update(params, grads, lr):
    for name in params:
        params[name] -= lr * grads[name if MODE[0] == 'name' else 'd' + name]
"""


def keyed(mode: str) -> Contract:
    model = contract(KEYED)
    model._backward.__globals__["MODE"][0] = mode
    return model


def backward_of(model: Contract, keys: str | None = None) -> dict[str, np.ndarray]:
    params = model.init_params(0)
    assert params is not None
    cache, _ = model.forward(np.zeros(3), params, 1)
    return model.backward(np.zeros(3), 1, params, cache, keys)


@pytest.mark.parametrize("mode", ["d", "name"])
def test_either_convention_is_found_even_when_names_start_with_d(mode: str) -> None:
    model = keyed(mode)
    grads = backward_of(model)
    assert model.gradient_keys == mode
    assert list(grads) == ["ddense", "dense"]  # the stepper's: 'd' + name, whatever the file's
    np.testing.assert_array_equal(grads["ddense"], np.full((2, 2), 10.0))
    np.testing.assert_array_equal(grads["dense"], np.full(3, 20.0))  # ense's, not dense's


@pytest.mark.parametrize(("mode", "expected"), [
    ("both", "backward returned gradients keyed both ways, 'ddense' ('d' + name) and 'ense' (by "
             "name); key them one way: keys ddense, dense or keys dense, ense"),
    ("neither", "backward returned 'grad_dense', 'grad_ense'; expected keys ddense, dense or keys "
                "dense, ense"),
    ("empty", "backward returned an empty dict; expected keys ddense, dense or keys dense, ense"),
    ("extra", "backward returned unexpected key(s) 'lr'; expected exactly dense, ense"),
    ("missing", "backward returned no ddense; expected exactly ddense, dense"),
    ("wrong shape", "backward returned ense of shape (2, 2); expected (3,), the shape of ense"),
])
def test_gradient_keys_of_neither_or_both_conventions_are_named(mode: str, expected: str) -> None:
    model = keyed(mode)
    with pytest.raises(ModelError) as raised:
        backward_of(model)
    assert raised.value.message == "model.py: " + expected
    assert model.gradient_keys is None  # a broken dict decides nothing


def test_a_switch_of_convention_is_refused_even_in_a_fresh_process() -> None:
    model = keyed("d")
    backward_of(model)
    model._backward.__globals__["MODE"][0] = "name"
    switch = ("model.py: backward keyed its gradients 'd' + name, as grads['ddense'], before, "
              "and by name, as grads['dense'], now; key them one way")
    with pytest.raises(ModelError, match=re.escape(switch)):
        backward_of(model)
    # A restarted process has seen no backward: the stepper's side sends what it saw.
    with pytest.raises(ModelError, match=re.escape(switch)):
        backward_of(keyed("name"), keys="d")
    missing = keyed("missing")
    with pytest.raises(ModelError, match=re.escape("backward returned no ense; expected exactly "
                                                   "dense, ense")):
        backward_of(missing, keys="name")  # judged by the convention seen, not the closer one


@pytest.mark.parametrize("mode", ["d", "name"])
def test_sgd_update_gets_the_gradients_keyed_as_its_backward_keys_them(mode: str) -> None:
    model = keyed(mode)
    params = model.init_params(0)
    assert params is not None
    grads = backward_of(model)
    after = model.update(params, grads, 0.5, model.gradient_keys)
    np.testing.assert_array_equal(after["dense"], np.full((2, 2), 1.0 - 5.0))
    np.testing.assert_array_equal(after["ense"], np.full(3, 2.0 - 10.0))
    other = "name" if mode == "d" else "d"  # under the other keys, its gradients are not where it looks
    with pytest.raises(ModelError, match=r"sgd_update raised (KeyError|ValueError)"):
        model.update(params, grads, 0.5, other)


# ---- the three-layer fixture: names of its own, its own init, gradients keyed by name ----------

HEAD_KEYS = ["config", "model", "gradient_keys", "own_init_params", "gradcheck_rule", "param_shapes",
             "initial_params", "steps", "warnings"]


def test_three_layer_steps_headless_with_its_own_names_and_shapes(tmp_path, capsys) -> None:
    status, out, err = run(capsys, "--headless", "--steps", 3, "--model", THREE_LAYER_PATH)
    assert (status, err) == (0, "")
    assert out.startswith("Model: three_layer.py (its own init_params; gradients keyed by name, "
                          "as grads['Wi'])\n=== Step 1 ===\nInitial loss: 0.6324541308338669\n")
    for label in ("Analytic gradient dWi (4x3)", "Analytic gradient dWh (4x4)",
                  "Analytic gradient dbo (1,)", "Updated Wo (1x4)", "Updated bh (4,)"):
        assert out.count(label) == 3, label
    assert out.count("Gradient check passed (loop method") == 3
    assert "W1" not in out and "Diverged" not in out

    trace = json_trace(capsys, "--steps", 3, "--model", THREE_LAYER_PATH)
    assert list(trace) == HEAD_KEYS
    assert (trace["model"], trace["gradient_keys"], trace["own_init_params"]) == \
        ("three_layer.py", "name", True)
    assert trace["param_shapes"] == THREE_SHAPES and trace["warnings"] == []
    assert {name: list(np.shape(value)) for name, value in trace["initial_params"].items()} == THREE_SHAPES
    losses, before = [], trace["initial_params"]
    for step in trace["steps"]:
        assert list(step["backward"]) == ["d" + name for name in THREE_NAMES]
        assert [np.shape(step["backward"]["d" + name]) for name in THREE_NAMES] == \
            [tuple(shape) for shape in THREE_SHAPES.values()]
        check = step["gradcheck"]
        assert (check["method"], check["passed"]) == ("loop", True)
        assert [name for name in check if name in THREE_SHAPES] == list(THREE_NAMES)
        assert set(step["update"]) == {*THREE_NAMES, "loss_after"}
        # Its own sgd_update, fed grads['Wi'], made W - lr dW.
        for name in THREE_NAMES:
            np.testing.assert_allclose(step["update"][name], np.subtract(
                before[name], 0.1 * np.asarray(step["backward"]["d" + name])), rtol=0, atol=1e-15)
        losses.append(step["forward"]["loss"])
        before = step["update"]
    assert losses == sorted(losses, reverse=True) and losses[0] > losses[-1]


HIDDEN_RELU = "    dzh = dah * relu_grad(cache['zh'])"
INPUT_RELU = "    dzi = dai * relu_grad(cache['zi'])"
BROKEN_THREE_LAYER = {
    # name: (old line, new line, the tensors the check must flag: exactly those)
    "hidden ReLU derivative": (HIDDEN_RELU, "    dzh = dah", {"Wh", "bh", "Wi", "bi"}),
    "input ReLU derivative": (INPUT_RELU, "    dzi = dai", {"Wi", "bi"}),
    "bo's gradient forgotten": ("    grads['bo'] = dzo", "    grads['bo'] = np.zeros(1)", {"bo"}),
    "Wh's gradient transposed": ("    grads['Wh'] = np.outer(dzh, cache['ai'])",
                                 "    grads['Wh'] = np.outer(dzh, cache['ai']).T", {"Wh"}),
}


@pytest.mark.parametrize("case", BROKEN_THREE_LAYER)
def test_a_broken_three_layer_is_flagged_on_exactly_the_tensors_it_breaks(tmp_path, case) -> None:
    old, new, broken = BROKEN_THREE_LAYER[case]
    model = load_model(write(tmp_path, edit(THREE_LAYER, old, new), "three_layer.py"))
    stepper = Stepper(Config(), model=model)
    for _ in range(3):  # forward, backward, gradient check
        stepper.next()
    check = stepper.state.gradcheck
    assert check is not None and check.method == "loop"
    assert set(check.failed_names) == broken
    assert not check.unresolved_names and not check.passed


def test_three_layer_gradient_omitted_is_a_contract_error_naming_it(tmp_path, capsys) -> None:
    path = write(tmp_path, edit(THREE_LAYER, "    grads['bo'] = dzo\n", ""), "three_layer.py")
    status, out, err = run(capsys, "--headless", "--model", path)
    assert (status, out) == (2, "")
    assert err.rstrip().endswith("three_layer.py: backward returned no bo; expected exactly "
                                 "Wi, bi, Wh, bh, Wo, bo")


def test_the_kink_rule_watches_the_hidden_pre_activations_not_the_output_logit() -> None:
    """Its cache is x, zi, ai, zh, ah, zo, ao: kinks are where zi or zh changes sign; zo is the
    sigmoid's logit, smooth through 0."""
    model = contract(THREE_LAYER, "three_layer.py")
    params = model.init_params(42)
    assert params is not None
    x = np.array(Config().resolved().x)
    cache, _ = model.forward(x, params, 1)
    sides = model.kink_sides(cache)
    assert len(sides) == 2
    np.testing.assert_array_equal(sides[0], cache["zi"] > 0)
    np.testing.assert_array_equal(sides[1], cache["zh"] > 0)
    work = {name: value.copy() for name, value in params.items()}
    zo, zi3 = cache["zo"][0], cache["zi"][3]
    assert 0 < zo < 0.2 and -0.4 < zi3 < 0  # so a nudge of 0.5 crosses 0 in both
    # bo moves zo alone, across 0: no kink. bi[3] moves zi[3] across 0: a kink.
    assert central_difference(model, work, "bo", (0,), x, 1, 0.5)[1] is False
    assert central_difference(model, work, "bi", (3,), x, 1, 0.5)[1] is True
    assert central_difference(model, work, "bi", (3,), x, 1, 1e-5)[1] is False


def test_a_large_eps_leaves_out_kinks_below_the_output_only(tmp_path, capsys) -> None:
    trace = json_trace(capsys, "--eps", 0.5, "--model", THREE_LAYER_PATH)
    check = trace["steps"][0]["gradcheck"]
    kinks = {name: check[name]["kinks"] for name in THREE_NAMES}
    assert kinks["Wi"] > 0 and kinks["bi"] > 0
    assert kinks["Wo"] == kinks["bo"] == 0  # they move only zo, which crosses 0 at this eps


def test_a_restart_between_backward_and_update_keeps_the_files_keys(tmp_path) -> None:
    model = load_model(THREE_LAYER_PATH)
    stepper = Stepper(Config(), model=model)
    for _ in range(3):
        stepper.next()
    assert model.gradient_keys == "name"
    model.close()  # as a cancel or a timeout ends the process: the next call starts another
    assert stepper.next() is Phase.UPDATE  # its sgd_update reads grads['Wi']: it got them so
    update, grads = stepper.state.update, stepper.state.backward
    assert update is not None and grads is not None
    for name in THREE_NAMES:
        np.testing.assert_allclose(update.after[name], update.before[name] - 0.1 * grads["d" + name],
                                   rtol=0, atol=1e-15)


def test_a_switch_of_convention_after_a_restart_is_refused(tmp_path) -> None:
    switch = tmp_path / "switch"
    text = edit(THREE_LAYER, "    return grads\n", f"    if os.path.exists({str(switch)!r}):\n"
                "        return {'d' + name: value for name, value in grads.items()}\n    return grads\n")
    model = load_model(write(tmp_path, "import os\n" + text.replace(
        "        params[name] -= lr * grads[name]", "        params[name] -= lr * grads.get(name, 0)")))
    stepper = Stepper(Config(), model=model)
    stepper.run_steps(1)
    switch.touch()
    model.close()  # the fresh process has seen no backward, but the stepper has
    stepper.next()
    with pytest.raises(ModelError, match=re.escape("backward keyed its gradients by name, as "
                                                   "grads['Wi'], before, and 'd' + name")):
        stepper.next()


ODD_SHAPES = """
import numpy as np

def init_params(seed):
    return {'K': np.random.default_rng(seed).standard_normal((2, 2, 3)), 'temp': 1.5}

def forward(x, params, y=None):
    z = np.einsum('ijk,k->', params['K'], x) * params['temp']
    p = 1 / (1 + np.exp(-z))
    return {'z': z, 'p': p}, float(-np.log(p) if y else -np.log(1 - p))

def backward(x, y, params, cache):
    dz = cache['p'] - y
    return {'dK': dz * params['temp'] * np.broadcast_to(x, params['K'].shape),
            'dtemp': dz * np.einsum('ijk,k->', params['K'], x)}
"""


def test_a_3d_and_a_scalar_parameter_step_with_their_shapes(tmp_path, capsys) -> None:
    path = write(tmp_path, ODD_SHAPES)
    status, out, err = run(capsys, "--headless", "--model", path)
    assert (status, err) == (0, "")
    assert out.startswith("Model: model.py (its own init_params; gradients keyed 'd' + name, "
                          "as grads['dK'])\n")
    for label in ("Analytic gradient dK (2x2x3):", "Analytic gradient dtemp (scalar):",
                  "Updated temp (scalar):", "Gradient check passed (loop method"):
        assert label in out
    trace = json_trace(capsys, "--model", path)
    assert trace["param_shapes"] == {"K": [2, 2, 3], "temp": []}
    step = trace["steps"][0]
    assert isinstance(step["backward"]["dtemp"], float) and isinstance(step["update"]["temp"], float)
    assert step["gradcheck"]["temp"]["worst_index"] == [] and step["gradcheck"]["passed"]


def test_the_built_in_trace_only_gains_keys() -> None:
    """Consumers of the built-in trace see the same keys in the same order, and new ones."""
    chunks = json_report(Config(), stepper := Stepper(Config()), stepper.iter_steps(1))
    trace = json.loads("".join(chunks))
    assert list(trace) == HEAD_KEYS
    old = ["config", "model", "gradcheck_rule", "initial_params", "steps", "warnings"]
    assert [key for key in trace if key in old] == old
    assert (trace["gradient_keys"], trace["own_init_params"]) == ("d", False)
    assert trace["param_shapes"] == {"W1": [4, 3], "b1": [4], "W2": [1, 4], "b2": [1]}


def test_reserved_names_are_the_ones_the_trace_writes_beside_parameters() -> None:
    step = json.loads("".join(json_report(Config(), s := Stepper(Config()), s.iter_steps(1))))["steps"][0]
    beside = (set(step["gradcheck"]) | set(step["update"])) - set(PARAM_NAMES)
    assert beside == RESERVED_NAMES


async def test_the_app_steps_three_layer() -> None:
    from tui.app.app import StepperApp

    app = StepperApp(Stepper(Config(), model=load_model(THREE_LAYER_PATH)))
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(5):  # forward, backward, gradient check, update, the next forward
            await pilot.press("n")
            await app.runner.idle.wait()
            await pilot.pause()
        state = app.stepper.state
        assert (state.step, state.last_phase) == (2, Phase.FORWARD)
        assert list(state.params) == list(THREE_NAMES)
        assert app.stepper.model.gradient_keys == "name"
        await pilot.press("b", "b")  # back to the gradient check, which passed
        check = app.stepper.state.gradcheck
        assert check is not None and check.passed and list(check.tensors) == list(THREE_NAMES)
