"""A user's model file, run in a process of its own and stepped like the built-in network.

Why a process: an engineer debugging their backprop is exactly the person whose code
misbehaves. Code that loops forever in C, segfaults, calls os._exit, allocates 50 GB or
writes to file descriptor 1 would take an in-process app, its history and the terminal
with it. In a child process (engine.usermodel.host) each of these becomes a message, and the
stepper keeps its state:

- a call that does not answer within `timeout` seconds is ended, and so is one the user
  cancels (`interrupt`); the next call starts a fresh process, which imports the file again;
- a process that dies is reported as what happened ("signal 11 (Segmentation fault)");
- the process's address space is capped (`memory_mb`), so a runaway allocation is a
  MemoryError in the user's code;
- whatever it prints, by any route, arrives on a pipe that becomes the model log (and
  stderr when headless), never stdout; its stdin is empty and it has no terminal.

The process is spawned (a fresh interpreter, never a fork of the app) by one long-lived
thread, because Linux ties the child's parent-death signal to the thread that started it.

The file is read once, here, and its source is sent to every process started, so a
restart runs the same code even if the file has changed on disk meanwhile.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from codecs import getincrementaldecoder
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from os import PathLike
from pathlib import Path
from typing import Any

from engine.files import MAX_MODEL_BYTES, read_user_file
from engine.maths import network
from engine.maths.network import Architecture, Array, Labels, Params, Tensors
from engine.maths.optimizers import OptimState, Settings
from engine.maths.slopes import Nudge, Numerical, Progress
from engine.model.protocol import Cancelled, Captured
from engine.settings.config import MODEL_MEMORY_MB, MODEL_TIMEOUT, binary_size
from engine.usermodel import proctree, script
from engine.usermodel.contract import D_NAME, ModelError
from engine.usermodel.host import PIPE_CLOSED, REPLY_LIMIT
from engine.usermodel.interpreter import check_python
from engine.usermodel.loading import Skipped, skipped_words
from engine.usermodel.transport import dumps, loads

__all__ = ["Captured", "Loading", "ModelError", "UserModel", "load_model"]

NOTEBOOK_SUFFIX = ".ipynb"

#: Captured outputs kept in UserModel.log; a forward that prints, run by the loop gradient
#: check (two calls per parameter), would otherwise grow the log without bound.
LOG_LIMIT = 10_000
TEXT_LIMIT = 100_000  # characters of one call's output kept (the start and the end)
EXIT_GRACE = 1.0  # seconds the process gets to run its atexit handlers when closed
CALL_END_WAIT = 5.0  # seconds close() waits for a running call to end once its process is killed
#: Seconds a new process may take to start Python and import NumPy, before any call of the
#: user's is timed. Generous: on a machine whose cores are busy this takes seconds, and it is
#: not the user's code (--model-timeout times that alone, from the process's "ready").
START_TIMEOUT = 120.0

_spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-spawner")
_HOST = ("import sys; sys.path.insert(0, sys.argv[1]); "
         "from engine.usermodel.host import main; main(sys.argv[2:])")


@dataclass(frozen=True)
class Loading:
    """How the model's process imports the file: `run_module` runs its whole top level (else
    the statements that run its training or I/O are left out: engine.usermodel.loading), and
    `python` is the interpreter it runs in (None: the stepper's own)."""

    run_module: bool = False
    python: str | None = None


def _bounded(text: str) -> str:
    if len(text) <= TEXT_LIMIT:
        return text
    half = TEXT_LIMIT // 2
    return f"{text[:half]}\n… {len(text) - TEXT_LIMIT:,} characters left out …\n{text[-half:]}"


def exit_words(returncode: int) -> str:
    """How a process ended, as a person reads it: "signal 11 (Segmentation fault)"."""
    if returncode < 0:
        number = -returncode
        try:
            name = signal.strsignal(number) or signal.Signals(number).name
        except ValueError:
            name = "unknown signal"
        return f"signal {number} ({name})"
    return f"exit status {returncode}"


def _pipe() -> tuple[int, int]:
    """A pipe whose ends are above 2. When this process was started with stdin, stdout or
    stderr closed, os.pipe reuses those numbers, and the child's stdin and stdout (set up
    after its pipe ends are passed) would overwrite its pipe to the stepper."""
    ends = []
    for end in os.pipe():
        high = fcntl.fcntl(end, fcntl.F_DUPFD_CLOEXEC, 3)
        os.close(end)
        ends.append(high)
    return ends[0], ends[1]


class _Process:
    """One running model process: its pipes, and what it printed not yet collected."""

    def __init__(self, memory_mb: int, python: str | None = None) -> None:
        requests_read, self_requests = _pipe()
        self_replies, replies_write = _pipe()
        root = str(Path(__file__).resolve().parents[2])  # the folder that holds the engine package
        argv = [python or sys.executable, "-u", "-P", "-c", _HOST, root, str(requests_read),
                str(replies_write), str(memory_mb), str(os.getpid())]
        try:
            self.popen = _spawner.submit(
                subprocess.Popen, argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, pass_fds=(requests_read, replies_write),
                start_new_session=True).result()
        finally:
            os.close(requests_read)
            os.close(replies_write)
        self.requests = Connection(self_requests, readable=False)
        self.replies = Connection(self_replies, writable=False)
        assert self.popen.stdout is not None
        self.output_fd = self.popen.stdout.fileno()
        os.set_blocking(self.output_fd, False)
        self.output_open = True
        self.decoder = getincrementaldecoder("utf-8")(errors="replace")
        self.pending: list[str] = []
        self.ready = False  # its "ready" came: Python and NumPy are loaded (engine.usermodel.host)
        self.exited = _exit_fd(self.popen.pid)

    def watched(self) -> list[int]:
        """What a wait for its reply also wakes for: its output, and its end (a daemon it
        started may hold the reply pipe open, so no end of file need come when it ends)."""
        return [fd for fd in (self.output_fd if self.output_open else None, self.exited) if fd is not None]

    def await_exit(self, grace: float) -> None:
        """Wait up to `grace` seconds for it to end by itself, reading what it prints (a full
        pipe would block it). Its end, not its output's: a daemon may hold the output open."""
        deadline = time.monotonic() + grace
        while self.popen.poll() is None and (self.output_open or self.exited is not None):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            wait(self.watched(), left)
            self.collect()

    def collect(self) -> None:
        """Read whatever the process has printed so far, without waiting."""
        while self.output_open:
            try:
                data = os.read(self.output_fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.output_open = False
            self.pending.append(self.decoder.decode(data, final=not data))

    def take_output(self) -> str:
        self.collect()
        text = "".join(self.pending)
        self.pending.clear()
        return text

    def kill(self) -> None:
        """End the process and anything it started, even in a session of its own
        (engine.usermodel.proctree)."""
        if self.popen.returncode is None:  # not reaped: its pid is still its own
            proctree.end_tree(self.popen.pid)
        else:
            proctree.end_group(self.popen.pid)

    def reap(self) -> int:
        returncode = self.popen.wait()
        self.collect()  # what it printed before it ended: the last lines say most
        self.output_open = False
        for end in (self.requests, self.replies, self.popen.stdout):
            if end is not None:
                end.close()
        if self.exited is not None:
            os.close(self.exited)
            self.exited = None
        return returncode


def _exit_fd(pid: int) -> int | None:
    """A descriptor that becomes readable when the process ends (Linux's pidfd); None where
    there is none, and then only the end of its pipes tells."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


class UserModel:
    """A user's forward/backward (and optional sgd_update), as a Model the stepper drives.

    Attributes for the app and the headless report:

    - `name`: the file's name, e.g. "model.py" (shown as the model in reports).
    - `path`: the file's resolved path.
    - `fast_gradcheck`: always False. The vectorised check computes the built-in network's
      loss, which is not provably this model's, so the black-box loop method is used.
    - `own_update`: True when the file defines sgd_update; otherwise plain SGD is used.
    - `own_init`: True once init_params has returned the file's own parameters; False
      when it has none (the stepper then makes the architecture's W1, b1, ...).
    - `batched`: always True, for the stepper: this model takes a batch (rows of samples)
      whole, since its process hands a file without BATCHED = True the batch one sample at
      a time and averages there (engine.usermodel.host), in one request rather than one round
      trip a sample. So the stepper never wraps it in engine.model.builtin.BatchMean.
    - `file_batched`: True when the file sets BATCHED = True (its functions get the batch
      matrix); False when they get one sample at a time, as the notebook's do.
    - `gradient_keys`: "d" or "name", how the file's backward keys its gradients.
    - `import_output`: everything the file printed while first imported ("" if nothing).
    - `log`: every non-empty Captured output, oldest first, starting with the import's;
      bounded to LOG_LIMIT entries (the oldest are dropped).
    - `on_output`: None, or a function called with each new Captured as it happens (in
      the thread that made the call: an app calling from a worker must hop back to its own).

    Every call raises ModelError when the user's code breaks the contract, raises, runs
    out of time or ends its process, and Cancelled when `interrupt` stopped it; the
    stepper computes a phase before committing it, so its state is then untouched.
    """

    fast_gradcheck = False
    batched = True  # a batch whole: the model's process goes sample by sample if the file asks
    user_code = True
    bug = None

    def __init__(self, path: Path, source: bytes, timeout: float = MODEL_TIMEOUT,
                 memory_mb: int = MODEL_MEMORY_MB, convention: str | None = None,
                 sizes: tuple[int, ...] = (), reg: float = 0.0,
                 options: tuple[tuple[str, Any], ...] = (), loading: Loading | None = None,
                 cells: tuple[str, ...] | None = None) -> None:
        self.path = path
        #: A notebook's code cells, read here (the model's Python may lack nbformat); None
        #: for a .py file, whose source is what runs.
        self.cells = cells
        #: How the file is imported: its top level whole or not, and in which Python.
        self.loading = loading or Loading()
        #: The top-level statements the import left out (engine.usermodel.loading), once imported.
        self.skipped: tuple[Skipped, ...] = ()
        #: The convention asked for (--convention; None: detected), and the one the file
        #: follows (engine.model.conventions), known once imported; `described` says how a
        #: course's model was built ("TwoLayerNet(input_dim=2, ...)"), "" for the notebook's.
        self.convention_asked = convention
        self.convention = "notebook"
        self.described = ""
        self.sizes = tuple(sizes)
        self.reg = reg
        #: --model-option: constructor keywords for a course's model class, as (key, value).
        self.options = tuple(options)
        self.name = path.name
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.own_update = False
        #: The optimizers the file was found to bring no update rule of (engine.usermodel.rules).
        self.lacks: set[str] = set()
        self.own_init = False  # set by init_params
        self.file_batched = False  # set at import
        #: How the file's backward keys its gradients (engine.usermodel.contract.GRADIENT_KEYS), from
        #: its first backward on; None before.
        self.gradient_keys_seen: str | None = None
        self.import_output = ""
        self.log: deque[Captured] = deque(maxlen=LOG_LIMIT)
        self.on_output: Callable[[Captured], None] | None = None
        self._source = source
        self._process: _Process | None = None
        self._lock = threading.Lock()  # one request at a time
        self._interrupted = False
        self._loading = False
        self._imports = 0

    def __repr__(self) -> str:
        return f"UserModel({str(self.path)!r})"

    @property
    def source(self) -> bytes:
        """The file's bytes as read at load: the code that runs, whatever the file holds now
        (a session records their hash: engine.run.session.source_hash)."""
        return self._source

    @property
    def run_module(self) -> bool:
        return self.loading.run_module

    @property
    def gradient_keys(self) -> str:
        """How the file's backward keys its gradients: "d" ('d' + name, the notebook's dW1)
        or "name" (cs231n's grads['W1']). Known from the first backward on (the app's
        rehearsal and the report's first step run one); "d" until then."""
        return self.gradient_keys_seen or D_NAME

    # ---- the Model protocol ---------------------------------------------------------
    def init_params(self, seed: int) -> Params | None:
        """The file's init_params(seed), or None when it has none."""
        params: Params | None = self._request("init_params", ("init", seed))
        self.own_init = params is not None
        return params

    def forward(self, x: Array, params: Params, y: Labels) -> tuple[Tensors, float]:
        """One sample (x (n0,), y an int) or a batch (X (B, n0), y (B,)): the loss is the
        batch's mean, and for a file that takes one sample at a time the cache is its
        samples' stacked one row a sample (engine.usermodel.host)."""
        cache, loss = self._request("forward", ("forward", x, params, y))
        return cache, loss

    def fit_loss(self, x: Array, params: Params, y: Labels) -> float:
        """forward's loss alone, its cache left in the model's process: the fit to every row
        of the data needs no cache, and one of 100,000 rows may be more than a reply carries."""
        loss: float = self._request("forward", ("loss", x, params, y))
        return loss

    def backward(self, x: Array, y: Labels, params: Params, cache: Tensors) -> Tensors:
        grads, keys = self._request("backward", ("backward", x, y, params, cache,
                                                 self.gradient_keys_seen))
        self.gradient_keys_seen = keys
        return grads  # type: ignore[no-any-return]

    def update(self, params: Params, grads: Tensors, lr: float) -> Params:
        if not self.own_update:
            return network.sgd_update(params, grads, lr)
        after: Params = self._request("sgd_update", ("update", params, grads, lr, self.gradient_keys))
        return after

    def optimize(self, optimizer: str, params: Params, grads: Tensors, state: OptimState,
                 settings: Settings) -> tuple[Params, OptimState, str] | None:
        """The file's own update rule of `optimizer` (cs231n's rule(w, dw, config), in the
        file or its package's optim module: engine.usermodel.rules): the new parameters and
        state and where the rule is ("adam in cs231n/optim.py"), or None when it brings none
        (asked once an optimizer: the answer is the file's, which does not change)."""
        if optimizer in self.lacks:
            return None
        numbers = (settings.lr, settings.momentum, settings.beta1, settings.beta2, settings.epsilon)
        made: tuple[Params, OptimState, str] | None = self._request(
            "update rule", ("optimize", optimizer, params, grads, state, numbers))
        if made is None:
            self.lacks.add(optimizer)
        return made

    def numerical_gradients(self, params: Params, x: Array, y: Labels, eps: float,
                            progress: Progress | None, method: str = "loop") -> Numerical:
        """The loop check runs in the model's process in one request, reporting progress
        as it goes: one round trip per element would cost more than the element. For a
        batch and a file that takes one sample, it is the mean of each sample's check."""
        numerical: Numerical = self._request(
            "forward", ("gradcheck", params, x, y, eps), progress)
        return numerical

    def nudged_losses(self, params: Params, x: Array, y: Labels, nudges: list[Nudge],
                      progress: Progress | None) -> Array:
        """The recheck's losses, computed in the model's process in one request: one forward
        pass a nudge, with progress reports that keep the call's timeout from running out."""
        losses: Array = self._request("forward", ("nudged", params, x, y, nudges), progress)
        return losses

    def interrupt(self) -> None:
        """End the running call's process; the call raises Cancelled at once."""
        self._interrupted = True
        process = self._process
        if process is not None:
            process.kill()

    # ---- the process ------------------------------------------------------------------
    def start(self) -> None:
        """Start the process and import the file, unless it is running already."""
        with self._lock:
            self._running()

    def resize(self, arch: Architecture) -> UserModel:
        """New layer sizes (the app's form changed the network). The file is imported again
        with them at the next call, so a model built from the sizes (a cs231n TwoLayerNet,
        deeplearning.ai's initialize_parameters) takes the new shapes; a file with shapes of
        its own keeps them. The model stays this one: its log and its file are the same."""
        if arch.sizes != self.sizes:
            self.sizes = arch.sizes
            self.close()
        return self

    def close(self) -> None:
        """End the process. Between calls it gets EXIT_GRACE seconds to exit by itself, so
        the file's atexit handlers run (their output is logged as "exit"); a process still
        importing for a restart nobody used, or one busy in a call, is simply ended.

        A call running on another thread owns the process until it returns: ending the
        process ends the call at once, and that thread reaps it. Reaped from two threads at
        once, its pipes would be closed twice (quitting mid-phase would fail with EBADF). The
        process that thread may have started again (after a cancel) is ended here too."""
        process = self._process
        if process is None:
            return
        if not self._lock.acquire(blocking=False):
            process.kill()
            if not self._lock.acquire(timeout=CALL_END_WAIT):
                return  # the call's thread is held elsewhere; the process is dead already
        try:
            if not self._loading and self._process is not None:
                self._process.requests.close()  # end of requests: the process returns from main
                self._process.await_exit(EXIT_GRACE)
                self._record("exit", self._process.take_output())
            self._end()
        finally:
            self._lock.release()

    def _running(self) -> _Process:
        """The live process with the file imported: started if there is none (the first
        call, or one after a process died), its import awaited if it is still loading."""
        self._interrupted = False
        if self._process is not None and self._process.popen.poll() is not None:
            ended = exit_words(self._end() or 0)  # it died between calls (a thread of the user's)
            self._record("background", f"[the model's process had ended ({ended}); starting it again]\n")
        if self._process is None:
            self._spawn()
        if self._loading:
            self._loading = False
            try:
                (self.own_update, self.file_batched, self.convention, self.described,
                 skipped) = self._exchange("import", None, None)
            except BaseException:
                self._end()
                raise
            self._skipped([Skipped(where, excerpt, stood_in=stood_in)
                           for where, excerpt, stood_in in skipped])
        assert self._process is not None
        return self._process

    def _spawn(self) -> None:
        """A fresh process, set to import the file at once; the next call awaits the import.
        After a call was ended (cancelled, or out of time) this runs straight away, so the
        next phase does not wait for an interpreter to start."""
        self._process = _Process(self.memory_mb, self.loading.python)
        self._imports += 1
        self._loading = True
        with contextlib.suppress(OSError):
            self._process.requests.send_bytes(dumps(("load", str(self.path), self._source,
                                                     self.convention_asked, self.sizes, self.reg,
                                                     self.loading.run_module, self.options, self.cells)))

    def _skipped(self, skipped: list[Skipped]) -> None:
        """The statements the import left out, said once, after the first import's output."""
        first = not self.skipped and self._imports == 1
        self.skipped = tuple(skipped)
        if skipped and first:
            note = skipped_words(self.name, skipped)
            self.import_output += note
            self._record("import", note)

    def _restart(self) -> None:
        self._end()
        self._spawn()

    def _end(self) -> int | None:
        process, self._process = self._process, None
        if process is None:
            return None
        process.kill()
        return process.reap()

    def _request(self, source: str, request: tuple[Any, ...], progress: Progress | None = None) -> Any:
        with self._lock:
            self._running()
            return self._exchange(source, request, progress)

    def _exchange(self, source: str, request: tuple[Any, ...] | None, progress: Progress | None) -> Any:
        """Send one request (None: it was sent already) and wait for its reply, reading what
        the process prints meanwhile so that it never blocks on a full pipe."""
        process = self._process
        assert process is not None
        self._record("background", process.take_output())
        try:
            reply = self._await(process, source, request, progress)
        except ModelError as error:
            raise ModelError(error.message, error.user_traceback, self._collect(process, source)) from None
        except BaseException:
            self._collect(process, source)
            raise
        text = self._collect(process, source)
        if reply[0] == "ok":
            return reply[1]
        raise ModelError(reply[1], reply[2], text)  # the message names the file already

    def _collect(self, process: _Process, source: str) -> str:
        """What the call printed, into the log (and import_output for the first import)."""
        text = process.take_output()
        if source == "import" and self._imports == 1:
            self.import_output = text
        self._record(source, text)
        return text

    def _await(self, process: _Process, source: str, request: tuple[Any, ...] | None,
               progress: Progress | None) -> tuple[Any, ...]:
        """Send the request (None: it was sent already) and wait for its reply. The clock is
        START_TIMEOUT until the process says "ready" (Python and NumPy loaded), then the
        user's `timeout`, started again by each "progress" report (handed to `progress`)."""
        if request is not None:
            with contextlib.suppress(OSError):  # if the process has ended, its reply pipe says so
                process.requests.send_bytes(dumps(request))
        start_limit = max(START_TIMEOUT, self.timeout)
        deadline = time.monotonic() + (self.timeout if process.ready else start_limit)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._out_of_time(process, source, start_limit)
            reply = self._next_reply(process, source, left)
            if reply is None:
                continue
            if reply[0] == "ready":  # started: the user's code is timed from now
                process.ready = True
            elif reply[0] != "progress":
                return tuple(reply)
            deadline = time.monotonic() + self.timeout  # it is alive and working
            if reply[0] == "progress" and progress is not None:
                self._progressed(progress, reply[1], reply[2])

    def _out_of_time(self, process: _Process, source: str, start_limit: float) -> ModelError:
        """The process, ended for taking too long (and started again), and what took too long:
        starting Python and NumPy, or the user's call."""
        started = process.ready
        self._restart()
        if not started:
            return ModelError(f"{self.name}: the model's process did not start within "
                              f"{start_limit:g} s (Python and NumPy loading), so it was "
                              "ended; is the machine overloaded?")
        return ModelError(f"{self.name}: {source} did not return within {self.timeout:g} s "
                          "(--model-timeout), so the model's process was ended")

    def _next_reply(self, process: _Process, source: str, left: float) -> Any:
        """The process's next message, if one comes within `left` seconds (None if not),
        reading what it prints meanwhile; ModelError when the reply cannot be taken."""
        ready = wait([process.replies, *process.watched()], left)
        if process.output_fd in ready:
            process.collect()
        if process.replies not in ready:
            if process.exited in ready and not process.replies.poll():
                raise self._lost(process, source)  # ended, with its pipe held by what it started
            return None
        try:
            return loads(process.replies.recv_bytes(REPLY_LIMIT))
        except (EOFError, OSError) as error:
            if str(error) == "bad message length":  # Connection's words for more than REPLY_LIMIT
                self._end()
                raise ModelError(f"{self.name}: the model's process sent a reply of more than "
                                 f"{binary_size(REPLY_LIMIT)}; it was ended") from None
            raise self._lost(process, source) from None
        except pickle.UnpicklingError as error:
            self._end()
            raise ModelError(f"{self.name}: the model's process sent something other than "
                             f"plain data ({error}); it was ended") from None

    def _progressed(self, progress: Progress, done: int, total: int) -> None:
        """Hand on a progress report; a callback that raises (the user cancelled) ends the
        process, since the rest of the check is not wanted."""
        try:
            progress(done, total)
        except BaseException:
            self._restart()
            raise

    def _lost(self, process: _Process, source: str) -> BaseException:
        """Why a process stopped answering, once it is ended: Cancelled after interrupt();
        its pipe to the stepper closed, when the user's code closed it (the process lives on
        without it, or exits saying so: engine.usermodel.host.PIPE_CLOSED); else how it ended."""
        if self._interrupted:
            self._restart()
            return Cancelled()
        try:  # a process that dies closes its pipes a moment before it can be reaped
            returncode: int | None = process.popen.wait(EXIT_GRACE)
        except subprocess.TimeoutExpired:
            returncode = None
        self._end()
        if returncode is None or returncode == PIPE_CLOSED:
            return ModelError(f"{self.name}: {source} closed the model's process's pipe to the stepper "
                              "(its file descriptors from 3 up), so the process was ended")
        return ModelError(f"{self.name}: {source} ended the model's process: {exit_words(returncode)}")

    def _record(self, source: str, text: str) -> None:
        if text:
            captured = Captured(source, _bounded(text))
            self.log.append(captured)
            if self.on_output is not None:
                self.on_output(captured)


def load_model(path: str | PathLike[str], timeout: float = MODEL_TIMEOUT,
               memory_mb: int = MODEL_MEMORY_MB, convention: str | None = None,
               sizes: tuple[int, ...] = (), reg: float = 0.0,
               options: tuple[tuple[str, Any], ...] = (), loading: Loading | None = None) -> UserModel:
    """Read the user's model file, start its process and import it there, or raise
    ModelError naming what is wrong (with what the file printed, in `output`).

    `convention`: the one asked for (--convention), or None to detect it; `sizes` (n0,
    hidden..., outputs), `reg` and `options` (--model-option's keywords) are what a course's
    model is built with (engine.model.conventions). `loading`: --run-module and --python (a
    Python of the user's, checked first: engine.usermodel.interpreter)."""
    given = Path(path)
    if loading is not None and loading.python is not None:
        loading = replace(loading, python=check_python(loading.python))
    notebook = given.suffix.lower() == NOTEBOOK_SUFFIX
    try:
        source = read_user_file(given, "notebook" if notebook else "Python model file", MAX_MODEL_BYTES)
        cells = tuple(script.code_cells(source)) if notebook else None
    except OSError as error:
        raise ModelError(str(error)) from None
    except ValueError as error:
        raise ModelError(f"{given.name}: {error}") from None
    model = UserModel(given.resolve(), source, timeout, memory_mb, convention, tuple(sizes), reg,
                      tuple(options), loading, cells)
    model.start()
    return model
