"""Sessions (--session, --save-session, ctrl+s) and weights (--params, --export-params, x, w).

A reopened session must rebuild every state of the original run bit for bit, with the whole
history behind it; a continued one must trace the same steps as one uninterrupted run; and a
hostile file, session or parameters, must get exit status 2 and a sentence naming the
problem, fast, with nothing run and nothing unpickled.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import stat
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engine.model.builtin import make_model
from engine.run.session import (
    Session,
    SessionError,
    from_bytes,
    open_session,
    params_from_bytes,
    params_to_bytes,
    read,
    record,
    to_bytes,
)
from engine.run.stepper import Phase, Stepper
from engine.settings.config import Config
from tests.helpers import MOONS, ROOT, every_tensor, members, moons_stepper, npy, rezip, told, walk_back
from tests.waits import until
from tui.app.app import StepperApp
from tui.cli.main import main

SIZE = (120, 40)


# ---- helpers ------------------------------------------------------------------------------

def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui", *argv], capture_output=True, text=True,
                          timeout=60, cwd=cwd, env=os.environ | {"PYTHONPATH": str(ROOT)})


def trace(*argv: str, cwd: Path) -> dict[str, object]:
    done = run("--headless", "--format", "json", *argv, cwd=cwd)
    assert done.returncode == 0, done.stderr
    out: dict[str, object] = json.loads(done.stdout)
    return out


def bomb_header(shape: tuple[int, ...]) -> bytes:
    """A .npy member written by hand: a header declaring `shape` of float64, and 8 bytes."""
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}".encode("latin1")
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 8


def default_session() -> bytes:
    stepper = Stepper(Config())
    stepper.next()
    stepper.next()
    return to_bytes(record(stepper))


def tampered(change: Callable[[dict[str, bytes]], None]) -> bytes:
    parts = members(default_session())
    change(parts)
    return rezip(parts)


def head_set(**values: object) -> Callable[[dict[str, bytes]], None]:
    def change(parts: dict[str, bytes]) -> None:
        head = json.loads(parts["session.json"])
        head.update(values)
        parts["session.json"] = json.dumps(head).encode()
    return change


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the command line in this process: exit status 2, one message, no report, fast
    (under a second of CPU time: the suite's other workers share the cores, so a wall clock
    would measure them too)."""
    start = time.process_time()
    status = main(argv)
    elapsed = time.process_time() - start
    out, err = capsys.readouterr()
    assert status == 2, err
    assert out == "" and "Traceback" not in err
    assert elapsed < 1.0, f"{elapsed:.2f} s"
    return err


# ---- reopening: every tensor bit for bit, b back to the start ----------------------------

