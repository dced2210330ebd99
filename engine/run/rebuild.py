"""A session opened at its saved step, its undo history rebuilt a checkpoint at a time.

Replaying a session's path costs what the run cost (a 10,000-step moons run with a gradient
check a step: 86 s, 96% of it the checks). A session file of format 2 also keeps checkpoints:
the state before a step's forward pass (the parameters and the optimizer's state, all that
pass reads besides the loss trail, which is kept once for the whole run) at the saved step,
at the oldest step the history reaches and every `every` steps between. Opening computes
only the saved step from its checkpoint; an older state is computed when `b` (or the health
view) reaches it, from the nearest checkpoint at or before it, by the same phases the path
ran, so every state is bit for bit the one a replay would have made.

That holds while the phases between two checkpoints follow from the path alone: the built-in
network (a user's model may keep state of its own between calls), and a path of phases, undos,
gradient-check toggles and measurements of the whole sets ("measure", which ends every
training run), whose settings, model and data stay the run's first. The whole sets are
measured on the schedule (Stepper.measures, a function of the step) and where the path says
"measure"; the batch losses' running mean is recomputed from the trail's losses and the steps
it measured, so the table keeps no more than which steps those were. A reset, a
change of settings or a fault drill makes a path that is replayed, as format 1 always was
(Checkpoints are then not written).

Which phase each entry of the history is follows from the path without computing anything
(`follow`): the toggles say which steps check their gradients, the undo bound which phases
are forgotten, as the stepper's would be, and "measure" which entry was measured in place.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

import numpy as np

from engine.data.batches import Metrics
from engine.maths.network import Array, Params, Tensors
from engine.run.stepper import PENDING, LossTrail, Phase, RunningLoss, State, Stepper, checks

#: The actions whose effect on the history follows from the path alone.
LINEAR = ("next", "back", "measure", "gradcheck on", "gradcheck off", "check every")
#: Checkpoints at least every this many steps: a b that walks back into a part of the history
#: not rebuilt yet rebuilds at most this many steps (8 moons steps with a full-batch check
#: each: about 0.1 s on a loaded 2-core machine).
EVERY = 8
#: Wider apart when the checkpoints of the history's span would take more than this.
CHECKPOINT_BUDGET = 8 * 2**20


class CheckpointError(ValueError):
    """Checkpoints that do not fit the session they are in."""


def linear(path: list[tuple[str, int]] | tuple[tuple[str, int], ...]) -> bool:
    """Whether a path's history can be rebuilt from checkpoints (see the module's text)."""
    return all(action in LINEAR or action.startswith("check every ") for action, _ in path)


def spacing(state_bytes: int, steps: int) -> int:
    """Steps between checkpoints: EVERY, or wider so that a span of `steps` steps takes at
    most CHECKPOINT_BUDGET of checkpoints of `state_bytes` each."""
    return max(EVERY, math.ceil(steps * state_bytes / CHECKPOINT_BUDGET))


@dataclass(frozen=True, eq=False)
class LossTable:
    """The loss trail of the saved state, one row a step from step 1: the loss of the step's
    forward pass and, with data, its fit (train loss, train accuracy, test loss, test
    accuracy; `known` False where a Metrics field is None, and all four False at a step that
    did not measure the whole sets)."""

    loss: Array
    metrics: Array | None = None
    known: np.ndarray | None = None

    def nodes(self) -> list[LossTrail]:
        """The trail's nodes, node s - 1 the trail after step s's forward pass. With data, each
        node's running mean of the batch losses is the one the run carried (Stepper.forward_at
        and measure): a new window at a measured step, else the last one with this loss added,
        the same additions in the same order, so the same bits."""
        out: list[LossTrail] = []
        previous = None
        fits: list[Metrics | None] = [None] * len(self.loss)
        data = self.metrics is not None and self.known is not None
        if self.metrics is not None and self.known is not None:  # as lists: a Python float a read
            fits = [_fit(row, knowns) for row, knowns in
                    zip(self.metrics.tolist(), self.known.tolist(), strict=True)]
        running: RunningLoss | None = None
        for loss, metrics in zip(self.loss.tolist(), fits, strict=True):
            if data:
                running = RunningLoss(loss, 1) if running is None else running.then(loss, metrics is not None)
            previous = LossTrail(loss, previous, metrics, running)
            out.append(previous)
        return out


def _fit(row: list[float], known: list[bool]) -> Metrics | None:
    """A row of the table as the Metrics it was, None where it held None (the train loss is
    known at every measured step: a step without it measured nothing)."""
    if not known[0]:
        return None
    train_accuracy, test_loss, test_accuracy = (value if kept else None
                                                for value, kept in zip(row[1:], known[1:], strict=True))
    return Metrics(row[0], train_accuracy, test_loss, test_accuracy)


def trail_of(state: State, data: bool) -> LossTable | None:
    """The state's loss trail as a table; None when the stepper kept none (keep_trail off)."""
    if state.forward is not None and state.trail is None:
        return None
    nodes = state.trail.nodes() if state.trail is not None else []
    loss = np.array([node.loss for node in nodes], dtype=np.float64)
    if not data:
        return LossTable(loss)
    fits = [(m.train_loss, m.train_accuracy, m.test_loss, m.test_accuracy) if (m := node.metrics) else
            (None,) * 4 for node in nodes]
    known = np.array([[v is not None for v in fit] for fit in fits], dtype=bool).reshape(len(nodes), 4)
    metrics = np.array([[math.nan if v is None else v for v in fit] for fit in fits],
                       dtype=np.float64).reshape(len(nodes), 4)
    return LossTable(loss, metrics, known)


