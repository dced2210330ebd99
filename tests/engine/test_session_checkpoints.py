"""Sessions opened from their checkpoints (format 2, engine.run.rebuild).

Opening lands on the saved step without replaying the path, and b rebuilds the history a
checkpoint at a time: every state, opened or walked back to across checkpoints, must be the
one a replay of the path makes, bit for bit, and the undo bound must forget exactly what the
replay's forgets. Files that cannot be opened that way are replayed (format 1, a path with a
reset) or refused by name (a damaged checkpoint, a newer format).
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest

from engine.run.rebuild import EVERY
from engine.run.session import Session, SessionError, from_bytes, open_session, read, record, to_bytes
from engine.run.stepper import Stepper
from engine.settings.config import Config
from tests.helpers import FIXTURES, every_tensor, members, moons_stepper, rezip, run_cli, walk_back


def moons_run() -> Stepper:
    """A moons run past several checkpoints, with a gradient check on some steps only, undos
    and a toggle on the way: every action a checkpointed path may hold."""
    stepper = moons_stepper()
    stepper.train(3 * EVERY, check_every=3)
    for _ in range(6):
        stepper.back()
    stepper.gradcheck_enabled = False
    stepper.run_steps(2)
    stepper.gradcheck_enabled = True
    stepper.next()
    stepper.next()
    stepper.next()  # saved at a gradient check: its results are part of the state opened
    return stepper


def replayed(session: Session, max_history: int | None = None) -> Stepper:
    """The stepper a replay of the session's path makes (format 1's way)."""
    return open_session(dataclasses.replace(session, checkpoints=None), max_history=max_history)


@pytest.fixture(scope="module")
def saved() -> bytes:
    return to_bytes(record(moons_run()))


def test_opened_at_the_saved_step_then_walked_back_equals_the_replay_bit_for_bit(saved: bytes) -> None:
    session = from_bytes(saved)
    assert session.checkpoints is not None and not session.replayed
    assert len(session.checkpoints.states) > 3  # b crosses checkpoints on the way back
    opened = open_session(session)
    replay = replayed(session)
    # Only the saved step was computed (its forward and backward passes are behind the check).
    assert opened.behind is not None and opened.behind.pending == replay.history_length - 2
    assert opened.state.gradcheck is not None and opened.state.gradcheck.tensors
    assert every_tensor(opened.state) == every_tensor(replay.state)
    assert (opened.path, opened.gradcheck_enabled, opened.check_every, opened.history_length) == \
        (replay.path, replay.gradcheck_enabled, replay.check_every, replay.history_length)
    assert walk_back(opened) == walk_back(replay)


def opened_without_replaying(session: Session, monkeypatch: pytest.MonkeyPatch) -> Stepper:
    """The session opened from its checkpoints, a replay of its path failing the test."""
    def replay(*_: object) -> None:
        raise AssertionError("the session was replayed")

    with monkeypatch.context() as patch:
        patch.setattr(Stepper, "replay", replay)
        return open_session(session)


def test_a_training_run_which_ends_measuring_opens_without_replaying(monkeypatch: pytest.MonkeyPatch) -> None:
    """What t leaves: fused steps (Stepper._fused_step), the whole sets measured on the schedule
    only (every 3rd step here, so the checkpoints at steps 9 and 17 start inside a window of
    the running mean), and a "measure" at the end. Opened, it is the run itself, bit for bit."""
    stepper = moons_stepper("--eval-every", "3")
    assert stepper.train(2 * EVERY + 4) == 2 * EVERY + 4
    assert ("measure", 1) in stepper.path
    session = from_bytes(to_bytes(record(stepper)))
    assert session.checkpoints is not None and not session.replayed
    replay = replayed(session)
    opened = opened_without_replaying(session, monkeypatch)
    assert opened.behind is not None and opened.behind.pending > 0
    assert opened.state.forward is not None and opened.state.forward.metrics is not None
    states = walk_back(opened)
    assert sum(state.get("metrics") == b"None" for state in states) > len(states) // 2  # not measured
    assert states == walk_back(replay) == walk_back(stepper)


def test_measurements_mid_step_and_undone_are_rebuilt_as_made(monkeypatch: pytest.MonkeyPatch) -> None:
    """a (measure) between a step's phases, so the phases after it compute from the measured
    state; a run's closing measurement undone by b; another made where b stopped."""
    stepper = moons_stepper()
    stepper.gradcheck_enabled = False
    stepper.run_steps(EVERY + 1)  # iter_steps: fused, measured at the end
    stepper.next()
    stepper.next()
    assert stepper.measure()  # after the backward pass
    stepper.next()
    stepper.run_steps(3)
    for _ in range(4):  # from the measured update back to the step before's backward pass
        stepper.back()
    assert stepper.measure()
    stepper.run_steps(EVERY)
    assert sum(count for action, count in stepper.path if action == "measure") == 5
    session = from_bytes(to_bytes(record(stepper)))
    assert session.checkpoints is not None
    replay = replayed(session)
    opened = opened_without_replaying(session, monkeypatch)
    assert walk_back(opened) == walk_back(replay) == walk_back(stepper)


