"""L1 and L2 regularisation of the built-in network (--l1, --l2): the penalty's value and
gradient against a computation written here, the gradients of the whole objective against the
independent reference network (tests/reference.py, differentiated by HIPS autograd) on random
architectures, and the gradient check's two methods on it, kinks of |w| included."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

from engine.check.diagnose import diagnose
from engine.check.verdicts import ATOL, DIAGNOSIS_KINDS, GradCheck, gradient_check
from engine.data.batches import Data
from engine.data.fit import fit_to_data
from engine.explain.elements import explain, num, redo, tensors
from engine.maths import network
from engine.maths.network import Architecture
from engine.model.builtin import BuiltinModel
from engine.run.sample import sample_view
from engine.run.stepper import Stepper
from engine.settings.config import Config, ConfigError, validate
from tests.helpers import FIXTURES
from tests.reference import ACTIVATIONS, Case, downstream, draws, kink_sides, ref_forward
from tui.cli.main import main

EPS = 1e-5
#: The rates of the cases, in turn: L1 alone, L2 alone, both.
RATES = ((0.05, 0.0), (0.0, 0.1), (0.03, 0.07))


# ---- the penalty on its own, against loops written here -------------------------------------

def loop_penalty(params: dict[str, np.ndarray], l1: float, l2: float) -> float:
    """l1·Σ|w| + l2·Σw²/2 over the weights' elements, one element at a time."""
    total = 0.0
    for name, value in params.items():
        if name.startswith("W"):
            for w in value.flat:
                total += l1 * math.fabs(w) + l2 * w * w / 2
    return total


def loop_penalty_gradient(W: np.ndarray, l1: float, l2: float) -> np.ndarray:
    """l1·sign(w) + l2·w, sign(0) = 0, one element at a time."""
    out = np.zeros_like(W)
    for index, w in np.ndenumerate(W):
        sign = 1.0 if w > 0 else -1.0 if w < 0 else 0.0
        out[index] = l1 * sign + l2 * w
    return out


@pytest.mark.parametrize(("l1", "l2"), RATES)
def test_the_penalty_and_its_gradient_are_the_weights_alone(l1: float, l2: float) -> None:
    arch = Architecture(3, (5, 4), "tanh", 3, network.SOFTMAX_LOSS, l1, l2)
    params = network.init_params(arch, 7)
    params["W1"][0, 0] = 0.0  # sign(0) = 0
    params["b2"] = np.array([0.5, -1.5, 2.0, -0.25])  # biases are never penalised
    x, y = np.array([[0.3, -1.2, 0.8], [1.1, 0.4, -0.6]]), np.array([2, 0])
    plain = arch.unpenalised()
    cache, loss = network.forward(arch, x, params, y)
    _, data_loss = network.forward(plain, x, params, y)
    assert network.penalty_of(arch, params) == pytest.approx(loop_penalty(params, l1, l2), rel=1e-14)
    assert loss - data_loss == pytest.approx(loop_penalty(params, l1, l2), rel=1e-12)
    grads = network.backward(arch, x, y, params, cache)
    data_grads = network.backward(plain, x, y, params, cache)
    for name in arch.param_names:
        added = grads[f"d{name}"] - data_grads[f"d{name}"]
        expected = loop_penalty_gradient(params[name], l1, l2) if name.startswith("W") else 0.0
        np.testing.assert_allclose(added, expected, rtol=1e-12, atol=1e-15, err_msg=name)
    assert grads["dW1"][0, 0] == data_grads["dW1"][0, 0] + 0.0  # the subgradient 0 at w = 0
    for name in ("dz3", "da2", "dz2", "da1", "dz1"):  # the penalty enters at dW, nowhere else
        np.testing.assert_array_equal(grads[name], data_grads[name], err_msg=name)


