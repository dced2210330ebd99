"""A run's verdict (engine.run.verdict): what fails a step, what does not, and the one line
that says the run's verdict."""

from __future__ import annotations

import pytest

from engine.run.stepper import Stepper
from engine.run.verdict import CheckResult, StepVerdict, Tally, TensorFailure
from engine.settings.config import Config


def tally_of(config: Config, steps: int, keep: bool = True) -> Tally:
    tally = Tally(keep=keep)
    for state in Stepper(config).iter_steps(steps):
        tally.add(state)
    return tally


def test_a_correct_network_passes_every_step() -> None:
    tally = tally_of(Config(), 2)
    assert tally.passed and tally.status == 0
    assert [(v.step, v.checked, v.passed, v.failures) for v in tally.kept] == [(1, True, True, ()),
                                                                              (2, True, True, ())]
    assert tally.summary() == "passed: every gradient check passed (2 of 2 steps checked)"


def test_a_drill_fails_each_tensor_it_breaks_with_the_diagnosis_of_each() -> None:
    tally = tally_of(Config(inject_bug="sign"), 2)
    assert not tally.passed and tally.status == 1 and tally.failed_steps == 2
    first = tally.kept[0]
    assert [(f.tensor, f.kind, f.enters) for f in first.failures] == \
        [(name, "sign", "dz2") for name in ("W1", "b1", "W2", "b2")]
    assert all(f.rel_error == pytest.approx(2.0) for f in first.failures)  # analytic = -numerical
    assert [d.tensor for d in first.diagnosis] == ["W1", "b1", "W2", "b2"]
    assert first.failures[0].line() == "step 1: W1 FAILED, relative error 2 (sign, enters at dz2)"
    assert tally.summary() == ("FAILED: gradient check failed on W1, b1, W2, b2 at 2 of 2 checked steps, "
                               "first at step 1 (2 steps run)")


def test_a_step_not_checked_passes_unless_it_diverges() -> None:
    """The drill is there, but no check looked: nothing says a gradient is wrong."""
    tally = tally_of(Config(inject_bug="sign", gradcheck=False), 3)
    assert tally.passed and [v.checked for v in tally.kept] == [False] * 3
    assert tally.summary() == "passed: 3 steps run, none checked"


def test_an_unresolved_check_is_no_failure() -> None:
    """eps = 5e-324: every difference is below the rounding floor; the check cannot judge,
    so it says nothing against the gradient."""
    tally = tally_of(Config(eps=5e-324), 1)
    [verdict] = tally.kept
    assert verdict.unresolved and not verdict.failures and verdict.passed and tally.status == 0


def test_a_diverged_run_fails_from_the_step_it_diverged_at() -> None:
    tally = tally_of(Config(lr=1e300), 3)
    assert tally.first_diverged is not None and tally.first_diverged.step == 1
    assert "z2 after the update" in tally.first_diverged.nonfinite
    assert tally.first_failed is None and not tally.passed and tally.status == 1
    assert tally.summary() == "FAILED: diverged at step 1 (3 steps run)"
    assert tally.first_diverged.diverged_line().startswith("step 1: diverged: non-finite values in ")


def test_a_long_run_keeps_counts_not_verdicts() -> None:
    tally = tally_of(Config(inject_bug="cache"), 5, keep=False)
    assert tally.kept == [] and (tally.steps, tally.checked, tally.failed_steps) == (5, 5, 5)
    assert tally.first_failed is not None and tally.first_failed.step == 1
    assert list(tally.failed_tensors) == ["W2"]


def test_a_failure_line_says_what_it_knows() -> None:
    assert TensorFailure(3, "b1", 0.5).line() == "step 3: b1 FAILED, relative error 0.5"
    assert TensorFailure(1, "W1", 1e-3, inconsistent_kinks=2, kind="scale").line() == \
        "step 1: W1 FAILED, relative error 0.001, 2 kink element(s) inconsistent (scale)"


def test_the_result_reads_as_an_assertion_message() -> None:
    result = CheckResult.of("built-in", tally_of(Config(inject_bug="bias-grad"), 2))
    assert not result.passed and result.status == 1
    assert [(f.step, f.tensor) for f in result.failures] == [(1, "b1"), (1, "b2"), (2, "b1"), (2, "b2")]
    assert [(d.tensor, d.kind, d.enters) for d in result.diagnosis] == [("b1", "zero", "db1"),
                                                                        ("b2", "zero", "db2")]
    lines = str(result).splitlines()
    assert lines[0] == f"built-in: {result.summary}"
    assert lines[1] == "step 1: b1 FAILED, relative error 1 (zero, enters at db1)"
    assert lines[5] == "diagnosis:" and lines[6].startswith("  b1: zero — analytic 0 where")
    passed = CheckResult.of("built-in", tally_of(Config(), 1))
    assert passed.passed and passed.diagnosis == () and str(passed) == f"built-in: {passed.summary}"


def test_a_verdict_of_an_unchecked_state() -> None:
    stepper = Stepper(Config(gradcheck=False))
    state = next(stepper.iter_steps(1))
    assert StepVerdict.of(state) == StepVerdict(1, False)
