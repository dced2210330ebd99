"""A session kept in one file: enough to rebuild every state of a run exactly.

The stepper is deterministic: its states follow from the configuration, the initial
parameters, the data and the path of actions taken (Stepper.path). A session file holds
those and nothing else, and opening it replays the path, so the state it was saved at comes
back bit for bit with the whole undo history behind it.

The file is a zip in NumPy's .npz layout: one .npy member an array (the initial parameters
under `params/`, the data set's rows and split under `data/`, the checkpoints under
`checkpoints/`) and one JSON member, `session.json`, for the rest (`"format": 2`). Format 2
adds checkpoints (engine.run.rebuild), so a session opens at its saved step without replaying
the run and its history is rebuilt as it is walked into; a format 1 file (none) is replayed as
it always was. It is read without pickle and without running
anything: every member's header is read and checked (dtype, shape, declared size) before any
array is, so a file declaring a terabyte array is refused in microseconds, and a session
that names a user's model file only says so; the file is loaded only when the user names it
on the command line.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import zipfile
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy

from engine.data.batches import Data, check_step
from engine.data.sets import Dataset
from engine.files import NAME_SHOWN, read_user_file
from engine.maths.features import expand
from engine.maths.features import parse as parse_features
from engine.maths.network import BUG_ALIASES, Array, Params, param_shapes
from engine.maths.optimizers import BUGS, init_state
from engine.model.builtin import bug_problem, make_model
from engine.model.conventions import CONVENTIONS
from engine.model.conventions.common import plain_option
from engine.model.protocol import Model
from engine.run.rebuild import CheckpointError, Checkpoints, LossTable, linear, open_at, taken
from engine.run.stepper import OBJECTIVE, Phase, Stepper, parse_tuning
from engine.settings.config import MAX_SEED, MAX_STEPS, Config, ConfigError, outputs_for, shown, validate
from engine.settings.floats import Floats

FORMAT = 2
#: The formats this version reads: 1 (the path alone, replayed) and 2 (checkpoints too).
FORMATS = (1, 2)
MAX_SESSION_BYTES = 512 * 2**20  # the largest network's parameters (80 MB) and data, with room
MAX_ARRAY_ELEMENTS = 20_000_000  # 160 MB of float64: above any array a session can hold
MAX_MEMBERS = 1_000
#: A member that is not an array (session.json): a few kB in any real session (a path of 150,000
#: alternating actions would fit). Parsed, a byte of JSON can make 24 of Python objects ("[],"
#: is a list), so this also bounds json.loads: to about 100 MB, where 512 MiB of "0," would
#: make 100 million numbers before any check could refuse the session.
MAX_JSON_BYTES = 4 * 2**20
MAX_PATH_ACTIONS = 5_000_000  # actions in all, counts summed: 1,000,000 headless steps and more
JSON_MEMBER = "session.json"


class SessionError(ValueError):
    """A session (or parameters) file that cannot be used, with a message saying why."""


@dataclass(frozen=True, eq=False)
class Session:
    """What a session file holds. `model` names a user's model file (its code is not in the
    session); `data` is the data set as trained on (split, and standardized if it was)."""

    config: Config
    params: Params
    path: tuple[tuple[str, int], ...]
    data: Data | None = None
    model: str | None = None
    #: Where the path leads, (step, phase or None at the start): written for a reader of the
    #: JSON, and checked after the replay; None when a file does not say.
    at: tuple[int, str | None] | None = None
    #: A course-style model file's convention (engine.model.conventions) and the --reg it was built
    #: with; None for the built-in network and a notebook-style file (whose heads have no such keys).
    convention: str | None = None
    reg: float | None = None
    #: What identifies the model file's code (source_hash); None without a model file, and in
    #: a file that does not record it (the key is optional).
    model_sha256: str | None = None
    #: The model file's whole top level ran at import (--run-module), which may leave other
    #: module state than the definitions alone (engine.usermodel.loading): replayed the same way.
    run_module: bool = False
    #: --model-option's constructor keywords a course's model class was built with, in order.
    model_options: tuple[tuple[str, Any], ...] = ()
    #: What opens it at its saved step without a replay (engine.run.rebuild); None: replayed.
    checkpoints: Checkpoints | None = None

    @property
    def replayed(self) -> bool:
        """Whether opening replays the path: no checkpoints, or ones its path or a user's model
        (whose state between calls is its own) cannot be rebuilt from."""
        return self.checkpoints is None or self.model is not None or not linear(self.path)


def source_hash(source: bytes) -> str:
    """What identifies a model file's code in a session: the SHA-256 of its bytes, so a file
    renamed or moved is still the same code, and a file edited is not."""
    return hashlib.sha256(source).hexdigest()


def model_difference(session: Session, name: str, source: bytes) -> str | None:
    """Why a model file cannot replay the session, or None: its code is not the code the
    session was recorded with. Its replay would be another run under the recorded one's name,
    different numbers that a reader of the session (a bug report, a class) takes for the
    recorded run's: refused, not warned of (a warning is lost when the app takes the screen)."""
    if session.model_sha256 is None:
        return None
    digest = source_hash(source)
    if digest == session.model_sha256:
        return None
    given, recorded = shown(name, NAME_SHOWN), shown(session.model, NAME_SHOWN)
    return (f"{given} is not the code this session was recorded with: the session names {recorded} with "
            f"sha256 {session.model_sha256[:12]}…, {given} has sha256 {digest[:12]}…; a session replays "
            "only the code it was recorded with, unchanged")


