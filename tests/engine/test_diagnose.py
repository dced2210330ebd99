"""Issue 11, part 2: kinks judged as subgradients by their one-sided slopes, and the
diagnosis of a failing check (what kind of error, and where it enters the backward pass)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.check.diagnose import diagnose
from engine.check.verdicts import DIAGNOSIS_KINDS, GradCheck, gradient_check
from engine.maths.network import ACTIVATIONS, Architecture, Params, init_params
from engine.model.builtin import BuiltinModel, make_model
from engine.run.stepper import Stepper
from engine.settings.config import Config
from tests.helpers import FIXTURES
from tests.reference import Case, drill_cases
from tui.cli.main import main

NOTEBOOK = Architecture()
ZERO_X = np.zeros(3)  # z1 = W1·0 + b1 = 0: every hidden unit exactly at its kink


def run_check(arch: Architecture, params: Params, x: np.ndarray, y: int, method: str,
              dz1_at_zero: float | None = None, bug: str | None = None) -> GradCheck:
    """The built-in backward, or one whose relu′(0) is `dz1_at_zero` (1 layer only)."""
    model = make_model(arch, bug)
    cache, _ = model.forward(x, params, y)
    grads = dict(model.backward(x, y, params, cache))
    if dz1_at_zero is not None:
        z1 = cache["z1"]
        dz1 = grads["da1"] * np.where(z1 > 0, 1.0, np.where(z1 == 0, dz1_at_zero, 0.0))
        grads |= {"dz1": dz1, "db1": dz1, "dW1": np.outer(dz1, x)}
    return gradient_check(model, params, x, y, grads, 1e-5, method)


# ---- kinks: the subgradient rule ---------------------------------------------------------

@pytest.mark.parametrize("method", ["fast", "loop"])
def test_a_correct_relu_gradient_at_its_kink_is_consistent(method: str) -> None:
    params = init_params(NOTEBOOK, 42)
    check = run_check(NOTEBOOK, params, ZERO_X, 1, method)
    b1 = check.tensors["b1"]
    assert b1.kinks.all() and b1.one_sided is not None and b1.inconsistent is not None
    left, right = b1.one_sided
    # Below the kink a1 does not move at all: the left slope is exactly 0 = relu′(0)·da1.
    np.testing.assert_array_equal(left, 0.0)
    cache, _ = BuiltinModel(NOTEBOOK).forward(ZERO_X, params, 1)
    da1 = params["W2"][0] * (cache["a2"][0] - 1)
    np.testing.assert_allclose(right, da1, rtol=1e-4)  # above it, relu′ = 1
    assert not b1.inconsistent.any() and b1.verdict == "pass" and check.passed
    assert [b1.kink_verdict((i,)) for i in range(4)] == ["kink: consistent"] * 4
    # Off the kinks: NaN (none at all for a tensor without kinks), and no verdict of that kind.
    assert check.tensors["W2"].one_sided is None and check.tensors["W2"].inconsistent_count == 0
    assert check.tensors["W2"].kink_verdict((0, 0)) is None
    # x = (0, 0, 1) and b1 = -W1[:, 2]: z1 = 0 again, and only W1[:, 2] moves it off its kink.
    params = params | {"b1": -params["W1"][:, 2]}
    check = run_check(NOTEBOOK, params, np.array([0.0, 0.0, 1.0]), 1, method)
    w1 = check.tensors["W1"]
    assert w1.kinks[:, 2].all() and not w1.kinks[:, :2].any() and w1.one_sided is not None
    assert np.isnan(w1.one_sided[0][:, :2]).all() and not np.isnan(w1.one_sided[0][:, 2]).any()
    assert check.diagnosis == ()


@pytest.mark.parametrize("method", ["fast", "loop"])
def test_relu_derivative_one_at_zero_lies_between_the_slopes_but_two_does_not(method: str) -> None:
    params = init_params(NOTEBOOK, 42)
    one = run_check(NOTEBOOK, params, ZERO_X, 1, method, dz1_at_zero=1.0)
    assert one.passed and one.tensors["b1"].inconsistent_count == 0
    two = run_check(NOTEBOOK, params, ZERO_X, 1, method, dz1_at_zero=2.0)
    b1 = two.tensors["b1"]
    assert two.failed_names == ["b1"] and b1.verdict == "fail"
    assert b1.inconsistent_count == 4 and (b1.failing == b1.inconsistent).all()
    assert b1.worst_is_kink and b1.kink_verdict((0,)) == "kink: inconsistent"
    # The central difference alone could not have seen it: those elements are kinks.
    assert b1.max_abs_diff == 0.0 and b1.kink_count == 4


@pytest.mark.parametrize("method", ["fast", "loop"])
def test_a_nudge_crossing_kinks_on_both_sides_of_theta_is_left_out(method: str) -> None:
    """z1[0] sits 2e-6 above its kink (b1[0]'s -1e-5 nudge crosses it) and z2[k] 5e-6·W2[k,0]
    below its own (the +1e-5 nudge, through a1[0], crosses that): each one-sided slope then
    mixes two pieces and bounds nothing, so the element keeps no slopes and is not judged."""
    arch = Architecture(3, (4, 4))
    params = {k: v.copy() for k, v in init_params(arch, 3, "he").items()}
    x = np.array([0.5, -0.3, 0.8])
    cache, _ = BuiltinModel(arch).forward(x, params, 1)
    params["b1"][0] += -cache["z1"][0] + 2e-6
    cache, _ = BuiltinModel(arch).forward(x, params, 1)
    k = int(np.argmax(params["W2"][:, 0]))
    assert params["W2"][k, 0] > 0
    params["b2"][k] += -cache["z2"][k] - 5e-6 * params["W2"][k, 0]
    b1 = run_check(arch, params, x, 1, method).tensors["b1"]
    assert b1.kinks[0] and b1.one_sided is not None
    assert np.isnan(b1.one_sided[0][0]) and np.isnan(b1.one_sided[1][0])
    assert b1.kink_verdict((0,)) == "kink: unjudged" and not b1.failing[0]


def test_the_activation_grad_drill_is_a_valid_subgradient_where_every_unit_sits_on_its_kink() -> None:
    """At x = 0, relu′ taken as 1 gives db1 = da1: the right-hand slope, so a subgradient.
    Off the kink (the default x) the same drill fails: the subgradient rule is no loophole."""
    params = init_params(NOTEBOOK, 42)
    assert run_check(NOTEBOOK, params, ZERO_X, 1, "fast", bug="activation-grad").passed
    assert not run_check(NOTEBOOK, params, np.array([0.2, -0.4, 0.1]), 1, "fast",
                         bug="activation-grad").passed


@pytest.mark.slow
def test_a_user_model_gets_one_sided_slopes_from_its_own_process(tmp_path, capsys) -> None:
    """The loop method in the model's process sends the slopes back over the pipe: the
    notebook's file with relu′(0) = 2 fails on b1's kinks, with relu′(0) = 1 it passes."""
    source = (FIXTURES / "notebook.py").read_text()
    old = "    return (z > 0).astype(float)\n"
    assert old in source
    results = {}
    for at_zero in ("1.0", "2.0"):
        path = tmp_path / f"notebook_{at_zero[0]}.py"
        new = f"    return np.where(z > 0, 1.0, np.where(z == 0, {at_zero}, 0.0))\n"
        path.write_text(source.replace(old, new))
        status = main(["--headless", "--format", "json", "--model", str(path), "--x", "0,0,0"])
        results[at_zero] = json.loads(capsys.readouterr().out)["steps"][0]["gradcheck"]
        assert status == (0 if at_zero == "1.0" else 1)  # the exit status is the verdict
    assert results["1.0"]["passed"] and results["1.0"]["b1"]["kinks"] == 4
    assert results["1.0"]["b1"]["kinks_inconsistent"] == 0
    assert results["2.0"]["b1"]["verdict"] == "fail" and results["2.0"]["b1"]["kinks_inconsistent"] == 4
    assert [d["tensor"] for d in results["2.0"]["diagnosis"]] == ["b1"]


# ---- diagnosis: each drill its own kind, and where it enters ----------------------------

DRILL_KINDS = {"activation-grad": "dead-units", "bias-grad": "zero", "sign": "sign",
               "cache": "wrong-cache", "transpose": "transpose"}


def diagnosed(config: Config) -> GradCheck:
    check = Stepper(config).run_steps(1).gradcheck
    assert check is not None
    return check


@pytest.mark.parametrize(("bug", "hidden", "expected"), [
    ("activation-grad", (4,), [("W1", "dz1"), ("b1", "dz1")]),
    ("bias-grad", (4,), [("b1", "db1"), ("b2", "db2")]),
    ("sign", (4,), [("W1", "dz2"), ("b1", "dz2"), ("W2", "dz2"), ("b2", "dz2")]),
    ("cache", (4,), [("W2", "dW2")]),
    ("transpose", (5, 5), [("W1", "da1"), ("b1", "da1")]),
])
def test_each_drill_on_the_default_network_gets_its_kind_and_entry(bug: str, hidden: tuple[int, ...],
                                                                  expected: list[tuple[str, str]]) -> None:
    check = diagnosed(Config(hidden=hidden, inject_bug=bug))
    assert [(d.tensor, d.enters) for d in check.diagnosis] == expected
    assert {d.kind for d in check.diagnosis} == {DRILL_KINDS[bug]}
    assert all(d.kind in DIAGNOSIS_KINDS and d.factor is None for d in check.diagnosis)


def test_dead_units_name_the_rows_of_the_dead_units() -> None:
    check = diagnosed(Config(inject_bug="activation-grad"))  # unit 2 of z1 is dead (z1 = -0.038)
    assert check.diagnosis[0].detail.startswith("errors only in row 2 of units with z1 <= 0")
    assert "(W2, b2 pass)" in check.diagnosis[0].detail


def test_a_smooth_activation_with_its_derivative_taken_as_one_is_dead_units_too() -> None:
    check = diagnosed(Config(activation="tanh", inject_bug="activation-grad"))
    assert [d.kind for d in check.diagnosis] == ["dead-units", "dead-units"]
    assert "tanh′ taken as 1" in check.diagnosis[0].detail


def config_of(case: Case, bug: str) -> Config:
    return Config(inputs=case.inputs, hidden=case.hidden, activation=case.activation, classes=case.classes,
                  loss=case.loss, init=case.init, seed=case.seed, x=case.x, y=case.y, lr=case.lr,
                  eps=case.eps, inject_bug=bug)


@pytest.mark.parametrize("bug", list(DRILL_KINDS))
def test_each_drill_on_random_networks_gets_its_kind_and_entry(bug: str) -> None:
    """The cases tests/engine/test_architectures.py derives: random 2+ hidden-layer networks (every
    activation and loss) on which the drill changes the check's verdict decisively."""
    for case, failing in drill_cases(bug):
        check = diagnosed(config_of(case, bug))
        L = case.depth
        assert {d.tensor for d in check.diagnosis} == failing == set(check.failed_names), case
        assert {d.kind for d in check.diagnosis} == {DRILL_KINDS[bug]}, (case, check.diagnosis)
        for d in check.diagnosis:
            layer = int(d.tensor[1:])
            assert d.enters is not None
            if bug == "sign":
                assert d.enters == f"dz{L}"
            elif bug == "cache":
                assert (d.tensor, d.enters) == (f"W{L}", f"dW{L}")
            elif bug == "bias-grad":
                assert d.enters == f"d{d.tensor}"
            elif bug == "activation-grad":  # some dz below the output, at or above the tensor
                assert d.enters.startswith("dz") and layer <= int(d.enters[2:]) < L
            else:  # transpose: da_(k-1) = W_k dz_k for a square W_k above the tensor
                k = int(d.enters[2:]) + 1
                assert d.enters.startswith("da") and case.sizes[k] == case.sizes[k - 1] and layer < k


def small_random_config(rng: np.random.Generator) -> Config:
    depth = int(rng.integers(1, 4))
    classes = int(rng.choice([1, 1, 3]))
    inputs = int(rng.integers(1, 5))
    return Config(inputs=inputs, hidden=tuple(int(n) for n in rng.integers(1, 5, size=depth)),
                  activation=str(rng.choice(list(ACTIVATIONS))), classes=classes,
                  loss=str(rng.choice(["bce", "mse"])) if classes == 1 else "",
                  init=str(rng.choice(["he", "xavier"])), seed=int(rng.integers(0, 2**31)),
                  x=tuple(float(v) for v in rng.normal(size=inputs)), y=int(rng.integers(0, max(2, classes))))


def test_correct_gradients_get_no_diagnosis_across_200_random_kink_free_networks() -> None:
    rng = np.random.default_rng(11)
    done = 0
    while done < 200:
        config = small_random_config(rng).resolved()
        arch = config.architecture
        model = make_model(arch)
        params = init_params(arch, config.seed, config.init)
        x = np.array(config.x)
        cache, loss = model.forward(x, params, config.y)
        grads = model.backward(x, config.y, params, cache)
        check = gradient_check(model, params, x, config.y, grads, config.eps)
        if any(t.kink_count for t in check.tensors.values()):
            continue
        done += 1
        assert check.passed, config
        assert diagnose(check, grads, arch, params, x, config.y, loss, builtin=True).diagnosis == ()
        # And the diagnosis of the same check forced to fail finds nothing wrong with the analytic:
        # it blames the numerical side, never a kind of bug.
        broken = replace(check, tensors={n: replace(t, verdict="fail", failing=np.ones_like(t.failing))
                                         for n, t in check.tensors.items()})
        found = diagnose(broken, grads, arch, params, x, config.y, loss, builtin=True).diagnosis
        assert {d.kind for d in found} == {"other"} and all(d.enters is None for d in found), config
        assert all("equals the true gradient" in d.detail for d in found)


# ---- a user's hand-broken model ----------------------------------------------------------

def user_trace(tmp_path: Path, capsys, fixture: str, old: str, new: str, *argv: str) -> dict:
    source = (FIXTURES / fixture).read_text()
    assert old in source, old
    path = tmp_path / fixture
    path.write_text(source.replace(old, new))
    assert main(["--headless", "--format", "json", "--model", str(path), *argv]) == 1  # each is broken
    return json.loads(capsys.readouterr().out)["steps"][0]["gradcheck"]  # type: ignore[no-any-return]


def test_a_user_gradient_doubled_is_scale_two_without_a_reference(tmp_path, capsys) -> None:
    check = user_trace(tmp_path, capsys, "three_layer.py", "grads['Wo'] = np.outer(dzo, cache['ah'])",
                       "grads['Wo'] = 2 * np.outer(dzo, cache['ah'])")
    assert check["diagnosis"] == [{"tensor": "Wo", "kind": "scale", "factor": pytest.approx(2.0, rel=1e-6),
                                   "detail": check["diagnosis"][0]["detail"]}]
    assert "× numerical" in check["diagnosis"][0]["detail"]
    # Its names are not W1..WL: no reference backward, so nothing is said about where.
    assert any("not the 3-4-1 network's" in note and "not told" in note for note in check["notes"])


def test_a_user_sign_error_without_a_reference_is_sign(tmp_path, capsys) -> None:
    check = user_trace(tmp_path, capsys, "three_layer.py", "dzo = cache['ao'] - y", "dzo = y - cache['ao']")
    assert {d["kind"] for d in check["diagnosis"]} == {"sign"}
    assert all("enters" not in d for d in check["diagnosis"])


def test_the_notebook_file_with_relu_derivative_broken_is_dead_units_at_dz1(tmp_path, capsys) -> None:
    check = user_trace(tmp_path, capsys, "notebook.py", "    return (z > 0).astype(float)\n",
                       "    return np.ones_like(z)\n")
    assert [(d["tensor"], d["kind"], d["enters"]) for d in check["diagnosis"]] == \
        [("W1", "dead-units", "dz1"), ("b1", "dead-units", "dz1")]
    assert check["diagnosis"][0]["detail"].startswith("errors only in row 2 of units with z1 <= 0")


def test_a_user_loss_unlike_its_backward_is_a_cost_entering_at_the_loss(tmp_path, capsys) -> None:
    """Same names and shapes as 3-4-1, but half the loss and the backward of the whole one: the
    gradients are right for a loss the file does not compute, so the error enters at the loss."""
    source_old = "    loss = - (y * np.log(a2_clip) + (1 - y) * np.log(1 - a2_clip)).item()\n"
    check = user_trace(tmp_path, capsys, "notebook.py", source_old, source_old.replace("- (y", "- 0.5 * (y"))
    assert not check["passed"]
    assert {(d["kind"], d["enters"]) for d in check["diagnosis"]} == {("cost", "the loss")}
    assert "(0.5 × it)" in check["diagnosis"][0]["detail"]
    assert not any("differs from the built-in" in note for note in check["notes"])


def test_a_user_loss_unlike_both_backwards_drops_the_reference(tmp_path, capsys) -> None:
    """Half the loss and a doubled dW2: neither the built-in loss's gradient nor its own, so
    there is no reference, and the note says so."""
    loss = "    loss = - (y * np.log(a2_clip) + (1 - y) * np.log(1 - a2_clip)).item()\n"
    dW2 = "    dW2 = dz2.reshape(1,1) * a1.reshape(1, -1)"
    source = (FIXTURES / "notebook.py").read_text().replace(dW2, dW2.replace("dW2 = ", "dW2 = 2 * "))
    (tmp_path / "doubled.py").write_text(source)
    halved = loss.replace("- (y", "- 0.5 * (y")
    check = user_trace(tmp_path, capsys, str(tmp_path / "doubled.py"), loss, halved)
    assert any("differs from the built-in 3-4-1 network's" in note for note in check["notes"])
    assert "cost" not in {d["kind"] for d in check["diagnosis"]}


# ---- the report ---------------------------------------------------------------------------

def test_the_text_report_prints_a_diagnosis_after_the_failed_line(capsys) -> None:
    assert main(["--headless", "--inject-bug", "cache"]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    at = lines.index("Diagnosis:")
    assert lines[at - 2].startswith("Gradient check FAILED on W2")
    assert lines[at + 1] == ("  W2: wrong-cache — matches dW2 = dz2·z1ᵀ: the pre-activation z1 in place of "
                             "the activation a1; enters at dW2")


def test_the_json_diagnosis_lists_tensor_kind_detail_and_entry(capsys) -> None:
    assert main(["--headless", "--format", "json", "--inject-bug", "bias-grad"]) == 1
    check = json.loads(capsys.readouterr().out)["steps"][0]["gradcheck"]
    assert [(d["tensor"], d["kind"], d["enters"]) for d in check["diagnosis"]] == \
        [("b1", "zero", "db1"), ("b2", "zero", "db2")]
    assert all(set(d) == {"tensor", "kind", "detail", "enters"} for d in check["diagnosis"])


def test_the_panel_shows_kinks_consistent_and_inconsistent() -> None:
    from tui.app.widgets.panels import _check_line

    params = init_params(NOTEBOOK, 42)
    good = run_check(NOTEBOOK, params, ZERO_X, 1, "fast").tensors["b1"]
    assert "⚡ 4 kink element(s): 4 consistent, 0 inconsistent" in _check_line(good).plain
    bad = run_check(NOTEBOOK, params, ZERO_X, 1, "fast", dz1_at_zero=2.0).tensors["b1"]
    text = _check_line(bad).plain
    assert "⚡ 4 kink element(s): 0 consistent, 4 inconsistent" in text
    assert "kink: inconsistent" in text and "worst [" in text and "one-sided" in text


def test_a_check_with_no_finite_true_gradient_says_so_instead_of_blaming_the_numerical_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Inputs of 1e308 overflow every gradient: with nothing finite to compare, the diagnosis
    had said the analytic gradient "equals the true gradient: the numerical one is off"."""
    csv = tmp_path / "huge.csv"
    csv.write_text("a,b,label\n1e308,1e308,0\n-1e308,1e308,1\n")
    assert main(["--headless", "--data", str(csv), "--test-fraction", "0", "--format", "json"]) == 1
    check = json.loads(capsys.readouterr().out)["steps"][0]["gradcheck"]
    assert check["diagnosis"]
    for entry in check["diagnosis"]:
        assert entry["kind"] == "other" and "entry" not in entry
        assert entry["detail"].startswith("no element of the true gradient is finite")
