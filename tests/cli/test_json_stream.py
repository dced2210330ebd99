"""The JSON trace written a piece at a time (tui.output.jsontext) and its large arrays in an
.npz beside --output's file (tui.output.sidecar): the same text as json.dumps of the whole,
byte for byte, and the same numbers when they are in the .npz instead."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers import assert_refused, run_main
from tui.output import jsontext, report
from tui.output.jsontext import Streamed, chunks

ARRAYS = [np.arange(7.0) / 3, np.array([[1.5, -0.0], [np.nan, np.inf]]), np.arange(24).reshape(2, 3, 4),
          np.array([True, False, True]), np.zeros((2, 0)), np.zeros(0), np.float64(2.5) * np.ones(()),
          np.array([1e16, 5e-324, -1.7976931348623157e308, 0.1], dtype=np.float64),
          np.array([0.1, 2.0], dtype=np.float32), np.array([2**63 - 1, -(2**63)], dtype=np.int64),
          np.array([2**64 - 1], dtype=np.uint64)]


def plain(array: np.ndarray) -> Any:
    """The array as the trace wrote it before: tolist, non-finite floats as None."""
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        return np.where(np.isfinite(array), array, None).tolist() if array.ndim else None  # type: ignore[call-overload]
    return array.tolist()


@pytest.mark.parametrize("chunk", [1, 2, 3, jsontext.CHUNK])
@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: f"{a.dtype}{a.shape}")
def test_a_streamed_array_is_json_dumps_of_its_list(array: np.ndarray, chunk: int,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsontext, "CHUNK", chunk)
    value = {"a": [1, {"x": Streamed(array)}, "é\n"], "b": Streamed(array), "c": None}
    expected = {"a": [1, {"x": plain(array)}, "é\n"], "b": plain(array), "c": None}
    assert "".join(chunks(value)) == json.dumps(expected, allow_nan=False)


def test_a_value_without_arrays_is_one_piece_by_json_dumps() -> None:
    value = {"a": [1.5, None, True], "b": {"c": "d"}}
    assert list(chunks(value)) == [json.dumps(value)]


RUNS = [["--steps", "3"], ["--steps", "2", "--dataset", "moons", "--hidden", "8,8", "--activation", "tanh"],
        ["--steps", "2", "--x", "1e308,1e308,1e308"],
        ["--steps", "2", "--optimizer", "adam", "--inputs", "5", "--hidden", "6", "--classes", "3",
         "--y", "2"],
        ["--explain", "dW1[1,1]"]]


@pytest.mark.parametrize("flags", RUNS, ids=" ".join)
def test_the_streamed_trace_is_the_whole_trace_byte_for_byte(flags: list[str],
                                                              capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Every array streamed (STREAMED 0) in chunks of 2 elements, against the trace as json.dumps
    writes its object whole: the text the report wrote before it streamed (head, steps and tail
    each json.dumps'd, the same separators)."""
    status, whole, _ = run_main(capsys, "--headless", "--format", "json", *flags)
    monkeypatch.setattr(report, "STREAMED", 0)
    monkeypatch.setattr(jsontext, "CHUNK", 2)
    assert run_main(capsys, "--headless", "--format", "json", *flags)[:2] == (status, whole)
    assert whole == json.dumps(json.loads(whole), allow_nan=False) + "\n"


def loaded(value: Any, folder: Path) -> Any:
    """The trace with each .npz reference replaced by its array's list (non-finite as None)."""
    if isinstance(value, dict) and set(value) == {"npz", "key", "shape", "dtype"}:
        with np.load(folder / value["npz"]) as arrays:
            array = arrays[value["key"]]
        assert list(array.shape) == value["shape"] and str(array.dtype) == value["dtype"]
        return plain(array)
    if isinstance(value, dict):
        return {k: loaded(v, folder) for k, v in value.items()}
    if isinstance(value, list):
        return [loaded(v, folder) for v in value]
    return value