def test_without_rates_the_network_computes_what_it_always_did() -> None:
    arch = Architecture(3, (4,))
    assert not arch.penalised and arch.unpenalised() is arch
    params = network.init_params(arch, 42)
    x = np.array([0.2, -0.4, 0.1])
    _, loss = network.forward(arch, x, params, 1)
    _, losses = network.forward_each(arch, x, params, 1)
    assert loss == float(losses) and network.penalty_of(arch, params) == 0.0
    assert Config().architecture == arch and validate(Config()).architecture.penalised is False


# ---- random architectures, against the reference network ----------------------------------

def random_case(rng: np.random.Generator, i: int) -> tuple[Case, np.ndarray, np.ndarray, float, float]:
    """1 to 3 hidden layers of 1 to 6 units, each activation in turn, one output or three; a
    single sample (even i) or a batch of 2 to 4 (odd i); the rates in turn."""
    hidden = tuple(int(n) for n in rng.integers(1, 7, size=int(rng.integers(1, 4))))
    inputs = int(rng.integers(1, 6))
    classes = 3 if i % 3 == 2 else 1
    loss = "cross-entropy" if classes == 3 else ("bce", "mse")[i % 2]
    rows = 1 if i % 2 == 0 else int(rng.integers(2, 5))
    scale = 0.5 ** len(hidden)
    X = rng.normal(size=(rows, inputs)) * scale
    y = rng.integers(0, max(2, classes), size=rows)
    case = Case(inputs, hidden, ACTIVATIONS[i % 4], classes, loss, "xavier", int(rng.integers(0, 2**32)),
                tuple(X[0]), int(y[0]))
    l1, l2 = RATES[i % 3]
    return case, X, y, l1, l2


def with_small_weights(case: Case, l1: float) -> dict[str, np.ndarray]:
    """The case's draws, and with L1 some weights within eps of |w|'s kink at 0 (one exactly
    at it), so that both methods must mark them."""
    params = draws(case)
    if l1:
        W = params["W1"].reshape(-1)
        for k, w in enumerate((0.0, 0.4 * EPS, -0.7 * EPS)[:W.size]):
            W[k] = w
    return params


def reference_objective(case: Case, X: np.ndarray, y: np.ndarray, l1: float, l2: float):  # type: ignore[no-untyped-def]
    """The mean of the reference network's losses over the rows, plus the penalty: a function
    of the parameters (by name) on NumPy or on autograd.numpy."""
    rows = [replace(case, x=tuple(X[b]), y=int(y[b])) for b in range(len(X))]

    def objective(p: dict[str, Any]) -> Any:
        data = sum(downstream(anp, row, p, np.array(row.x), 0) for row in rows) / len(rows)
        weights = [p[n] for n in case.names if n.startswith("W")]
        return data + sum(l1 * anp.sum(anp.abs(W)) + 0.5 * l2 * anp.sum(W * W) for W in weights)

    return objective, rows