@dataclass(frozen=True, eq=False)
class Checkpoints:
    """What a session keeps to open at its saved step: the state before the forward pass of
    each step in `states` (its parameters and optimizer state), the loss trail, and the undo
    history it was saved with (the bytes each entry held, its bound and what it had forgotten),
    so an opening stepper forgets exactly what a replay would have."""

    every: int
    states: dict[int, tuple[Params, Tensors]]
    trail: LossTable
    held: list[int]
    max_history: int
    forgotten: int


def before_forward(state: State) -> tuple[Params, Tensors]:
    """The parameters and optimizer state that a state's step started from."""
    if state.last_phase is Phase.UPDATE and state.update is not None:
        return state.update.before, state.update.optim_before
    return state.params, state.optim


def taken(stepper: Stepper) -> Checkpoints | None:
    """The checkpoints of a stepper as it stands, or None when its history cannot be rebuilt
    from them (a user's model, a path that is not linear, a bound set by the budget, no loss
    trail kept)."""
    if stepper.model.user_code or not linear(stepper.path) or stepper.over_budget:
        return None
    top = stepper.state
    trail = trail_of(top, stepper.data is not None)
    if trail is None:
        return None
    entries, held = stepper.history()
    steps = _steps(stepper, entries)
    span = steps[-1] - steps[0] + 1 if entries else 1
    every = spacing(sum(np.asarray(v).nbytes for v in (*top.params.values(), *top.optim.values())), span)
    oldest = steps[0] if entries else top.step
    wanted = sorted({top.step, oldest, *(s for s in range(oldest + 1, top.step) if (s - 1) % every == 0)})
    found: dict[int, tuple[Params, Tensors]] = {}
    for state in (*entries, top):
        if state is not PENDING and state.step not in found:
            found[state.step] = before_forward(state)
    states = {}
    for step in wanted:
        if step in found:
            states[step] = found[step]
        else:  # in the part of a reopened session's history not rebuilt: its own checkpoint
            kept, checkpoint = _kept_before(stepper, step)
            states[kept] = checkpoint
    return Checkpoints(every, states, trail, held, stepper.max_history, stepper.forgotten)


def _steps(stepper: Stepper, entries: list[State]) -> list[int]:
    """The step of each history entry, pending ones too."""
    behind = stepper.behind
    return [behind.step_at(index) if state is PENDING and isinstance(behind, Behind) else state.step
            for index, state in enumerate(entries)]