def record(stepper: Stepper, model_name: str | None = None) -> Session:
    """The session of a stepper as it stands: its configuration, initial parameters, data
    and path."""
    state = stepper.state
    at = (state.step, None if state.last_phase is None else state.last_phase.value)
    convention = stepper.model.convention if model_name is not None else "notebook"
    course = convention != "notebook"
    source = stepper.model.source if model_name is not None else None
    # The settings and data it started with: a change mid-run is in the path (Stepper.retune).
    return Session(stepper.initial_config, dict(stepper.initial.params), tuple(stepper.path),
                   stepper.initial_data,
                   model_name, at, convention if course else None,
                   float(stepper.model.reg) if course else None,
                   source_hash(source) if source is not None else None,
                   stepper.model.run_module if model_name is not None else False,
                   stepper.model.options if course else (), _fitting(taken(stepper)))


def _fitting(checkpoints: Checkpoints | None) -> Checkpoints | None:
    """The checkpoints, if each of their arrays is one a session can hold and all of them take
    at most a quarter of a session file's bound (a network near the largest keeps none: it is
    replayed)."""
    if checkpoints is None:
        return None
    count = len(checkpoints.states)
    params, optim = next(iter(checkpoints.states.values()))
    values = [np.asarray(value) for value in (*params.values(), *optim.values())]
    largest = max(value.size for value in values)
    total = count * sum(value.nbytes for value in values)
    return checkpoints if count * largest <= MAX_ARRAY_ELEMENTS and total <= MAX_SESSION_BYTES // 4 else None


# ---- writing ------------------------------------------------------------------------

#: The time stamp of every member written. A fixed one makes a file a function of what it
#: holds: the same session saved twice, a second apart, is the same bytes (with the clock's
#: time, two saves of one state would differ).
MEMBER_TIME = (1980, 1, 1, 0, 0, 0)


