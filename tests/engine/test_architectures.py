"""Any architecture, checked against an independent implementation (tests/reference.py).

The engine is reached only through the command line's JSON trace (tui.cli.main.main),
except where a test needs the kink masks themselves (fast against loop) or the functions'
numerics.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from engine.check.verdicts import ATOL, RTOL
from engine.maths.slopes import loop_numerical
from tests.helpers import FIXTURES
from tests.reference import (
    ACTIVATIONS,
    INITS,
    KINKED,
    LOSSES,
    Case,
    autograd_backward,
    draws,
    drill_cases,
    drilled_backward,
    random_case,
    ref_forward,
    ref_numerical,
)
from tui.cli.main import main


def trace_of(argv: list[str], capsys, status: int = 0) -> dict[str, Any]:
    """The run's JSON trace; its exit status must be `status` (1 for a drill: the check fails)."""
    got = main(argv)
    out, err = capsys.readouterr()
    assert got == status and err == "", err
    return json.loads(out, parse_constant=lambda name: pytest.fail(f"non-strict JSON: {name}"))


def _cases() -> list[Case]:
    """Every activation x loss twice (24 cases), the inits taken in turn."""
    rng = np.random.default_rng(20240610)
    combos = [(a, loss) for a in ACTIVATIONS for loss in LOSSES] * 2
    return [random_case(rng, a, loss, INITS[i % 3]) for i, (a, loss) in enumerate(combos)]


CASES = _cases()
#: With x = 0 every z1 (= b1 = 0) and every relu z after it sits exactly on its kink in step 1:
#: the biases' nudges straddle it, so the trace must count those kinks as the reference does.
KINK_CASES = [Case(3, (4, 4), "relu", 3, "cross-entropy", "he", 5, (0.0, 0.0, 0.0), 1),
              Case(2, (3, 5), "leaky-relu", 1, "mse", "xavier", 8, (0.0, 0.0), 0, lr=0.5)]


def case_id(case: Case) -> str:
    return (f"{'-'.join(map(str, case.sizes))}-{case.activation}-{case.loss}-{case.init}")


@pytest.mark.parametrize("case", CASES + KINK_CASES, ids=case_id)
def test_json_trace_equals_the_independent_reference(case: Case, capsys) -> None:
    trace = trace_of(case.argv("--steps", "2"), capsys)
    config = trace["config"]
    assert (config["hidden"], config["activation"], config["classes"], config["loss"], config["init"]) == \
        (list(case.hidden), case.activation, case.classes, case.loss, case.init)

    params = draws(case)
    assert list(trace["initial_params"]) == case.names
    for name in case.names:  # exactly the spec's draws, bit for bit
        np.testing.assert_array_equal(trace["initial_params"][name], params[name], err_msg=name)

    for record in trace["steps"]:
        cache, loss = ref_forward(case, params)
        # |L| < 50 keeps the gradient check's rounding floor (8 ulp |L| / eps) below ATOL.
        assert abs(loss) < 50
        assert set(record["forward"]) == {*cache, "loss"}
        for name, value in cache.items():
            np.testing.assert_allclose(record["forward"][name], value, rtol=1e-12, atol=1e-300,
                                       err_msg=name)
        assert record["forward"]["loss"] == pytest.approx(loss, rel=1e-12, abs=1e-15)

        # Analytic gradients: autograd's, every parameter and every intermediate dz, da.
        true = autograd_backward(case, params, cache)
        assert set(record["backward"]) == set(true)
        assert list(record["backward"])[:len(case.names)] == [f"d{n}" for n in case.names]
        for name, value in true.items():
            np.testing.assert_allclose(record["backward"][name], value, rtol=1e-9, atol=1e-13,
                                       err_msg=name)

        # Numerical gradients: the trace's (vectorised) against a plain loop on the reference.
        # Both are (L+ - L-) / 2eps of losses computed by different code, so they differ by
        # the losses' rounding: a few ulp of |L| < 50, over 2 eps = 2e-5, is below 1e-9; the
        # truncation error is the same in both and cancels. 1e-7 leaves a wide margin
        # while catching any real difference (a wrong gradient is off by >> 1e-4).
        check = record["gradcheck"]
        numerical = ref_numerical(case, params)
        assert check["method"] == "fast" and check["atol"] == ATOL and check["passed"] is True
        assert check["diagnosis"] == []
        for name, (num, kinks) in numerical.items():
            np.testing.assert_allclose(check[name]["numerical"], num, rtol=0, atol=1e-7, err_msg=name)
            assert check[name]["kinks"] == int(kinks.sum()), name
            # A correct backward passes, its kinks consistent with their one-sided slopes.
            assert check[name]["verdict"] == "pass", name
            assert check[name]["kinks_inconsistent"] == 0, name
            assert check[name]["failing"] == 0 and check[name]["unresolved"] == 0
            rule = ATOL + RTOL * np.maximum(np.abs(true[f"d{name}"]), np.abs(num))
            assert np.all((np.abs(true[f"d{name}"] - num) <= rule) | kinks), name

        # The update: W - lr dW, exactly with the trace's own gradients.
        for name in case.names:
            stepped = np.asarray(params[name]) - case.lr * np.asarray(record["backward"][f"d{name}"])
            np.testing.assert_array_equal(record["update"][name], stepped, err_msg=name)
            np.testing.assert_allclose(record["update"][name], params[name] - case.lr * true[f"d{name}"],
                                       rtol=1e-12, atol=1e-14, err_msg=name)
        params = {name: np.asarray(record["update"][name], dtype=np.float64) for name in case.names}
        _, loss_after = ref_forward(case, params)
        assert record["update"]["loss_after"] == pytest.approx(loss_after, rel=1e-12, abs=1e-15)
    assert trace["warnings"] == []