def _kept_before(stepper: Stepper, step: int) -> tuple[int, tuple[Params, Tensors]]:
    """For a step in the part of a reopened session's history not rebuilt yet: the nearest
    checkpoint it was opened with at or before it (the opening follows the whole path, so a
    checkpoint before the oldest step kept serves), else its entries rebuilt."""
    behind = stepper.behind
    assert isinstance(behind, Behind)
    earlier = [kept for kept in behind.starts if kept <= step]
    if earlier:
        return earlier[-1], behind.checkpoints.states[earlier[-1]]
    for state in stepper.kept():  # rebuilt back to that step
        if state.step == step:
            return step, before_forward(state)
    raise AssertionError(f"step {step} is not in the history")


@dataclass
class Path:
    """Where a linear path leads, followed without stepping: each entry of the history (the
    oldest forgotten ones too) as its step and phase (None for the initial state), the entries
    measured in place ("measure"), the index of the oldest kept, and the toggles and forgotten
    count at the end."""

    steps: list[int]
    phases: list[Phase | None]
    measured: set[int]
    bottom: int
    forgotten: int
    gradcheck: tuple[bool, int | None]


def follow(path: list[tuple[str, int]] | tuple[tuple[str, int], ...], gradcheck: bool,
           max_history: int) -> Path:
    """The history a linear path builds (Stepper.replay's, with its undo bound by count).
    ValueError where it goes back past what is kept."""
    steps: list[int] = [1]
    phases: list[Phase | None] = [None]
    measured: set[int] = set()
    bottom = forgotten = 0
    enabled, every = gradcheck, None
    for action, count in path:
        if action == "next":
            _phases(steps, phases, count, enabled, every)
            # Each push forgets the oldest beyond the bound: after a run of them, the same as
            # forgetting down to the bound at once.
            oldest = max(bottom, len(steps) - 1 - max_history)
            forgotten += oldest - bottom
            bottom = oldest
        elif action == "back":
            if len(steps) - 1 - bottom < count:
                raise ValueError("the path goes back past the start")
            del steps[-count:], phases[-count:]
            measured = {index for index in measured if index < len(steps)}
        elif action == "measure":  # replaces the current state: the newest entry
            measured.add(len(steps) - 1)
        elif action in ("gradcheck on", "gradcheck off"):
            enabled = action == "gradcheck on"
        else:
            every = None if action == "check every" else int(action.removeprefix("check every "))
    return Path(steps, phases, measured, bottom, forgotten, (enabled, every))


def _phases(steps: list[int], phases: list[Phase | None], count: int, enabled: bool,
            every: int | None) -> None:
    """Add `count` phases to the history, a whole step at a time where one fits."""
    while count:
        step, phase = steps[-1], phases[-1]
        if phase in (None, Phase.UPDATE):
            start = step + (phase is Phase.UPDATE)
            run = WITH_CHECK if checks(start, enabled, every) else WITHOUT_CHECK
            if len(run) <= count:
                steps.extend([start] * len(run))
                phases.extend(run)
                count -= len(run)
                continue
        step, phase = _after(step, phase, enabled, every)
        steps.append(step)
        phases.append(phase)
        count -= 1


WITH_CHECK = (Phase.FORWARD, Phase.BACKWARD, Phase.GRADCHECK, Phase.UPDATE)
WITHOUT_CHECK = (Phase.FORWARD, Phase.BACKWARD, Phase.UPDATE)
_THEN = {Phase.FORWARD: Phase.BACKWARD, Phase.BACKWARD: Phase.GRADCHECK, Phase.GRADCHECK: Phase.UPDATE}


def _after(step: int, phase: Phase | None, enabled: bool, every: int | None) -> tuple[int, Phase]:
    """The step and phase of the phase after this one (Stepper.next_phase and _forward's step)."""
    if phase is None:
        return step, Phase.FORWARD
    if phase is Phase.UPDATE:
        return step + 1, Phase.FORWARD
    if phase is Phase.BACKWARD and not checks(step, enabled, every):
        return step, Phase.UPDATE
    return step, _THEN[phase]


