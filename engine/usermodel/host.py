"""The process a user's model file runs in: it answers the stepper's requests over a pipe.

Started by engine.usermodel.client as `python -u -P -c ...` with the two pipe ends, the memory
cap and the stepper's process id on its command line. Why a process of its own: a
user's code may loop forever in C (holding the interpreter lock), segfault, call
os._exit, allocate without end or write to file descriptor 1; here none of that can
freeze the app, corrupt the JSON on stdout, or take the terminal with it. This process
has no terminal at all (a session of its own, stdin empty, stdout and stderr one pipe
that the stepper reads into the model log).

Requests and replies are tuples of plain data (engine.usermodel.transport). The first message is
("ready",), sent unasked once this interpreter and NumPy have loaded: the stepper's
--model-timeout counts from it, so a loaded machine's slow start is not the user's call
running out of time.
    ("load", path, source, convention, sizes, reg, run_module, options, cells)
                                             -> ("ok", (own_update, batched, convention, described,
                                                        skipped: (line, excerpt, stood_in)))
    ("init", seed)                           -> ("ok", params or None)
    ("forward", x, params, y)                -> ("ok", (cache, loss))
    ("loss", x, params, y)                   -> ("ok", loss)   (the cache stays here)
    ("backward", x, y, params, cache, keys)  -> ("ok", (grads keyed 'd' + name, the file's keys))
    ("update", params, grads, lr, keys)      -> ("ok", params)
    ("optimize", optimizer, params, grads, state, (lr, momentum, beta1, beta2, epsilon))
                                             -> ("ok", (params, state, where) or None)
       (the file's own update rule, cs231n's rule(w, dw, config): engine.usermodel.rules)
    ("gradcheck", params, x, y, eps)     -> ("progress", done, total)..., ("ok", numerical)
    ("nudged", params, x, y, nudges)     -> ("progress", done, total)..., ("ok", losses)
       (the loss at each (name, index, step) single-element nudge: the check's recheck)
and ("error", message, user_traceback) when the user's code breaks its contract, or when
a reply would be larger than REPLY_LIMIT. A process whose pipe to the stepper was closed
under it (os.closerange) exits with status PIPE_CLOSED, saying nothing.

x is one sample (n0,) with y an int, or a batch (B, n0) with y (B,). A file that sets
BATCHED = True gets a batch whole. One that does not gets it here one sample at a time, in
the same request, averaged as engine.model.builtin.BatchMean averages (the loss and the parameter
gradients are the samples' means, the cache their rows stacked, the numerical gradients the
mean of each sample's loop check). Why here and not sample by sample over the pipe: a round
trip costs about 0.1 ms, ten times the notebook's forward, and a forward phase with data
also scores every training and test row. A long batch reports progress as it goes, so the
timeout counts from the last sample, not from the request.

Gradients cross the pipe keyed 'd' + name, whatever the file's convention ("d" or "name",
engine.usermodel.contract.GRADIENT_KEYS). The stepper sends the convention it has seen (None before
the first backward) with backward and update: a process restarted after a cancel or a
timeout has seen none, yet must refuse a switch and hand sgd_update the file's own keys.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import os
import resource
import signal
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from engine.data.batches import STEP_BUDGET
from engine.maths.network import Array, Labels, Params, Tensors
from engine.maths.slopes import Numerical, Progress, loop_numerical, mean_numerical, nudged_losses
from engine.model.builtin import mean_backward, mean_forward
from engine.settings.config import binary_size
from engine.usermodel import proctree
from engine.usermodel.contract import Contract, ModelError, load_source
from engine.usermodel.transport import Opaque, dumps, loads, plain

T = TypeVar("T")

#: Objects kept for Opaque references (what forward cached that cannot travel).
KEPT_OBJECTS = 10_000
PROGRESS_EVERY = 0.1  # seconds between progress reports of the gradient check
#: Bytes of one reply at most: a step's tensors (engine.data.batches). A larger cache came through,
#: or failed to, as "a garbled message: MemoryError".
REPLY_LIMIT = STEP_BUDGET
#: The exit status of a process whose pipe to the stepper is closed: the user's code closed
#: its file descriptors (os.closerange(3, ...)), which the stepper reports as such.
PIPE_CLOSED = 121
#: What a request's reply holds, for a message about its size.
REPLIES = {"forward": "forward's cache is", "loss": "forward's loss is",
           "backward": "backward's gradients are", "update": "sgd_update's parameters are",
           "optimize": "the update rule's parameters are",
           "init": "init_params's parameters are", "gradcheck": "the gradient check's numbers are",
           "nudged": "the recheck's losses are",
           "load": "the file's description is"}


def _die_with_parent(parent: int) -> None:
    """Linux: the kernel kills this process when the stepper's process dies, even while the
    user's code holds the interpreter lock (no Python-level watchdog could run then)."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the stepper died before the line above took effect
        os._exit(1)