def test_the_cases_cover_every_activation_loss_and_init() -> None:
    assert {(c.activation, c.loss) for c in CASES} == \
        {(a, loss) for a in ACTIVATIONS for loss in ("bce", "mse", "cross-entropy")}
    assert {c.init for c in CASES} == set(INITS)
    assert {c.depth for c in CASES} == {2, 3, 4, 5}
    kinks = [sum(int(k.sum()) for _, k in ref_numerical(c, draws(c)).values()) for c in KINK_CASES]
    assert all(kinks), kinks


def test_the_reference_backward_by_hand_is_autograds() -> None:
    """The drills below are derived from drilled_backward; without a drill it must be exact."""
    for case in CASES:
        params = draws(case)
        cache, _ = ref_forward(case, params)
        true = autograd_backward(case, params, cache)
        mine = drilled_backward(case, params, cache, None)
        assert set(mine) == set(true)
        for name, value in true.items():
            np.testing.assert_allclose(mine[name], value, rtol=1e-9, atol=1e-13, err_msg=name)


# ---- the vectorised check against the loop method ---------------------------------------

def _fast_loop_cases() -> list[tuple[Case, float]]:
    rng = np.random.default_rng(7)
    out = []
    for i in range(32):
        activation = ACTIVATIONS[i % 4] if i < 16 else KINKED[i % 2]  # kinks where they happen
        case = random_case(rng, activation, LOSSES[i % 3], INITS[i % 3])
        x = np.array(case.x) * float(rng.choice([0.3, 1.0, 3.0]))
        out.append((replace(case, x=tuple(float(v) for v in x)), (1e-5, 1e-2, 0.3, 3.0)[i % 4]))
    # Units exactly at their kink: x = 0 puts every z1 (= b1 = 0) and, with relu, every z
    # downstream on it; the biases' nudges then cross it, the weights' do not move it.
    for activation in KINKED:
        out.append((Case(3, (4, 4), activation, 3, "cross-entropy", "he", 5, (0.0, 0.0, 0.0), 1), 1e-5))
        out.append((Case(2, (3, 3, 2), activation, 1, "bce", "notebook", 9, (0.0, 1.5), 0), 0.3))
    return out


@pytest.mark.parametrize(("case", "eps"), _fast_loop_cases(),
                         ids=lambda v: case_id(v) if isinstance(v, Case) else f"eps{v:g}")