def test_the_health_views_states_are_rebuilt_as_it_reads_them(saved: bytes) -> None:
    session = from_bytes(saved)
    opened, replay = open_session(session), replayed(session)
    assert [every_tensor(s) for s in opened.kept()] == [every_tensor(s) for s in replay.kept()]


def test_a_reopened_session_continued_and_saved_again_reopens_bit_for_bit(saved: bytes) -> None:
    """Saved while most of its history is still to be rebuilt: its checkpoints carry over."""
    session = from_bytes(saved)
    opened, replay = open_session(session), replayed(session)
    for stepper in (opened, replay):
        for _ in range(5):
            stepper.back()
        stepper.run_steps(EVERY + 2)
    assert opened.behind is not None and opened.behind.pending > 0
    again = from_bytes(to_bytes(record(opened)))
    assert again.checkpoints is not None
    assert walk_back(open_session(again)) == walk_back(replay)


def test_saving_again_after_the_bound_forgot_rebuilds_nothing(saved: bytes) -> None:
    """The oldest step kept is no longer one the file has a checkpoint at: the nearest before
    it serves, and saving computes nothing."""
    session = from_bytes(saved)
    opened, replay = open_session(session, max_history=60), replayed(session, 60)
    for stepper in (opened, replay):
        stepper.run_steps(EVERY + 3)
    assert opened.behind is not None
    pending = opened.behind.pending
    again = from_bytes(to_bytes(record(opened)))
    assert opened.behind.pending == pending > 0
    assert walk_back(open_session(again, max_history=60)) == walk_back(replay)


@pytest.mark.parametrize("max_history", [8, 24, 60])
def test_the_undo_bound_forgets_what_the_replay_forgets(saved: bytes, max_history: int) -> None:
    session = from_bytes(saved)
    opened, replay = open_session(session, max_history=max_history), replayed(session, max_history)
    assert opened.behind is not None  # opened from the checkpoints, not replayed
    assert (opened.history_length, opened.forgotten, opened.max_history) == \
        (replay.history_length, replay.forgotten, replay.max_history)
    for stepper in (opened, replay):
        stepper.run_steps(2)
    assert (opened.history_length, opened.forgotten) == (replay.history_length, replay.forgotten)
    assert walk_back(opened) == walk_back(replay)


def test_a_bound_wider_than_the_saved_ones_replays() -> None:
    """The saved history forgot phases that a wider bound keeps: only a replay has them."""
    stepper = Stepper(Config(), max_history=6)
    stepper.run_steps(4)
    session = from_bytes(to_bytes(record(stepper)))
    opened = open_session(session, max_history=40)
    assert opened.behind is None and opened.history_length == 16
    assert walk_back(opened) == walk_back(replayed(session, 40))


def test_a_path_back_past_what_a_small_bound_keeps_is_refused_as_the_replay_refuses_it() -> None:
    stepper = Stepper(Config())
    stepper.run_steps(3)
    for _ in range(9):
        stepper.back()
    session = from_bytes(to_bytes(record(stepper)))
    for opening in (lambda: open_session(session, max_history=8), lambda: replayed(session, 8)):
        with pytest.raises(SessionError, match="path: the path goes back past the start"):
            opening()