class Behind:
    """The history of a stepper opened from checkpoints, not rebuilt yet: its `pending`
    oldest entries, the first of them entry `base` of the followed path."""

    def __init__(self, followed: Path, checkpoints: Checkpoints, pending: int) -> None:
        self.followed = followed
        self.checkpoints = checkpoints
        self.starts = sorted(checkpoints.states)
        self.trail = checkpoints.trail.nodes()
        self.base = followed.bottom
        self.pending = pending

    def step_at(self, index: int) -> int:
        return self.followed.steps[self.base + index]

    def forgot(self) -> None:
        self.base += 1
        self.pending = max(0, self.pending - 1)

    def fill(self, stepper: Stepper) -> dict[int, State]:
        """The newest pending entry and the others of its segment, rebuilt from the nearest
        checkpoint at or before its step, by the phases the path ran."""
        steps, phases = self.followed.steps, self.followed.phases
        newest = self.base + self.pending - 1
        if phases[newest] is None:  # the initial state, which the stepper keeps
            self.pending -= 1
            return {newest - self.base: stepper.initial}
        start = self.starts[bisect_right(self.starts, steps[newest]) - 1]
        first = bisect_left(steps, start)
        first += phases[first] is None
        params, optim = self.checkpoints.states[start]
        trail = self.trail[start - 2] if start > 1 else None
        running = trail.running if trail is not None else None
        with np.errstate(all="ignore"):  # as Stepper.run_phase: overflow is the states' to show
            state = stepper.forward_at(start, params, optim, trail, running, keep_trail=True)
        out: dict[int, State] = {}
        for index in range(first, newest + 1):
            if index > first:
                phase = phases[index]
                assert phase is not None
                state = stepper.run_phase(state, phase)
            if index in self.followed.measured:
                state = stepper.measured(state) or state
            if index >= self.base:
                out[index - self.base] = state
        self.pending = max(0, first - self.base)
        return out


def open_at(stepper: Stepper, path: tuple[tuple[str, int], ...], checkpoints: Checkpoints,
            at: tuple[int, str | None] | None) -> bool:
    """Stand the fresh stepper where the path leads, from the checkpoints: True, or False when
    this stepper's undo history would reach further back than the saved one's, or the path
    leads elsewhere than `at` says (then replay, which says so as it always has).
    ValueError where the path goes back past what is kept; CheckpointError for checkpoints that
    do not fit it."""
    followed = follow(path, stepper.gradcheck_enabled, stepper.max_history)
    kept = len(followed.steps) - 1 - followed.bottom
    if stepper.max_history > checkpoints.max_history and checkpoints.forgotten:
        return False
    phase = followed.phases[-1]
    if at is not None and at != (followed.steps[-1], None if phase is None else phase.value):
        return False
    if kept > len(checkpoints.held):
        raise CheckpointError(f"the path keeps {kept:,} phases of history, the checkpoints "
                              f"{len(checkpoints.held):,}")
    top = followed.steps[-1]
    if followed.phases[-1] is not None and top not in checkpoints.states:
        raise CheckpointError(f"no checkpoint at step {top}, where the session was saved")
    oldest = followed.steps[followed.bottom]
    if not any(s <= oldest for s in checkpoints.states):
        raise CheckpointError(f"no checkpoint at or before step {oldest}, the oldest the history keeps")
    if len(checkpoints.trail.loss) < (top if followed.phases[-1] is not None else 0):
        raise CheckpointError(f"the loss trail has {len(checkpoints.trail.loss)} steps; the session was "
                              f"saved at step {top}")
    held = checkpoints.held[len(checkpoints.held) - kept:]
    stepper.resume(list(path), followed.gradcheck, followed.forgotten, held,
                   Behind(followed, checkpoints, kept + 1))
    return True