def test_vectorised_check_equals_the_loop_method(case: Case, eps: float) -> None:
    from engine.maths.fastcheck import fast_numerical
    from engine.model.builtin import BuiltinModel
    from engine.settings.config import Config

    arch = Config(inputs=case.inputs, hidden=case.hidden, activation=case.activation,
                  classes=case.classes, loss=case.loss).architecture
    params = draws(case)
    x = np.array(case.x)
    fast = fast_numerical(arch, params, x, case.y, eps)
    loop = loop_numerical(BuiltinModel(arch), params, x, case.y, eps, None)
    reference = ref_numerical(replace(case, eps=eps), params)
    _, loss = ref_forward(case, params)
    # Both divide loss differences by 2 eps; the loop's losses come from full passes, the fast
    # ones (relu) from z_L + Δa J: rounding of order ulp(max(|L|, |z|)) / eps apart.
    cache, _ = ref_forward(case, params)
    size = max(1.0, abs(loss), *np.abs(np.concatenate([v.ravel() for v in cache.values()])))
    atol = 1e-13 * size / eps
    for name in case.names:
        (f_num, f_kinks, f_sides), (l_num, l_kinks, l_sides) = fast[name], loop[name]
        np.testing.assert_array_equal(f_kinks, l_kinks, err_msg=name)
        np.testing.assert_array_equal(f_kinks, reference[name][1], err_msg=name)
        np.testing.assert_allclose(f_num, l_num, rtol=1e-8, atol=atol, err_msg=name)
        np.testing.assert_allclose(l_num, reference[name][0], rtol=1e-8, atol=atol, err_msg=name)
        # The kinks' one-sided slopes, NaN off the kinks (and where a nudge crosses kinks on both
        # sides of θ): the same from both methods (each divides by eps, so twice the rounding).
        assert np.isnan(f_sides[:, ~f_kinks]).all(), name
        np.testing.assert_array_equal(np.isnan(f_sides), np.isnan(l_sides), err_msg=name)
        np.testing.assert_allclose(f_sides, l_sides, rtol=1e-8, atol=2 * atol, err_msg=name)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_a_check_split_in_blocks_on_threads_equals_it_whole(activation: str, monkeypatch) -> None:
    """A big check runs its blocks on a thread a core (engine.maths.fastcheck._pool): each block
    writes its own slice, so the numbers are bit for bit those of one block."""
    from engine.maths import fastcheck
    from engine.run.stepper import Stepper
    from engine.settings.config import Config

    config = Config(inputs=5, hidden=(6, 4), activation=activation, classes=3, init="he", seed=3,
                    x=(0.3, -1.2, 0.5, 2.0, -0.7), y=2)
    arch, params = config.architecture, Stepper(config).state.params
    x = np.array(config.x)
    whole = fastcheck.fast_numerical(arch, params, x, 2, 1e-5)
    pool, used = fastcheck._pool(), []
    monkeypatch.setattr(fastcheck, "_pool", lambda: used.append(1) or pool)
    monkeypatch.setattr(fastcheck, "CHUNK", 16)  # blocks of a few perturbations each
    monkeypatch.setattr(fastcheck, "POOLED", 0)  # this small a check would run on the caller's thread
    split = fastcheck.fast_numerical(arch, params, x, 2, 1e-5)
    assert len(used) == 2  # the reaches, then every tensor's blocks at once, went to the threads
    for name in arch.param_names:
        for a, b in zip(whole[name], split[name], strict=True):
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_large_eps_cases_do_straddle_kinks() -> None:
    """The comparison above is only worth something if the masks are not all empty."""
    from engine.maths.fastcheck import fast_numerical
    from engine.settings.config import Config

    counts = []
    for case, eps in _fast_loop_cases():
        if case.activation in KINKED and eps >= 0.3:
            arch = Config(inputs=case.inputs, hidden=case.hidden, activation=case.activation,
                          classes=case.classes, loss=case.loss).architecture
            masks = fast_numerical(arch, draws(case), np.array(case.x), case.y, eps)
            counts.append(sum(int(k.sum()) for _, k, _ in masks.values()))
    assert len(counts) >= 6 and sum(c > 0 for c in counts) >= 4, counts


@pytest.mark.parametrize("activation", KINKED)
def test_loop_and_fast_report_the_same_kink_counts_on_the_command_line(activation: str, capsys) -> None:
    case = Case(3, (5, 5, 4), activation, 3, "cross-entropy", "he", 11, (0.4, -1.2, 2.0), 2, eps=0.3)
    fast = trace_of(case.argv(), capsys)["steps"][0]["gradcheck"]
    loop = trace_of(case.argv("--gradcheck-method", "loop"), capsys)["steps"][0]["gradcheck"]
    assert loop["method"] == "loop"
    assert sum(fast[n]["kinks"] for n in case.names) > 0
    for name in case.names:
        assert fast[name]["kinks"] == loop[name]["kinks"]
        np.testing.assert_allclose(fast[name]["numerical"], loop[name]["numerical"], rtol=1e-8, atol=1e-12)


