"""Crafted session and parameters files, one row a rule.

Each row takes a good file (the notebook's network saved at step 1's backward pass, or a
moons run saved after a step), changes one thing in it as a hostile or careless hand would
(a JSON value, a member's array, a zip entry's flags), and names the words the refusal must
contain. Every row is run through the command line in this process, as the app and as a
headless report: exit status 2, one line naming the file, nothing on stdout, no traceback,
and nothing stepped. A new rule for what a session may hold gets a row here.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import struct
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.maths.network import param_shapes
from engine.run.session import SessionError, from_bytes, open_session, record, to_bytes
from engine.run.stepper import Stepper
from engine.settings.config import Config
from tests.helpers import FIXTURES, members, moons_stepper, npy, rezip
from tui.cli.main import main
from tui.cli.options import parse
from tui.cli.session import with_session

THREE_LAYER = FIXTURES / "three_layer.py"


# ---- good files to start from ---------------------------------------------------------------

@functools.cache
def notebook() -> bytes:
    """The notebook's network at step 1's backward pass."""
    stepper = Stepper(Config())
    stepper.next()
    stepper.next()
    return to_bytes(record(stepper))


@functools.cache
def moons() -> bytes:
    """A moons run (2 features, 2 classes, one sigmoid output) after one step."""
    stepper = moons_stepper()
    stepper.run_steps(1)
    return to_bytes(record(stepper))


@functools.cache
def moons_at_start() -> bytes:
    """The moons run before its first step: the app computed nothing until it opened."""
    return to_bytes(record(moons_stepper()))


# ---- ways to change one thing ----------------------------------------------------------------

Make = Callable[[], bytes]


def edited(base: Make, **changes: object) -> Make:
    """session.json with values set; a key `data__seed` sets head["data"]["seed"]."""
    def make() -> bytes:
        parts = members(base())
        head = json.loads(parts["session.json"])
        for key, value in changes.items():
            *outer, last = key.split("__")
            target = head
            for name in outer:
                target = target[name]
            target[last] = value
        parts["session.json"] = json.dumps(head).encode()
        return rezip(parts)
    return make


def json_text(base: Make, old: str, new: str) -> Make:
    """session.json with text replaced once: for what json.dumps cannot write (Infinity, a
    5,000-digit number past Python's conversion limit)."""
    def make() -> bytes:
        parts = members(base())
        text = parts["session.json"].decode()
        assert old in text, old
        parts["session.json"] = text.replace(old, new, 1).encode()
        return rezip(parts)
    return make


def array(base: Make, name: str, change: Callable[[np.ndarray], np.ndarray]) -> Make:
    """The member NAME.npy replaced by change(its array)."""
    def make() -> bytes:
        parts = members(base())
        with io.BytesIO(parts[f"{name}.npy"]) as member:
            parts[f"{name}.npy"] = npy(change(np.load(member, allow_pickle=False)))
        return rezip(parts)
    return make


def zip_entry(base: Make, name: str, flags: int = 0, method: int | None = None) -> Make:
    """The member's zip entry given general-purpose flags (bit 0: encrypted) or a compression
    method (9: Deflate64), in its local header and in the central directory alike, as a zip
    tool would have written them; the bytes are left as they are."""
    def make() -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            for member, data in members(base()).items():
                zf.writestr(member, data)
            info = zf.getinfo(name)
            info.flag_bits |= flags
            info.compress_type = info.compress_type if method is None else method
        raw = bytearray(buffer.getvalue())
        struct.pack_into("<HH", raw, info.header_offset + 6, info.flag_bits, info.compress_type)
        return bytes(raw)
    return make


def without(base: Make, member: str) -> Make:
    def make() -> bytes:
        parts = members(base())
        del parts[member]
        return rezip(parts)
    return make


def params_file() -> bytes:
    """The notebook's initial parameters as np.savez writes them."""
    buffer = io.BytesIO()
    np.savez(buffer, **Stepper(Config()).initial.params)
    return buffer.getvalue()


# ---- the rows ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    make: Make
    message: str
    flag: str = "--session"  # or --params
    argv: tuple[str, ...] = ()  # more of the command line


ROWS: dict[str, Row] = {
    "gradcheck 'no'": Row(edited(notebook, config__gradcheck="no"),
                          "config: gradcheck: must be true or false, got 'no'"),
    "gradcheck 0": Row(edited(notebook, config__gradcheck=0),
                       "config: gradcheck: must be true or false, got 0"),
    "gradcheck 'false'": Row(edited(notebook, config__gradcheck="false"),
                             "config: gradcheck: must be true or false, got 'false'"),
    # numbers no part of a session can be (int() raised ValueError past 4,300 digits, float()
    # OverflowError; an infinite seed reached int())
    "a 5,000-digit seed": Row(json_text(notebook, '"seed": 42', f'"seed": {"9" * 5000}'),
                              "config.seed: a whole number of 5,000 digits; a session's numbers have "
                              "at most 19"),
    "a 400-digit learning rate": Row(json_text(notebook, '"lr": 0.1', f'"lr": 1{"0" * 400}'),
                                     "config.lr: a whole number of 401 digits"),
    "a 5,000-digit step": Row(json_text(notebook, '"step": 1', f'"step": {"9" * 5000}'),
                              "at.step: a whole number of 5,000 digits"),
    "a 400-digit reg": Row(json_text(edited(notebook, model="net.py", convention="cs231n", reg="@"),
                                     '"@"', "1" + "0" * 400), "reg: a whole number of 401 digits"),
    "an infinite data seed": Row(json_text(edited(moons, data__seed="@"), '"@"', "Infinity"),
                                 "data.seed: inf is not a finite number"),
    "a data seed of 1e999": Row(json_text(edited(moons, data__seed="@"), '"@"', "1e999"),
                                "data.seed: inf is not a finite number"),
    "a NaN count": Row(json_text(edited(notebook, path=[["next", "@"]]), '"@"', "NaN"),
                       "path[0][1]: nan is not a finite number"),
    "an unknown key": Row(edited(notebook, exec="rm -rf /"),
                          "session.json has unknown keys: 'exec'; a session holds format, config"),
    "format true": Row(edited(notebook, format=True),
                       "session format True; this version reads formats 1 to 2"),
    # data that do not fit the config, or settings of their own out of range (a matmul error
    # blamed on the path, the app dead as it opened, a meaningless report, NumPy's words)
    "a third feature": Row(array(moons, "data/X", lambda X: np.hstack([X, X[:, :1]])),
                           "data: X has 3 feature(s) but the config's network has 2 input(s)"),
    "a third feature, at the start": Row(array(moons_at_start, "data/X", lambda X: np.hstack([X, X[:, :1]])),
                                         "data: X has 3 feature(s) but the config's network has 2 input(s)"),
    "a label past the classes": Row(array(moons, "data/y", lambda y: np.where(np.arange(len(y)) == 0, 2, y)),
                                    "data: y holds labels 0..2 (3 classes) but the config's network has "
                                    "outputs for 2"),
    "a label per row, but one short": Row(array(moons, "data/y", lambda y: y[1:]),
                                          "data: y must hold one label per row of X (200), got shape (199,)"),
    "float row indices": Row(array(moons, "data/train", lambda rows: rows + 0.5),
                             "data/train holds float64 values; it holds whole numbers"),
    "a missing member": Row(without(moons, "data/test.npy"), "the data lack their member data/test.npy"),
    "a negative data seed": Row(edited(moons, data__seed=-1),
                                "data.seed: must be a whole number from 0 to 4294967295, got -1"),
    "a data seed past 2**32": Row(edited(moons, data__seed=2**40),
                                  "data.seed: must be a whole number from 0 to 4294967295, got 10995116"),
    "a batch of 0": Row(edited(moons, data__batch=0),
                        "data.batch: must be a whole number from 1 to 160 (the training rows), got 0"),
    "standardized 'yes'": Row(edited(moons, data__standardized="yes"),
                              "data.standardized: must be false, as the config's standardize is, got 'yes'"),
    "a name that is a list": Row(edited(moons, data__name=["moons"]),
                                 "data.name: must be a string, got ['moons']"),
    "data the config does not name": Row(edited(notebook, data={"name": "moons", "batch": 1, "seed": 42,
                                                                "standardized": False}),
                                         "the session holds data but its config names none"),
    # actions of the path a replay cannot take as they are (an unknown drill was replayed as none)
    "an unknown drill": Row(edited(notebook, path=[["next", 2], ["drill nope", 1]]),
                            "path: unknown fault drill 'nope'; the drills are activation-grad, bias-grad, "
                            "sign, cache, transpose"),
    "a drill with no place in the network": Row(edited(notebook, path=[["drill transpose", 1], ["next", 2]]),
                                                "path: the transpose drill needs two adjacent hidden layers "
                                                "of equal width"),
    "a drill with a model file": Row(edited(notebook, model="net.py", path=[["next", 2], ["drill sign", 1]]),
                                     "path: a fault drill breaks the built-in network; this session was "
                                     "recorded with a model file"),
    "inject-bug with a model file": Row(edited(notebook, model="net.py", config__inject_bug="sign"),
                                        "config: inject-bug: a fault drill breaks the built-in network"),
    "check every x": Row(edited(notebook, path=[["check every x", 1], ["next", 2]]),
                         "path: 'check every x': N must be a whole number from 0 to 1,000,000"),
    "check every ٣": Row(edited(notebook, path=[["check every ٣", 1], ["next", 2]]),
                         "path: 'check every ٣': N must be a whole number"),
    "an unknown action": Row(edited(notebook, path=[["next", 2], ["rm -rf /", 1]]),
                             "path: unknown action 'rm -rf /'"),
    # parameters that are not the config's network's, refused before a stepper is made
    "parameters of another network": Row(edited(notebook, config__hidden=[5]),
                                         "parameter 'W1' has shape (4, 3); this network's is (5, 3)"),
    "a parameter missing": Row(edited(notebook, params=["W1", "b1", "W2"]),
                               "the session's parameters ['W1', 'b1', 'W2'] are not this network's "
                               "['W1', 'b1', 'W2', 'b2']"),
    # what identifies a model file's code
    "a model hash that is not one": Row(edited(notebook, model="net.py", model_sha256="abc"),
                                        "model_sha256 must be the model file's SHA-256 (64 hex digits) with "
                                        "a model file, got 'abc'"),
    "a model hash without a model": Row(edited(notebook, model_sha256="0" * 64), "model_sha256 must be"),
    # zip entries zipfile cannot unpack (it raised RuntimeError and NotImplementedError)
    "an encrypted member": Row(zip_entry(notebook, "params/W1.npy", flags=0x1),
                               "member 'params/W1.npy' is encrypted; a session file is never "
                               "password-protected"),
    "an encrypted session.json": Row(zip_entry(notebook, "session.json", flags=0x1),
                                     "member 'session.json' is encrypted"),
    "a Deflate64 member": Row(zip_entry(notebook, "params/b1.npy", method=9),
                              "member 'params/b1.npy' is compressed with method 9 (Deflate64), which "
                              "cannot be unpacked here; a session file is stored or deflated"),
    "an unknown method": Row(zip_entry(notebook, "session.json", method=77),
                             "member 'session.json' is compressed with method 77, which cannot"),
    "encrypted parameters": Row(zip_entry(params_file, "W2.npy", flags=0x1),
                                "member 'W2.npy' is encrypted; a parameters file is never "
                                "password-protected", flag="--params"),
    "Deflate64 parameters": Row(zip_entry(params_file, "b2.npy", method=9),
                                "member 'b2.npy' is compressed with method 9 (Deflate64)", flag="--params"),
}


@pytest.fixture(autouse=True)
def no_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that is not refused would open the app and wait for keys: fail instead."""
    from tui.app.app import StepperApp

    monkeypatch.setattr(StepperApp, "run", lambda self: pytest.fail("the app was opened"))


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The command line run in this process: exit status 2, one line, no report, no
    traceback, under a second of CPU time."""
    start = time.process_time()
    status = main(argv)
    elapsed = time.process_time() - start
    out, err = capsys.readouterr()
    assert status == 2, err
    assert out == "" and "Traceback" not in err, err
    assert err.count("\n") == 1, err
    assert elapsed < 1.0, f"{elapsed:.2f} s"
    return err


@pytest.mark.parametrize("case", ROWS)
def test_a_crafted_file_is_refused_in_one_line(case: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    row = ROWS[case]
    path = tmp_path / "crafted.npz"
    path.write_bytes(row.make())
    for mode in ([], ["--headless"]):
        err = refused([*mode, row.flag, str(path), *row.argv], capsys)
        assert err.startswith(f"backprop-stepper: error: {row.flag}: {path}: "), err
        assert row.message in err, err


@pytest.mark.parametrize("case", [case for case, row in ROWS.items() if row.flag == "--session"])
def test_a_crafted_session_is_refused_as_it_is_read(case: str) -> None:
    """In one place, engine.run.session.from_bytes, before a stepper is made: nothing half-done."""
    with pytest.raises(SessionError) as refusal:
        from_bytes(ROWS[case].make())
    assert ROWS[case].message in str(refusal.value)


# ---- the model file's code ---------------------------------------------------------------------

def test_a_session_replays_only_the_model_code_it_was_recorded_with(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An edited copy of the file is refused before its code runs (it was replayed without a
    word, as another run under the recorded one's name); a renamed, unchanged copy is the
    same code. (tests/cli/test_sessions.py records a real one and checks its hash.)"""
    source = THREE_LAYER.read_bytes()
    digest = hashlib.sha256(source).hexdigest()
    session = tmp_path / "s.npz"
    session.write_bytes(edited(notebook, model=str(THREE_LAYER), model_sha256=digest)())
    edited_copy = tmp_path / "three_layer.py"
    edited_copy.write_bytes(source.replace(b"np.maximum(0, ", b"np.maximum(0.0, "))
    assert edited_copy.read_bytes() != source
    for mode in ([], ["--headless"]):
        err = refused([*mode, "--session", str(session), "--model", str(edited_copy)], capsys)
        assert err.startswith("backprop-stepper: error: --model: 'three_layer.py' is not the code this "
                              f"session was recorded with: the session names '{THREE_LAYER}' with sha256 "
                              f"{digest[:12]}…, 'three_layer.py' has sha256 "), err
        assert err.endswith("a session replays only the code it was recorded with, unchanged\n")
    renamed = tmp_path / "renamed.py"
    renamed.write_bytes(source)
    _, kept = with_session(parse(["--headless", "--session", str(session), "--model", str(renamed)]))
    assert kept.model == str(THREE_LAYER) and kept.model_sha256 == digest


def test_opening_a_session_with_other_model_code_is_refused_too() -> None:
    """The library's way in (open_session) keeps the rule: a model whose source differs."""
    session = from_bytes(edited(notebook, model="net.py", model_sha256="0" * 64)())
    other = SimpleNamespace(name="net.py", source=b"def forward(): ...\n")
    with pytest.raises(SessionError, match=r"^'net.py' is not the code this session was recorded with"):
        open_session(session, other)  # type: ignore[arg-type]


@pytest.mark.parametrize("config", [Config(), Config(inputs=2, hidden=(8, 8), classes=3)])
def test_the_shapes_a_session_is_checked_against_are_the_networks(config: Config) -> None:
    params = Stepper(config).initial.params
    assert param_shapes(config.architecture) == {name: value.shape for name, value in params.items()}
    assert list(param_shapes(config.architecture)) == list(params)


# ---- any value anywhere ----------------------------------------------------------------------

#: Values at the edges a hostile file reaches for first, then any JSON at all.
EDGES = st.sampled_from([10**400, -1, 2**32, 2**63, float("inf"), float("nan"), "no", 0, [], {}])
LEAVES = EDGES | st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
JSON = LEAVES | st.lists(LEAVES, max_size=3) | st.dictionaries(st.text(max_size=6), LEAVES, max_size=2)


def _keys(head: dict[str, object]) -> list[tuple[str, ...]]:
    """Every key of a session's JSON, nested ones as paths: ("config", "seed")."""
    out: list[tuple[str, ...]] = [("model_sha256",), ("convention",), ("reg",)]
    for key, value in head.items():
        out.append((key,))
        if isinstance(value, dict):
            out.extend((key, inner) for inner in value)
    return out


@functools.cache
def _members(base: Make) -> dict[str, bytes]:
    return members(base())


@settings(derandomize=True)  # the same examples every run: the suite stays deterministic
@given(base=st.sampled_from([notebook, moons]), data=st.data())
def test_any_json_value_at_any_key_is_read_or_refused_never_a_traceback(
        base: Make, data: st.DataObject) -> None:
    """A session whose JSON holds anything at any of its keys (a number past 64 bits, an
    infinity, a string for a number, a list for a flag) is a Session or a SessionError; one
    that is read opens (when its path is short enough to replay here)."""
    parts = dict(_members(base))
    head = json.loads(parts["session.json"])
    *outer, last = data.draw(st.sampled_from(_keys(head)))
    target = head
    for key in outer:
        target = target[key]
    target[last] = data.draw(JSON)
    parts["session.json"] = json.dumps(head).encode()
    try:
        session = from_bytes(rezip(parts))
    except SessionError:
        return
    if session.model is None and sum(count for _, count in session.path) <= 8:
        with contextlib.suppress(SessionError):
            open_session(session)
