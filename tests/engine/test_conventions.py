"""--model with a course's convention: deeplearning.ai's and cs231n's code, as written.

engine.model.conventions adapts the module to the notebook's contract inside the model's
process; these tests drive the real process through the stepper with a data set batch
and compare every number with the same network computed here by hand, in NumPy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.data import batches
from engine.data.batches import Data
from engine.run.stepper import Stepper
from engine.settings.config import Config
from engine.usermodel.client import UserModel, load_model
from engine.usermodel.contract import ModelError, load_source
from tests.docs import python_blocks
from tests.helpers import FIXTURES, told
from tests.waits import handled
from tui.cli.main import main

pytestmark = pytest.mark.slow  # starts a user's model process in most tests (-m 'not slow' leaves it out)

DLAI_TWO = FIXTURES / "dlai_two_layer.py"
DLAI_DEEP = FIXTURES / "dlai_deep.py"
CS231N = FIXTURES / "cs231n_two_layer.py"
CLOSE = {"rtol": 1e-9, "atol": 1e-12}
REG = 0.1
#: fixture -> (the convention it follows, its hidden layers, its --reg)
CASES: dict[str, tuple[Path, str, tuple[int, ...], float]] = {
    "dlai_two_layer": (DLAI_TWO, "deeplearning-ai", (4,), 0.0),
    "dlai_deep": (DLAI_DEEP, "deeplearning-ai", (5, 3), 0.0),
    "cs231n_two_layer": (CS231N, "cs231n", (4,), REG),
}


def moons(hidden: tuple[int, ...], batch: int = 16) -> tuple[Config, Data]:
    config = Config(dataset="moons", hidden=hidden, batch=batch)
    data = batches.from_config(config)
    assert data is not None
    return batches.fitted(config, data).resolved(), data


def start(case: str, source: str | None = None, tmp_path: Path | None = None,
          reg: float | None = None) -> tuple[UserModel, Config, Data]:
    path, _, hidden, default_reg = CASES[case]
    if source is not None:
        assert tmp_path is not None
        path = tmp_path / path.name
        path.write_text(source)
    config, data = moons(hidden)
    model = load_model(path, sizes=config.architecture.sizes,
                       reg=default_reg if reg is None else reg)
    return model, config, data


@pytest.fixture(params=list(CASES))
def case(request: pytest.FixtureRequest) -> Iterator[tuple[str, UserModel, Config, Data]]:
    model, config, data = start(request.param)
    yield request.param, model, config, data
    model.close()


# ---- the same network by hand ------------------------------------------------------------
def by_hand(case: str, params: dict[str, Any], x: Any, y: Any) -> tuple[float, dict[str, Any]]:
    """The loss and the gradients of the batch's mean loss, in the file's own layout."""
    convention = CASES[case][1]
    depth = len(params) // 2
    Ws, bs = [], []
    for l in range(1, depth + 1):  # to rows: z = a W^T + b
        W, b = params[f"W{l}"], params[f"b{l}"]
        Ws.append(W if convention == "deeplearning-ai" else W.T)
        bs.append(b[:, 0] if convention == "deeplearning-ai" else b)
    m = len(x)
    a, zs, As = x, [], [x]
    for l in range(depth):
        z = a @ Ws[l].T + bs[l]
        zs.append(z)
        a = np.maximum(0, z) if l < depth - 1 else z
        As.append(a)
    logits = zs[-1]
    if convention == "deeplearning-ai":  # one sigmoid unit, binary cross-entropy
        p = 1 / (1 + np.exp(-logits[:, 0]))
        loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
        dz = (p - y)[:, None] / m
    else:  # softmax over two classes
        shifted = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(probs[np.arange(m), y]))
        dz = probs.copy()
        dz[np.arange(m), y] -= 1
        dz /= m
    grads: dict[str, Any] = {}
    for l in range(depth - 1, -1, -1):
        grads[f"W{l + 1}"], grads[f"b{l + 1}"] = dz.T @ As[l], dz.sum(axis=0)
        grads[f"dA{l}"] = (m * (dz @ Ws[l])).T  # the course's dA_l: a column a sample, not / m
        if l:
            dz = (dz @ Ws[l]) * (zs[l - 1] > 0)
    out = {}
    for name, g in grads.items():
        if name.startswith("dA"):
            out[name] = g
        elif convention == "deeplearning-ai":
            out[name] = g if name.startswith("W") else g[:, None]
        else:
            out[name] = g.T + REG * params[name] if name.startswith("W") else g
    if convention == "cs231n":
        loss += 0.5 * REG * sum(np.sum(params[n] ** 2) for n in params if n.startswith("W"))
    return float(loss), out


def test_each_convention_is_detected_and_stated(case) -> None:
    name, model, _, _ = case
    assert model.convention == CASES[name][1]
    if name == "cs231n_two_layer":
        assert model.described == ("TwoLayerNet(input_dim=2, hidden_dim=4, num_classes=2, reg=0.1) "
                                   "(a binary data set as a 2-class softmax)")
    else:
        assert "compute_cost" in model.described and "update_parameters" in model.described


def test_the_course_initialises_its_own_parameters_after_seeding(case) -> None:
    name, model, config, data = case
    params = Stepper(config, model=model, data=data).state.params
    np.random.seed(config.seed)
    sizes = config.architecture.sizes
    if name == "dlai_two_layer":
        want = {"W1": np.random.randn(4, 2) * 0.01, "b1": np.zeros((4, 1)),
                "W2": np.random.randn(1, 4) * 0.01, "b2": np.zeros((1, 1))}
    elif name == "dlai_deep":
        want = {}
        for l in range(1, len(sizes)):
            want[f"W{l}"] = np.random.randn(sizes[l], sizes[l - 1]) / np.sqrt(sizes[l - 1])
            want[f"b{l}"] = np.zeros((sizes[l], 1))
    else:
        want = {"W1": 1e-3 * np.random.randn(2, 4), "b1": np.zeros(4),
                "W2": 1e-3 * np.random.randn(4, 2), "b2": np.zeros(2)}
    assert list(params) == list(want)
    for key in want:
        np.testing.assert_array_equal(params[key], want[key])


def test_every_phase_of_two_steps_equals_the_network_by_hand(case) -> None:
    name, model, config, data = case
    stepper = Stepper(config, model=model, data=data)
    for _ in range(2):
        before = stepper.state.params
        [state] = list(stepper.iter_steps(1))
        assert state.forward is not None and state.backward is not None
        assert state.gradcheck is not None and state.forward.batch is not None
        x, y = state.forward.batch
        assert x.shape == (16, 2)
        loss, grads = by_hand(name, before, x, y)
        np.testing.assert_allclose(state.forward.loss, loss, **CLOSE)
        # the L-layer course's L_model_backward returns its dA0 .. dA(L-1) too: kept, for show
        intermediates = {f"dA{l}" for l in range(len(before) // 2)} if name == "dlai_deep" else set()
        assert set(state.backward) == {"d" + key for key in before} | intermediates
        for key in intermediates:
            np.testing.assert_allclose(state.backward[key], grads[key], **CLOSE)
        for key in before:
            np.testing.assert_allclose(state.backward["d" + key], grads[key], **CLOSE)
            np.testing.assert_allclose(state.params[key], before[key] - config.lr * grads[key], **CLOSE)
        assert state.gradcheck.method == "loop" and state.gradcheck.passed, state.gradcheck


# ---- broken copies: one line of the good file replaced ----------------------------------------
#: case -> bug -> (the good line, its broken copy)
BUGS: dict[str, dict[str, tuple[str, str]]] = {
    "dlai_two_layer": {
        "relu": ("np.int64(A1 > 0)", "np.int64(A1 >= 0)"),  # ReLU's derivative 1 on dead units
        "m": ("= 1 / m * ", "= "),  # the gradients' 1/m (the cost keeps its own)
        "axis": ("db1 = 1 / m * np.sum(dZ1, axis=1, keepdims=True)",
                 "db1 = 1 / m * np.sum(dZ1, axis=0, keepdims=True)"),
    },
    "dlai_deep": {
        "relu": ("    dZ[Z <= 0] = 0\n", ""),
        "m": ("1 / m * ", ""),
        "axis": ("np.sum(dZ, axis=1, keepdims=True)", "np.sum(dZ, axis=0, keepdims=True)"),
    },
    "cs231n_two_layer": {
        "relu": ("dx = dout * (x > 0)", "dx = dout * 1"),
        "m": ("    dx /= N\n", ""),
        "reg": ("grads['W1'] += self.reg * W1", "pass"),
        "axis": ("db = np.sum(dout, axis=0)", "db = np.sum(dout, axis=1)"),
    },
}
#: The tensors each ReLU bug breaks: every layer's below the last ReLU.
RELU_BROKEN = {"dlai_two_layer": ["W1", "b1"], "dlai_deep": ["W1", "b1", "W2", "b2"],
               "cs231n_two_layer": ["W1", "b1"]}
AXIS_MESSAGE = {
    "dlai_two_layer": "dlai_two_layer.py: backward returned db1 of shape (1, 16); expected (4, 1), the "
                      "shape of b1",
    "dlai_deep": "dlai_deep.py: backward returned db1 of shape (1, 16); expected (5, 1), the shape of b1",
    "cs231n_two_layer": "cs231n_two_layer.py: backward returned b1 of shape (16,); expected (4,), the "
                        "shape of b1",
}


def broken(case: str, bug: str) -> str:
    old, new = BUGS[case][bug]
    text = CASES[case][0].read_text()
    assert old in text
    return text.replace(old, new)


def checked(case: str, bug: str, tmp_path: Path, reg: float | None = None) -> Any:
    model, config, data = start(case, broken(case, bug), tmp_path, reg)
    try:
        stepper = Stepper(config, model=model, data=data)
        for _ in range(3):
            stepper.next()
        assert stepper.state.gradcheck is not None
        return stepper.state.gradcheck
    finally:
        model.close()


@pytest.mark.parametrize("case", list(CASES))
def test_a_wrong_relu_backward_is_flagged_on_the_tensors_it_breaks_as_dead_units(case, tmp_path) -> None:
    check = checked(case, "relu", tmp_path)
    assert check.failed_names == RELU_BROKEN[case]
    assert [(d.tensor, d.kind) for d in check.diagnosis] == [(n, "dead-units") for n in RELU_BROKEN[case]]
    # the built-in network of the same architecture was the reference: it says where it enters
    assert all(d.enters is not None for d in check.diagnosis)


@pytest.mark.parametrize("case", list(CASES))
def test_a_missing_division_by_m_is_a_scale_of_m(case, tmp_path) -> None:
    check = checked(case, "m", tmp_path, reg=0.0)  # cs231n's reg term is not divided by N
    params = list(check.tensors)
    assert check.failed_names == params
    assert [(d.tensor, d.kind) for d in check.diagnosis] == [(n, "scale") for n in params]
    assert all(d.factor == pytest.approx(16.0, rel=1e-9) for d in check.diagnosis)


def test_a_forgotten_regularisation_gradient_is_flagged_on_the_weights_only(tmp_path) -> None:
    check = checked("cs231n_two_layer", "reg", tmp_path)
    assert check.failed_names == ["W1"]
    assert {name: t.verdict for name, t in check.tensors.items()} == \
        {"W1": "fail", "b1": "pass", "W2": "pass", "b2": "pass"}
    [diagnosis] = check.diagnosis
    assert diagnosis.tensor == "W1" and diagnosis.enters == "dW1"  # not from dz1: in dW1 itself
    assert diagnosis.kind == "regularisation"
    assert diagnosis.detail.startswith("matches dW1 without its regularisation term reg·W1 (reg = 0.1)")


def test_the_reference_includes_the_regularisation_or_the_losses_would_differ(tmp_path) -> None:
    """With reg > 0 the built-in network is still the reference (its loss plus 0.5 reg |W|²)."""
    check = checked("cs231n_two_layer", "relu", tmp_path, reg=0.5)
    assert not any("differs from the built-in" in note for note in check.notes)
    assert [d.kind for d in check.diagnosis] == ["dead-units", "dead-units"]


@pytest.mark.parametrize("case", list(CASES))
def test_a_bias_gradient_summed_over_the_wrong_axis_names_key_and_both_shapes(case, tmp_path) -> None:
    model, config, data = start(case, broken(case, "axis"), tmp_path)
    try:
        stepper = Stepper(config, model=model, data=data)
        stepper.next()
        with pytest.raises(ModelError) as raised:
            stepper.next()
        assert raised.value.message == AXIS_MESSAGE[case]
    finally:
        model.close()


@pytest.mark.parametrize("headless", [["--headless"], []], ids=["headless", "app"])
@pytest.mark.parametrize("case", list(CASES))
def test_the_wrong_axis_exits_2_headless_with_the_message(case, headless, tmp_path, capsys) -> None:
    """Headless, the report stops with the message; the app rehearses a step before it opens
    (engine.run.stepper.dry_run), so it refuses to open with the same message."""
    path = tmp_path / CASES[case][0].name
    path.write_text(broken(case, "axis"))
    hidden = ",".join(map(str, CASES[case][2]))
    assert main([*headless, "--model", str(path), "--dataset", "moons", "--batch", "16",
                 "--hidden", hidden]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.strip().splitlines()[-1] == f"backprop-stepper: error: {AXIS_MESSAGE[case]}"


# ---- which convention: found, asked for, or neither --------------------------------------------
HALF_DLAI = """
import numpy as np
def forward_propagation(X, parameters):
    return X, {}