# ---- fault drills ---------------------------------------------------------------------

DRILLS = ("activation-grad", "bias-grad", "sign", "cache", "transpose")


@pytest.mark.parametrize("bug", DRILLS)
def test_each_drill_is_flagged_on_exactly_the_tensors_it_breaks(bug: str, capsys) -> None:
    for case, expected in drill_cases(bug):
        trace = trace_of(case.argv("--inject-bug", bug), capsys, status=1)
        record = trace["steps"][0]
        params = draws(case)
        cache, _ = ref_forward(case, params)
        # The drill is the one the spec describes...
        for name, value in drilled_backward(case, params, cache, bug).items():
            np.testing.assert_allclose(record["backward"][name], value, rtol=1e-12, atol=1e-15,
                                       err_msg=f"{bug} {name}")
        # ...and the check fails exactly the tensors it breaks.
        failed = {n for n in case.names if record["gradcheck"][n]["verdict"] == "fail"}
        assert failed == expected, (bug, case_id(case))
        assert record["gradcheck"]["passed"] is False
        assert trace["model"] == f"built-in with bug '{bug}'"


def test_what_each_drill_breaks_matches_its_description() -> None:
    """The derived sets, read against the spec: which layers each drill can touch."""
    for bug in DRILLS:
        for case, expected in drill_cases(bug):
            L = case.depth
            if bug == "bias-grad":
                assert expected <= {f"b{l}" for l in range(1, L + 1)}
            elif bug == "cache":
                assert expected == {f"W{L}"}
            elif bug == "activation-grad":
                assert expected <= {n for n in case.names if int(n[1:]) < L}
            elif bug == "transpose":
                square = max(l for l in range(2, L) if case.sizes[l] == case.sizes[l - 1])
                assert expected <= {n for n in case.names if int(n[1:]) < square}
            else:  # sign: the output's dz is never 0, so db_L always breaks
                assert f"b{L}" in expected


def test_transpose_drill_on_two_equal_hidden_layers_is_flagged(capsys) -> None:
    trace = trace_of(["--headless", "--format", "json", "--hidden", "5,5", "--inject-bug", "transpose"],
                     capsys, status=1)
    check = trace["steps"][0]["gradcheck"]
    assert check["passed"] is False
    assert {n for n in ("W1", "b1") if check[n]["verdict"] == "fail"} == {"W1", "b1"}
    assert all(check[n]["verdict"] == "pass" for n in ("W2", "b2", "W3", "b3"))


@pytest.mark.parametrize("argv", [["--hidden", "4"], ["--hidden", "3", "--classes", "3"],
                                  ["--hidden", "4,5,4"]])
def test_transpose_drill_without_a_square_hidden_weight_is_refused(argv: list[str], capsys) -> None:
    status = main(["--headless", *argv, "--inject-bug", "transpose"])
    out, err = capsys.readouterr()
    assert status == 2 and out == "" and "Traceback" not in err
    assert "transpose" in err and "equal width" in err and "--inject-bug" in err


def test_a_tensor_of_kinks_only_is_judged_by_its_one_sided_slopes(capsys) -> None:
    """1-1-...-1 relu from seed 42: a dead unit leaves every later z exactly 0, so each
    one-element b_l's nudge crosses a kink: the central difference is left out, and the
    analytic 0 (relu'(0) = 0) lies between the one-sided slopes, so the check passes."""
    assert main(["--headless", "--hidden", "1,1,1,1,1,1,1,1"]) == 0
    out = capsys.readouterr().out
    assert "b4: 0.0 (1 kink element(s) left out)" in out
    assert "rounding floor" not in out and "could not judge" not in out
    assert "Gradient check passed" in out
    assert "judged by their one-sided slopes instead of the central difference (0 inconsistent)" in out


# ---- numerical stability ---------------------------------------------------------------

