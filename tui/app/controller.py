"""The controller: the stepper the app shows, and the rules of the keys that change it.

Data flows one way: a key -> the app's action -> the controller (or its runner, for the keys
that run phases) -> the stepper -> a View -> the widgets, which only draw it. The controller
knows no widget and no Textual: what the user is to be told goes to its `tell` callback as
Notes (the app shows them as notifications), and each request returns whether the state
changed (the app then redraws).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Literal

import numpy as np

from engine.data import batches
from engine.data.batches import Data
from engine.model.builtin import BUGS, bug_problem, make_model
from engine.model.protocol import Model
from engine.run.stepper import TUNABLE, Changes, Stepper
from engine.settings.config import MAX_SEED, MAX_STEPS, Config
from engine.usermodel.errors import ModelError
from tui.app.runner import PhaseRunner
from tui.keys import BY_ID
from tui.text import printable

Severity = Literal["information", "warning", "error"]

#: The learning rates + and - move between: TensorFlow Playground's menu (0.00001, 0.0001,
#: 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10) with 0.00003 and 0.0003 added, so every rung
#: is a half decade (x3 or x3.3) and a student meets the values Playground offers. Doubling
#: would leave round numbers (0.1, 0.2, 0.4, 0.8, 1.6) and take 17 presses across its range.
LR_LADDER = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
#: Settings the form carries that say nothing of the run the app shows (a report's, a fault
#: drill the app keeps on its own, the g key's switch).
NOT_THE_FORMS = ("steps", "trace", "inject_bug", "gradcheck", "gradcheck_method")


def said(changes: Changes) -> str:
    """A change of settings as a note says it: "Changed lr to 0.3, batch to 16"."""
    parts = (f"{key.replace('_', '-')} to {value:g}" if isinstance(value, float) else
             f"{key.replace('_', '-')} to {value}" for key, value in changes.items())
    return "Changed " + ", ".join(parts)


def next_rate(lr: float, up: bool) -> float | None:
    """The ladder's next rung above (up) or below lr; None past its end. A rate between two
    rungs (a typed 0.05) goes to the nearer one in that direction."""
    if up:
        return next((rung for rung in LR_LADDER if rung > lr * (1 + 1e-9)), None)
    return next((rung for rung in reversed(LR_LADDER) if rung < lr * (1 - 1e-9)), None)


@dataclass(frozen=True)
class Note:
    """A message for the user, with how long it stays and how it is marked (as Textual's
    notify takes them)."""

    message: str
    timeout: float
    severity: Severity = "information"


@dataclass(frozen=True)
class NewRun:
    """The configuration form's result: the settings, and the data the form loaded for them
    (None: the config learns from no data, or the data are to be loaded now)."""

    config: Config
    data: Data | None = None


#: Draws b can go back past: each stepper kept holds its own undo history (up to its budget).
DRAWS_KEPT = 4


class Controller:
    """Owns the stepper (held by its runner, which runs the stepper's phases on a thread) and
    applies what the keys ask of it."""

    def __init__(self, runner: PhaseRunner, tell: Callable[[Note], None],
                 model_file: str | None = None, key: Callable[[str], str] | None = None) -> None:
        self.runner = runner
        self.tell = tell
        #: A binding's key as a note names it, by its id: the app's printed_key (the keymap's,
        #: as the footer prints it); without an app, the default key's Textual name.
        self.key = key or (lambda key_id: BY_ID[key_id].keys.split(",")[0])
        #: The user's model file as named on the command line (a session records the name,
        #: never the code); None for the built-in network.
        self.model_file = model_file
        #: The steppers d replaced, the latest last (at most DRAWS_KEPT): b at the start of a
        #: new draw goes back to the one before it, its data, state and history as they were.
        self.before_draws: list[Stepper] = []

    @property
    def stepper(self) -> Stepper:
        return self.runner.stepper

    # ---- a new configuration ------------------------------------------------------------
    def apply(self, config: Config, data: Data | None = None) -> bool:
        """A new stepper for `config` on `data` (loaded now when not given), with the model
        of the one it replaces and its gradient check switch. Not applied when the model
        cannot be built that way: the stepper stays as it was."""
        old = self.stepper
        bug = self.kept_bug(config)
        model = self.model_for(config, bug)
        if data is None:
            data = batches.from_config(config)
        try:
            stepper = Stepper(replace(config, inject_bug=bug), model=model, data=data)
        except ModelError as error:  # e.g. a cs231n TwoLayerNet asked for two hidden layers
            self.restore_size(model, old)
            self.tell(Note(f"Not applied: {error.message}", 8, "error"))
            return False
        self.runner.stepper = stepper
        self.before_draws.clear()  # a new run: b stays within it
        stepper.gradcheck_enabled = old.gradcheck_enabled
        self.tell(Note(f"Applied: {self.applied(model, config)}, seed {config.seed}, lr {config.lr:g}.", 3))
        return True

    def kept_bug(self, config: Config) -> str | None:
        """The fault drill the new stepper keeps: the one injected now (which the form does
        not show), unless the new network has no place for it: a drill that breaks nothing
        would teach that a broken backward passes the check."""
        bug = self.stepper.model.bug
        problem = bug_problem(config.architecture, bug, optimizer=config.optimizer) if bug else None
        if problem:
            self.tell(Note(f"Fault drill {bug!r} removed: {problem}.", 6, "warning"))
            return None
        return bug

    def model_for(self, config: Config, bug: str | None) -> Model:
        """The model stays what it is: a user's model (its file imported again if the sizes
        changed), or the built-in one with `bug`."""
        old = self.stepper
        model = old.model if old.model.user_code else make_model(config.architecture, bug)
        return model.resize(config.architecture)

    @staticmethod
    def restore_size(model: Model, old: Stepper) -> None:
        """A user's model back at the sizes of the stepper that stays."""
        model.resize(old.config.architecture)

    def applied(self, model: Model, config: Config) -> str:
        """What the new stepper runs, as the note says it: for a user's model what it built
        is the file's to say (its parameters' shapes)."""
        if not model.user_code:
            return f"a {config.shape_label} network"
        shapes = ", ".join(f"{name} {tuple(np.shape(value))}"
                           for name, value in self.stepper.initial.params.items())
        return f"{printable(model.name, oneline=True)} with parameters {shapes}"

    # ---- the keys that change the stepper -----------------------------------------------
    def inject_bug(self, bug: str) -> bool:
        """Fault drill: break the backward pass and rewind to this step's forward pass ("":
        the correct backward back)."""
        if self.stepper.model.user_code:
            self.tell(Note("Fault drills break the built-in network; your own model is loaded.", 3))
            return False
        config = self.stepper.config
        problem = bug_problem(config.architecture, bug, optimizer=config.optimizer) if bug else None
        if problem:
            self.tell(Note(f"Cannot inject {bug!r}: {problem}.", 5, "warning"))
            return False
        self.stepper.use_model(make_model(self.stepper.config.architecture, bug or None))
        if bug:
            self.tell(Note(f"Injected bug {bug!r}: {BUGS[bug]} Press {self.key('next')} to watch the "
                           "gradient check catch it.", 6))
        else:
            self.tell(Note("Bug removed: the correct backward pass is back.", 3))
        return True

    def regenerate(self) -> bool:
        """d: the data drawn again from the next seed (Playground's "Regenerate"), the weights
        kept. A new run starts from the weights on screen: its step 1 is the first on the new
        points, its undo history and chart begin there, the optimizer's state starts at zero,
        and a session saved later holds those weights and the new data, so it replays
        exactly. The seed of the weights (--seed) is unchanged."""
        old = self.stepper
        if old.data is None:
            self.tell(Note("d draws the data again: this run has none (start with --dataset moons).", 4))
            return False
        seed = (old.data.seed + 1) % (MAX_SEED + 1)
        data = batches.drawn(old.config, seed)
        # The fault drill on now is the new run's from its start, so its session replays it.
        config = old.config if old.model.user_code else replace(old.config, inject_bug=old.model.bug)
        stepper = Stepper(config, model=old.model, data=data)
        stepper.start_from(old.state.params)
        stepper.gradcheck_enabled = old.gradcheck_enabled
        self.before_draws = [*self.before_draws, old][-DRAWS_KEPT:]
        self.runner.stepper = stepper
        what = "a new split and batch order of the file's rows" if old.config.data else "new points"
        self.tell(Note(f"Data drawn again from seed {seed}: {what}. The weights are kept; the run starts "
                       "again at step 1 from them (b at its start goes back to the old data).", 5))
        return True

    def toggle_gradcheck(self) -> bool:
        self.stepper.gradcheck_enabled = not self.stepper.gradcheck_enabled
        self.tell(Note(f"Gradient check {'on' if self.stepper.gradcheck_enabled else 'off'}.", 2))
        return True

    def undo(self) -> bool:
        """b: the last phase undone; at the start of a draw of d, back to the run before it."""
        if self.stepper.back():
            return True
        if self.before_draws:
            self.runner.stepper = self.before_draws.pop()
            seed = self.stepper.data.seed if self.stepper.data is not None else None
            self.tell(Note(f"Back to the data before d (seed {seed}) and the run on them, as they were.", 3))
            return True
        self.tell(Note("Already at the start: nothing to undo.", 2))
        return True

    def reset(self) -> bool:
        self.stepper.reset()
        return True

    def measure(self) -> bool:
        """a: the whole sets' loss and accuracy measured now, for this step's forward pass (on
        a schedule otherwise: --eval-every, once an epoch by default)."""
        stepper = self.stepper
        if stepper.data is None:
            self.tell(Note("Only a run on data has training and test rows to measure (--dataset moons).", 3))
            return False
        if not stepper.measure():
            measured = stepper.state.forward is not None
            self.tell(Note("Measured already at this step." if measured else
                           "Nothing to measure yet: the first forward pass measures.", 2))
            return False
        return True

    def train(self) -> bool:
        """t: a training run of the configured steps on the runner's thread; refused without
        data. The state changes as the run goes (the runner redraws)."""
        config = self.stepper.config
        if self.stepper.data is None:
            self.tell(Note("Training runs need data: start with --dataset moons (or --data FILE.csv); the "
                           f"notebook's one sample is stepped with {self.key('next')} and "
                           f"{self.key('finish-step')}.", 5))
            return False
        check = f", checking gradients every {config.check_every} steps" if config.check_every \
            else " (no gradient check: --check-every N asks for one)"
        self.tell(Note(f"Training {config.train_steps:,} steps{check}.", 3))
        self.runner.train(config.train_steps, config.check_every)
        return False

    def play(self) -> None:
        """p: train step after step until paused, as TensorFlow Playground's play button, on data
        or on the one sample; p again (or escape) pauses. A run stops by itself at MAX_STEPS
        steps, the most a session replays."""
        running = self.runner.running
        if running is not None:
            if running.playing and self.runner.cancel():
                self.tell(Note("Paused: the steps finished are kept (the one in progress is undone); p plays "
                               "on, b walks back.", 3))
            return
        config = self.stepper.config
        self.tell(Note(f"Playing at lr {config.lr:g}: p or escape pauses; + and - change the learning rate "
                       "as it runs.", 4))
        self.runner.train(MAX_STEPS, config.check_every, playing=True)

    # ---- settings changed mid-run -------------------------------------------------------
    def step_rate(self, up: bool) -> bool:
        """+ and -: the learning rate's next rung up or down LR_LADDER, kept in the run's path."""
        lr = self.runner.tuned().lr
        rate = next_rate(lr, up)
        if rate is None:
            end = "top" if up else "bottom"
            self.tell(Note(f"lr {lr:g} is at the {end} of the ladder ({LR_LADDER[-1 if up else 0]:g}); the "
                           "form (c) takes any other value.", 4))
            return False
        return self.retune({"lr": rate}, f"Learning rate {lr:g} → {rate:g}")

    def retune(self, changes: Changes, said: str) -> bool:
        """Change settings without a reset (engine.run.stepper.Stepper.retune): now, or during a
        training run before its next step. True when the state changed now (redraw)."""
        problem = self.stepper.retune_problem(changes)
        if problem:
            self.tell(Note(f"Not changed: {problem}", 6, "error"))
            return False
        now = self.runner.retune(changes)
        when = "b undoes it" if now else "from the run's next step"
        self.tell(Note(f"{said}: the weights and the step are kept; {when}.", 3))
        return now

    def differences(self, config: Config) -> tuple[Changes, list[str]]:
        """The form's settings against the run's: the changes a run takes as it goes, and the
        settings whose change needs new weights (a new run)."""
        old, new = self.runner.tuned().resolved(), config.resolved()
        names = [f.name for f in fields(Config) if f.name not in NOT_THE_FORMS
                 and getattr(old, f.name) != getattr(new, f.name)]
        return ({name: getattr(new, name) for name in names if name in TUNABLE},
                [name for name in names if name not in TUNABLE])

    # ---- keeping: what the exports write --------------------------------------------------
    def session_bytes(self) -> bytes:
        """The session as it stands, as a .npz file's bytes (engine.run.session)."""
        from engine.run.session import record as record_session  # imported when first used: a faster start
        from engine.run.session import to_bytes as session_to_bytes

        return session_to_bytes(record_session(self.stepper, self.model_file))

    def params_bytes(self) -> bytes:
        """The parameters on screen as a .npz file's bytes (np.savez's layout, no pickle)."""
        from engine.run.session import params_to_bytes  # imported when first used: a faster start

        return params_to_bytes(self.stepper.state.params)

    def state_json(self) -> str:
        """The state on screen as the `--format json` object (tui.output.report.state_json)."""
        from tui.output.report import state_json  # imported when first used: a faster start

        return state_json(self.stepper.config, self.stepper, self.stepper.state)

    def file_stem(self, kind: str) -> str:
        """e.g. backprop-session-step7-backward: what and where in the run."""
        state = self.stepper.state
        phase = "start" if state.last_phase is None else state.last_phase.value
        return f"backprop-{kind}-step{state.step}-{phase}"