def reference_numerical(case: Case, X: np.ndarray, y: np.ndarray, l1: float, l2: float,
                        params: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The textbook loop: (L(θ + eps) − L(θ − eps)) / 2eps of the objective, and a kink where
    the two passes put some hidden unit of some row on different sides of 0 or, with L1, the
    element itself on different sides of 0."""
    objective, rows = reference_objective(case, X, y, l1, l2)
    out = {}
    for name in case.names:
        num, kinks = np.zeros_like(params[name]), np.zeros(params[name].shape, bool)
        for idx in np.ndindex(num.shape):
            passes = []
            for sign in (1, -1):
                q = dict(params, **{name: params[name].copy()})
                q[name][idx] += sign * EPS
                sides = [kink_sides(row, ref_forward(row, q)[0]) for row in rows]
                passes.append((float(objective(q)), np.concatenate(sides), q[name][idx] > 0))
            (plus, s_plus, w_plus), (minus, s_minus, w_minus) = passes
            num[idx] = (plus - minus) / (2 * EPS)
            kinks[idx] = bool(np.any(s_plus != s_minus)) or (l1 > 0 and name.startswith("W")
                                                             and w_plus != w_minus)
        out[name] = (num, kinks)
    return out


CASES = [random_case(np.random.default_rng(2026 + i), i) for i in range(24)]


def case_id(item: tuple[Case, np.ndarray, np.ndarray, float, float]) -> str:
    case, X, _, l1, l2 = item
    return f"{'-'.join(map(str, case.sizes))}-{case.activation}-{case.loss}-B{len(X)}-l1={l1}-l2={l2}"


@pytest.mark.parametrize("item", CASES, ids=[case_id(c) for c in CASES])
def test_l1_and_l2_gradients_pass_the_check_on_random_architectures(item) -> None:  # type: ignore[no-untyped-def]
    case, X, y, l1, l2 = item
    params = with_small_weights(case, l1)
    arch = Architecture(case.inputs, case.hidden, case.activation, case.classes, case.loss, l1, l2)
    model = BuiltinModel(arch)
    x, labels = (X[0], int(y[0])) if len(X) == 1 else (X, y)
    cache, loss = model.forward(x, params, labels)
    objective, _ = reference_objective(case, X, y, l1, l2)
    assert loss == pytest.approx(float(objective(params)), rel=1e-12)

    # The analytic gradients of the objective: autograd's of the reference.
    grads = model.backward(x, labels, params, cache)
    true = grad(lambda values: objective(dict(zip(case.names, values, strict=True))))(
        [params[n] for n in case.names])
    for name, value in zip(case.names, true, strict=True):
        np.testing.assert_allclose(grads[f"d{name}"], value, rtol=1e-9, atol=1e-13, err_msg=name)

    # Both methods: the reference loop's numbers and kinks, every tensor passing.
    reference = reference_numerical(case, X, y, l1, l2, params)
    checks = {method: gradient_check(model, params, x, labels, grads, EPS, method)
              for method in ("fast", "loop")}
    for method, check in checks.items():
        assert check.passed, (method, {n: t.verdict for n, t in check.tensors.items()})
        for name, (numbers, kinks) in reference.items():
            t = check.tensors[name]
            np.testing.assert_array_equal(t.kinks, kinks, err_msg=f"{method} {name}")
            off = ~kinks
            np.testing.assert_allclose(t.numerical[off], numbers[off], rtol=0, atol=1e-7,
                                       err_msg=f"{method} {name}")
            assert t.inconsistent_count == 0, (method, name)
    if l1:  # |w|'s kinks were there to be marked, and judged by their one-sided slopes
        assert checks["fast"].tensors["W1"].kinks.reshape(-1)[0]
        assert checks["fast"].tensors["W1"].one_sided is not None


def test_a_weight_at_the_l1_kink_is_judged_by_its_one_sided_slopes() -> None:
    """w = 0 with l1 = 0.5: the central difference of l1·|w| is 0, its slopes −0.5 and 0.5;
    any analytic value between them passes, one outside fails."""
    arch = Architecture(2, (3,), "tanh", 1, "bce", 0.5, 0.0)
    params = network.init_params(arch, 3)
    params["W1"][1, 1] = 0.0
    x = np.array([0.4, -0.9])
    model = BuiltinModel(arch)
    cache, _ = model.forward(x, params, 1)
    grads = dict(model.backward(x, 1, params, cache))
    for method in ("fast", "loop"):
        t = gradient_check(model, params, x, 1, grads, EPS, method).tensors["W1"]
        left, right = (side[1, 1] for side in t.one_sided)  # type: ignore[union-attr]
        assert t.kinks[1, 1] and t.kink_count == 1 and t.passed, method
        assert right - left == pytest.approx(2 * 0.5, rel=1e-6), method
    wrong = dict(grads, dW1=grads["dW1"].copy())
    wrong["dW1"][1, 1] += 0.6  # outside [−0.5, 0.5] around the data gradient
    t = gradient_check(model, params, x, 1, wrong, EPS).tensors["W1"]
    assert t.verdict == "fail" and t.kink_verdict((1, 1)) == "kink: inconsistent"


def test_the_check_fails_a_gradient_that_leaves_the_penalty_out() -> None:
    """The opposite bug of the drill: the loss has the penalty, the gradient not."""
    arch = Architecture(3, (4,), "relu", 1, "bce", 0.0, 0.1)
    params = network.init_params(arch, 42)
    x = np.array([0.2, -0.4, 0.1])
    model = BuiltinModel(arch)
    cache, _ = model.forward(x, params, 1)
    grads = network.backward(arch.unpenalised(), x, 1, params, cache)
    check = gradient_check(model, params, x, 1, grads, EPS)
    assert check.failed_names == ["W1", "W2"]


# ---- the settings, the report and the trace ----------------------------------------------------

@pytest.mark.parametrize(("argv", "says"), [
    (["--l1", "-0.1"], "--l1: must be finite and >= 0, got -0.1"),
    (["--l2", "inf"], "--l2: must be finite and >= 0, got inf"),
    (["--l2", "nan"], "--l2: must be finite and >= 0, got nan"),
    (["--l2", "much"], "--l2"),
    (["--model", str(FIXTURES / "notebook.py"), "--l2", "0.1"],
     "--model and --l2 cannot be used together"),
])
def test_a_bad_rate_is_refused_in_one_line(argv: list[str], says: str, capsys) -> None:
    assert main(["--headless", *argv]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


def test_a_rate_from_a_config_file_may_be_a_whole_number(tmp_path, capsys) -> None:
    path = tmp_path / "run.toml"
    path.write_text("l1 = 0\nl2 = 1\n")
    assert main(["--headless", "--format", "json", "--config", str(path)]) == 0
    config = json.loads(capsys.readouterr().out)["config"]
    assert (config["l1"], config["l2"]) == (0.0, 1.0)
    with pytest.raises(ConfigError, match="l1: must be a number"):
        validate(Config(l1="0.1"))  # type: ignore[arg-type]


def test_the_report_and_the_trace_state_the_rates(capsys) -> None:
    assert main(["--headless", "--l2", "0.01"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    arch = Architecture(l2=0.01)
    params = network.init_params(arch, 42)
    penalty = loop_penalty(params, 0.0, 0.01)
    assert first.startswith("Initial loss: ") and first.endswith(f"+ penalty {penalty:.10g}: l1 0, l2 0.01)")
    _, loss = network.forward(arch, np.array([0.2, -0.4, 0.1]), params, 1)
    assert first.split()[2] == repr(loss)
    assert main(["--headless", "--format", "json", "--l1", "0.5"]) == 0
    trace = json.loads(capsys.readouterr().out)
    assert (trace["config"]["l1"], trace["config"]["l2"]) == (0.5, 0.0)
    assert trace["steps"][0]["forward"]["loss"] == pytest.approx(
        float(network.forward(Architecture(l1=0.5), np.array([0.2, -0.4, 0.1]), params, 1)[1]))


@pytest.mark.parametrize(("argv", "fixture"), [
    (["--l1", "0", "--l2", "0"], "notebook_report.txt"),
    (["--l2", "0", "--steps", "3"], "notebook_report_3_steps.txt"),
])
def test_rates_of_zero_reproduce_the_seed_notebook_exactly(argv: list[str], fixture: str, capsys) -> None:
    assert main(["--headless", *argv]) == 0
    assert capsys.readouterr().out == (FIXTURES / fixture).read_text()
    assert main(["--headless", "--format", "json", *argv]) == 0
    assert not {"l1", "l2"} & set(json.loads(capsys.readouterr().out)["config"])


# ---- the drill: the penalty in the gradient but not in the loss ---------------------------------

def first_check(config: Config, data: Data | None = None) -> GradCheck:
    check = Stepper(config, data=data).run_steps(1).gradcheck
    assert check is not None
    return check


@pytest.mark.parametrize("settings", [
    {"l2": 0.1}, {"l1": 0.05}, {"l1": 0.02, "l2": 0.05, "hidden": (3, 3), "activation": "tanh"},
    {"l2": 0.1, "classes": 3, "y": 2, "hidden": (5,)},
])
def test_the_penalty_loss_drill_is_diagnosed_with_its_own_kind_entering_at_dW(settings) -> None:  # type: ignore[no-untyped-def]
    config = validate(Config(inject_bug="penalty-loss", **settings))
    arch = config.architecture
    stepper = Stepper(config)
    state = stepper.run_steps(1)
    assert state.forward is not None and state.backward is not None and state.update is not None
    params = state.update.before
    x = np.asarray(config.x)
    # The loss leaves the penalty out, the backward keeps its gradient.
    assert state.forward.loss == network.forward(arch.unpenalised(), x, params, config.y)[1]
    cache = network.forward(arch, x, params, config.y)[0]
    for name, value in network.backward(arch, x, config.y, params, cache).items():
        np.testing.assert_array_equal(state.backward[name], value, err_msg=name)
    check = state.gradcheck
    assert check is not None
    weights = [n for n in arch.param_names if n.startswith("W")]
    assert check.failed_names == weights  # the biases have no penalty: they pass
    assert [(d.tensor, d.kind, d.enters) for d in check.diagnosis] == \
        [(n, "penalty-not-in-loss", f"d{n}") for n in weights]
    terms = " + ".join(t for t, rate in (("l1·sign(W1)", arch.l1), ("l2·W1", arch.l2)) if rate)
    assert check.diagnosis[0].detail.startswith(f"analytic − true = {terms} on every element: the "
                                                "penalty is in the gradient but not in the loss")
    assert "penalty-not-in-loss" in DIAGNOSIS_KINDS


def test_the_drill_is_diagnosed_on_a_batch_too() -> None:
    config = validate(Config(dataset="moons", samples=40, batch=8, hidden=(4,), l2=0.2,
                             inject_bug="penalty-loss"))
    check = first_check(*fit_to_data(config, {"dataset", "samples", "batch"}))
    assert {(d.kind, d.enters) for d in check.diagnosis} == {("penalty-not-in-loss", "dW1"),
                                                            ("penalty-not-in-loss", "dW2")}


def test_the_drill_is_refused_without_a_rate(tmp_path, capsys) -> None:
    assert main(["--headless", "--inject-bug", "penalty-loss"]) == 2
    err = capsys.readouterr().err
    assert "--inject-bug: the penalty-loss drill leaves the weights' penalty out of the loss, and this " \
           "network has none: give --l1 or --l2 a rate above 0" in err and len(err.splitlines()) <= 3
    assert main(["--headless", "--inject-bug", "penalty-loss", "--l1", "0", "--l2", "0"]) == 2
    assert main(["--headless", "--quiet", "--inject-bug", "penalty-loss", "--l2", "0.01"]) == 1
    assert "(penalty-not-in-loss, enters at dW1)" in capsys.readouterr().out


def test_the_opposite_bug_is_regularisation_and_other_drills_keep_their_kinds() -> None:
    """A dW without the penalty's gradient, the loss with it: the built-in network's own
    "regularisation" hypothesis; and the drills whose dW the penalty's term changes."""
    arch = Architecture(3, (4,), "relu", 1, "bce", 0.01, 0.1)
    params = network.init_params(arch, 42)
    x = np.array([0.2, -0.4, 0.1])
    model = BuiltinModel(arch)
    cache, loss = model.forward(x, params, 1)
    grads = network.backward(arch.unpenalised(), x, 1, params, cache)
    check = diagnose(gradient_check(model, params, x, 1, grads, EPS), grads, arch, params, x, 1, loss,
                     builtin=True)
    assert [(d.tensor, d.kind, d.enters) for d in check.diagnosis] == \
        [("W1", "regularisation", "dW1"), ("W2", "regularisation", "dW2")]
    assert "without its penalty term l1·sign(W1) + l2·W1" in check.diagnosis[0].detail
    for bug, kind in (("sign", "sign"), ("cache", "wrong-cache"), ("activation-grad", "dead-units"),
                      ("bias-grad", "zero")):
        check = first_check(Config(l1=0.01, l2=0.1, inject_bug=bug))
        assert {d.kind for d in check.diagnosis} == {kind}, bug


# ---- explanations ---------------------------------------------------------------------

def test_dW_and_the_loss_explain_the_penalty_with_its_numbers() -> None:
    stepper = Stepper(validate(Config(l2=0.1)))
    stepper.run_steps(1)
    view = stepper.view()
    state = view.state
    assert state.backward is not None and state.update is not None and state.forward is not None
    W1 = state.update.before["W1"]
    e = explain(view, "dW1", (1, 1))
    assert e.formula == "dW1[1,1] = dz1[1] · x[1] + l2·W1[1,1]"
    assert num(float(W1[1, 1])) == "-0.2342"
    assert e.substituted == ("dW1[1,1] = dz1[1] · x[1] + l2·W1[1,1] = (-0.5286) + 0.1 · (-0.2342) = "
                             f"{num(e.value)}")
    assert e.chain[0] == ("the data term: dW1[1,1] = dz1[1] · x[1] = (da1[1] · relu'(z1[1])) · x[1] = "
                          "((W2[0,1]·dz2[0]) · 1) · (-0.4) = ((-1.913 · -0.6907) · 1) · (-0.4) = -0.5286")
    assert e.value == state.backward["dW1"][1, 1] and redo(e) == pytest.approx(e.value, rel=1e-14)
    assert explain(view, "db1", (1,)).operation == "product"  # a bias has no penalty term
    loss = explain(view, "loss", ())
    assert loss.formula == "loss = data loss + (l2/2)·ΣW²"
    squares = math.fsum(float(np.square(state.update.before[n]).sum()) for n in ("W1", "W2"))
    assert loss.operands[1].value == pytest.approx(0.05 * squares, rel=1e-14)
    assert loss.operands[0].value == float(network.output_loss("bce", state.forward.cache["z2"], 1))
    assert redo(loss) == pytest.approx(state.forward.loss, rel=1e-14)


@pytest.mark.parametrize(("rates", "data"), [({"l1": 0.05}, False), ({"l1": 0.02, "l2": 0.05}, True),
                                             ({"l2": 0.1, "inject_bug": "penalty-loss"}, True)])
def test_every_tensor_adds_up_with_rates(rates: dict[str, Any], data: bool) -> None:
    """Every sampled element of every tensor, a sample's or a batch's mean, redone from its
    own operands, equals its value."""
    extra: dict[str, Any] = {"dataset": "moons", "samples": 30, "batch": 6} if data else {}
    config = validate(Config(hidden=(3, 4), activation="tanh", gradcheck_method="loop", **rates, **extra))
    fitted, found = fit_to_data(config, set(extra)) if data else (config, None)
    stepper = Stepper(fitted, data=found)
    stepper.run_steps(1)
    view = stepper.view() if found is None else sample_view(stepper.view(), 2)
    for tensor, value in tensors(view.state).items():
        for index in {tuple(0 for _ in np.shape(value)), tuple(n - 1 for n in np.shape(value))}:
            e = explain(view, tensor, index)
            expected = float(np.asarray(value)[index])
            assert e.value == expected, tensor
            # A numerical gradient's quotient, redone through the forward pass, adds the data
            # loss and the penalty in another order than the check: equal to rounding.
            atol = ATOL if tensor.startswith("gradcheck.") else 1e-12 * max(1.0, abs(expected))
            assert abs(redo(e) - expected) <= atol, (tensor, index, e)
    loss = explain(view, "loss", ())
    assert (loss.operation == "sum") == ("inject_bug" not in rates)