STRICT_FP = {"over": "raise", "invalid": "raise", "divide": "raise", "under": "ignore"}


@pytest.mark.parametrize("z", [0.0, 1e-300, 30.0, 710.0, 1e6, 1e300, 1.7e308])
def test_activations_and_losses_are_finite_without_warnings(z: float) -> None:
    from engine.maths import network

    values = np.array([-z, z])
    with warnings.catch_warnings(), np.errstate(**STRICT_FP):
        warnings.simplefilter("error")
        for act in network.ACTIVATIONS.values():
            assert np.all(np.isfinite(act.f(values))) and np.all(np.isfinite(act.derivative(values)))
        assert np.all((network.sigmoid(values) >= 0) & (network.sigmoid(values) <= 1))
        if z < 1e300:  # logits spread by 2z; beyond float range the difference itself overflows
            probs = network.softmax(np.array([z, -z, 0.0]))
            assert np.isclose(probs.sum(), 1) and np.all(np.isfinite(probs))
            for y in (0, 1):
                for loss in ("bce", "mse"):
                    assert np.isfinite(network.output_loss(loss, values[None, y:y + 1], y)).all()
            assert np.isfinite(network.output_loss("cross-entropy", np.array([z, -z, 0.0]), 1))
    if 40 < z < 1e300:
        # Saturated the right way the loss is tiny, the wrong way about z: accurate, not clipped.
        assert network.output_loss("bce", np.array([z]), 1) < 1e-17
        assert network.output_loss("bce", np.array([-z]), 1) == pytest.approx(z, rel=1e-12)
        assert network.output_loss("cross-entropy", np.array([-z, z, 0.0]), 0) == pytest.approx(2 * z)


@pytest.mark.parametrize("argv", [
    ["--activation", "tanh", "--inputs", "4", "--x", "1e6,-1e6,1e6,3e5", "--classes", "10", "--y", "7"],
    ["--activation", "sigmoid", "--x", "1e300,-1e300,1e300", "--loss", "mse"],
    ["--activation", "tanh", "--hidden", "6,6", "--x", "1e300,1e300,-1e300", "--classes", "10", "--y", "9"],
    ["--activation", "sigmoid", "--hidden", "3,3,3", "--x", "1e6,1e6,1e6", "--loss", "mse", "--y", "0"],
    ["--activation", "relu", "--x", "1e300,-1e300,1e300", "--classes", "10", "--y", "3"],
    ["--activation", "relu", "--x", "1e6,-1e6,1e6", "--classes", "10", "--y", "3"],
    ["--activation", "relu", "--hidden", "4,4", "--x", "3e5,-1e6,1e6", "--y", "0"],
    ["--activation", "relu", "--hidden", "4,4", "--x", "3e5,-1e6,1e6", "--y", "1"],
    ["--activation", "leaky-relu", "--hidden", "5,5", "--x", "-1e300,-1e300,1e300", "--loss", "mse",
     "--inject-bug", "transpose"],
    ["--activation", "relu", "--hidden", "4,4", "--x", "1e300,1e300,1e300", "--classes", "10",
     "--gradcheck-method", "loop"],
])
@pytest.mark.parametrize("fmt", ["json", "text"])
def test_huge_inputs_give_finite_losses_or_a_clean_divergence(argv: list[str], fmt: str, capsys) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        status = main(["--headless", "--format", fmt, "--steps", "3", *argv])
    out, err = capsys.readouterr()
    assert err == "", err
    if fmt == "text":  # nan or inf only in a step that says it diverged
        for step in out.split("=== Step ")[1:]:
            if "nan" in step or "inf" in step.replace("non-finite", ""):
                assert "\nDiverged: non-finite values in " in step, step
        # Exit status 1 exactly when the run diverged or a check failed (an unresolved one passes).
        assert status == int("\nDiverged: " in out or "Gradient check FAILED" in out), status
        return
    trace = json.loads(out, parse_constant=lambda name: pytest.fail(f"non-strict JSON: {name}"))
    failed = any(isinstance(t, dict) and t.get("verdict") == "fail"
                 for record in trace["steps"] for t in record["gradcheck"].values())
    assert status == int(failed or any("diverged" in w for w in trace["warnings"])), status
    for record in trace["steps"]:
        # A loss is non-finite only when a tensor it is computed from is: the loss formulas
        # themselves (log-sum-exp, the logit form of BCE) never overflow on finite logits.
        forward = record["forward"]
        if forward["loss"] is None:
            assert any(v is None or (isinstance(v, list) and None in v) for v in forward.values()
                       if v is not forward["loss"]), forward
        if record["update"]["loss_after"] is None:
            assert any("after the update" in w for w in trace["warnings"]), trace["warnings"]
        if None in (forward["loss"], record["update"]["loss_after"]):
            assert any("diverged" in w for w in trace["warnings"]), trace["warnings"]
            break
    else:
        assert all(record["forward"]["loss"] >= 0 for record in trace["steps"])
    if "--activation" in argv and argv[argv.index("--activation") + 1] in ("tanh", "sigmoid"):
        # Bounded hidden units keep the logits small: nothing may diverge.
        assert trace["warnings"] == [] and len(trace["steps"]) == 3


