"""A session whose path changes its settings mid-run (engine.run.stepper.Stepper.retune) on
the command line: a headless report goes on with the settings the path left, and a notebook,
which runs one setting throughout, is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.run.session import record, to_bytes
from engine.run.stepper import Stepper
from tests.helpers import moons_stepper
from tui.cli.main import main


def saved(tmp_path: Path) -> tuple[Path, Stepper]:
    stepper = moons_stepper()
    stepper.finish_step()
    stepper.retune({"lr": 0.25})
    path = tmp_path / "s.npz"
    path.write_bytes(to_bytes(record(stepper)))
    return path, stepper


def test_a_report_goes_on_with_the_rate_the_path_set(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path, stepper = saved(tmp_path)
    assert main(["--headless", "--session", str(path), "--format", "json"]) in (0, 1)
    trace = json.loads(capsys.readouterr().out)
    assert trace["config"]["lr"] == 0.25
    stepper.finish_step()  # the step the report ran, with the rate the path set
    assert stepper.state.update is not None
    assert trace["steps"][-1]["update"]["loss_after"] == stepper.state.update.loss_after


def test_a_notebook_of_it_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "n.ipynb"
    assert main(["--session", str(saved(tmp_path)[0]), "--export-notebook", str(out)]) == 2
    assert "changes its settings mid-run" in capsys.readouterr().err and not out.exists()