def compute_cost(A2, Y):
    return 0.0
"""
SIZES = (2, 4, 1)


def loaded(text: str, convention: str | None = None, name: str = "model.py") -> Any:
    return load_source(Path(name), text.encode(), convention, SIZES, 0.0)


def test_a_file_that_fits_no_convention_names_what_was_found_and_what_is_missing() -> None:
    with pytest.raises(ModelError) as raised:
        loaded(HALF_DLAI)
    assert raised.value.message == ("model.py fits no convention: found forward_propagation and "
                                    "compute_cost but no backward_propagation or L_model_backward "
                                    "(deeplearning-ai)")


def test_a_file_that_fits_two_conventions_names_both() -> None:
    text = DLAI_TWO.read_text() + (FIXTURES / "notebook.py").read_text()
    with pytest.raises(ModelError) as raised:
        loaded(text)
    assert raised.value.message == (
        "model.py fits more than one convention: notebook (forward and backward); deeplearning-ai "
        "(forward_propagation, compute_cost and backward_propagation); choose one with "
        "--convention notebook|deeplearning-ai")
    assert loaded(text, "deeplearning-ai").convention == "deeplearning-ai"
    assert loaded(text, "notebook").convention == "notebook"


def test_a_convention_asked_for_that_the_file_does_not_fit_says_what_it_lacks() -> None:
    with pytest.raises(ModelError) as raised:
        loaded(DLAI_TWO.read_text(), "cs231n")
    assert raised.value.message == ("model.py does not fit --convention cs231n: no class with params "
                                    "and loss(X, y=None), or loss(params, X, y) (cs231n)")


def test_a_notebook_file_is_what_it_always_was() -> None:
    model = load_source(FIXTURES / "notebook.py", (FIXTURES / "notebook.py").read_bytes())
    assert model.convention == "notebook" and not model.batched and model.described == ""


def test_a_module_level_cs231n_loss_is_a_convention_too() -> None:
    text = """
