"""The phase runner: the app's keys that run phases (n, s, t, escape) turned into stepper calls.

A phase that is quick runs at once. One that may take more than a moment (the loop
gradient check of a big network, any phase of a user's model) runs on a daemon thread,
so the screen stays live and quitting never waits for a user's code that does not
return; `n` typed meanwhile is queued, `s` keeps going to the end of the step (where
Stepper.step_done says), and escape cancels: the stepper computes a phase before
committing it, so a cancelled or failed phase leaves the state exactly as it was.
A training run (t) always runs on a thread, whole steps one after another; escape stops it
and keeps the steps it finished (the step in progress is undone: Stepper.train). Play (p) is
the same run with no end of its own, as TensorFlow Playground's play button: p or escape
pauses it. A change of settings asked for while a run goes (retune) waits for the run's next
step and is made on its thread, between two whole steps; the screen only reads meanwhile.

The runner knows no widget. It tells its owner what happened through callbacks, always
on the owner's thread (`call_from_thread` hops there from the worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from engine.model.protocol import Cancelled
from engine.run.stepper import Changes, Phase, State, Stepper
from engine.settings.config import Config
from engine.usermodel.errors import ModelError

#: A loop gradient check of more parameters than this runs in a worker (about 0.1 s here).
WORKER_PARAMS = 2_000


@dataclass
class Job:
    """A phase, or a training run (phase None), computing on a thread; `cancelled` is set
    from the owner's thread."""

    phase: Phase | None
    cancelled: bool = False
    playing: bool = False  # play (p): a training run with no end of its own


#: Seconds between a training run's progress reports (each redraws the screen, which costs
#: more than a small network's step: reporting every step would slow the run tenfold).
RUN_REPORT_EVERY = 0.25