@pytest.mark.slow
def test_moons_at_step_7_reopens_bit_for_bit_from_the_command_line(tmp_path: Path) -> None:
    done = run("--headless", *MOONS, "--steps", "7", "--save-session", "s.npz", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    original = moons_stepper()
    original.run_steps(7)
    reopened = open_session(read(tmp_path / "s.npz"))
    assert reopened.state.step == 7 and reopened.state.last_phase is Phase.UPDATE
    assert reopened.data is not None and reopened.data.batch == 16
    expected = walk_back(original)
    assert len(expected) == 29  # 7 steps of 4 phases, and the start
    assert walk_back(reopened) == expected
    assert reopened.state is reopened.initial


def test_a_session_is_the_same_bytes_whenever_it_is_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file is a function of what it holds: the zip's member times are fixed, so two saves of
    one state, in different seconds, are the same bytes."""
    stepper = moons_stepper()
    stepper.next()
    first, params = to_bytes(record(stepper)), params_to_bytes(stepper.state.params)
    monkeypatch.setattr(time, "localtime", lambda *_: time.struct_time((2031, 5, 6, 7, 8, 10, 0, 1, 0)))
    monkeypatch.setattr(time, "time", lambda: 1_936_000_000.0)
    assert to_bytes(record(stepper)) == first
    assert params_to_bytes(stepper.state.params) == params


def test_the_notebook_at_step_1_backward_reopens_bit_for_bit(tmp_path: Path) -> None:
    original = Stepper(Config())
    original.next()
    original.next()
    (tmp_path / "s.npz").write_bytes(to_bytes(record(original)))
    reopened = open_session(read(tmp_path / "s.npz"))
    assert reopened.state.last_phase is Phase.BACKWARD and reopened.state.step == 1
    assert reopened.path == original.path == [("next", 2)]
    assert walk_back(reopened) == walk_back(original)


def test_a_format_1_file_kept_in_the_repository_still_reopens() -> None:
    """Written by the first version (the notebook's network, a step and then forward and
    backward): a later version must read format 1 and rebuild the same states."""
    kept = open_session(read(ROOT / "tests" / "fixtures" / "session_format1_notebook_step2_backward.npz"))
    fresh = Stepper(Config())
    fresh.finish_step()
    fresh.next()
    fresh.next()
    assert kept.path == [("next", 6)] and kept.state.last_phase is Phase.BACKWARD
    assert walk_back(kept) == walk_back(fresh)


def test_every_action_of_the_path_replays_undo_reset_gradcheck_and_drills() -> None:
    original = moons_stepper()
    original.train(3, check_every=2)
    original.back()
    original.gradcheck_enabled = False
    original.next()
    original.reset()
    original.next()
    original.next()
    original.next()  # at the gradient check: the drill steps back to the forward pass
    original.use_model(make_model(original.config.architecture, "sign"))  # steps back itself
    original.finish_step()
    original.back()
    reopened = open_session(from_bytes(to_bytes(record(original))))
    assert reopened.path == original.path
    assert reopened.model.bug == "sign" and reopened.gradcheck_enabled is False
    assert walk_back(reopened) == walk_back(original)


@pytest.mark.slow
def test_a_continued_session_traces_the_same_steps_as_one_run(tmp_path: Path) -> None:
    """The Done-when test: --save-session after --steps 2, then --steps 1 from it, equals
    step 3 of --steps 3 (the JSON trace, every tensor of the step)."""
    # Measured every step: a run's end measures the whole sets, which --steps 3 does not at step 2.
    for flags in ((), (*MOONS, "--eval-every", "1")):
        first = trace(*flags, "--steps", "2", "--save-session", "two.npz", cwd=tmp_path)
        continued = trace("--session", "two.npz", "--steps", "1", cwd=tmp_path)
        whole = trace(*flags, "--steps", "3", cwd=tmp_path)
        steps = whole["steps"]
        assert isinstance(steps, list) and isinstance(first["steps"], list)
        assert first["steps"] == steps[:2]
        assert continued["steps"] == steps[2:]
        assert continued["session"] == {"file": "two.npz", "step": 2, "phase": "update", "first_step": 3}
        assert continued["initial_params"] == whole["initial_params"]


@pytest.mark.slow
def test_a_session_saved_mid_step_continues_by_finishing_that_step(tmp_path: Path) -> None:
    stepper = Stepper(Config())
    stepper.next()
    stepper.next()  # step 1, backward
    (tmp_path / "mid.npz").write_bytes(to_bytes(record(stepper)))
    continued = trace("--session", "mid.npz", "--steps", "2", cwd=tmp_path)
    whole = trace("--steps", "2", cwd=tmp_path)
    assert continued["steps"] == whole["steps"]
    text = run("--headless", "--session", "mid.npz", "--steps", "2", cwd=tmp_path)
    assert text.returncode == 0 and "=== Step 2 ===" in text.stdout and "Initial loss: 1.17328" in text.stdout


# ---- the app: ctrl+s, x and w; reopening with b to the start ----------------------------

@pytest.mark.slow
async def test_ctrl_s_saves_and_the_app_reopens_it_walking_back_bit_for_bit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = StepperApp(moons_stepper())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s", "s", "n", "n", "ctrl+s", "ctrl+s")
        expected = walk_back(app.stepper)
        messages = told(app)
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert saved == ["backprop-session-step3-backward-1.npz", "backprop-session-step3-backward.npz"]
    assert any(m.startswith("Wrote the session to ") and m.endswith("backward.npz") for m in messages)
    assert (tmp_path / saved[0]).read_bytes() == (tmp_path / saved[1]).read_bytes()  # never overwritten

    reopened = StepperApp(open_session(read(tmp_path / saved[1])))
    async with reopened.run_test(size=SIZE) as pilot:
        assert every_tensor(reopened.stepper.state) == expected[0]
        for state in expected[1:]:
            await pilot.press("b")
            assert every_tensor(reopened.stepper.state) == state
        assert reopened.stepper.state is reopened.stepper.initial


@pytest.mark.slow
async def test_x_writes_the_parameters_and_w_the_state_as_the_report_writes_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = StepperApp(Stepper(Config()))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s", "x", "w", "n", "w")
        params = dict(app.stepper.state.params)
    with np.load(tmp_path / "backprop-params-step1-update.npz", allow_pickle=False) as saved:
        assert set(saved.files) == set(params)
        for name, value in params.items():
            assert saved[name].tobytes() == value.tobytes() and saved[name].dtype == np.float64
    state = json.loads((tmp_path / "backprop-state-step1-update.json").read_text())
    headless = trace("--steps", "1", cwd=tmp_path)
    assert state["steps"] == headless["steps"] and state["config"] == headless["config"]
    assert state["on_screen"]["phase"] == "update"
    forward = json.loads((tmp_path / "backprop-state-step2-forward.json").read_text())
    step = forward["steps"][0]
    assert step["backward"] is None and step["update"] is None and step["gradcheck"] is None
    assert step["forward"]["loss"] == headless["steps"][0]["update"]["loss_after"]  # type: ignore[index]


@pytest.mark.slow
async def test_a_file_that_cannot_be_written_is_a_notification_and_the_app_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()  # the working directory removed under the app
    app = StepperApp(Stepper(Config()))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+s", "x", "w", "n")
        app.action_screenshot()  # the palette's Screenshot
        await until(pilot, lambda: len(told(app)) == 4, "the screenshot's notification")
        errors = told(app)
        assert len(errors) == 4 and all(m.startswith("Cannot write the ") for m in errors)
        assert "as backprop-session-step1-start.npz in the working folder" in errors[0]  # named
        assert errors[3].startswith("Cannot write the screenshot as backprop-stepper-")
        assert errors[3].endswith(".svg in the working folder: No such file or directory.")
        assert app.is_running and app.stepper.state.last_phase is Phase.FORWARD


@pytest.mark.slow
async def test_the_palettes_screenshot_lands_here_under_a_new_name(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Textual's saved it in ~/Downloads, which need not exist ("Failed to save screenshot",
    and no reason). Here: the working directory, a name never taken, the toast says where."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "nobody"))  # no ~/Downloads
    monkeypatch.setattr(time, "localtime", lambda *_: time.struct_time((2025, 1, 2, 3, 4, 5, 3, 2, 0)))
    app = StepperApp(Stepper(Config()))
    async with app.run_test(size=SIZE) as pilot:
        (command,) = [c for c in app.get_system_commands(app.screen) if c.title == "Screenshot"]
        command.callback()  # after 0.1 s, for the palette to close
        await until(pilot, lambda: len(told(app)) == 1, "the screenshot's notification")
        app.action_screenshot()
        await until(pilot, lambda: len(told(app)) == 2, "the second one's")
        messages = told(app)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backprop-stepper-20250102-030405-1.svg",
                                                         "backprop-stepper-20250102-030405.svg"]
    assert (tmp_path / "backprop-stepper-20250102-030405.svg").read_text().startswith("<svg")
    assert messages == [f"Wrote the screenshot to {tmp_path / 'backprop-stepper-20250102-030405.svg'}",
                        f"Wrote the screenshot to {tmp_path / 'backprop-stepper-20250102-030405-1.svg'}"]


@pytest.mark.slow
def test_a_user_models_session_replays_only_with_that_model(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    model = ROOT / "tests" / "fixtures" / "three_layer.py"
    done = run("--headless", "--model", str(model), "--steps", "2", "--save-session", "m.npz",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    recorded = read(tmp_path / "m.npz")
    assert recorded.model == str(model)
    assert recorded.model_sha256 == hashlib.sha256(model.read_bytes()).hexdigest()  # its code, named
    err = refused(["--headless", "--session", str(tmp_path / "m.npz")], capsys)
    assert f"recorded with the model file {str(model)!r}" in err and f"give --model {model}" in err
    continued = trace("--session", "m.npz", "--model", str(model), "--steps", "1", cwd=tmp_path)
    whole = trace("--model", str(model), "--steps", "3", cwd=tmp_path)
    assert continued["steps"] == whole["steps"][2:]  # type: ignore[index]


# ---- weights in and out --------------------------------------------------------------------

@pytest.mark.slow
def test_export_params_then_params_starts_from_them(tmp_path: Path) -> None:
    trace("--steps", "2", "--export-params", "p.npz", cwd=tmp_path)
    with np.load(tmp_path / "p.npz", allow_pickle=False) as saved:
        assert saved.files == ["W1", "b1", "W2", "b2"]
    started = trace("--params", "p.npz", "--steps", "1", cwd=tmp_path)
    whole = trace("--steps", "3", cwd=tmp_path)
    assert started["steps"][0]["forward"] == whole["steps"][2]["forward"]  # type: ignore[index]
    assert started["steps"][0]["update"] == whole["steps"][2]["update"]  # type: ignore[index]


def test_params_round_trip_through_np_savez() -> None:
    params = Stepper(Config(hidden=(8, 8))).initial.params
    buffer = io.BytesIO()
    np.savez(buffer, **params)
    loaded = params_from_bytes(buffer.getvalue(), params)
    assert all(loaded[k].tobytes() == params[k].tobytes() for k in params)
    assert params_from_bytes(params_to_bytes(params), params).keys() == params.keys()


# ---- hostile files: exit 2, a clear message, fast, nothing run ------------------------------

def _pickled(parts: dict[str, bytes]) -> None:
    parts["params/W1.npy"] = npy(np.array([[print]] * 4 + [[None]], dtype=object), allow_pickle=True)


SESSIONS: dict[str, tuple[Callable[[], bytes], str]] = {
    "truncated": (lambda: default_session()[:700], "not a session file (.npz)"),
    "wrong version": (lambda: tampered(head_set(format=0)),
                      "session format 0; this version reads formats 1 to 2"),
    "newer version": (lambda: tampered(head_set(format=3)),
                      "session format 3 was written by a newer version of backprop-stepper; this version "
                      "reads formats 1 to 2: open it with a newer version"),
    "JSON not an object": (lambda: tampered(lambda p: p.update({"session.json": b"[1, 2]"})),
                           "session.json must be a JSON object, got list"),
    "JSON not JSON": (lambda: tampered(lambda p: p.update({"session.json": b"{oops"})),
                      "session.json is not JSON"),
    "no JSON member": (lambda: tampered(lambda p: p.pop("session.json")), "no session.json member"),
    "pickled object array": (lambda: tampered(_pickled), "holds object values"),
    "wrong shape": (lambda: tampered(lambda p: p.update({"params/W1.npy": npy(np.zeros((3, 3)))})),
                    "parameter 'W1' has shape (3, 3); this network's is (4, 3)"),
    "NaN weights": (lambda: tampered(lambda p: p.update({"params/b2.npy": npy(np.array([np.nan]))})),
                    "parameter 'b2' holds NaN or infinity"),
    "int weights": (lambda: tampered(lambda p: p.update({"params/b2.npy": npy(np.array([1]))})),
                    "parameter 'b2' is int64; parameters are float64"),
    "header lies": (lambda: tampered(lambda p: p.update({"params/W1.npy": bomb_header((4, 3))})),
                    "member 'params/W1' declares shape (4, 3) of float64 (96 bytes) but holds 8 bytes"),
    "npz bomb": (lambda: tampered(lambda p: p.update({"params/W1.npy": bomb_header((10**6, 10**6))})),
                 "member 'params/W1' declares shape (1000000, 1000000)"),
    "not a zip": (lambda: b"W1 = 1, 2, 3\n", "not a session file (.npz)"),
    "empty": (lambda: b"", "not a session file (.npz)"),
    "unknown action": (lambda: tampered(head_set(path=[["next", 2], ["rm -rf", 1]])),
                       "path: unknown action 'rm -rf'"),
    "back past the start": (lambda: tampered(head_set(path=[["next", 2], ["back", 3]])),
                            "path: the path goes back past the start"),
    "endless path": (lambda: tampered(head_set(path=[["next", 10**9]])),
                     "path: 1,000,000,000 actions; a session holds at most 5,000,000"),
    "path and state disagree": (lambda: tampered(head_set(path=[["next", 3]])),
                                "the path leads to step 1 (gradcheck), not to step 1 (backward) where the "
                                "session says it was saved"),
    "a bad at": (lambda: tampered(head_set(at={"step": 1, "phase": "sideways"})), "at must be"),
    "a bad count": (lambda: tampered(head_set(path=[["next", -1]])), "is not an [action, count] pair"),
    "a huge count": (lambda: tampered(head_set(path=[["next", 10**40]])),
                     "path[0][1]: a whole number of 41 digits; a session's numbers have at most 19"),
    "a tampered setting": (lambda: tampered(head_set(config={"lr": "fast"})), "config: "),
    "an unknown setting": (lambda: tampered(head_set(config={"exec": "x"})),
                           "config has unknown settings: 'exec'"),
    "names a model": (lambda: tampered(head_set(model="evil.py")),
                      "was recorded with the model file 'evil.py'; a session never loads code: give "
                      "--model evil.py"),
}


@pytest.mark.parametrize("case", SESSIONS)
def test_a_hostile_session_is_refused(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make, message = SESSIONS[case]
    path = tmp_path / "hostile.npz"
    path.write_bytes(make())
    for mode in ([], ["--headless"]):
        err = refused([*mode, "--session", str(path)], capsys)
        assert message in err and f"--session: {path}" in err, err
        assert err.count("\n") <= 2


@pytest.mark.parametrize("kind", ["directory", "symlink to /dev/zero", "missing"])
def test_a_session_that_is_not_a_regular_file_is_refused(kind: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.npz"
    if kind == "directory":
        path.mkdir()
    elif kind == "symlink to /dev/zero":
        path.symlink_to("/dev/zero")
    err = refused(["--headless", "--session", str(path)], capsys)
    assert {"directory": "is a directory, not a session file",
            "symlink to /dev/zero": "is not a regular file (a device), not a session file",
            "missing": "no such session file"}[kind] in err
    assert err.count(str(path)) == 1  # named once, not once by the flag and again by the file


def test_many_compressed_members_cannot_unpack_past_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A zip bomb: each member small packed, within the per-array bound, but together far
    past what a session can hold; refused from the zip's directory, before anything is unpacked."""
    import engine.run.session

    monkeypatch.setattr(engine.run.session, "MAX_SESSION_BYTES", 1_000_000)
    zeros = npy(np.zeros(100_000))  # 800 kB unpacked, about 1 kB packed
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(3):
            zf.writestr(f"data/X{i}.npy", zeros)
    assert len(buffer.getvalue()) < 20_000
    with pytest.raises(SessionError, match=r"members declare 2,400,384 bytes unpacked: too large"):
        from_bytes(buffer.getvalue())


def test_nothing_in_a_session_is_unpickled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled"))
    with pytest.raises(SessionError, match="object values"):
        from_bytes(tampered(_pickled))


@pytest.mark.slow
def test_a_hostile_session_without_a_subprocess_traceback(tmp_path: Path) -> None:
    """The same through a real process: what the user sees, exit status and all."""
    (tmp_path / "bomb.npz").write_bytes(SESSIONS["npz bomb"][0]())
    (tmp_path / "zero.npz").symlink_to("/dev/zero")
    for name in ("bomb.npz", "zero.npz"):
        done = run("--headless", "--session", name, cwd=tmp_path)
        assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
        assert done.stderr.startswith(f"backprop-stepper: error: --session: {name}")
        assert done.stderr.count(name) == 1


PARAMS: dict[str, tuple[Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]], str]] = {
    "wrong names": (lambda p: {("w1" if k == "W1" else k): v for k, v in p.items()},
                    "missing 'W1'; unknown 'w1': this network's parameters are W1, b1, W2, b2"),
    "wrong shapes": (lambda p: p | {"W2": np.zeros((4, 1))},
                     "parameter 'W2' has shape (4, 1); this network's is (1, 4)"),
    "int dtype": (lambda p: p | {"b1": np.zeros(4, dtype=np.int64)},
                  "parameter 'b1' is int64; parameters are float64"),
    "NaN": (lambda p: p | {"W1": np.full((4, 3), np.nan)}, "parameter 'W1' holds NaN or infinity"),
    "float32": (lambda p: p | {"b2": np.zeros(1, dtype=np.float32)},
                "parameter 'b2' is float32; parameters are float64"),
}