import numpy as np
def loss(params, X, y, reg=0.0):
    scores = X @ params['W1'] + params['b1']
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    N = X.shape[0]
    dscores = probs.copy(); dscores[np.arange(N), y] -= 1; dscores /= N
    return -np.log(probs[np.arange(N), y]).mean(), {'W1': X.T @ dscores, 'b1': dscores.sum(axis=0)}
"""
    model = load_source(Path("softmax.py"), text.encode(), None, (2, 3), 0.0)
    assert model.convention == "cs231n" and model.described.startswith("loss(params, X, y, reg=0.0)")
    params = model.init_params(1)
    assert params is not None and params["W1"].shape == (2, 3) and params["b1"].shape == (3,)
    x, y = np.array([[0.5, -1.0], [1.5, 0.25]]), np.array([0, 2])
    _, value = model.forward(x, params, y)
    grads = model.backward(x, y, params, {})
    assert np.isfinite(value) and set(grads) == {"dW1", "db1"} and model.gradient_keys == "name"


def test_a_bias_of_the_wrong_shape_from_the_courses_init_names_both_shapes(tmp_path) -> None:
    text = DLAI_TWO.read_text().replace("b1 = np.zeros((n_h, 1))", "b1 = np.zeros(n_h)")
    model, config, data = start("dlai_two_layer", text, tmp_path)
    try:
        with pytest.raises(ModelError) as raised:
            Stepper(config, model=model, data=data)
        assert raised.value.message == ("dlai_two_layer.py: initialize_parameters returned b1 of shape "
                                        "(4,); the deeplearning-ai convention expects (4, 1)")
    finally:
        model.close()


# ---- the command line ------------------------------------------------------------------------
def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(("text", "says"), [
    (HALF_DLAI, "fits no convention: found forward_propagation and compute_cost but no "
                "backward_propagation or L_model_backward (deeplearning-ai)"),
    (DLAI_TWO.read_text() + (FIXTURES / "notebook.py").read_text(),
     "fits more than one convention: notebook (forward and backward); deeplearning-ai"),
], ids=["none", "two"])
def test_none_or_two_conventions_exit_2_headless(text, says, tmp_path, capsys) -> None:
    path = tmp_path / "model.py"
    path.write_text(text)
    status, out, err = run(["--headless", "--model", str(path)], capsys)
    assert status == 2 and out == "" and f"backprop-stepper: error: model.py {says}" in err


@pytest.mark.parametrize(("argv", "says"), [
    (["--convention", "cs231n"], "--convention only applies to your own model: add --model FILE.py"),
    (["--reg", "0.1"], "--reg only applies to your own model: add --model FILE.py"),
    (["--model", str(CS231N), "--convention", "pytorch"],
     "--convention: must be one of notebook, deeplearning-ai, cs231n, nielsen, nnfs, got 'pytorch'"),
    (["--model", str(CS231N), "--reg", "-1"], "--reg: must be a finite number >= 0, got -1.0"),
    (["--model", str(CS231N), "--reg", "nan"], "--reg: must be a finite number >= 0, got nan"),
    (["--model", str(DLAI_TWO), "--convention", "deeplearning-ai", "--reg", "0.1"],
     "--reg: the deeplearning-ai convention takes no regularisation; --reg applies to cs231n"),
    (["--model", str(DLAI_TWO), "--reg", "0.1"],
     "--reg: dlai_two_layer.py follows the deeplearning-ai convention, which takes no "
     "regularisation; --reg applies to cs231n"),
    (["--model", str(CS231N), "--inject-bug", "sign"],
     "--model and --inject-bug cannot be used together"),
], ids=["convention alone", "reg alone", "unknown", "negative", "nan", "dlai asked", "dlai found",
        "drill"])
def test_convention_flags_are_refused_where_they_mean_nothing(argv, says, capsys) -> None:
    status, out, err = run(["--headless", *argv], capsys)
    assert status == 2 and out == "" and f"backprop-stepper: error: {says}" in err


def test_the_text_report_states_the_convention_and_how_the_model_was_built(capsys) -> None:
    status, out, _ = run(["--headless", "--model", str(CS231N), "--convention", "cs231n", "--reg", "0.1",
                          "--dataset", "moons", "--batch", "16", "--steps", "2"], capsys)
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == ("Model: cs231n_two_layer.py (cs231n convention; gradients keyed by name, as "
                        "grads['W1'])")
    assert lines[1] == ("  TwoLayerNet(input_dim=2, hidden_dim=4, num_classes=2, reg=0.1) (a binary data "
                        "set as a 2-class softmax)")
    # Its accuracy is a blank that says why, not a "—" that reads as a numerical problem.
    assert lines[2] == "  accuracy: not measured for a model file (shown as —), only its loss"
    assert "Gradient check FAILED" not in out


def test_the_json_head_states_the_convention(capsys) -> None:
    status, out, _ = run(["--headless", "--format", "json", "--model", str(DLAI_DEEP), "--hidden", "5,3",
                          "--dataset", "moons", "--batch", "16", "--steps", "2"], capsys)
    assert status == 0
    trace = json.loads(out)
    assert trace["convention"] == "deeplearning-ai" and trace["gradient_keys"] == "d"
    assert trace["param_shapes"]["b1"] == [5, 1] and trace["param_shapes"]["W3"] == [1, 3]
    assert all(step["gradcheck"]["passed"] for step in trace["steps"])


def test_a_notebook_files_json_head_has_no_convention(capsys) -> None:
    status, out, _ = run(["--headless", "--format", "json", "--model", str(FIXTURES / "notebook.py")], capsys)
    assert status == 0 and "convention" not in json.loads(out)


# ---- the app ------------------------------------------------------------------------------------
async def test_the_app_states_the_convention_and_survives_a_shape_error(tmp_path) -> None:
    from tui.app.app import StepperApp
    from tui.app.widgets.bars import NetworkLine

    model, config, data = start("dlai_two_layer", broken("dlai_two_layer", "axis"), tmp_path)
    app = StepperApp(Stepper(config, model=model, data=data))
    async with app.run_test(size=(120, 40)) as pilot:
        line = str(app.query_one(NetworkLine).render())
        assert "model: dlai_two_layer.py (deeplearning-ai) · W1(4, 2), b1(4, 1)" in line
        for _ in range(2):
            await pilot.press("n")
            await app.runner.idle.wait()
            await handled(app, pilot)  # the phase's notification arrives as a message
        messages = told(app)
        assert any("backward returned db1 of shape (1, 16); expected (4, 1), the shape of b1" in m
                   for m in messages), messages
        assert app.is_running and app.stepper.state.last_phase.name == "FORWARD"
    model.close()


def test_the_cache_is_shown_as_named_leaves_whatever_its_structure(case) -> None:
    name, model, config, data = case
    stepper = Stepper(config, model=model, data=data)
    stepper.next()
    assert stepper.state.forward is not None
    cache = stepper.state.forward.cache
    shapes = {key: np.shape(value) for key, value in cache.items()}
    if name == "dlai_two_layer":
        assert shapes == {"cache.Z1": (4, 16), "cache.A1": (4, 16), "cache.Z2": (1, 16), "cache.A2": (1, 16)}
    elif name == "dlai_deep":  # a list of ((A_prev, W, b), Z), named as the course names them
        assert shapes["caches[0].linear_cache.A_prev"] == (2, 16)
        assert shapes["caches[1].linear_cache.W"] == (3, 5)
        assert shapes["caches[2].activation_cache.Z"] == (1, 16)
        assert shapes["AL"] == (1, 16) and len(shapes) == 13
    else:
        assert shapes == {"scores": (16, 2)}


# ---- the docs' minimal files --------------------------------------------------------------------
def docs_files() -> dict[str, str]:
    """The docs' minimal model files, each a ```python block opening "# convention: NAME"."""
    out = {}
    for code in python_blocks():
        if code.startswith("# convention: "):
            out[code.splitlines()[0].removeprefix("# convention: ")] = code
    return out


