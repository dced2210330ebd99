"""The JSON writer: every numeric NumPy value becomes a plain JSON number or null with a
warning, whatever its dtype, and numbers the gradient check derives from eps or the loss
(atol, the rounding floor) go the same way."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import DEFINITIONS, edit
from tests.helpers import write_model as write
from tui.cli.main import main
from tui.output.report import _Json


def strict(text: str) -> dict:
    return json.loads(text, parse_constant=lambda name: pytest.fail(f"non-strict JSON: {name}"))


@pytest.mark.parametrize(("value", "expected"), [
    (np.longdouble("0.25"), 0.25),
    (np.array([1.5, -2.0], dtype=np.longdouble), [1.5, -2.0]),
    (np.float16(0.5), 0.5),
    (np.array([0.5], dtype=np.float32), [0.5]),
    (np.int8(-3), -3),
    (np.array([2**63 - 1], dtype=np.int64), [2**63 - 1]),
    (np.uint64(2**64 - 1), 2**64 - 1),
    (np.bool_(True), True),
])
def test_any_numeric_numpy_value_is_a_plain_json_number(value: object, expected: object) -> None:
    out = _Json()
    written = out.value(value, "here")
    assert written == expected and json.loads(json.dumps(written, allow_nan=False)) == expected
    assert out.warnings == []


def test_long_double_beyond_float64_is_null_with_a_warning() -> None:
    if np.finfo(np.longdouble).max <= np.finfo(np.float64).max:
        pytest.skip("long double is float64 on this platform")
    out = _Json()
    huge = np.longdouble(np.finfo(np.float64).max) * 4
    assert out.value(np.array([huge, 1.0], dtype=np.longdouble), "forward.z1") == [None, 1.0]
    assert any("forward.z1" in w and "long double" in w for w in out.warnings)


@pytest.mark.parametrize(("argv", "expected"), [
    (["--x", "1e308,1e308,1e308"], 1),  # the run overflows at once: it did not pass
    (["--eps", "5e-324"], 0), (["--eps", "1e-310"], 0)])
def test_overflowing_tolerances_are_null_with_a_warning_and_the_text_report_runs(argv, expected,
                                                                                 capsys) -> None:
    status = main(["--headless", "--format", "json", *argv])
    out, err = capsys.readouterr()
    assert status == expected and "Traceback" not in err
    check = strict(out)["steps"][0]["gradcheck"]
    assert check["atol"] is None or np.isfinite(check["atol"])
    if check["atol"] is None:
        assert any("gradcheck.atol" in w for w in strict(out)["warnings"])
        assert not any("below inf" in note for note in check["notes"])
    assert main(["--headless", *argv]) == expected
    assert capsys.readouterr().out.strip()


def long_double_model(tmp_path: Path) -> Path:
    return write(tmp_path, edit(DEFINITIONS, "    z1 = W1.dot(x) + b1",
                                "    z1 = W1.astype(np.longdouble).dot(x) + b1"))


def test_a_model_in_long_double_gives_strict_json_and_no_precision_note(tmp_path: Path, capsys) -> None:
    status = main(["--headless", "--format", "json", "--model", str(long_double_model(tmp_path))])
    out, err = capsys.readouterr()
    assert status == 0, err
    trace = strict(out)
    step = trace["steps"][0]
    assert step["forward"]["z1"] == pytest.approx([0.2194174, 0.3748536, -0.0380788, 0.2473061], abs=1e-7)
    assert step["gradcheck"]["passed"] and step["gradcheck"]["notes"] == []
    assert trace["warnings"] == []
