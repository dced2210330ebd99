"""Data that break the arithmetic or the words: features near the largest float, which
standardizing overflowed (a ValueError traceback, or a feature divided to zeros in silence,
and the app's config form died of the same), and a CSV too wide for the network, refused in
the words of a flag the user never gave."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from textual.widgets import Input

from engine.data.sets import DataError, make_dataset, split, standardize
from engine.run.stepper import Stepper
from engine.settings.config import MAX_INPUTS, Config
from tests.waits import burst, handled, until
from tui.app.app import StepperApp
from tui.app.screens.config import ConfigScreen
from tui.app.screens.confirm import ConfirmScreen
from tui.cli.fit import with_data
from tui.cli.main import main
from tui.cli.options import parse

SIZE = (120, 40)


def csv(path: Path, column: list[float], seed: int = 0) -> Path:
    """A CSV of two features, `column` and small noise, and alternating labels."""
    noise = np.random.default_rng(seed).uniform(-1, 1, len(column)).tolist()
    rows = (f"{value!r},{n!r},{i % 2}\n" for i, (value, n) in enumerate(zip(column, noise, strict=True)))
    path.write_text("big,small,label\n" + "".join(rows))
    return path


def near_the_largest_float(n: int = 40) -> list[float]:
    """Values whose sum overflows, and so do their squares."""
    return [float(v) for v in np.random.default_rng(1).uniform(1e307, 1.7e308, n) * np.resize([1, -1], n)]


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    start = time.process_time()
    status = main(argv)
    elapsed = time.process_time() - start
    out, err = capsys.readouterr()
    assert status == 2, err
    assert out == "" and "Traceback" not in err and err.count("\n") == 1, err
    assert elapsed < 1.0, f"{elapsed:.2f} s"
    return err


# ---- standardizing features near the largest float ----------------------------------------------

@pytest.mark.parametrize("column", [[1.7e308, -1.7e308, 1e308, -0.5e308],  # the sum overflowed
                                    [1e160, 2e160, 3e160, 4e160]])  # the squares did: divided to zeros
def test_features_near_the_largest_float_standardize(column: list[float]) -> None:
    X = np.array([column, [0.5, 0.1, -0.3, 0.2]]).T
    z = standardize(X, X)
    assert np.all(np.isfinite(z))
    assert np.allclose(z.mean(axis=0), 0.0) and np.allclose(z.std(axis=0), 1.0)


def test_standardizing_is_the_plain_formula_bit_for_bit_where_it_did_not_overflow() -> None:
    """The scale is a power of two: dividing by it is exact, so every number a run on ordinary
    data gives (and every session saved from one) is what it was."""
    rng = np.random.default_rng(7)
    for _ in range(50):
        X = rng.standard_normal((60, 4)) * 10.0 ** rng.uniform(-20, 20, 4) + rng.uniform(-1e3, 1e3, 4)
        X[:, 3] = 2.5  # constant: only centred
        train = X[:45]
        mean, sd = train.mean(axis=0), train.std(axis=0)
        constant = sd <= 1e-12 * np.maximum(np.abs(mean), 1.0)
        plain = (X - mean) / np.where(constant, 1.0, sd)
        assert standardize(train, X).tobytes() == plain.tobytes()


def test_a_test_row_that_standardizes_past_the_largest_float_is_refused_naming_its_feature() -> None:
    train = np.array([[0.0, 1.0], [0.0, 1.5], [0.0, 1.25]])
    X = np.vstack([train, [[0.0, 1.7e308]]])
    with pytest.raises(DataError, match=r"^feature 2: row 4 of the data \(1\.7e\+308\) is too far from the "
                                        r"training rows' values to standardize .*leave --standardize out$"):
        standardize(train, X)


def test_a_csv_near_the_largest_float_trains_standardized(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """It was a ValueError traceback ('X holds NaN or infinity')."""
    path = csv(tmp_path / "big.csv", near_the_largest_float())
    _, data = with_data(parse(["--headless", "--data", str(path), "--standardize"]))
    assert data is not None and np.all(np.isfinite(data.dataset.X))
    assert np.allclose(data.dataset.X_train.std(axis=0), 1.0)
    assert main(["--headless", "--data", str(path), "--standardize", "--steps", "2"]) == 0
    out, err = capsys.readouterr()
    assert "standardized by the training rows" in out and err == ""


def test_a_csv_whose_test_row_is_too_far_out_is_refused_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, row = far_out(tmp_path / "far.csv")
    err = refused(["--headless", "--data", str(path), "--standardize"], capsys)
    assert err.startswith(f"backprop-stepper: error: --data: {path}: feature 1: row {row} of the data "
                          "(1.7e+308) is too far from the training rows' values to standardize"), err


def far_out(path: Path) -> tuple[Path, int]:
    """A CSV whose first held-out row (at --seed 42) is 1.7e308 in a feature the training rows
    hold at 1 and 1.5: standardized, it is past the largest float. Its row number too."""
    column = [1.0 + 0.5 * (i % 2) for i in range(40)]
    row = int(split(make_dataset("moons", 40), 0.2, 42).test[0])  # the split depends on n and seed
    column[row] = 1.7e308
    return csv(path, column), row + 1


@pytest.mark.slow  # drives the app's config form through Pilot (-m 'not slow' leaves it out)
async def test_the_config_form_standardizes_near_the_largest_float_or_says_why_not(tmp_path: Path) -> None:
    """The form loads the data on Apply: the same overflow killed the app. A row too far out
    is shown under the data field, in the form's words (no --flags), and nothing is applied."""
    far, row = far_out(tmp_path / "far.csv")
    big = csv(tmp_path / "big.csv", near_the_largest_float())
    app = StepperApp(Stepper(Config()))
    async with app.run_test(size=SIZE) as pilot:
        burst(app, "c")
        # The form's on_mount, which runs once its fields are mounted, focuses the first one.
        await until(pilot, lambda: isinstance(app.screen, ConfigScreen) and app.focused is not None
                    and app.focused.id == "field-inputs", "the config form, mounted")
        form = app.screen
        assert isinstance(form, ConfigScreen)
        form.query_one("#field-standardize", Input).value = "yes"
        form.query_one("#field-data", Input).value = str(far)
        await handled(app, pilot)  # the fields' checks as typed (which do not load the data)
        form.apply()
        assert app.is_running and app.screen is form  # nothing applied
        error = str(form.query_one("#error-data").render())
        assert f"feature 1: row {row} of the data (1.7e+308) is too far" in error
        assert error.endswith("leave standardize out"), error
        form.query_one("#field-data", Input).value = str(big)
        await handled(app, pilot)
        form.apply()
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question: new weights")
        await pilot.press("y")  # new data need new weights: the form asks first
        await until(pilot, lambda: app.stepper.data is not None, "the data applied")
        data = app.stepper.data
        assert app.is_running and data is not None and data.standardized
        assert np.all(np.isfinite(data.dataset.X)) and np.allclose(data.dataset.X_train.std(axis=0), 1.0)