def test_the_docs_has_a_minimal_file_for_each_convention() -> None:
    assert sorted(docs_files()) == ["cs231n", "deeplearning-ai", "notebook"]


@pytest.mark.parametrize("convention", ["notebook", "deeplearning-ai", "cs231n"])
def test_each_docs_minimal_file_loads_steps_and_passes_the_check(convention, tmp_path, capsys) -> None:
    path = tmp_path / "net.py"
    path.write_text(docs_files()[convention])
    reg = ["--reg", "0.1"] if convention == "cs231n" else []
    status, out, err = run(["--headless", "--format", "json", "--model", str(path), "--dataset", "moons",
                            "--batch", "16", "--steps", "2", *reg], capsys)
    assert status == 0, err
    trace = json.loads(out)
    assert trace.get("convention", "notebook") == convention
    assert all(step["gradcheck"]["passed"] for step in trace["steps"])


# ---- sessions ------------------------------------------------------------------------------------
def test_a_session_keeps_the_convention_and_reg_it_was_recorded_with(tmp_path, capsys) -> None:
    saved = tmp_path / "s.npz"
    common = ["--headless", "--format", "json", "--model", str(CS231N)]
    status, out, _ = run([*common, "--reg", "0.3", "--dataset", "moons", "--batch", "16", "--steps", "3"],
                         capsys)
    assert status == 0
    straight = json.loads(out)["steps"][2]["forward"]["loss"]
    status, _, _ = run([*common, "--reg", "0.3", "--dataset", "moons", "--batch", "16", "--steps", "2",
                        "--save-session", str(saved)], capsys)
    assert status == 0
    status, out, _ = run(["--headless", "--format", "json", "--session", str(saved), "--model", str(CS231N),
                          "--steps", "1"], capsys)
    assert status == 0
    trace = json.loads(out)
    assert trace["convention"] == "cs231n" and "reg=0.3" in trace["convention_detail"]
    assert trace["steps"][-1]["forward"]["loss"] == straight  # reg 0.3 again, not the default 0
    status, out, err = run(["--headless", "--session", str(saved), "--model", str(CS231N), "--reg", "0"],
                           capsys)
    assert status == 2 and "--reg: this session was recorded with --reg 0.3" in err
    status, out, err = run(["--headless", "--session", str(saved), "--model", str(CS231N), "--convention",
                            "notebook"], capsys)
    assert status == 2 and "--convention: this session was recorded with the cs231n convention" in err


