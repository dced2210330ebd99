"""The origin of a NaN or inf where a run says it diverged: the text report's Diverged
line, the JSON trace's "origin" of each diverged step, --quiet's diverged line and
tui.verify's result, on a huge weight given by --params and on a user's model file."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest

from engine.maths.network import NOTEBOOK, init_params
from tests.docs import block_after
from tests.helpers import FIXTURES, run_cli, run_main
from tui.verify import check_model

NAN_GRADIENT = FIXTURES / "nan_gradient.py"
#: What the report says of the huge weights below.
FIRST = "first non-finite: z2[0] = inf (W2[0,0]·a1[0] overflowed)"


@pytest.fixture
def huge(tmp_path: Path) -> Path:
    """--params with W1[0,0] = 3.1e200 and W2[0,0] = 4.2e150: z2[0] overflows."""
    params = init_params(NOTEBOOK, 42)
    params["W1"][0, 0], params["W2"][0, 0] = 3.1e200, 4.2e150
    path = tmp_path / "huge.npz"
    np.savez(path, **params)
    return path


def test_the_text_report_says_where_it_diverged(huge: Path, capsys) -> None:
    status, out, _ = run_main(capsys, "--headless", "--params", huge)
    assert status == 1
    diverged = out.split("\nDiverged: ")[1].splitlines()
    assert diverged[0] == "non-finite values in z2, z2 after the update."
    assert diverged[1] == ("First non-finite value: z2[0] = inf, in the forward pass: "
                           "W2[0,0]·a1[0] = 4.2e+150 · 6.2e+199 overflowed.")
    assert diverged[2].startswith("  z2[0] = W2[0,0]·a1[0] + W2[0,1]·a1[1] + ")
    assert diverged[2].endswith("= inf")


def test_the_quiet_line_and_the_json_origin(huge: Path, capsys) -> None:
    status, out, _ = run_main(capsys, "--headless", "--params", huge, "--quiet")
    assert status == 1
    assert out.splitlines()[0] == f"step 1: diverged: non-finite values in z2, z2 after the update; {FIRST}"
    status, out, _ = run_main(capsys, "--headless", "--params", huge, "--format", "json", "--steps", "2")
    steps = json.loads(out)["steps"]
    origin = steps[0]["origin"]
    assert {k: origin[k] for k in ("tensor", "index", "value", "phase", "cause", "why")} == {
        "tensor": "z2", "index": [0], "value": "inf", "phase": "forward",
        "cause": "W2[0,0]·a1[0] overflowed", "why": "W2[0,0]·a1[0] = 4.2e+150 · 6.2e+199 overflowed"}
    assert origin["substituted"].endswith("= inf") and origin["user_code"] is False


def test_a_finite_run_has_no_origin(capsys) -> None:
    status, out, _ = run_main(capsys, "--headless", "--format", "json", "--steps", "2")
    assert status == 0 and all("origin" not in step for step in json.loads(out)["steps"])
    assert "First non-finite" not in run_main(capsys, "--headless", "--steps", "2")[1]


def test_a_summary_trace_says_where_it_diverged(capsys) -> None:
    """A long run on data reports a line a step, and under its last line the origin of the
    step where it first diverged (by step 60 every parameter is NaN: its own origin would
    only say that an earlier update made them)."""
    status, out, _ = run_main(capsys, "--headless", "--dataset", "moons", "--hidden", "8,8",
                              "--lr", "1e300", "--steps", "60", "--check-every", "0", "--trace", "summary")
    assert status == 1
    tail = out.split("\nDiverged at step 60: ")[1].splitlines()
    assert tail[0].endswith(". It first diverged at step 1.")
    assert tail[1].startswith("First non-finite value: z2[0,1] after the update = -inf, in the update "
                              "(the forward pass after it): W2[1,0]·a1[0] = ")


@pytest.mark.slow  # a model process
def test_a_user_models_nan_gradient_in_every_form(capsys) -> None:
    """nan_gradient.py's NaN gradients come from the inf its forward cached (e2 = e^800): the
    report, the trace, --quiet and tui.verify all name e2[0], and say it is the file's."""
    argv = ["--headless", "--model", NAN_GRADIENT, "--no-gradcheck"]
    status, out, _ = run_main(capsys, *argv)
    assert status == 1
    assert ("First non-finite value: e2[0] = inf, in the forward pass: the user's code: "
            "nan_gradient.py's forward returned it") in out
    status, out, _ = run_main(capsys, *argv, "--format", "json")
    step = json.loads(out)["steps"][0]
    assert all(v is None for v in np.ravel(step["backward"]["dW1"]))  # NaN gradients, written null
    assert {k: step["origin"][k] for k in ("tensor", "index", "value", "phase", "user_code")} == {
        "tensor": "e2", "index": [0], "value": "inf", "phase": "forward", "user_code": True}
    line = "first non-finite: e2[0] = inf (from nan_gradient.py's forward)"
    status, out, _ = run_main(capsys, *argv, "--quiet")
    assert status == 1 and out.splitlines()[0].endswith(f"; {line}")
    result = check_model(NAN_GRADIENT, steps=1, dataset=None, flags=["--no-gradcheck"])
    assert not result.passed and result.steps[0].origin == line and line in str(result)


def test_the_docs_origin_example_is_what_the_command_prints(capsys) -> None:
    command, *printed = block_after("<!-- origin-example -->")
    argv, tail = command.split(" | tail -")
    assert argv.startswith("$ backprop-stepper ") and int(tail) == len(printed)
    status, out, _ = run_cli(shlex.split(argv)[2:], capsys)
    assert status == 1 and out.splitlines()[-len(printed):] == printed
