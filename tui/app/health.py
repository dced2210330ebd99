"""Training health in the app: the health view's statistics and the data line's guard rails,
both read from what the stepper keeps, so a training step measures nothing for them.

A headless report counts every step into a Health tracker as it goes (tui.output.health): a
third of a tiny network's step (bench/health.py). The app does not: the stepper keeps its undo
history (every phase's state, up to its bound), and

- the health view (v) rebuilds a tracker from the finished updates that history keeps when it
  opens: the statistics of those steps, exactly as a report would have counted them, and
  right after an undo too (the history is what b walks back through);
- the data line's guard rails are judged when the screen is drawn, not per step: the loss
  jump over every step's loss (the loss trail the chart draws, counted on from where it was
  last judged: a comparison a step), and a layer whose every ReLU is dead over the last
  WINDOW finished updates (about 0.5 ms a drawing, whatever the run's length).
"""

from __future__ import annotations

from engine.data.batches import Data
from engine.run.health import WINDOW, Health, Verdict, inputs_scale
from engine.run.stepper import LossTrail, Phase, State, Stepper
from tui.output.health import tracker


def finished(stepper: Stepper, most: int | None = None) -> list[State]:
    """The states after each update the stepper keeps (the current one among them), oldest
    first; the newest `most` of them when given."""
    found: list[State] = []
    for state in stepper.kept():
        if most is not None and len(found) >= most:
            break
        if state.last_phase is Phase.UPDATE:
            found.append(state)
    return found[::-1]


def rebuilt(stepper: Stepper) -> Health:
    """A tracker fed with every finished update the undo history keeps."""
    health = tracker(stepper)
    for state in finished(stepper):
        health.add(state)
    return health


class Guard:
    """The data line's guard rails: the inputs far from unit scale (before training), the loss
    jumped by orders of magnitude, a layer whose every ReLU is dead. Judged when drawn."""

    def __init__(self) -> None:
        self.losses: Health | None = None  # counts every step's loss: the loss-jump verdict
        self.seen: LossTrail | None = None  # the newest loss counted in
        self.judged: tuple[State, list[Verdict]] | None = None

    def verdicts(self, stepper: Stepper, data: Data | None) -> list[Verdict]:
        """The notices for the data line, newest judgement cached by state."""
        state = stepper.state
        if self.judged is None or self.judged[0] is not state:
            self.judged = state, self._judge(stepper, data)
        return self.judged[1]

    def _judge(self, stepper: Stepper, data: Data | None) -> list[Verdict]:
        notice = None if data is None else inputs_scale(data)
        said = [notice] if notice is not None else []
        jump = self._jump(stepper)
        if jump is not None:
            said.append(jump)
        return said + dead_layers(stepper)

    def _jump(self, stepper: Stepper) -> Verdict | None:
        """The loss-jump verdict over every step's loss: the losses since the one last counted,
        or from the first when that one is no longer on the trail (undone, reset)."""
        trail = stepper.state.trail
        new: list[float] = []
        node = trail
        while node is not None and node is not self.seen:
            new.append(node.loss)
            node = node.previous
        if self.losses is None or (node is None and self.seen is not None):
            self.losses = tracker(stepper)  # its `steps` counts the losses: the step each is
        losses = self.losses
        for loss in reversed(new):
            losses.steps += 1
            losses.count_loss(losses.steps, loss)
        self.seen = trail
        return next(iter(losses.verdicts), None)


def dead_layers(stepper: Stepper) -> list[Verdict]:
    """The "dead" verdicts of layers whose every ReLU is off, over the last WINDOW updates."""
    health = tracker(stepper)
    for state in finished(stepper, WINDOW):
        health.add(state)
    every = {s.layer for s in health.recent() if s.dead is not None and s.dead >= 1.0}
    return [v for v in health.verdicts if v.kind == "dead" and v.layer in every]
