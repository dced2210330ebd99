"""No false failure on correct course code, whatever it shows the check, and real bugs still
fail: random cs231n-style and Nielsen-style models (bench/false_failures.py draws them; the
bench runs 200 of each), and files run as --model runs them, in their own process."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.false_failures import BUGS, FAMILIES, cs231n_source, nielsen_source, survey
from engine.maths.slopes import Nudge
from engine.usermodel.client import load_model
from tests.helpers import FIXTURES, edit, run_main, write_model

pytestmark = pytest.mark.slow

SEED = 24
MOONS = ("--dataset", "moons", "--batch", "16", "--steps", "10")


@pytest.mark.parametrize("family", FAMILIES)
def test_random_correct_models_never_fail_the_check(family: str) -> None:
    tally = survey(family, models=10, steps=10, seed=SEED)
    assert tally.checks == 100 and tally.failed_checks == 0, tally.line(family)
    if family == "cs231n":  # the sample does fail at first: the second look is what passes it
        assert tally.statuses["kink"] + tally.statuses["step"] > 0
    assert tally.statuses["fail"] == 0


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("bug", BUGS)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # a broken gradient may diverge
def test_random_broken_models_fail_every_check(family: str, bug: str) -> None:
    tally = survey(family, models=3, steps=3, seed=SEED, bug=bug)
    assert tally.checks and tally.failed_checks == tally.checks, tally.line(family)


def test_the_model_process_answers_nudged_losses_as_its_forward_computes_them() -> None:
    model = load_model(FIXTURES / "cs231n_two_layer.py", sizes=(2, 8, 2))
    try:
        params = model.init_params(3)
        assert params is not None
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal((5, 2)), rng.integers(0, 2, 5)
        wanted: list[Nudge] = [("W1", (1, 3), 1e-5), ("b2", (0,), -1e-7), ("W7", (0, 0), 1.0)]
        losses = model.nudged_losses(params, x, y, wanted, None)
        moved = {k: v.copy() for k, v in params.items()}
        moved["W1"][1, 3] += 1e-5
        assert losses[0] == model.forward(x, moved, y)[1]
        moved = {k: v.copy() for k, v in params.items()}
        moved["b2"][0] -= 1e-7
        assert losses[1] == model.forward(x, moved, y)[1]
        assert np.isnan(losses[2])
    finally:
        model.close()


def test_cs231n_code_that_shows_only_scores_passes_every_moons_step(capsys) -> None:  # type: ignore[no-untyped-def]
    """The fixture failed 4 of these 10 checks before the recheck (its kinks are invisible)."""
    status, out, err = run_main(capsys, "--headless", "--format", "json", "--model",
                                FIXTURES / "cs231n_two_layer.py", "--hidden", "8", *MOONS)
    assert status == 0, err
    checks = [step["gradcheck"] for step in json.loads(out)["steps"]]
    assert len(checks) == 10 and all(check["passed"] for check in checks)
    statuses = {entry["status"] for check in checks for name in ("W1", "b1", "W2", "b2")
                for entry in check[name].get("rechecked", [])}
    assert statuses and statuses <= {"rechecked: kink", "rechecked: step"}


def test_a_missing_relu_mask_in_cs231n_code_still_fails(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    text = (FIXTURES / "cs231n_two_layer.py").read_text()
    broken = write_model(tmp_path, edit(text, "    dx = dout * (x > 0)", "    dx = dout"))
    status, out, err = run_main(capsys, "--headless", "--model", broken, "--hidden", "8", *MOONS)
    assert status == 1, err
    assert out.count("Gradient check FAILED") == 10


def test_nielsen_style_code_passes_every_moons_step_and_a_missing_one_over_m_fails(
        tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Column vectors, biases (n, 1), a cache of activations alone: nothing named z."""
    good = write_model(tmp_path, nielsen_source([2, 8, 8, 2], 1e-2), "nielsen.py")
    status, out, err = run_main(capsys, "--headless", "--model", good, *MOONS)
    assert status == 0, err
    assert out.count("Gradient check passed") == 10 and "FAILED" not in out
    bad = write_model(tmp_path, nielsen_source([2, 8, 8, 2], 1e-2, "mean"), "nielsen_mean.py")
    status, out, err = run_main(capsys, "--headless", "--model", bad, *MOONS)
    assert status == 1, err
    assert out.count("Gradient check FAILED") == 10


def test_cs231n_sources_of_the_bench_load_as_course_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The bench's generated class is found by the cs231n convention, as a real fc_net.py is."""
    model = load_model(write_model(tmp_path, cs231n_source(1e-3), "fc_net.py"), sizes=(2, 8, 8, 2))
    try:
        assert model.convention == "cs231n" and model.described.startswith("FullyConnectedNet(")
    finally:
        model.close()
