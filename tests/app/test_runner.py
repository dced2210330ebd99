"""The phase runner without a screen: what n, s and escape do to the stepper."""

from __future__ import annotations

import threading
from typing import Any

from engine.model.builtin import BuiltinModel
from engine.run.stepper import Phase, Stepper
from engine.settings.config import Config, validate
from tui.app.runner import PhaseRunner


class Owner:
    """What the app gives the runner: callbacks, and a hop to its thread (here: a direct call)."""

    def __init__(self) -> None:
        self.shown = 0
        self.progress: list[tuple[Phase, int, int]] = []
        self.failed: list[Phase] = []

    def runner(self, stepper: Stepper) -> PhaseRunner:
        return PhaseRunner(stepper, self.call, shown=self.show, progress=self.report,
                           failed=lambda phase, error: self.failed.append(phase))

    def call(self, function: Any, *args: Any) -> Any:
        return function(*args)

    def show(self) -> None:
        self.shown += 1

    def report(self, phase: Phase, done: int, total: int) -> None:
        self.progress.append((phase, done, total))


def test_finish_step_runs_to_the_update_and_stops_early_where_the_run_diverges() -> None:
    owner = Owner()
    runner = owner.runner(Stepper(Config()))
    runner.finish_step()
    assert runner.stepper.state.last_phase is Phase.UPDATE and not runner.finishing
    assert owner.shown == 1  # one redraw for the whole step

    diverging = owner.runner(Stepper(validate(Config(lr=1e300))))
    diverging.finish_step()  # step 1's update overflows; step 2's forward shows it
    diverging.finish_step()
    assert diverging.stepper.state.last_phase is Phase.FORWARD and diverging.stepper.state.nonfinite()


class Slow(BuiltinModel):
    """A built-in model taken for a user's (so every phase runs on a worker thread) whose
    forward waits there until released."""

    release = threading.Event()

    def forward(self, x, params, y):  # type: ignore[no-untyped-def]
        self.release.wait()
        return super().forward(x, params, y)


def test_keys_typed_ahead_run_in_order_and_escape_drops_the_running_phase() -> None:
    owner = Owner()
    runner = owner.runner(Stepper(Config(), model=Slow(user_code=True)))
    Slow.release.clear()
    assert runner.next() and runner.running is not None and runner.running.phase is Phase.FORWARD
    assert runner.next() and runner.next() and runner.queued == 2  # typed ahead
    job = runner.running
    assert runner.cancel() and job.cancelled and runner.queued == 0
    assert not runner.next()  # refused while the cancelled phase winds down
    Slow.release.set()
    while not runner.idle.is_set():
        threading.Event().wait(0.01)
    assert runner.running is None and runner.stepper.state.last_phase is None  # nothing committed
    assert owner.progress[0] == (Phase.FORWARD, 0, 0)

    Slow.release.clear()
    assert runner.next() and runner.next()  # forward on a worker, backward typed ahead
    Slow.release.set()
    while not runner.idle.is_set():
        threading.Event().wait(0.01)
    assert runner.stepper.state.last_phase is Phase.BACKWARD and runner.queued == 0