def _write(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=MEMBER_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16  # as zipfile writes a member from a string
    zf.writestr(info, data)


def _member(zf: zipfile.ZipFile, name: str, array: np.ndarray[Any, Any]) -> None:
    buffer = io.BytesIO()
    npy.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    _write(zf, f"{name}.npy", buffer.getvalue())


def to_bytes(session: Session) -> bytes:
    """The session as the bytes of a .npz file."""
    head: dict[str, Any] = {
        "format": FORMAT,
        "config": _config_dict(session.config),
        "path": [[action, count] for action, count in session.path],
        "params": list(session.params),
        "model": session.model,
    }
    if session.model_sha256 is not None:
        head["model_sha256"] = session.model_sha256
    if session.at is not None:
        head["at"] = {"step": session.at[0], "phase": session.at[1]}
    if session.convention is not None:
        head["convention"], head["reg"] = session.convention, session.reg
    if session.run_module:
        head["run_module"] = True
    if session.model_options:
        head["model_options"] = [[key, value] for key, value in session.model_options]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, value in session.params.items():
            _member(zf, f"params/{name}", np.asarray(value, dtype=np.float64))
        if session.data is not None:
            dataset = session.data.dataset
            head["data"] = {"name": dataset.name, "batch": session.data.batch,
                            "seed": session.data.seed, "standardized": session.data.standardized}
            for name in ("X", "y", "train", "test"):
                _member(zf, f"data/{name}", getattr(dataset, name))
            head["data"] |= _plane_head(session.data, zf)
        if session.checkpoints is not None:
            head["checkpoints"] = _checkpoints_head(session.checkpoints, zf)
        _write(zf, JSON_MEMBER, json.dumps(head, indent=1).encode())
    return buffer.getvalue()


def _checkpoints_head(checkpoints: Checkpoints, zf: zipfile.ZipFile) -> dict[str, Any]:
    """The checkpoints' arrays written under checkpoints/ (each parameter and optimizer
    state stacked, one row a checkpoint), and what session.json says of them."""
    states = [checkpoints.states[step] for step in sorted(checkpoints.states)]
    for part, index in (("params", 0), ("optim", 1)):
        for name in states[0][index]:
            stack = np.stack([np.asarray(state[index][name]) for state in states])
            _member(zf, f"checkpoints/{part}/{name}", stack)
    _member(zf, "checkpoints/held", np.array(checkpoints.held, dtype=np.int64))
    trail = checkpoints.trail
    _member(zf, "checkpoints/loss", trail.loss)
    if trail.metrics is not None and trail.known is not None:
        _member(zf, "checkpoints/metrics", trail.metrics)
        _member(zf, "checkpoints/known", trail.known)
    return {"every": checkpoints.every, "steps": sorted(checkpoints.states),
            "max_history": checkpoints.max_history, "forgotten": checkpoints.forgotten}


def _plane_head(data: Data, zf: zipfile.ZipFile) -> dict[str, Any]:
    """What a session adds for the plane (engine.data.batches.Data.plane): a CSV header's
    names, and with feature inputs the points they are features of (data/plane.npy), which
    the inputs alone do not give back (sin(x1) keeps no x1). Nothing for the data as before."""
    head: dict[str, Any] = {}
    if data.plane.columns:
        head["columns"] = list(data.plane.columns)
    if data.dataset.class_names:
        head["class_names"] = list(data.dataset.class_names)
    if data.plane_data is not None:
        _member(zf, "data/plane", data.plane_data.X)
    return head


def _config_dict(config: Config) -> dict[str, Any]:
    out = {}
    for f in fields(config):
        value = getattr(config, f.name)
        out[f.name] = list(value) if isinstance(value, tuple | Floats) else value
    return out


# ---- reading ------------------------------------------------------------------------

def read(path: Path) -> Session:
    """The session file at path, checked; SessionError saying what is wrong."""
    try:
        raw = read_user_file(path, "session file", MAX_SESSION_BYTES)
    except OSError as error:
        raise SessionError(str(error)) from None
    return from_bytes(raw)


Arrays = dict[str, np.ndarray[Any, Any]]


def arrays(raw: bytes, what: str = "session file") -> tuple[Arrays, dict[str, bytes]]:
    """The .npy members of a zip as arrays, and its other members as bytes, every header
    checked before its array is read: float64, int64 or bool only (never object: nothing is
    unpickled), at most MAX_ARRAY_ELEMENTS each, the member's size matching its header."""
    zf, infos = _opened(raw, what)
    out: Arrays = {}
    other: dict[str, bytes] = {}
    with zf:
        for info in infos:
            if info.filename.endswith(".npy"):
                out[info.filename.removesuffix(".npy")] = _npy_member(zf, info, what)
            else:
                other[info.filename] = _read_member(zf, info, what)
    return out, other


def _opened(raw: bytes, what: str) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """The zip and its members, once their number, their compression and their unpacked
    size are known to be ones a session file may have."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise SessionError(f"not a {what} (.npz): {error}") from None
    if len(infos) > MAX_MEMBERS:
        raise SessionError(f"the {what} has {len(infos):,} members; at most {MAX_MEMBERS:,}")
    for info in infos:
        problem = _unreadable(info, what)
        if problem:
            raise SessionError(f"member {shown(info.filename)} {problem}")
    # Unpacked, the members are at most as large as their zip entries declare (zipfile reads
    # no further): bounding the sum bounds the memory a small, highly compressed file can take.
    unpacked = sum(info.file_size for info in infos)
    if unpacked > MAX_SESSION_BYTES:
        raise SessionError(f"the {what}'s members declare {unpacked:,} bytes unpacked: too large "
                           f"(at most {MAX_SESSION_BYTES:,})")
    return zf, infos


def _npy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, what: str) -> np.ndarray[Any, Any]:
    """One .npy member's array, its header checked before any of its data is read."""
    name = info.filename.removesuffix(".npy")
    try:
        with zf.open(info) as member:
            version = npy.read_magic(member)
            header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, _, dtype = header(member)  # the header only: no data read yet
            data_bytes = info.file_size - member.tell()
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, SyntaxError, RuntimeError) as error:
        raise SessionError(f"member {name!r} is not a NumPy array: {error}") from None
    if dtype.hasobject or dtype.kind not in "fib":
        raise SessionError(f"member {name!r} holds {dtype} values; a {what} holds numbers only "
                           "(object arrays would need unpickling, which is never done)")
    count = math.prod(shape)
    if count > MAX_ARRAY_ELEMENTS:
        raise SessionError(f"member {name!r} declares shape {shape} ({count:,} values): too large")
    size = count * dtype.itemsize
    if data_bytes != size:
        raise SessionError(f"member {name!r} declares shape {shape} of {dtype} ({size:,} bytes) "
                           f"but holds {data_bytes:,} bytes: damaged or tampered")
    try:
        with zf.open(info) as member:
            array: np.ndarray[Any, Any] = npy.read_array(member, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, RuntimeError) as error:
        raise SessionError(f"member {name!r} is damaged: {error}") from None
    return array


#: The compression methods zipfile unpacks (NumPy writes the first two), and the names of
#: some others, for the message that refuses them.
READABLE = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
METHODS = {1: "Shrink", 6: "Implode", 9: "Deflate64", 10: "PKWARE Implode", 18: "IBM TERSE",
           19: "IBM LZ77", 93: "Zstandard", 95: "XZ", 96: "JPEG", 97: "WavPack", 98: "PPMd", 99: "AES"}


def _unreadable(info: zipfile.ZipInfo, what: str) -> str | None:
    """Why zipfile cannot unpack a member, said before it tries (it would raise RuntimeError
    for an encrypted member and NotImplementedError for a method it lacks)."""
    if info.flag_bits & 0x1:
        return f"is encrypted; a {what} is never password-protected"
    if info.compress_type not in READABLE:
        name = METHODS.get(info.compress_type)
        return (f"is compressed with method {info.compress_type}{f' ({name})' if name else ''}, which "
                f"cannot be unpacked here; a {what} is stored or deflated, as np.savez writes it")
    return None


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, what: str) -> bytes:
    """A member that is not an array, if it unpacks to at most MAX_JSON_BYTES: its declared
    size is checked before it is read, and no more than that is read."""
    def too_large(size: int) -> SessionError:
        return SessionError(f"member {shown(info.filename)} of the {what} unpacks to {size:,} bytes; "
                            f"at most {MAX_JSON_BYTES:,} for a member that is not an array")

    if info.file_size > MAX_JSON_BYTES:
        raise too_large(info.file_size)
    try:
        with zf.open(info) as member:
            data = member.read(MAX_JSON_BYTES + 1)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, RuntimeError) as error:
        raise SessionError(f"member {info.filename!r} of the {what} is damaged: {error}") from None
    if len(data) > MAX_JSON_BYTES:
        raise too_large(len(data))
    return data