# ---- a CSV too wide for a network ------------------------------------------------------------

def test_a_csv_with_too_many_features_is_refused_naming_the_file_and_its_columns(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It said '--inputs: must be between 1 and 1,000,000', a flag the user never gave."""
    path = tmp_path / "wide.csv"
    path.write_text("0," * (MAX_INPUTS + 1) + "0\n" + "1," * (MAX_INPUTS + 1) + "1\n")
    err = refused(["--headless", "--data", str(path)], capsys)
    assert err == (f"backprop-stepper: error: --data: {path}: line 1 has 1,000,002 fields: 1,000,001 "
                   "features and the label; a network takes at most 1,000,000 inputs\n")


# ---- the form and the command line refuse unreadable text in the same words ---------------------

@pytest.mark.parametrize(("key", "text", "words"), [
    ("seed", "9" * 5000, "'99999999999999999999999999999999999999… (5,000 characters) is far out of range"),
    ("hidden", "8," + "9" * 5000, "is far out of range"),
    ("inputs", "abc", "expected a whole number, got 'abc'"),
    ("lr", "０.５", "expected a number, got '０.５'"),
    ("hidden", "4,x", "expected comma-separated whole numbers like 8,8, got '4,x'"),
    ("samples", "1_0", "expected a whole number, got '1_0'"),
], ids=["a 5,000-digit seed", "a 5,000-digit layer", "letters", "full-width digits", "a letter in a list",
        "an underscore"])
def test_the_form_and_the_command_line_say_the_same_of_unreadable_text(key: str, text: str,
                                                                       words: str) -> None:
    """The form said 'expected a whole number' of a number too long to read, which the command
    line calls far out of range: both now ask engine.settings.config.unreadable."""
    from tui.app.screens.config import FIELDS, _shown, parse_fields
    from tui.cli.options import UsageError

    with pytest.raises(UsageError) as refusal:
        parse([f"--{key}", text])
    said = str(refusal.value).removeprefix(f"argument --{key}: ")
    assert words in said
    values = {field: _shown(Config(), field) for field in FIELDS} | {key: text}
    assert parse_fields(values, Config(), load=False)[1] == {key: said}
