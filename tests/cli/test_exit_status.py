"""The headless run's exit status is its verdict (docs/reference/exit-status.md; docs/how-to/ci.md,
Checks in CI and in a pytest suite): 0 every step passed, 1 a check failed or the run diverged,
2 bad input, 130 interrupted; the same for the built-in network, the drills, a model file and a run on data.
And --quiet, the form for a CI log."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from engine.run import verdict
from tests.docs import block_after
from tests.helpers import DEFINITIONS, edit, write_model, write_toml
from tests.helpers import run_cli as run
from tui.output import report

#: The notebook's ReLU derivative taken as 1 everywhere: dead units pass gradient (one line).
RELU_DERIVATIVE = "    return (z > 0).astype(float)\n"
BROKEN = DEFINITIONS.replace(RELU_DERIVATIVE, "    return np.ones_like(z)\n")
MOONS = ["--dataset", "moons", "--batch", "16"]
#: Each drill, with a network it is visible on (transpose needs a square W).
DRILLS = [("activation-grad", []), ("bias-grad", []), ("sign", []), ("cache", []),
          ("transpose", ["--hidden", "8,8"]), ("relu-grad", [])]


@pytest.mark.parametrize(("bug", "argv"), DRILLS)
@pytest.mark.parametrize("form", [[], ["--format", "json"], ["--quiet"]])
def test_every_drill_exits_1_whatever_the_form(bug: str, argv: list[str], form: list[str], capsys) -> None:
    status, out, err = run(["--headless", "--inject-bug", bug, *argv, *form], capsys)
    assert (status, err) == (1, "") and out


@pytest.mark.parametrize("argv", [[], ["--steps", "3"], ["--format", "json"], ["--quiet"], MOONS,
                                  [*MOONS, "--steps", "300", "--quiet"]])
def test_a_correct_run_exits_0(argv: list[str], capsys) -> None:
    status, out, err = run(["--headless", *argv], capsys)
    assert (status, err) == (0, "") and out


def test_a_drill_on_data_exits_1_and_so_does_its_summary_trace(capsys) -> None:
    for trace in ("full", "summary"):
        status, out, _ = run(["--headless", *MOONS, "--hidden", "8,8", "--inject-bug", "sign", "--steps", "3",
                              "--trace", trace], capsys)
        assert status == 1 and out


def test_a_drill_no_check_looked_at_exits_0(capsys) -> None:
    """What counts is a check that failed: with the check off nothing says a gradient is wrong."""
    assert run(["--headless", "--inject-bug", "sign", "--no-gradcheck"], capsys)[0] == 0
    status, out, _ = run(["--headless", *MOONS, "--inject-bug", "sign", "--steps", "4", "--check-every", "0",
                          "--quiet"], capsys)
    assert (status, out) == (0, "passed: 4 steps run, none checked\n")
    status, out, _ = run(["--headless", *MOONS, "--inject-bug", "sign", "--steps", "4", "--check-every", "3",
                          "--quiet"], capsys)
    assert status == 1 and out.splitlines()[0].startswith("step 3: W1 FAILED")  # step 3 alone is checked


def test_a_diverged_run_exits_1(capsys) -> None:
    status, out, _ = run(["--headless", "--lr", "1e300", "--steps", "2", "--quiet"], capsys)
    assert status == 1
    assert out.splitlines() == ["step 1: diverged: non-finite values in z2 after the update; first "
                                "non-finite: z2[0] after the update = inf (W2[0,0]·a1[0] overflowed)",
                                "FAILED: diverged at step 1 (2 steps run)"]


def test_bad_input_is_still_2_and_the_files_are_written_whatever_the_verdict(tmp_path: Path, capsys) -> None:
    assert run(["--headless", "--inject-bug", "sign", "--lr", "0"], capsys)[0] == 2
    saved, params = tmp_path / "run.npz", tmp_path / "params.npz"
    status, _, _ = run(["--headless", "--inject-bug", "sign", "--save-session", str(saved),
                        "--export-params", str(params)], capsys)
    assert status == 1 and saved.stat().st_size > 0 and params.stat().st_size > 0


def test_an_interrupt_is_130_even_in_a_failing_run(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(state: object) -> verdict.StepVerdict:
        raise KeyboardInterrupt

    monkeypatch.setattr(verdict.StepVerdict, "of", interrupted)
    status, _, err = run(["--headless", "--inject-bug", "sign"], capsys)
    assert (status, err) == (130, "backprop-stepper: interrupted\n")


# ---- a model file ------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_model_file_with_a_one_line_bug_exits_1_and_the_correct_one_0(tmp_path: Path, capsys) -> None:
    good, bad = write_model(tmp_path, DEFINITIONS, "good.py"), write_model(tmp_path, BROKEN, "bad.py")
    for path, expected in ((good, 0), (bad, 1)):
        for form in ([], ["--format", "json"]):
            status, _, err = run(["--headless", "--model", str(path), *MOONS, "--steps", "3", *form],
                                 capsys)
            assert status == expected, err
    status, out, _ = run(["--headless", "--model", str(bad), *MOONS, "--steps", "2", "--quiet"], capsys)
    assert status == 1
    assert [line.split(",")[0] for line in out.splitlines()[:-1]] == \
        ["step 1: W1 FAILED", "step 1: b1 FAILED", "step 2: W1 FAILED", "step 2: b1 FAILED"]
    assert all(line.endswith("(dead-units, enters at dz1)") for line in out.splitlines()[:-1])
    assert out.splitlines()[-1].startswith("FAILED: gradient check failed on W1, b1 at 2 of 2 checked steps")


@pytest.mark.slow
def test_a_model_that_breaks_its_contract_mid_run_is_still_2(tmp_path: Path, capsys) -> None:
    second_backward_empty = edit(BROKEN, "    return grads\n",
                                 "    _calls.append(1)\n    return grads if len(_calls) == 1 else {}\n")
    path = write_model(tmp_path, "_calls = []\n" + second_backward_empty)
    status, out, err = run(["--headless", "--model", str(path), "--steps", "3", "--quiet"], capsys)
    assert status == 2 and out == "" and "backward returned no dW1" in err


# ---- --quiet -----------------------------------------------------------------------------------

def test_quiet_prints_a_line_per_failing_tensor_and_a_summary_and_nothing_else(capsys) -> None:
    status, out, _ = run(["--headless", "--inject-bug", "cache", "--steps", "2", "--quiet"], capsys)
    assert status == 1
    assert out == ("step 1: W2 FAILED, relative error 1 (wrong-cache, enters at dW2)\n"
                   "step 2: W2 FAILED, relative error 1 (wrong-cache, enters at dW2)\n"
                   "FAILED: gradient check failed on W2 at 2 of 2 checked steps, first at step 1 "
                   "(2 steps run)\n")
    assert run(["--headless", "--quiet"], capsys)[1] == \
        "passed: every gradient check passed (1 of 1 step checked)\n"


def test_quiet_stops_listing_after_its_limit(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "QUIET_LINES", 3)
    status, out, _ = run(["--headless", "--inject-bug", "sign", "--steps", "2", "--quiet"], capsys)
    lines = out.splitlines()
    assert status == 1 and len(lines) == 5
    assert lines[3] == "… and 5 more line(s) like these" and lines[4].startswith("FAILED: ")


@pytest.mark.parametrize(("argv", "words"), [
    (["--quiet"], ["--quiet only applies to a report: add --headless"]),
    (["--headless", "--quiet", "--format", "json"], ["--quiet and --format json cannot be used together"]),
    (["--headless", "--quiet", "--explain", "dW1[0,0]"], ["--quiet and --explain"]),
    (["--headless", "--quiet", *MOONS, "--trace", "full"], ["--quiet and --trace"]),
])
def test_quiet_with_what_it_replaces_is_refused(argv: list[str], words: list[str], capsys) -> None:
    status, out, err = run(argv, capsys)
    assert (status, out) == (2, "") and all(word in err for word in words), err


def test_quiet_overrides_a_config_files_format(tmp_path: Path, capsys) -> None:
    """As flags override the file: a shared config may ask for JSON, the CI line for --quiet."""
    config = write_toml(tmp_path, 'format = "json"\n')
    status, out, _ = run(["--headless", "--config", config, "--quiet"], capsys)
    assert status == 0 and out.startswith("passed: ")
    status, out, _ = run(["--headless", "--config", config, "--format", "text"], capsys)
    assert status == 0 and out.startswith("Initial loss")
    status, out, _ = run(["--headless", "--config", config], capsys)
    assert json.loads(out)["steps"]


def test_the_docs_quiet_example_is_what_the_command_prints(capsys) -> None:
    block = block_after("<!-- quiet-example -->")
    command, *printed, echo, status = block
    assert command.startswith("$ backprop-stepper ") and echo == "$ echo $?"
    got, out, _ = run(shlex.split(command)[2:], capsys)
    assert (got, out.splitlines()) == (int(status), printed)
