"""--features on the command line, in a TOML file, in the JSON trace, in a session and in
--export-notebook (issue 27, item 4): a bad name exits 2 naming it and the allowed ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import assert_refused
from tests.helpers import run_cli as run
from tests.helpers import write_toml as write

Capture = pytest.CaptureFixture[str]
ALLOWED = "x1, x2, x1^2, x2^2, x1*x2, sin(x1), sin(x2)"


@pytest.mark.parametrize("bad", ["cos(x1)", "x1^3", "x3", "os.system('true')", "x1**2"])
def test_a_bad_feature_exits_2_naming_it_and_the_allowed_ones(capsys: Capture, bad: str) -> None:
    assert_refused(["--headless", "--dataset", "moons", "--features", f"x1,{bad}"], capsys,
                   "--features", repr(bad), ALLOWED)


def test_features_need_data_and_a_two_column_file(tmp_path: Path, capsys: Capture) -> None:
    assert_refused(["--headless", "--features", "x1^2"], capsys, "--features",
                   "only applies to learning from data")
    csv = tmp_path / "wide.csv"
    csv.write_text("a,b,c,label\n1,2,3,0\n4,5,6,1\n", encoding="utf-8")
    assert_refused(["--headless", "--data", str(csv), "--features", "x1^2"], capsys, "--features",
                   "3 column(s)")


def test_the_json_trace_names_the_features_and_the_inputs_are_theirs(capsys: Capture) -> None:
    status, out, err = run(["--headless", "--format", "json", "--dataset", "xor", "--features",
                            "x1*x2, sin(x1)", "--samples", "20"], capsys)
    assert status == 0, err
    trace = json.loads(out)
    assert trace["config"]["features"] == ["x1*x2", "sin(x1)"] and trace["config"]["inputs"] == 2
    status, out, _ = run(["--headless", "--format", "json", "--dataset", "xor", "--samples", "20"], capsys)
    assert "features" not in json.loads(out)["config"]  # a trace without them is as it was


def test_a_toml_file_gives_features_as_a_string_or_an_array(tmp_path: Path, capsys: Capture) -> None:
    for value in ('"x1^2, x2^2"', '["x1^2", "x2^2"]'):
        path = write(tmp_path, f'dataset = "circle"\nfeatures = {value}\nformat = "json"\nsamples = 20\n')
        status, out, err = run(["--headless", "--config", path], capsys)
        assert status == 0, err
        assert json.loads(out)["config"]["features"] == ["x1^2", "x2^2"]
    path = write(tmp_path, 'dataset = "circle"\nfeatures = [1, 2]\n')
    assert_refused(["--headless", "--config", path], capsys, "'features'", "array of strings")
    path = write(tmp_path, 'dataset = "circle"\nfeatures = "x1,tanh(x2)"\n')
    assert_refused(["--headless", "--config", path], capsys, "'tanh(x2)' is not a feature", ALLOWED)


def test_the_text_report_says_which_features(capsys: Capture) -> None:
    status, out, _ = run(["--headless", "--dataset", "moons", "--features", "x1,x1^2,sin(x2)", "--samples",
                          "20"], capsys)
    assert status == 0 and "3 feature(s) (x1, x1², sin(x2) of each point)" in out


def test_a_session_with_features_reopens_and_goes_on(tmp_path: Path, capsys: Capture) -> None:
    saved = tmp_path / "s.npz"
    flags = ["--dataset", "moons", "--features", "x2,x1^2", "--samples", "30", "--format", "json"]
    status, _, err = run(["--headless", *flags, "--steps", "2", "--save-session", str(saved)], capsys)
    assert status == 0, err
    status, out, err = run(["--headless", "--session", str(saved), "--steps", "1", "--format", "json"],
                           capsys)
    assert status == 0, err
    assert json.loads(out)["config"]["features"] == ["x2", "x1^2"]
    status, straight, _ = run(["--headless", *flags, "--steps", "3"], capsys)
    assert json.loads(out)["steps"][-1]["update"] == json.loads(straight)["steps"][-1]["update"]


def test_the_notebook_computes_the_features_of_its_points(tmp_path: Path,
                                                          capsys: Capture) -> None:
    notebook = tmp_path / "run.ipynb"
    status, _, err = run(["--dataset", "moons", "--samples", "24", "--features", "x1*x2,sin(x2),x1^2",
                          "--steps", "2", "--export-notebook", str(notebook)], capsys)
    assert status == 0, err
    cells = ["".join(cell["source"]) for cell in json.loads(notebook.read_text())["cells"]]
    kinds = [cell["cell_type"] for cell in json.loads(notebook.read_text())["cells"]]
    code = "\n".join(source for source, kind in zip(cells, kinds, strict=True) if kind == "code")
    assert "X = np.column_stack([points[:, 0] * points[:, 1], np.sin(points[:, 1]), " \
           "points[:, 0] * points[:, 0]])" in code
    scope: dict[str, object] = {}
    exec(compile(code, "notebook", "exec"), scope)  # the notebook this test wrote: its own code
    points = np.asarray(scope["points"])
    expected = np.column_stack([points[:, 0] * points[:, 1], np.sin(points[:, 1]), points[:, 0] ** 2])
    np.testing.assert_array_equal(scope["X"], expected)
    status, out, _ = run(["--headless", "--dataset", "moons", "--samples", "24", "--features",
                          "x1*x2,sin(x2),x1^2", "--steps", "2"], capsys)
    assert f"Final loss after SGD step 2: {scope['final_loss']!r}" in out
