"""The headless reports between whole-set measurements: the batch losses' running mean,
named as such, never shown as the whole set's loss; --eval-every checked like the others."""

from __future__ import annotations

import json

import pytest

from tests.helpers import assert_refused, run_main

#: 200 moons, 160 training rows in batches of 32: an epoch is 5 steps.
MOONS = ("--headless", "--dataset", "moons", "--batch", "32", "--no-gradcheck")


def test_the_summary_names_the_running_mean_and_leaves_the_fit_out_between(capsys) -> None:
    status, out, err = run_main(capsys, *MOONS, "--steps", "7", "--trace", "summary")
    assert status == 0, err
    assert "batch mean (k)" in out and "measured every 5 steps and at the end" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line[:7].strip().isdigit()}
    assert rows["2"][3:6] == [rows["2"][3], "(2)", "—"]  # its mean over 2 steps; no train loss
    assert rows["6"][4] == "(1)" and rows["6"][5] != "—"  # an epoch's first step: measured
    assert rows["7"][5] != "—"  # the run's end: measured


def test_the_full_text_report_says_a_step_was_not_measured(capsys) -> None:
    status, out, err = run_main(capsys, *MOONS, "--steps", "3", "--trace", "full", "--eval-every", "4")
    assert status == 0, err
    assert "batch loss, mean of last 2:" in out and "they are every 4 steps" in out
    assert out.count("Before this update: train loss") == 2  # step 1, and the end (step 3)


def test_the_json_trace_gives_the_running_mean_where_metrics_is_null(capsys) -> None:
    status, out, err = run_main(capsys, *MOONS, "--steps", "3", "--format", "json")
    assert status == 0, err
    steps = json.loads(out)["steps"]
    assert [s["metrics"] is None for s in steps] == [False, True, False]
    running = steps[1]["running_loss"]
    assert running["label"] == "batch loss, mean of last 2" and running["steps"] == 2
    assert running["mean"] == pytest.approx((steps[0]["loss"] + steps[1]["loss"]) / 2, rel=1e-15)
    assert "running_loss" not in steps[0] and "running_loss" not in steps[2]


def test_eval_every_below_zero_is_refused(capsys) -> None:
    assert_refused([*MOONS, "--eval-every", "-3"], capsys, "--eval-every")