def test_a_path_with_a_reset_keeps_no_checkpoints_and_replays() -> None:
    stepper = moons_stepper()
    stepper.run_steps(2)
    stepper.reset()
    stepper.next()
    session = from_bytes(to_bytes(record(stepper)))
    assert session.checkpoints is None and session.replayed
    assert walk_back(open_session(session)) == walk_back(stepper)


def test_the_format_1_file_kept_in_the_repository_is_replayed() -> None:
    session = read(FIXTURES / "session_format1_notebook_step2_backward.npz")
    assert session.checkpoints is None and session.replayed
    fresh = Stepper(Config())
    for _ in range(6):
        fresh.next()
    assert walk_back(open_session(session)) == walk_back(fresh)


def test_the_notebooks_network_under_adam_reopens_from_checkpoints() -> None:
    """Adam's state (moments, and t a whole number) is part of every checkpoint."""
    stepper = Stepper(Config(optimizer="adam"))
    stepper.run_steps(EVERY + 3)
    session = from_bytes(to_bytes(record(stepper)))
    assert session.checkpoints is not None
    opened = open_session(session)
    assert opened.behind is not None
    assert walk_back(opened) == walk_back(stepper)


# ---- damaged files --------------------------------------------------------------------------

def edited(raw: bytes, change: str, name: str) -> bytes:
    """The session with one checkpoints member dropped, or reshaped, or its head changed."""
    parts = members(raw)
    if change == "missing":
        del parts[name]
    elif change == "reshaped":
        array = np.load(io.BytesIO(parts[name]))
        buffer = io.BytesIO()
        np.save(buffer, array[:-1])
        parts[name] = buffer.getvalue()
    else:
        head = json.loads(parts["session.json"])
        head["checkpoints"][name] = json.loads(change)
        parts["session.json"] = json.dumps(head).encode()
    return rezip(parts)


@pytest.mark.parametrize(("change", "name", "message"), [
    ("missing", "checkpoints/params/W2.npy", "checkpoints: the member checkpoints/params/W2.npy is missing"),
    ("reshaped", "checkpoints/params/b1.npy", "checkpoints/params/b1.npy has shape"),
    ("reshaped", "checkpoints/loss.npy", "checkpoints/loss.npy has shape"),
    ("missing", "checkpoints/held.npy", "checkpoints: the member checkpoints/held.npy is missing"),
    ("[3, 2]", "steps", "checkpoints.steps: must be increasing steps"),
    ("[1]", "steps", "checkpoints/params/W1.npy has shape"),
])
def test_a_damaged_checkpoint_is_refused_naming_it(saved: bytes, tmp_path: Path, change: str, name: str,
                                                   message: str, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.npz").write_bytes(edited(saved, change, name))
    status, out, err = run_cli(["--headless", "--session", str(tmp_path / "s.npz")], capsys)
    assert status == 2 and out == "" and "Traceback" not in err
    assert message in err


def test_checkpoints_that_miss_the_saved_step_are_refused(saved: bytes) -> None:
    session = from_bytes(saved)
    assert session.checkpoints is not None
    states = dict(session.checkpoints.states)
    del states[max(states)]
    checkpoints = dataclasses.replace(session.checkpoints, states=states)
    damaged = dataclasses.replace(session, checkpoints=checkpoints)
    missing = r"checkpoints: no checkpoint at step \d+, where the session was saved"
    with pytest.raises(SessionError, match=missing):
        open_session(from_bytes(to_bytes(damaged)))


def test_a_newer_format_is_refused_saying_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stepper = Stepper(Config())
    stepper.next()
    parts = members(to_bytes(record(stepper)))
    head = json.loads(parts["session.json"])
    assert head["format"] == 2
    head["format"] = 3
    parts["session.json"] = json.dumps(head).encode()
    (tmp_path / "s.npz").write_bytes(rezip(parts))
    status, out, err = run_cli(["--headless", "--session", str(tmp_path / "s.npz")], capsys)
    assert status == 2 and out == "" and "Traceback" not in err
    assert "session format 3 was written by a newer version of backprop-stepper" in err