def from_bytes(raw: bytes) -> Session:
    """The session in a .npz file's bytes, every part checked as it is read, before anything
    is stepped (so no replay stops half-way); SessionError otherwise."""
    members, other = arrays(raw)
    head = _head(other)
    config = _config(head.get("config"))
    model, model_sha256, convention, reg = _model(head, config)
    options = _model_options(head.get("model_options", []), convention)
    params = _params(head.get("params"), members)
    if model is None:  # the built-in network's shapes follow from the config (a model file's, once run)
        _check_shapes(params, param_shapes(config.architecture))
    path = _path(head.get("path"), config, built_in=model is None)
    data = _data(head.get("data"), members, config)
    run_module = head.get("run_module", False)
    if type(run_module) is not bool or (run_module and model is None):
        raise SessionError(f"run_module must be true or false with a model file, got {shown(run_module)}")
    at = _at(head.get("at"))
    checkpoints = None
    if "checkpoints" in head and at is not None:  # without at (a file edited by hand): replayed
        checkpoints = _checkpoints(head["checkpoints"], members, config, params, data is not None, at)
    return Session(config, params, path, data, model, at, convention, reg, model_sha256,
                   run_module, options, checkpoints)


CHECKPOINT_KEYS = ("every", "steps", "max_history", "forgotten")


def _checkpoints(raw: object, members: Arrays, config: Config, params: Params, data: bool,
                 at: tuple[int, str | None]) -> Checkpoints:
    """The checkpoints, each array checked against the network and the steps it says it holds:
    a member missing or of another shape or kind is refused by name, before anything runs."""
    steps, at_step = _checkpoint_steps(raw, at)
    assert isinstance(raw, dict)
    states, optim_names = _checkpoint_states(members, config, params, len(steps))
    held = _checkpoint_member(members, "held", (members.get("checkpoints/held", np.empty(0)).shape[0],), "i")
    if np.any(held < 0):
        raise SessionError("checkpoints/held: the bytes each phase held cannot be negative")
    loss = _checkpoint_member(members, "loss", (at_step,), "f")
    trail = LossTable(loss)
    if data:
        trail = LossTable(loss, _checkpoint_member(members, "metrics", (at_step, 4), "f"),
                          _checkpoint_member(members, "known", (at_step, 4), "b"))
    known = {f"checkpoints/{name}" for name in ("held", "loss", "metrics", "known")}
    known |= {f"checkpoints/params/{name}" for name in params}
    known |= {f"checkpoints/optim/{name}" for name in optim_names}
    extra = [name for name in members if name.startswith("checkpoints/") and name not in known]
    if extra:
        raise SessionError(f"member {shown(extra[0])}.npy is not one of the checkpoints' arrays")
    return Checkpoints(raw["every"], dict(zip(steps, states, strict=True)), trail, held.tolist(),
                       raw["max_history"], raw["forgotten"])


def _checkpoint_steps(raw: object, at: tuple[int, str | None]) -> tuple[list[int], int]:
    """What session.json says of the checkpoints, checked: their steps, and the steps of the
    loss trail (the saved step's, none at the start)."""
    if not isinstance(raw, dict) or sorted(raw) != sorted(CHECKPOINT_KEYS):
        raise SessionError(f"checkpoints must be an object of {', '.join(CHECKPOINT_KEYS)}")
    for key in ("every", "max_history", "forgotten"):
        if not _whole_at_least(raw[key], int(key != "forgotten")):
            raise SessionError(f"checkpoints.{key}: must be a whole number, got {shown(raw[key])}")
    steps = raw["steps"]
    if (not isinstance(steps, list) or not steps or not all(_whole_at_least(s, 1) for s in steps)
            or steps != sorted(set(steps)) or steps[-1] > at[0]):
        raise SessionError(f"checkpoints.steps: must be increasing steps from 1 to {at[0]} (where the "
                           "session was saved)")
    return steps, at[0] if at[1] is not None else 0