@pytest.mark.parametrize("case", PARAMS)
def test_hostile_params_are_refused(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    change, message = PARAMS[case]
    params = {k: np.array(v) for k, v in Stepper(Config()).initial.params.items()}
    np.savez(tmp_path / "p.npz", **change(params))
    for mode in ([], ["--headless"]):
        err = refused([*mode, "--params", str(tmp_path / "p.npz")], capsys)
        assert f"--params: {tmp_path / 'p.npz'}: {message}" in err, err


def test_params_that_are_not_params_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "session.npz").write_bytes(default_session())
    (tmp_path / "pickled.npz").write_bytes(rezip({"W1.npy": npy(np.array([None], dtype=object),
                                                               allow_pickle=True)}))
    (tmp_path / "text.npz").write_text("W1,b1\n")
    (tmp_path / "dir.npz").mkdir()
    for name, message in (("session.npz", "member 'session.json' is not a NumPy array"),
                          ("pickled.npz", "member 'W1' holds object values"),
                          ("text.npz", "not a parameters file (.npz)"),
                          ("dir.npz", "is a directory, not a parameters file")):
        assert message in refused(["--headless", "--params", str(tmp_path / name)], capsys)


# ---- flags that a session fixes ---------------------------------------------------------------

@pytest.mark.parametrize(("argv", "message"), [
    (["--headless", "--session", "s.npz", "--hidden", "8"], "--hidden cannot be used with --session: "
     "the session fixes the network"),
    (["--headless", "--session", "s.npz", "--no-gradcheck"], "--no-gradcheck cannot be used with --session"),
    (["--session", "s.npz", "--config", "c.toml"], "--config cannot be used with --session"),
    (["--session", "s.npz", "--params", "p.npz"], "--params cannot be used with --session"),
    (["--save-session", "s.npz"], "--save-session only applies to a report: add --headless (in the "
     "app, ctrl+s saves the session)"),
    (["--export-params", "p.npz"], "--export-params only applies to a report: add --headless"),
    (["--headless", "--session", ""], "--session: the file name is empty"),
    (["--headless", "--save-session", "/nonexistent-folder/s.npz"],
     "--save-session: cannot write /nonexistent-folder/s.npz: no such folder /nonexistent-folder"),
    (["--headless", "--export-params", "/"], "--export-params: / is a directory; name a file"),
])
def test_flags_a_session_fixes_are_refused(argv: list[str], message: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert message in refused(argv, capsys)


def test_outputs_that_are_not_regular_files_are_refused_and_left_as_they_were(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Renaming the written file over a FIFO (or, as root, over /dev/null) replaced it with a
    regular file; a symbolic link is written through and stays a link."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "to-fifo").symlink_to(fifo)
    for flag in ("--save-session", "--export-params"):
        err = refused(["--headless", flag, str(fifo)], capsys)
        assert f"{flag}: cannot write {fifo}: not a regular file" in err
        err = refused(["--headless", flag, str(tmp_path / "to-fifo")], capsys)
        assert f"not a regular file (the link's target {fifo})" in err
        assert stat.S_ISFIFO(fifo.lstat().st_mode) and (tmp_path / "to-fifo").is_symlink()
    (tmp_path / "link.npz").symlink_to(tmp_path / "real.npz")
    trace("--save-session", "link.npz", cwd=tmp_path)
    assert (tmp_path / "link.npz").is_symlink() and (tmp_path / "real.npz").is_file()
    assert from_bytes((tmp_path / "real.npz").read_bytes()).config == Config().resolved()


def test_an_output_folder_where_no_file_can_be_made_is_refused_before_the_run(
        capsys: pytest.CaptureFixture[str]) -> None:
    """/proc passes a permission check as root; the file was refused only after the run."""
    err = refused(["--headless", "--steps", "3", "--save-session", "/proc/s.npz"], capsys)
    assert "--save-session: cannot write /proc/s.npz:" in err  # and no report (refused)


@pytest.mark.slow
def test_a_session_takes_the_reports_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stepper = moons_stepper()
    stepper.run_steps(2)
    (tmp_path / "moons.npz").write_bytes(to_bytes(record(stepper)))
    summary = trace("--session", "moons.npz", "--trace", "summary", "--steps", "2", cwd=tmp_path)
    assert summary["trace"] == "summary" and [s["step"] for s in summary["steps"]] == [3, 4]  # type: ignore[attr-defined]
    assert "loss_after" in summary["steps"][0] and "forward" not in summary["steps"][0]  # type: ignore[index]
    (tmp_path / "one.npz").write_bytes(default_session())
    err = refused(["--headless", "--session", str(tmp_path / "one.npz"), "--trace", "full"], capsys)
    assert "--trace: only applies to learning from data" in err


def test_model_with_a_built_in_session_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.npz").write_bytes(default_session())
    err = refused(["--headless", "--session", str(tmp_path / "s.npz"), "--model", "net.py"], capsys)
    assert "recorded with the built-in network; leave --model out" in err


def test_a_session_records_what_it_holds() -> None:
    stepper = moons_stepper()
    stepper.run_steps(1)
    session = from_bytes(to_bytes(record(stepper)))
    assert isinstance(session, Session) and session.config == stepper.config
    assert session.path == (("next", 4),) and session.model is None
    assert session.data is not None and stepper.data is not None
    assert session.data.dataset.X.tobytes() == stepper.data.dataset.X.tobytes()
    names = sorted(members(to_bytes(session)))
    parameters = ["W1", "W2", "W3", "b1", "b2", "b3"]
    assert names == [*(f"checkpoints/{name}.npy" for name in ("held", "known", "loss", "metrics")),
                     *(f"checkpoints/params/{name}.npy" for name in parameters),
                     "data/X.npy", "data/test.npy", "data/train.npy", "data/y.npy",
                     *(f"params/{name}.npy" for name in parameters), "session.json"]