@pytest.mark.parametrize("name", list(CASES))
def test_the_single_sample_is_a_batch_of_one_in_the_conventions_layout(name) -> None:
    path, _, hidden, reg = CASES[name]
    config = Config(hidden=hidden).resolved()
    model = load_model(path, sizes=config.architecture.sizes, reg=reg)
    try:
        stepper = Stepper(config, model=model)
        before = stepper.state.params
        [state] = list(stepper.iter_steps(1))
        assert state.forward is not None and state.backward is not None and state.gradcheck is not None
        loss, grads = by_hand(name, before, np.array(config.x)[None], np.array([config.y]))
        np.testing.assert_allclose(state.forward.loss, loss, **CLOSE)
        for key in before:
            np.testing.assert_allclose(state.backward["d" + key], grads[key], **CLOSE)
        assert state.gradcheck.passed
    finally:
        model.close()


@pytest.mark.parametrize("name", ["dlai_deep", "cs231n_two_layer"])
def test_the_panels_show_one_sample_in_the_conventions_layout(name) -> None:
    """deeplearning.ai's cache holds a sample a column: the sample's column, kept (n, 1);
    the weights its linear caches hold are not sliced. cs231n's holds a sample a row."""
    from engine.run.sample import sample_view

    path, _, hidden, reg = CASES[name]
    config, data = moons(hidden)
    model = load_model(path, sizes=config.architecture.sizes, reg=reg)
    try:
        stepper = Stepper(config, model=model, data=data)
        stepper.next()
        stepper.next()
        whole = stepper.view()
        assert whole.state.forward is not None and whole.state.backward is not None
        view = sample_view(whole, 3)
        assert view.state.backward is not None
        np.testing.assert_array_equal(view.state.backward["dW1"], whole.state.backward["dW1"])
        if name == "dlai_deep":
            np.testing.assert_array_equal(view.state.backward["dA1"], whole.state.backward["dA1"][:, 3:4])
        assert view.state.forward is not None
        cache, full = view.state.forward.cache, whole.state.forward.cache
        if name == "dlai_deep":
            np.testing.assert_array_equal(cache["caches[0].activation_cache.Z"],
                                          full["caches[0].activation_cache.Z"][:, 3:4])
            assert cache["caches[0].linear_cache.W"].shape == (5, 2)
            assert cache["AL"].shape == (1, 1)
        else:
            np.testing.assert_array_equal(cache["scores"], full["scores"][3])
    finally:
        model.close()