class PhaseRunner:
    def __init__(self, stepper: Stepper, call_from_thread: Callable[..., Any], *,
                 shown: Callable[[], None], progress: Callable[[Phase | None, int, int], None],
                 failed: Callable[[Phase | None, ModelError], None]) -> None:
        self.stepper = stepper
        self.call_from_thread = call_from_thread
        self.shown = shown  # the state changed (or a job started or ended): redraw
        #: A job's phase (None: a training run), elements (steps) done and in all (0: not known).
        self.progress = progress
        self.failed = failed  # a user's model broke its contract; the state is unchanged
        self.running: Job | None = None
        #: Set while no phase is computing on a thread; tests and benchmarks await it.
        self.idle = asyncio.Event()
        self.idle.set()
        self.finishing = False  # s was pressed: keep running phases to the end of the step
        self.queued = 0  # n pressed while a phase ran on a thread: typed ahead, run next
        #: Settings asked for while a training run goes, made before its next step (retune).
        self.pending: Changes = {}
        self.lock = threading.Lock()

    def needs_worker(self) -> bool:
        stepper = self.stepper
        if stepper.model.user_code:
            return True  # any phase may be slow
        if stepper.next_phase is not Phase.GRADCHECK:
            return False
        if stepper.config.gradcheck_method == "loop":
            return stepper.param_count > WORKER_PARAMS
        # The fast check of a batch runs sample by sample: about a loop check's cost per sample.
        rows = stepper.state.rows
        return rows is not None and stepper.param_count * len(rows) > WORKER_PARAMS * 100

    # ---- what the keys ask for ----------------------------------------------------------
    def next(self) -> bool:
        """n: run the next phase, or queue it behind the running one. False when a cancelled
        phase is still winding down or a training run is going (the key is refused, not queued)."""
        if self.running is None:
            self.advance()
        elif not self.running.cancelled and self.running.phase is not None:
            self.queued += 1
        else:  # a training run is not queued behind (it ends where it ends), nor a cancelled phase
            return False
        return True

    def finish_step(self) -> None:
        """s: run phases to the end of this step's update (the caller checks it is idle)."""
        self.finishing = True
        self.advance()

    def train(self, steps: int, check_every: int, playing: bool = False) -> None:
        """t: run `steps` whole steps on a thread (the caller checks it is idle); p: play, the
        same run until paused."""
        job = Job(None, playing=playing)
        self.running = job
        self.idle.clear()
        self.progress(None, 0, steps)
        threading.Thread(target=self.run_training, args=(job, steps, check_every), name="training",
                         daemon=True).start()

    def run_training(self, job: Job, steps: int, check_every: int) -> None:
        """On the worker thread: Stepper.train, reporting every few steps. The stepper commits
        each phase from this thread; the owner only reads its immutable states meanwhile."""
        last = time.monotonic()

        def progress(done: int, total: int) -> None:
            nonlocal last
            if job.cancelled:
                raise Cancelled
            if time.monotonic() - last >= RUN_REPORT_EVERY:
                self.call_from_thread(self.progress, None, done, total)
                last = time.monotonic()

        outcome: ModelError | None = None
        try:
            self.stepper.train(steps, check_every, progress, between=self.retune_pending)
        except Cancelled:
            pass
        except ModelError as error:
            outcome = error
        except Exception as error:  # a bug of ours must not leave the app "running" for ever
            outcome = ModelError(f"training failed: {type(error).__name__}: {error}")
        with contextlib.suppress(RuntimeError):
            self.call_from_thread(self.trained, job, outcome)

    def trained(self, job: Job, outcome: ModelError | None) -> None:
        self.running = None
        self.retune_pending()  # asked for after the run's last step
        if outcome is not None:
            self.failed(None, outcome)
        else:
            self.shown()
        self.idle.set()

    def cancel(self) -> bool:
        """escape: stop the running phase; False when there is none to stop."""
        job = self.running
        if job is None or job.cancelled:
            return False
        job.cancelled = True
        self.finishing = False
        self.queued = 0
        # A user's model: its process is ended now (the next call starts a fresh one). The
        # built-in loop check stops at its next progress report.
        self.stepper.model.interrupt()
        return True

    # ---- settings changed as the run goes ------------------------------------------------
    def tuned(self) -> Config:
        """The settings as they will be once the changes asked for are made."""
        with self.lock:
            return replace(self.stepper.config, **self.pending)

    def retune(self, changes: Changes) -> bool:
        """Change settings (Stepper.retune, whose rules the caller has checked): now, or during
        a training run before its next step, on its thread. True when made now."""
        with self.lock:
            running = self.running
            if running is not None and running.phase is None:
                self.pending |= changes
                return False
        self.stepper.retune(changes)
        return True

    def retune_pending(self) -> None:
        """The changes asked for while a run went, made now: between two of its steps (on its
        thread), or once it has ended."""
        with self.lock:
            changes, self.pending = self.pending, {}
        if changes:
            self.stepper.retune(changes)

    # ---- running ------------------------------------------------------------------------
    def advance(self) -> None:
        if self.needs_worker():
            self.start(self.stepper.next_phase)
        else:
            self.stepper.next()
            self.after_phase()

    def after_phase(self) -> None:
        """Run what s or keys typed ahead still ask for, unless the run diverged."""
        more = self.finishing and not self.stepper.step_done()
        if not more and self.queued and not self.stepper.state.nonfinite():
            self.queued -= 1
            more = True
        if more:
            self.advance()
            if self.running is not None:
                self.shown()
            return
        self.finishing = False
        self.queued = 0
        self.shown()

    def start(self, phase: Phase) -> None:
        job = Job(phase)
        self.running = job
        self.idle.clear()
        self.progress(phase, 0, 0)
        threading.Thread(target=self.compute, args=(job,), name=f"phase-{phase.value}",
                         daemon=True).start()

    def compute(self, job: Job) -> None:
        """On the worker thread: the next state, an error, or None when cancelled."""
        assert job.phase is not None
        def progress(done: int, total: int) -> None:
            if job.cancelled:
                raise Cancelled
            self.call_from_thread(self.progress, job.phase, done, total)

        outcome: State | ModelError | None
        try:
            outcome = self.stepper.compute(progress)
        except Cancelled:
            outcome = None
        except ModelError as error:
            outcome = error
        except Exception as error:  # a bug of ours must not leave the app "running" for ever
            outcome = ModelError(f"{job.phase.value} failed: {type(error).__name__}: {error}")
        with contextlib.suppress(RuntimeError):  # the app may have quit meanwhile
            self.call_from_thread(self.done, job, outcome)

    def done(self, job: Job, outcome: State | ModelError | None) -> None:
        """Back on the owner's thread: commit the phase, report the error, or, if it was
        cancelled, drop whatever it produced, so the state is exactly as before."""
        self.running = None
        if job.cancelled or outcome is None:
            self.shown()
        elif isinstance(outcome, ModelError):
            self.finishing = False
            self.queued = 0
            self.failed(job.phase, outcome)
        else:
            self.stepper.commit(outcome)
            self.after_phase()  # may start the next phase of `s` or of keys typed ahead
        if self.running is None:
            self.idle.set()