@pytest.mark.parametrize("flags", [["--steps", "2"], ["--steps", "2", "--x", "1e308,1e308,1e308"],
                                   ["--steps", "1", "--inputs", "40", "--hidden", "3"]], ids=" ".join)
def test_arrays_over_the_limit_go_to_the_npz_with_the_same_numbers(
        flags: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, inline, _ = run_main(capsys, "--headless", "--format", "json", *flags)
    trace = tmp_path / "trace.json"
    assert run_main(capsys, "--headless", "--format", "json", *flags, "--output", trace,
                    "--json-arrays-max", 3) == (status, "", "")
    text = trace.read_text()
    written = json.loads(text)
    assert '{"npz": "trace.npz", "key": "step1.backward.dW1", "shape": [4, 3], "dtype": "float64"}' in text \
        or "--inputs" in flags
    with np.load(tmp_path / "trace.npz") as arrays:
        assert "initial_params.W1" in arrays.files and all(arrays[k].size > 3 for k in arrays.files)
    expected = json.loads(inline)
    assert loaded(written, tmp_path) | {"warnings": None} == expected | {"warnings": None}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trace.json", "trace.npz"]


def test_a_large_sample_goes_to_the_npz_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """config.x of a wide input: a million inputs' sample is as large as an array."""
    trace = tmp_path / "t.json"
    assert run_main(capsys, "--headless", "--format", "json", "--inputs", "40", "--hidden", "2",
                    "--output", trace, "--json-arrays-max", "30")[0] == 0
    reference = json.loads(trace.read_text())["config"]["x"]
    assert reference["key"] == "config.x" and reference["shape"] == [40]


def test_the_default_limit_leaves_a_small_trace_whole_with_no_npz(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    _, inline, _ = run_main(capsys, "--headless", "--format", "json", "--steps", "2")
    trace = tmp_path / "t.json"
    assert run_main(capsys, "--headless", "--format", "json", "--steps", "2", "--output", trace)[0] == 0
    assert trace.read_text() == inline and sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]


def test_the_text_report_goes_to_the_file_as_it_goes_to_stdout(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    _, text, _ = run_main(capsys, "--headless", "--steps", "2")
    assert run_main(capsys, "--headless", "--steps", "2", "--output", tmp_path / "r.txt") == (0, "", "")
    assert (tmp_path / "r.txt").read_text() == text


def test_a_run_interrupted_midway_leaves_both_files_as_they_were(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    trace, arrays = tmp_path / "t.json", tmp_path / "t.npz"
    trace.write_text("old trace")
    arrays.write_bytes(b"old arrays")
    real = report._step_json

    def step(state: Any, out: Any) -> Any:
        if state.step == 2:  # the first step's arrays are already in the .npz
            raise KeyboardInterrupt
        return real(state, out)

    monkeypatch.setattr(report, "_step_json", step)
    assert run_main(capsys, "--headless", "--format", "json", "--steps", "3", "--output", trace,
                    "--json-arrays-max", "3")[0] == 130
    assert trace.read_text() == "old trace" and arrays.read_bytes() == b"old arrays"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json", "t.npz"]


@pytest.mark.parametrize(("flags", "words"), [
    (["--json-arrays-max", "5"], ("--json-arrays-max", "--output")),
    (["--output", "{dir}/t.txt", "--json-arrays-max", "5"], ("--json-arrays-max", "--format json")),
    (["--format", "json", "--output", "{dir}/t.json", "--json-arrays-max", "-1"],
     ("--json-arrays-max", ">= 0")),
    (["--format", "json", "--output", "{dir}/t.npz"], ("--output", "FILE.json")),
    (["--format", "json", "--output", "{dir}/p.json", "--params", "{dir}/p.npz"], ("--output", "--params")),
])
def test_refused_before_the_run(flags: list[str], words: tuple[str, ...], tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    np.savez(tmp_path / "p.npz", W1=np.zeros((4, 3)), b1=np.zeros(4), W2=np.zeros((1, 4)), b2=np.zeros(1))
    assert_refused(["--headless", *(f.format(dir=tmp_path) for f in flags)], capsys, *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.npz"]