def test_a_deeplearning_ai_file_with_k_classes_gets_y_one_hot() -> None:
    """Y (K, m) one-hot: the course's K sigmoid units against it, by its own cost."""
    config = Config(dataset="gauss", classes=3, hidden=(5, 3), batch=16)
    data = batches.from_config(config)
    assert data is not None
    config = batches.fitted(config, data).resolved()
    model = load_model(DLAI_DEEP, sizes=config.architecture.sizes)
    try:
        stepper = Stepper(config, model=model, data=data)
        params = stepper.state.params
        assert params["W3"].shape == (3, 3) and params["b3"].shape == (3, 1)
        [state] = list(stepper.iter_steps(1))
        assert state.forward is not None and state.forward.batch is not None and state.gradcheck is not None
        x, y = state.forward.batch
        a = x.T
        for l in (1, 2):
            a = np.maximum(0, params[f"W{l}"] @ a + params[f"b{l}"])
        AL = 1 / (1 + np.exp(-(params["W3"] @ a + params["b3"])))
        Y = np.eye(3)[y].T
        cost = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / len(y)
        np.testing.assert_allclose(state.forward.loss, cost, **CLOSE)
        assert state.gradcheck.passed
    finally:
        model.close()


def test_of_two_model_classes_the_one_taking_the_hidden_layers_as_given_is_built() -> None:
    """The assignment's fc_net.py holds TwoLayerNet (hidden_dim) and FullyConnectedNet
    (hidden_dims): one hidden layer builds the first, more the second."""
    deep = """
class FullyConnectedNet:
    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, reg=0.0, weight_scale=1e-2):
        dims = [input_dim, *hidden_dims, num_classes]
        self.reg = reg
        self.params = {}
        for i in range(len(dims) - 1):
            self.params['W%d' % (i + 1)] = weight_scale * np.random.randn(dims[i], dims[i + 1])
            self.params['b%d' % (i + 1)] = np.zeros(dims[i + 1])

    def loss(self, X, y=None):
        return TwoLayerNet.loss(self, X, y)
"""
    text = CS231N.read_text() + deep
    two = load_source(Path("fc_net.py"), text.encode(), None, (2, 4, 1), 0.0)
    assert two.described.startswith("TwoLayerNet(input_dim=2, hidden_dim=4, num_classes=2, reg=0.0)")
    more = load_source(Path("fc_net.py"), text.encode(), None, (2, 4, 3, 1), 0.0)
    assert more.described.startswith("FullyConnectedNet(input_dim=2, hidden_dims=[4, 3], num_classes=2")
    both = text + deep.replace("FullyConnectedNet", "OtherNet")
    with pytest.raises(ModelError) as raised:
        load_source(Path("fc_net.py"), both.encode(), None, (2, 4, 3, 1), 0.0)
    assert raised.value.message == ("fc_net.py defines several model classes (TwoLayerNet, "
                                    "FullyConnectedNet, OtherNet) and not one whose constructor takes "
                                    "hidden_dims for the sizes 2-4-3-1")
