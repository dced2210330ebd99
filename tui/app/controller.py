"""The controller: the stepper the app shows, and the rules of the keys that change it.

Data flows one way: a key -> the app's action -> the controller (or its runner, for the keys
that run phases) -> the stepper -> a View -> the widgets, which only draw it. The controller
knows no widget and no Textual: what the user is to be told goes to its `tell` callback as
Notes (the app shows them as notifications), and each request returns whether the state
changed (the app then redraws).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from engine.data import batches
from engine.data.batches import Data
from engine.model.builtin import BUGS, bug_problem, make_model
from engine.model.protocol import Model
from engine.run.stepper import Stepper
from engine.settings.config import Config
from engine.usermodel.contract import ModelError
from tui.app.runner import PhaseRunner
from tui.keys import BY_ID
from tui.text import printable

Severity = Literal["information", "warning", "error"]


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

    @property
    def stepper(self) -> Stepper:
        return self.runner.stepper

    # ---- a new configuration ------------------------------------------------------------
    def apply(self, config: Config, data: Data | None = None) -> bool:
        """A new stepper for `config` on `data` (loaded now when not given), with the model
        of the one it replaces and its gradient check switch. Not applied when the model
        cannot be built that way: the stepper stays as it was."""
        old = self.stepper
        if old.model.user_code and config.optimizer != "sgd":  # as the command line refuses --model with it
            self.tell(Note("Not applied: the optimizer is the built-in network's update; your model updates "
                           "with its own sgd_update (or plain SGD): set optimizer to sgd", 8, "error"))
            return False
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

    def toggle_gradcheck(self) -> bool:
        self.stepper.gradcheck_enabled = not self.stepper.gradcheck_enabled
        self.tell(Note(f"Gradient check {'on' if self.stepper.gradcheck_enabled else 'off'}.", 2))
        return True

    def undo(self) -> bool:
        if not self.stepper.back():
            self.tell(Note("Already at the start: nothing to undo.", 2))
        return True

    def reset(self) -> bool:
        self.stepper.reset()
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