def _whole_at_least(value: object, least: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= least


def _checkpoint_states(members: Arrays, config: Config, params: Params,
                       count: int) -> tuple[list[tuple[Params, dict[str, Any]]], list[str]]:
    """Each checkpoint's parameters and optimizer state (one row of each stacked member), and
    the optimizer state's names."""
    states: list[tuple[Params, dict[str, Any]]] = [({}, {}) for _ in range(count)]
    optim = init_state(config.optimizer, params)
    for part, template in (("params", params), ("optim", optim)):
        for name, value in template.items():
            whole = isinstance(value, int)  # Adam's t
            stack = _checkpoint_member(members, f"{part}/{name}", (count, *np.shape(value)),
                                       "i" if whole else "f")
            for row, (kept, moments) in zip(stack, states, strict=True):
                target: dict[str, Any] = moments if part == "optim" else kept
                target[name] = int(row) if whole else _own(row)
    return states, list(optim)


def _own(row: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """A checkpoint's array as a state holds one: read-only, and its own copy, so a state
    rebuilt from it keeps only its own arrays alive, not every checkpoint's stack."""
    out = row.copy()
    out.setflags(write=False)
    return out


def _checkpoint_member(members: Arrays, name: str, shape: tuple[int, ...], kind: str) -> np.ndarray[Any, Any]:
    """A checkpoints/ member of this shape and kind (f: float64, i: whole numbers, b: bool)."""
    array = members.get(f"checkpoints/{name}")
    what = {"f": "float64", "i": "whole numbers", "b": "bool"}[kind]
    if array is None:
        raise SessionError(f"checkpoints: the member checkpoints/{name}.npy is missing")
    if array.shape != shape:
        raise SessionError(f"checkpoints/{name}.npy has shape {array.shape}; the session's checkpoints "
                           f"make it {shape}")
    if (kind == "f" and array.dtype != np.float64) or (kind == "i" and array.dtype.kind not in "iu") or (
            kind == "b" and array.dtype != np.bool_):
        raise SessionError(f"checkpoints/{name}.npy holds {array.dtype} values; it holds {what}")
    return array


def _model_options(given: Any, convention: str | None) -> tuple[tuple[str, Any], ...]:
    """The recorded --model-option keywords: [[key, value], ...], keys Python names given
    once, values plain data (JSON's; nothing in them is run), only with a course's file."""
    if given and convention is None:
        raise SessionError("model_options need a course's model file (a convention)")
    if not isinstance(given, list) or not all(
            isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)
            and pair[0].isidentifier() and plain_option(pair[1]) for pair in given):
        raise SessionError(f"model_options must be [[key, value], ...] with plain values, "
                           f"got {given!r}"[:200])
    keys = [pair[0] for pair in given]
    if len(set(keys)) != len(keys):
        raise SessionError("model_options name a key twice")
    return tuple((key, value) for key, value in given)


def _model(head: dict[str, Any], config: Config) -> tuple[str | None, str | None, str | None, float | None]:
    """The model file a session names, the hash of its code, and a course's convention and reg."""
    model, model_sha256 = _model_file(head, config)
    convention, reg = head.get("convention"), head.get("reg")
    if convention is not None and (model is None or convention not in CONVENTIONS):
        raise SessionError(f"convention must be one of {', '.join(CONVENTIONS)} with a model file, "
                           f"got {convention!r}"[:200])
    if reg is not None and not (type(reg) in (int, float) and math.isfinite(reg) and reg >= 0):
        raise SessionError(f"reg must be a finite number >= 0, got {reg!r}"[:200])
    return model, model_sha256, convention, None if reg is None else float(reg)


def _model_file(head: dict[str, Any], config: Config) -> tuple[str | None, str | None]:
    """The model file's name and its code's SHA-256, each checked: a file name or null, no
    fault drill with a file (drills are the built-in network's), a hash only with a file."""
    model, model_sha256 = head.get("model"), head.get("model_sha256")
    if model is not None and not isinstance(model, str):
        raise SessionError(f"model must be a file name or null, got {type(model).__name__}")
    if model is not None and config.inject_bug is not None:
        raise SessionError(f"config: inject-bug: {BUILT_IN_ONLY}")
    if model_sha256 is not None and (model is None or not isinstance(model_sha256, str)
                                     or not re.fullmatch(r"[0-9a-f]{64}", model_sha256)):
        raise SessionError(f"model_sha256 must be the model file's SHA-256 (64 hex digits) with a model "
                           f"file, got {shown(model_sha256)}")
    return model, model_sha256


#: The keys session.json may hold (to_bytes writes the ones after model only when they apply).
KEYS = ("format", "config", "path", "params", "model", "model_sha256", "data", "at", "convention", "reg",
        "run_module", "model_options", "checkpoints")
#: Digits of the longest whole number a session holds: 64 bits. No setting, seed or count
#: comes near; int() of a longer one is slow, and past 4,300 digits Python refuses it.
MAX_DIGITS = 19


class _Long:
    """A whole number in the JSON too long to be one a session holds (json's parse_int hands
    over its digits; they are counted, not converted)."""

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _whole(text: str) -> int | _Long:
    digits = len(text.lstrip("-"))
    return int(text) if digits <= MAX_DIGITS else _Long(digits)


def _head(other: dict[str, bytes]) -> dict[str, Any]:
    """session.json as a dict of the known keys, every number in it one a session can hold."""
    if JSON_MEMBER not in other:
        raise SessionError(f"no {JSON_MEMBER} member: not a backprop-stepper session")
    try:
        head = json.loads(other[JSON_MEMBER].decode("utf-8"), parse_int=_whole)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise SessionError(f"{JSON_MEMBER} is not JSON: {error}") from None
    if not isinstance(head, dict):
        raise SessionError(f"{JSON_MEMBER} must be a JSON object, got {type(head).__name__}")
    _check_numbers(head)
    unknown = [key for key in head if key not in KEYS]
    if unknown:
        raise SessionError(f"{JSON_MEMBER} has unknown keys: {', '.join(shown(k) for k in unknown[:5])}; "
                           f"a session holds {', '.join(KEYS)}")
    fmt = head.get("format")
    if type(fmt) is int and fmt > FORMAT:
        raise SessionError(f"session format {fmt} was written by a newer version of backprop-stepper; this "
                           f"version reads formats {FORMATS[0]} to {FORMAT}: open it with a newer version")
    if type(fmt) is not int or fmt not in FORMATS:
        raise SessionError(f"session format {shown(fmt)}; this version reads formats {FORMATS[0]} to "
                           f"{FORMAT}")
    if fmt < 2 and "checkpoints" in head:
        raise SessionError("checkpoints need session format 2")
    return head


Trail = tuple["Trail", str | int] | None  # where a value sits: its parent's trail, its key or index


def _check_numbers(head: dict[str, Any]) -> None:
    """Refuse, naming its key, a number no part of a session can be: a whole number longer
    than MAX_DIGITS, or one that is not finite (JSON has no infinity, but Python's json reads
    Infinity, NaN and 1e999). Each later rule can then convert a number without an
    OverflowError or ValueError. The walk keeps a stack, not recursion: a deeply nested list
    is no reason for a RecursionError, and a key's name is spelled out only when refused."""
    stack: list[tuple[object, Trail]] = [(head, None)]
    while stack:
        value, trail = stack.pop()
        if isinstance(value, dict):
            stack.extend((item, (trail, key)) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((item, (trail, i)) for i, item in reversed(list(enumerate(value))))
        elif isinstance(value, _Long):
            raise SessionError(f"{_where(trail)}: a whole number of {value.digits:,} digits; a session's "
                               f"numbers have at most {MAX_DIGITS}")
        elif isinstance(value, float) and not math.isfinite(value):
            raise SessionError(f"{_where(trail)}: {value} is not a finite number")


def _where(trail: Trail) -> str:
    """The key path of a trail as the messages write it: data.seed, path[2][1]."""
    parts = []
    while trail is not None:
        trail, key = trail
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    where = "".join(reversed(parts)).removeprefix(".")
    return where if len(where) <= 80 else f"{where[:79]}…"


def _at(raw: object) -> tuple[int, str | None] | None:
    if raw is None:
        return None
    phases = [None, *(phase.value for phase in Phase)]
    if (not isinstance(raw, dict) or set(raw) != {"step", "phase"} or isinstance(raw["step"], bool)
            or not isinstance(raw["step"], int) or raw["phase"] not in phases):
        raise SessionError(f"at must be {{\"step\": N, \"phase\": one of {phases}}}")
    return raw["step"], raw["phase"]


def _config(raw: object) -> Config:
    if not isinstance(raw, dict):
        raise SessionError("config must be a JSON object")
    known = {f.name for f in fields(Config)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SessionError(f"config has unknown settings: {', '.join(map(repr, unknown[:5]))}")
    values: dict[str, Any] = {name: tuple(value) if isinstance(value, list) else value
                              for name, value in raw.items()}
    try:
        # given=(): every value is checked, but none counts as typed (a recorded config may hold
        # settings a person could not combine on a command line, e.g. the fitted inputs).
        return validate(Config(**values), given=())
    except (ConfigError, TypeError, ValueError) as error:
        raise SessionError(f"config: {error}") from None


def _params(names: object, members: Arrays) -> Params:
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise SessionError("params must list the parameters' names")
    params: Params = {}
    for name in names:
        array = members.get(f"params/{name}")
        if array is None:
            raise SessionError(f"parameter {name!r} is listed but has no array")
        params[name] = checked_params(name, array)
    return params


def _check_shapes(params: Params, shapes: dict[str, tuple[int, ...]]) -> None:
    """The parameters are the network's: its names in its order, each of its shape."""
    if tuple(params) != tuple(shapes):
        raise SessionError(f"the session's parameters {shown(list(params), 200)} are not this network's "
                           f"{list(shapes)}")
    for name, shape in shapes.items():
        if params[name].shape != shape:
            raise SessionError(f"parameter {name!r} has shape {params[name].shape}; this network's "
                               f"is {shape}")


def checked_params(name: str, array: np.ndarray[Any, Any]) -> Array:
    """A parameter array as the stepper takes it: float64 and finite."""
    if array.dtype != np.float64:
        raise SessionError(f"parameter {name!r} is {array.dtype}; parameters are float64")
    if not np.all(np.isfinite(array)):
        raise SessionError(f"parameter {name!r} holds NaN or infinity")
    out: Array = array
    return out


def _path(raw: object, config: Config, built_in: bool) -> tuple[tuple[str, int], ...]:
    if not isinstance(raw, list) or len(raw) > MAX_PATH_ACTIONS:
        raise SessionError("path must be a list of [action, count] pairs")
    path = []
    total = 0
    checked: set[str] = set()  # a long path repeats a few actions
    for item in raw:
        if (not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str)
                or isinstance(item[1], bool) or not isinstance(item[1], int) or not 1 <= item[1] <= 10**9):
            raise SessionError(f"path: {shown(item)} is not an [action, count] pair")
        action = item[0]
        if action not in checked:
            problem = _action_problem(action, config, built_in)
            if problem:
                raise SessionError(f"path: {problem}")
            checked.add(action)
        total += item[1]
        path.append((action, item[1]))
    if total > MAX_PATH_ACTIONS:  # a replay of them all would run for hours
        raise SessionError(f"path: {total:,} actions; a session holds at most {MAX_PATH_ACTIONS:,}")
    return tuple(path)


#: The actions Stepper.replay takes as they are; "check every N" and "drill NAME" are checked
#: by _action_problem.
ACTIONS = ("next", "back", "reset", "measure", "gradcheck on", "gradcheck off", "check every")
_EVERY = re.compile(r"check every (0|[1-9][0-9]{0,6})")
BUILT_IN_ONLY = "a fault drill breaks the built-in network; this session was recorded with a model file"


def _action_problem(action: str, config: Config, built_in: bool) -> str | None:
    """Why Stepper.replay cannot take an action as the app or a headless run records it, or
    None: checked when the file is read, so a replay never stops half-way, and an unknown
    fault drill is not replayed as none."""
    if action in ACTIONS:
        return None
    if action.startswith("check every "):
        match = _EVERY.fullmatch(action)
        if match is None or int(match[1]) > MAX_STEPS:
            return f"{shown(action)}: N must be a whole number from 0 to {MAX_STEPS:,}"
        return None
    if action.startswith("set "):
        return _tuning_problem(action, config, built_in)
    if action == "drill" or action.startswith("drill "):
        if not built_in:
            return BUILT_IN_ONLY
        bug = action.removeprefix("drill").strip()
        name = BUG_ALIASES.get(bug, bug)
        if bug and name not in BUGS:
            return f"unknown fault drill {shown(bug)}; the drills are {', '.join(BUGS)}"
        return bug_problem(config.architecture, name, optimizer=config.optimizer) if bug else None
    return f"unknown action {shown(action)}"


def _tuning_problem(action: str, config: Config, built_in: bool) -> str | None:
    """Why a change of settings mid-run ("set lr=0.05", Stepper.retune) cannot be replayed:
    a setting that cannot change mid-run, a value its rules refuse on its own, a change of the
    loss a model file computes itself. A value is checked alone (the settings
    the path has changed before it are not known until the replay, which checks them too)."""
    try:
        changes = parse_tuning(action)
        validate(replace(config, **changes), given=())
    except ValueError as error:
        return f"{shown(action)}: {error}"
    if not built_in and any(key in OBJECTIVE for key in changes):
        return f"{shown(action)}: a model file computes its own loss: l1 and l2 do not change it"
    return None


DATA_KEYS = ("name", "batch", "seed", "standardized")
DATA_MEMBERS = ("X", "y", "train", "test")


def _data(raw: object, members: Arrays, config: Config) -> Data | None:
    """The data set as trained on, checked against the config that trained on it, so that a
    replay cannot meet a matrix of the wrong shape or a label the output has no unit for."""
    if raw is None:
        if config.learns_from_data:
            raise SessionError("the config names data but the session holds none")
        return None
    if not config.learns_from_data:
        raise SessionError("the session holds data but its config names none (no dataset or data file)")
    if not isinstance(raw, dict) or sorted(set(raw) - {"columns", "class_names"}) != sorted(DATA_KEYS):
        raise SessionError(f"data must be an object of {', '.join(DATA_KEYS)} (and columns, class_names)")
    dataset = _class_names(_dataset(raw["name"], members), raw.get("class_names"))
    dataset, plane = _plane(dataset, raw.get("columns"), members, config)
    _check_fitted(dataset, config)
    batch, seed, standardized = raw["batch"], raw["seed"], raw["standardized"]
    rows = len(dataset.train)
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= rows:
        raise SessionError(f"data.batch: must be a whole number from 1 to {rows:,} (the training rows), "
                           f"got {shown(batch)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise SessionError(f"data.seed: must be a whole number from 0 to {MAX_SEED}, got {shown(seed)}")
    if standardized is not config.standardize:
        raise SessionError(f"data.standardized: must be {json.dumps(config.standardize)}, as the config's "
                           f"standardize is, got {shown(standardized)}")
    data = Data(dataset, batch, seed, standardized) if plane is None else \
        Data(dataset, batch, seed, standardized, parse_features(config.features), plane)
    try:
        check_step(config, data)  # the memory of a step, as the command line checks it
    except ConfigError as error:
        raise SessionError(f"config: {error.message}") from None
    return data


def _dataset(name: object, members: Arrays) -> Dataset:
    if not isinstance(name, str):
        raise SessionError(f"data.name: must be a string, got {shown(name)}")
    for member in DATA_MEMBERS:
        if f"data/{member}" not in members:
            raise SessionError(f"the data lack their member data/{member}.npy")
    X, y, train, test = (members[f"data/{member}"] for member in DATA_MEMBERS)
    for member, array in (("y", y), ("train", train), ("test", test)):
        if array.dtype.kind not in "iu":  # a float row index would be cut to a whole one in silence
            raise SessionError(f"data/{member} holds {array.dtype} values; it holds whole numbers")
    try:
        return Dataset(X.astype(np.float64), y, name, train.astype(np.intp), test.astype(np.intp))
    except ValueError as error:
        raise SessionError(f"data: {error}") from None


def _plane(dataset: Dataset, columns: object, members: Arrays,
           config: Config) -> tuple[Dataset, Dataset | None]:
    """The inputs' data set, and with feature inputs the points of the plane (None without:
    the inputs are the points), checked to be two columns of the inputs' rows and to give
    those inputs exactly. A header's names are the plane's (the inputs' without features)."""
    if columns is not None and not (isinstance(columns, list) and all(isinstance(c, str) for c in columns)):
        raise SessionError(f"data.columns: must be a list of names, got {shown(columns)}")
    names = tuple(columns or ())
    if not config.features:
        if "data/plane" in members:
            raise SessionError("the data hold data/plane.npy, the points of feature inputs, but the "
                               "config has no features")
        return _named(dataset, names), None
    X = members.get("data/plane")
    if X is None or X.dtype != np.float64 or X.shape != (dataset.samples, 2):
        raise SessionError(f"data/plane.npy: with features it holds the rows' points, {dataset.samples} by 2 "
                           "float64 values")
    if names and len(names) != 2:
        raise SessionError(f"data.columns: with features it names the plane's 2 columns, got {len(names)}")
    plane = replace(dataset, X=X, columns=names)
    features = parse_features(config.features)
    if not np.array_equal(expand(plane.X, features), dataset.X):
        raise SessionError(f"data/X: its columns are not the features {', '.join(config.features)} of "
                           "data/plane.npy's points")
    x1, x2 = plane.column_names
    return replace(dataset, columns=tuple(f.symbol((x1, x2)) for f in features)), plane


def _class_names(dataset: Dataset, names: object) -> Dataset:
    """The data set with the class names a CSV file's labels gave (absent: none)."""
    if names is None:
        return dataset
    if not (isinstance(names, list) and all(isinstance(c, str) for c in names)):
        raise SessionError(f"data.class_names: must be a list of names, got {shown(names)}")
    try:
        return replace(dataset, class_names=tuple(names))
    except ValueError as error:
        raise SessionError(f"data.class_names: {error}") from None


def _named(dataset: Dataset, columns: tuple[str, ...]) -> Dataset:
    try:
        return replace(dataset, columns=columns)
    except ValueError as error:
        raise SessionError(f"data.columns: {error}") from None


def _check_fitted(dataset: Dataset, config: Config) -> None:
    """The network the config describes is the one the data were fitted to
    (engine.data.batches.fitted): an input a feature, an output for the labels' classes."""
    if dataset.features != config.inputs:
        raise SessionError(f"data: X has {dataset.features:,} feature(s) but the config's network has "
                           f"{config.inputs:,} input(s)")
    if config.classes not in outputs_for(dataset.classes):
        classes = 2 if config.classes == 1 else config.classes
        raise SessionError(f"data: y holds labels 0..{dataset.classes - 1} ({dataset.classes:,} classes) "
                           f"but the config's network has outputs for {classes:,}")


# ---- parameters alone (--params, --export-params, the x key) ------------------------

MAX_PARAMS_BYTES = 256 * 2**20  # the largest network's parameters are 80 MB of float64


def params_to_bytes(params: Params) -> bytes:
    """Parameters as the bytes of a .npz file as np.savez writes it (one NAME.npy member
    each, no pickle): np.load(file) reads it back."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, value in params.items():
            _member(zf, name, np.asarray(value, dtype=np.float64))
    return buffer.getvalue()


def read_params(path: Path, expected: Params) -> Params:
    """The parameters in the .npz file at path, checked against a network's own (`expected`:
    the same names, the same shapes, float64, finite); SessionError saying what is wrong."""
    try:
        raw = read_user_file(path, "parameters file", MAX_PARAMS_BYTES)
    except OSError as error:
        raise SessionError(str(error)) from None
    return params_from_bytes(raw, expected)


def params_from_bytes(raw: bytes, expected: Params) -> Params:
    members, other = arrays(raw, "parameters file")
    if other:
        raise SessionError(f"member {next(iter(other))!r} is not a NumPy array (.npy); a parameters "
                           "file holds one array a parameter, as np.savez writes it")
    missing = [name for name in expected if name not in members]
    unknown = [name for name in members if name not in expected]
    if missing or unknown:
        parts = ([f"missing {', '.join(map(repr, missing))}"] if missing else []) + \
            ([f"unknown {', '.join(repr(n[:40]) for n in unknown[:5])}"] if unknown else [])
        raise SessionError(f"{'; '.join(parts)}: this network's parameters are "
                           f"{', '.join(expected)}")
    params: Params = {}
    for name, value in expected.items():
        array = members[name]
        if array.shape != np.shape(value):
            raise SessionError(f"parameter {name!r} has shape {array.shape}; this network's is "
                               f"{np.shape(value)}")
        params[name] = checked_params(name, array)
    return params


# ---- opening ------------------------------------------------------------------------

def _follow(stepper: Stepper, session: Session, model: Model | None) -> None:
    """Take the fresh stepper where the session's path leads: from its checkpoints, or by
    replaying the path."""
    try:
        opened = not session.replayed and session.checkpoints is not None and model is None and \
            open_at(stepper, session.path, session.checkpoints, session.at)
        if not opened:  # a drill breaks the network of the penalty rates in use then (a change may set them)
            stepper.replay(list(session.path), lambda bug: make_model(stepper.config.architecture, bug))
    except CheckpointError as error:
        raise SessionError(f"checkpoints: {error}") from None
    except ValueError as error:
        raise SessionError(f"path: {error}") from None


def open_session(session: Session, model: Model | None = None, max_history: int | None = None) -> Stepper:
    """A stepper at the state the session was saved at, its history behind it. A session
    recorded with a user's model needs that model (named on the command line) in `model`."""
    if session.model is not None and model is None:
        raise SessionError(f"this session was recorded with the model file {session.model!r}; a session "
                           f"never loads code: give --model {session.model} to replay it")
    source = None if model is None else model.source  # a user's model file's
    if model is not None and source is not None:
        problem = model_difference(session, model.name, source)
        if problem:
            raise SessionError(problem)
    stepper = Stepper(session.config, model=model, max_history=max_history, data=session.data)
    _check_shapes(session.params, {name: np.shape(value) for name, value in stepper.initial.params.items()})
    stepper.start_from(session.params)
    _follow(stepper, session, model)
    state = stepper.state
    reached = (state.step, None if state.last_phase is None else state.last_phase.value)
    if session.at is not None and reached != session.at:
        raise SessionError(f"the path leads to step {reached[0]} ({reached[1] or 'the start'}), not to "
                           f"step {session.at[0]} ({session.at[1] or 'the start'}) where the session "
                           "says it was saved: damaged or tampered")
    return stepper
