"""What more than one test module needs: a state's tensors as bytes, the command line run in
this process, model files made from the seed notebook's code, deeplearning.ai's course files
run for ten steps, session archives taken apart and put back together, and a served app on a
free port.

Test modules import from here (and from tests.waits, tests.budget, tests.processes and
tests.reference), never from one another: tests/test_layers.py checks it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from engine.maths.network import Array, Labels, Params, Tensors
from engine.model.builtin import BuiltinModel
from engine.run.stepper import State, Stepper
from engine.settings.config import Config
from tests.processes import default_signals
from tui.cli.fit import with_data
from tui.cli.main import main
from tui.cli.options import parse

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


# ---- a state, bit for bit ---------------------------------------------------------------------

def snapshot(state: State) -> dict[str, bytes]:
    """Every tensor of a state as raw bytes, so comparisons are bit for bit."""
    out: dict[str, bytes] = {f"param.{k}": v.tobytes() for k, v in state.params.items()}
    if state.forward is not None:
        out |= {f"cache.{k}": v.tobytes() if isinstance(v, np.ndarray) else pickle.dumps(v)
                for k, v in state.forward.cache.items()}
        out["loss"] = np.float64(state.forward.loss).tobytes()
    if state.backward is not None:
        out |= {f"grad.{k}": v.tobytes() for k, v in state.backward.items()}
    if state.gradcheck is not None:
        out |= {f"num.{k}": t.numerical.tobytes() for k, t in state.gradcheck.tensors.items()}
    if state.update is not None:
        out |= {f"after.{k}": v.tobytes() for k, v in state.update.after.items()}
        out |= {f"optim.before.{k}": np.asarray(v).tobytes() for k, v in state.update.optim_before.items()}
        out |= {f"optim.after.{k}": np.asarray(v).tobytes() for k, v in
                (state.update.optim_after | state.update.cached).items()}
        out["lr"] = np.float64(state.update.lr).tobytes()
    out |= {f"optim.{k}": np.asarray(v).tobytes() for k, v in state.optim.items()}
    out["meta"] = repr((state.step, state.last_phase, state.losses)).encode()
    return out


def every_tensor(state: State) -> dict[str, bytes]:
    """Every tensor and number of a state as bytes: tests.helpers.snapshot, and the
    batch's rows, the fit (None where not measured), the batch losses' running mean, the loss
    trail with each step's fit and running mean, the parameters before the update and the
    loss after it (repr of a float is exact)."""
    out = snapshot(state)
    if state.forward is not None:
        out["rows"] = pickle.dumps(None if state.forward.rows is None else state.forward.rows.tobytes())
        out["metrics"] = repr(state.forward.metrics).encode()
        out["running"] = repr(state.forward.running).encode()
    if state.trail is not None:
        nodes = [(node.loss, node.metrics, node.running) for node in state.trail.nodes()]
        out["trail"] = repr(nodes).encode()
    if state.update is not None:
        out |= {f"before.{k}": v.tobytes() for k, v in state.update.before.items()}
        out["loss_after"] = np.float64(state.update.loss_after).tobytes()
    return out


def walk_back(stepper: Stepper) -> list[dict[str, bytes]]:
    """Every state from the current one back to the start, as b walks it."""
    states = [every_tensor(stepper.state)]
    while stepper.back():
        states.append(every_tensor(stepper.state))
    return states


# ---- the command line in this process ---------------------------------------------------------

def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """main(argv): its exit status, stdout and stderr."""
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def run_main(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """run_cli with the arguments as any objects (a Path, a number), each passed as str()."""
    return run_cli([str(a) for a in argv], capsys)


def assert_refused(argv: list[str], capsys: pytest.CaptureFixture[str], *words: str) -> str:
    """A refused command line: exit 2, nothing on stdout, a short message without a traceback
    that contains every one of `words`."""
    status, out, err = run_cli(argv, capsys)
    assert status == 2, err
    assert out == ""
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 3
    for word in words:
        assert word in err, (word, err)
    return err


def told(app: object) -> list[str]:
    """Every notification the app raised, oldest first, expired toasts too (tests/conftest.py)."""
    messages: list[str] = getattr(app, "__dict__", {}).get("told", [])
    return messages


def write_toml(tmp_path: Path, text: str | bytes) -> str:
    """A config file (run.toml) with this text; its path as the command line takes it."""
    path = tmp_path / "run.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


# ---- model files from the seed notebook's code ------------------------------------------------

NOTEBOOK = (FIXTURES / "notebook.py").read_text()
#: The notebook's functions without its import-time run_demo() call, so a contract broken
#: at run time is met by the stepper, not first by the notebook's own demo.
DEFINITIONS = NOTEBOOK.replace("\nrun_demo()", "\n")
GRADS_LINE = "    grads = {'dW1': dW1, 'db1': db1, 'dW2': dW2, 'db2': db2}"
FORWARD_LINE = "    # Hidden pre-activation (4,)\n"
THREE_LAYER_PATH = FIXTURES / "three_layer.py"
BATCHED = (FIXTURES / "batched.py").read_text()


def peak_allocated(call: Callable[[], object]) -> int:
    """The most memory Python allocated while call ran, in bytes (tracemalloc's count, which
    NumPy's arrays report to): deterministic, unlike the process's size."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def edit(text: str, old: str, new: str) -> str:
    """text with its one occurrence of old replaced: a model file that differs from working
    code by exactly the fault a test is about."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


# ---- data files ------------------------------------------------------------------------------

#: The notebook's functions without its sgd_update (kept under another name, unused).
NO_UPDATE = edit(DEFINITIONS, "def sgd_update(", "def notebook_sgd_update(")


def raw_csv(folder: Path) -> Path:
    """Two raw features, ages 5 to 35 and weights 20 to 100, and a label from both: the
    kind of file a newcomer trains on without --standardize."""
    rs = np.random.RandomState(0)
    age, weight = rs.uniform(5, 35, 200), rs.uniform(20, 100, 200)
    label = (2 * (age - 20) + 0.5 * (weight - 60) + 5 * rs.randn(200) > 0).astype(int)
    path = folder / "raw.csv"
    path.write_text("age,weight,label\n" + "".join(f"{a:.1f},{w:.1f},{y}\n" for a, w, y in
                                                    zip(age, weight, label, strict=True)))
    return path


# ---- deeplearning.ai's course files (tests/fixtures/dlai/) -------------------------------------

DLAI = FIXTURES / "dlai"
DLAI_RUN = ("--headless", "--dataset", "moons", "--batch", "16")


def steps_passed(capsys: pytest.CaptureFixture[str], model: Path, *flags: str) -> list[bool]:
    """Ten steps of a model file on moons in batches of 16: whether each step's check passed."""
    status, out, err = run_main(capsys, *DLAI_RUN, "--steps", "10", "--format", "json", "--model", model,
                                *flags)
    assert status == 0, err
    return [step["gradcheck"]["passed"] for step in json.loads(out)["steps"]]


def write_model(tmp_path: Path, text: str, name: str = "model.py") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def misbehaving(tmp_path: Path, body: str, after: int = 0, header: str = "") -> Path:
    """A model file whose forward runs `body` from its (after + 1)-th call on."""
    code = textwrap.indent(textwrap.dedent(body).strip(), " " * 8)
    text = ("import atexit, ctypes, os, sys, threading\n_calls = [0]\n" + header + edit(
        DEFINITIONS, FORWARD_LINE, f"    _calls[0] += 1\n    if _calls[0] > {after}:\n{code}\n"
        + FORWARD_LINE))
    return write_model(tmp_path, text)


# ---- sessions ---------------------------------------------------------------------------------

MOONS = ("--dataset", "moons", "--hidden", "8,8", "--activation", "tanh", "--batch", "16")


def moons_stepper(*flags: str) -> Stepper:
    """A stepper on the moons data set (MOONS, then these flags), as the command line builds it."""
    options, data = with_data(parse(["--headless", *MOONS, *flags]))
    return Stepper(options.config, data=data)


def members(raw: bytes) -> dict[str, bytes]:
    """A session archive's members by name."""
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rezip(parts: dict[str, bytes]) -> bytes:
    """An archive of these members, in this order (members' inverse)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    """The array as a .npy member's bytes."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


# ---- serve ------------------------------------------------------------------------------------

def free_port() -> int:
    """A TCP port nothing listens on now (the system's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def served(port: int, log: Path, *flags: str) -> Iterator[subprocess.Popen[bytes]]:
    """`backprop-stepper serve --port PORT [flags]` until the block ends; the server and the app
    processes it started (one process group) are ended however the block ends."""
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "tui", "serve", "--port", str(port), *flags],
                                   cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=default_signals)  # ctrl+c acts, however the suite started
    try:
        deadline = time.monotonic() + 30
        while True:  # listening yet?
            if process.poll() is not None:
                pytest.fail(f"serve exited with {process.returncode}:\n{log.read_text()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"serve did not listen on port {port} in 30 s:\n{log.read_text()}")
            time.sleep(0.05)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        with contextlib.suppress(ProcessLookupError):  # app processes left behind, if any
            os.killpg(process.pid, signal.SIGKILL)


# ---- a user's file, in this process -------------------------------------------------------

@dataclass(frozen=True)
class FileModel(BuiltinModel):
    """The built-in network's maths, presented as a user's file following `follows`;
    `loss_shift` makes its loss another function's, `dead` zeroes everything its
    backward returns (an all-zero backward signal, as a ReLU off everywhere gives)."""

    user_code: bool = True
    follows: str = "notebook"
    loss_shift: float = 0.0
    dead: bool = False
    fast_gradcheck: bool = False

    @property
    def name(self) -> str:
        return "net.py"

    @property
    def convention(self) -> str:
        return self.follows

    def forward(self, x: Array, params: Params, y: Labels) -> tuple[Tensors, float]:
        cache, loss = super().forward(x, params, y)
        return cache, loss + self.loss_shift

    def backward(self, x: Array, y: Labels, params: Params, cache: Tensors) -> Tensors:
        grads = super().backward(x, y, params, cache)
        return {name: value * 0.0 for name, value in grads.items()} if self.dead else grads


def stepped(model: BuiltinModel, phases: int = 1, config: Config | None = None) -> Stepper:
    """A stepper of `model` after its first `phases` phases."""
    stepper = Stepper(config or Config(), model=model)
    for _ in range(phases):
        stepper.next()
    return stepper