def _cap_memory(megabytes: int) -> None:
    """A runaway allocation then fails here, as a MemoryError in the user's code, instead
    of swapping the machine or waking the kernel's out-of-memory killer. The hard limit
    too: with the soft one alone, one setrlimit call in the user's code lifted the cap."""
    limit = megabytes * 2**20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class Host:
    """The loaded model and the objects its caches refer to."""

    def __init__(self, replies: Connection) -> None:
        self.replies = replies
        self.model: Contract | None = None
        self.kept: OrderedDict[int, object] = OrderedDict()
        self.next_ref = 0

    def keep(self, value: object) -> int:
        self.next_ref += 1
        self.kept[self.next_ref] = value
        if len(self.kept) > KEPT_OBJECTS:
            self.kept.popitem(last=False)
        return self.next_ref

    def resolve(self, value: Any) -> Any:
        """Opaque references back to the objects they stand for."""
        if isinstance(value, Opaque):
            if value.ref is None or value.ref not in self.kept:
                raise ModelError(f"backward needs a {value.type_name} that forward cached in an "
                                 "earlier run of the model's process (it was restarted); run "
                                 "forward again")
            return self.kept[value.ref]
        if type(value) in (list, tuple):
            return type(value)(self.resolve(item) for item in value)
        if type(value) is dict:
            return {key: self.resolve(item) for key, item in value.items()}
        return value

    def send(self, reply: tuple[Any, ...], kind: str = "") -> None:
        """The reply to a request of this kind, or an error saying it is too large to send."""
        for stream in (sys.stdout, sys.stderr):  # what was printed arrives before the reply
            with contextlib.suppress(Exception):
                stream.flush()
        try:
            data = dumps(reply)
        except MemoryError:
            data = dumps(self.too_large(kind, "too large to send: pickling it ran out of the "
                                              "process's memory (--model-memory)"))
        if len(data) > REPLY_LIMIT:
            data = dumps(self.too_large(kind, f"{binary_size(len(data))}, more than the "
                                              f"{binary_size(REPLY_LIMIT)} the stepper takes in one "
                                              "reply (its bound on one step's tensors)"))
        self.replies.send_bytes(data)

    def too_large(self, kind: str, why: str) -> tuple[str, str, str]:
        name = f"{self.model.name}: " if self.model is not None else ""
        return "error", f"{name}{REPLIES.get(kind, 'the reply is')} {why}", ""

    def progress(self) -> Progress:
        """A progress report to the stepper every PROGRESS_EVERY seconds, and at the end:
        it shows the check's progress, and tells the stepper the process is alive."""
        last = [time.monotonic()]

        def report(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY or done == total:
                last[0] = now
                self.send(("progress", done, total))

        return report

    def handle(self, request: tuple[Any, ...]) -> Any:
        """One request's reply: "load" first, then any other by its handler."""
        kind, *args = request
        if kind == "load":
            path, source, *rest = args  # convention, sizes, reg, run_module, options, cells
            self.model = load_source(Path(path), source, *rest)
            return (self.model.own_update, self.model.batched, self.model.convention,
                    self.model.described, [(item.where, item.excerpt, item.stood_in)
                                          for item in self.model.skipped])
        model = self.model
        assert model is not None, "load comes first"
        if kind not in REQUESTS:
            raise ValueError(f"unknown request {kind!r}")
        return REQUESTS[kind](self, model, *args)

    def init(self, model: Contract, seed: int) -> Any:
        return model.init_params(seed)

    def loss(self, model: Contract, x: Array, params: Params, y: Labels) -> Any:
        return self.forward(model, x, params, y, keep=False)

    def update(self, model: Contract, *args: Any) -> Any:
        return plain(model.update(*args))

    def optimize(self, model: Contract, *args: Any) -> Any:
        return plain(model.optimize(*args))

    def forward(self, model: Contract, x: Array, params: Params, y: Labels, keep: bool = True) -> Any:
        """The loss, and with `keep` the cache as plain data too (it stays here otherwise)."""
        cache, loss = self.each_forward(model, x, params, y) if _per_sample(model, x) \
            else model.forward(x, params, y)
        return (plain(cache, self.keep), loss) if keep else loss

    def backward(self, model: Contract, x: Array, y: Labels, params: Params, cache: Any,
                 keys: Any) -> Any:
        cache = self.resolve(cache)
        grads = self.each_backward(model, x, y, params, cache, keys) if _per_sample(model, x) \
            else model.backward(x, y, params, cache, keys)
        return plain(grads), model.gradient_keys

    def numerical(self, model: Contract, params: Params, x: Array, y: Labels, eps: float) -> Any:
        if _per_sample(model, x):
            return self.each_numerical(model, params, x, y, eps)
        return loop_numerical(model, params, x, y, eps, self.progress(), every=1)

    def nudged(self, model: Contract, params: Params, x: Array, y: Labels, nudges: Any) -> Any:
        return nudged_losses(lambda moved: self.batch_loss(model, x, moved, y), params,
                             [(str(n), tuple(int(i) for i in idx), float(step))
                              for n, idx, step in nudges], self.progress())

    def batch_loss(self, model: Contract, x: Array, params: Params, y: Labels) -> float:
        """forward's loss, a batch's mean for a file that takes one sample at a time."""
        if _per_sample(model, x):
            return self.each_forward(model, x, params, y)[1]
        return model.forward(x, params, y)[1]

    # ---- a batch for a file that takes one sample at a time ---------------------------
    def each_forward(self, model: Contract, x: Array, params: Params, y: Labels) -> tuple[Tensors, float]:
        labels, alive = np.asarray(y), self.progress()

        def forward(b: int) -> tuple[Tensors, float]:
            alive(b, len(x))
            return _sample(b, len(x), model.forward, x[b], params, int(labels[b]))

        return mean_forward(forward, len(x))

    def each_backward(self, model: Contract, x: Array, y: Labels, params: Params, cache: Tensors,
                      keys: str | None) -> Tensors:
        labels, alive = np.asarray(y), self.progress()

        def backward(b: int, row: Tensors) -> Tensors:
            alive(b, len(x))  # the first sample's keys hold for the rest: Contract keeps them
            return _sample(b, len(x), model.backward, x[b], int(labels[b]), params, row, keys)

        return mean_backward(backward, cache, params, len(x))

    def each_numerical(self, model: Contract, params: Params, x: Array, y: Labels,
                       eps: float) -> Numerical:
        """The mean of each sample's loop check, with the progress of them all."""
        labels, report = np.asarray(y), self.progress()
        elements = sum(np.size(value) for value in params.values())
        total = elements * len(x)

        def sample(b: int) -> Numerical:
            def progress(done: int, _: int) -> None:
                report(b * elements + done, total)

            return _sample(b, len(x), loop_numerical, model, params, x[b], int(labels[b]), eps,
                           progress, 1)

        return mean_numerical(sample(b) for b in range(len(x)))


#: Each request after "load", and the Host method that answers it (the model, then the
#: request's arguments): made once, looked up for every call.
REQUESTS: dict[str, Callable[..., Any]] = {
    "init": Host.init,
    "forward": Host.forward,
    "loss": Host.loss,
    "backward": Host.backward,
    "update": Host.update,
    "optimize": Host.optimize,
    "gradcheck": Host.numerical,
    "nudged": Host.nudged,
}


def _per_sample(model: Contract, x: Any) -> bool:
    """Whether a batch goes to the file one sample at a time (it did not set BATCHED)."""
    return not model.batched and isinstance(x, np.ndarray) and x.ndim == 2


def _sample(b: int, count: int, call: Callable[..., T], *args: Any) -> T:
    """call(*args) for sample b of a batch: a broken contract says which sample broke it."""
    try:
        return call(*args)
    except ModelError as error:
        raise ModelError(f"{error.message} (sample {b + 1} of {count})",
                         error.user_traceback) from None


def serve(requests: Connection, replies: Connection) -> None:
    host = Host(replies)
    while True:
        try:
            request = loads(requests.recv_bytes())
        except EOFError:  # the stepper closed the pipe: a normal end (atexit handlers run)
            return
        try:
            reply: tuple[Any, ...] = ("ok", host.handle(request))
        except ModelError as error:
            reply = ("error", error.message, error.user_traceback)
        except BaseException as error:  # ours, or the user's code outside any call (a __del__)
            reply = ("error", f"the model's process failed: {type(error).__name__}: {error}", "")
        host.send(reply, request[0])


def main(argv: list[str]) -> None:
    requests_fd, replies_fd, megabytes, parent = (int(a) for a in argv)
    _die_with_parent(parent)
    _cap_memory(megabytes)
    proctree.become_subreaper()  # what the user's code starts stays below this process
    faulthandler.enable()  # a segfault prints the Python lines it happened in, into the log
    try:
        replies = Connection(replies_fd, readable=False)
        replies.send_bytes(dumps(("ready",)))  # NumPy and the engine are imported: calls are timed from here
        serve(Connection(requests_fd, writable=False), replies)
    except OSError:  # the user's code closed the pipe's descriptors: no traceback of ours
        os._exit(PIPE_CLOSED)
    proctree.end_descendants(os.getpid())  # a daemon the file started ends with its process