def test_a_saturated_softmax_keeps_its_gradient_finite_and_exact(capsys) -> None:
    """x ~ 1e6 saturates tanh: a1 is ±1, and the softmax's gradient is p - onehot exactly."""
    case = Case(4, (6,), "tanh", 10, "cross-entropy", "he", 3, (1e6, -1e6, 1e6, 3e5), 7)
    record = trace_of(case.argv(), capsys)["steps"][0]
    params = draws(case)
    cache, loss = ref_forward(case, params)
    assert record["forward"]["loss"] == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(record["backward"]["dz2"], cache["a2"] - np.eye(10)[7], rtol=1e-12, atol=1e-15)


# ---- the notebook network unchanged ----------------------------------------------------

def previous_config(new: dict[str, Any]) -> dict[str, Any]:
    """The JSON config the previous release (75c40fc) wrote: hidden as a number, none of the
    new fields (activation, classes, loss)."""
    old = {k: v for k, v in new.items() if k not in ("activation", "classes", "loss")}
    return old | {"hidden": new["hidden"][0]}


@pytest.mark.parametrize(("argv", "fixture"), [
    ([], "notebook_report.txt"),
    (["--steps", "3"], "notebook_report_3_steps.txt"),
    (["--format", "json"], "notebook_trace.json"),
    (["--format", "json", "--steps", "3", "--inject-bug", "cache"], "notebook_trace_cache_3_steps.json"),
])
def test_the_notebook_network_prints_what_the_previous_release_printed(argv: list[str], fixture: str,
                                                                        capsys) -> None:
    """tests/fixtures/notebook_*: the previous release's output (git archive 75c40fc, run
    with the same flags), byte for byte. The JSON config gains the new fields and the head
    three keys about the model; they are compared on their own, the rest byte for byte."""
    assert main(["--headless", *argv]) == (1 if "--inject-bug" in argv else 0)  # the drill fails its check
    out = capsys.readouterr().out
    expected = (FIXTURES / fixture).read_text()
    if fixture.endswith(".json"):
        trace = json.loads(out)
        assert json.dumps(trace) + "\n" == out  # written as json.dumps writes it, so the rest compares
        config = trace["config"]
        assert (config["hidden"], config["activation"], config["classes"], config["loss"]) == \
            ([4], "relu", 1, "bce")
        old = previous_config(config)
        assert json.loads(expected)["config"] == old
        # What the trace gained says how to read a user's model; for the built-in one:
        assert [trace.pop(key) for key in ("gradient_keys", "own_init_params", "param_shapes")] == \
            ["d", False, {"W1": [4, 3], "b1": [4], "W2": [1, 4], "b2": [1]}]
        # Each step's check gained the subgradient rule's count and the diagnosis (issue 11).
        for record in trace["steps"]:
            check = record["gradcheck"]
            assert [check[name].pop("kinks_inconsistent") for name in ("W1", "b1", "W2", "b2")] == [0] * 4
            diagnosis = check.pop("diagnosis")
            if "--inject-bug" in argv:  # the cache drill: dW2 from z1 instead of a1
                assert [(d["tensor"], d["kind"], d["enters"]) for d in diagnosis] == \
                    [("W2", "wrong-cache", "dW2")]
            else:
                assert diagnosis == []
        out = json.dumps(trace | {"config": old}) + "\n"
    assert out == expected
