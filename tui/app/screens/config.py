"""The configuration form: the same parsers, bounds and hints as the command line (the
settings' schema, engine.settings.schema), errors shown in place, nothing applied until every
field is valid.

The form refuses what the command line refuses: a field counts as given when its text
differs from what the form showed, as a flag counts as given when it is typed, and the
same rules (engine.settings.config.validate with the given keys, engine.data.fit against the
loaded data) decide, their messages naming each setting by its field. Applying loads the
data set the fields name, so a bad CSV file is shown under its field; the form's result
(tui.app.controller.NewRun) hands the app the data it loaded."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Input, Label, Static

from engine.data.batches import Data
from engine.data.fit import fit_to_data
from engine.data.sets import DataError
from engine.settings.config import Config, ConfigError, default_x, validate
from engine.settings.floats import Floats
from engine.settings.schema import BY_KEY, field_name, unreadable
from tui.app.controller import NewRun
from tui.app.screens.safe import OnceModal
from tui.text import printable

#: The settings the form edits, in the order a network is read: its shape, then the run,
#: then what it learns from and how a training run (t) goes.
NETWORK = ("inputs", "hidden", "activation", "classes", "loss", "init", "seed", "x", "y", "lr", "eps",
           "l1", "l2")
#: The line above the penalty rates' fields, in TensorFlow Playground's words.
REGULARIZATION = ("Regularization (as in TensorFlow Playground): l1 and l2 are the regularization rates "
                  "of L1 and L2, on the weights only; 0 is none, and both may be given.")
DATA = ("dataset", "data", "samples", "noise", "test-fraction", "standardize", "features", "batch",
        "train-steps", "check-every")
#: The update rule and its settings (the built-in network's: a model file updates its own way).
OPTIMIZER = ("optimizer", "momentum", "beta1", "beta2", "epsilon", "decay")
UPDATE_RULE = ("The update rule (--optimizer): sgd, momentum, nesterov, rmsprop or adam, and the settings "
               "each reads; they change mid-run too, a new optimizer starting its state at zero.")
FIELDS = NETWORK + DATA + OPTIMIZER
#: serve: the fields that name a file on the server, refused in a browser (served mode).
FILE_FIELDS = ("data",)
SERVED_REFUSAL = ("in a browser, files are fixed by the command line that started the server (a "
                  "built-in dataset can still be chosen)")
#: The most characters a field takes: its longest legitimate value with room to spare (a
#: number in 64, eight hidden sizes in 128, a path in Linux's PATH_MAX, x in 4096 or the
#: length it was shown with). Textual's Input takes a paste of any length, and each key it
#: takes posts its whole value: 100,000 characters typed had queued gigabytes of them.
LONGEST = dict.fromkeys(FIELDS, 64) | {"hidden": 128, "x": 4096, "data": 4096, "features": 128}


def _attr(key: str) -> str:
    return key.replace("-", "_")


def _shown(config: Config, key: str) -> str:
    """A value as the field's parser reads it back: repr for floats, so no digit is lost.
    The output's default loss is shown empty, so changing the classes alone stays valid; so
    is an x drawn for many inputs (784 of them are 15,000 characters, 100,000 are two million),
    which no one types: empty is that default, and the forward panel shows its values. A
    file name is printable (tui.text): a session's data path is what its file says."""
    value = getattr(config, _attr(key))
    if key == "loss" and value == replace(config, loss="").architecture.loss:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple | Floats):
        text = ",".join(repr(v) if isinstance(v, float) else str(v) for v in value)
        drawn = key == "x" and value == default_x(config.inputs, config.seed)
        return "" if drawn and len(text) > LONGEST[key] else text
    if isinstance(value, str):
        return printable(value, oneline=True)
    return repr(value) if isinstance(value, float) else str(value)


def _with_data(config: Config, given: set[str]) -> tuple[Config, Data]:
    """The config fitted to the data it names, and those data (loaded now), or ConfigError
    (a file that cannot be used is the data field's)."""
    try:
        return fit_to_data(config, given)
    except DataError as error:
        raise ConfigError("data", error.says) from None


def _refused_files(values: dict[str, str], base: Config) -> dict[str, str]:
    """serve: each file field whose text differs from what the server started with."""
    return {key: SERVED_REFUSAL for key in FILE_FIELDS
            if key in values and values[key].strip() != _shown(base, key)}


def _read(values: dict[str, str]) -> tuple[dict[str, object], dict[str, str]]:
    """Each field's text as its setting's value (by Config field), and each field's error."""
    settings: dict[str, object] = {}
    errors: dict[str, str] = {}
    for key, text in values.items():
        read = BY_KEY[key].kind.parse
        assert read is not None
        try:
            settings[_attr(key)] = read(text.strip())
        except ValueError:
            errors[key] = unreadable(key, text.strip())
    return settings, errors


def _candidate(settings: dict[str, object], base: Config, given: set[str]) -> Config:
    """The fields over the base config, the defaults that follow from other fields (x from
    the size and seed; x, y and the loss from the data) taken where the field was left as
    shown. The fault drill is not the form's: the app keeps or drops it for the new network."""
    drawn = base.x == default_x(base.inputs, base.seed)  # the x shown is the one drawn for them
    moved = settings.get("inputs") != base.inputs or settings.get("seed") != base.seed
    if settings.get("x") == () or (moved and drawn and settings.get("x") == base.x):
        settings["x"] = ()  # a new size or seed with the old default x: take the new default
    candidate = replace(base, inject_bug=None, **settings)  # type: ignore[arg-type]
    if candidate.learns_from_data:
        # The data decide the inputs and classes, x and y are not theirs: what the form
        # showed for them (and the loss of the output shown) yields to the data's.
        untouched = {"x": (), "y": 1, "loss": ""}
        candidate = replace(candidate, **{k: v for k, v in untouched.items()  # type: ignore[arg-type]
                                          if k not in given})
    return candidate


def parse_fields(values: dict[str, str], base: Config, load: bool = True,
                 served: bool = False) -> tuple[Config | None, dict[str, str]]:
    """read_fields without the data it loaded."""
    config, _, errors = read_fields(values, base, load, served)
    return config, errors


def read_fields(values: dict[str, str], base: Config, load: bool = True,
                served: bool = False) -> tuple[Config | None, Data | None, dict[str, str]]:
    """The form's strings to a validated Config and the data it loaded for it, or the error
    of each field that has one.
    With `load`, a config on data is fitted to the data (loaded: a CSV file is read);
    without, the data are not read (as each keystroke checks the fields). `served` (serve):
    a file field that differs from what the server started with is refused."""
    refused = _refused_files(values, base) if served else {}
    settings, errors = _read(values)
    if refused or errors:
        return None, None, refused | errors
    given = {key for key, text in values.items() if text.strip() != _shown(base, key)}
    candidate = _candidate(settings, base, given)
    data = None
    try:
        config = validate(candidate, given)
        if candidate.learns_from_data and load:
            config, data = _with_data(candidate, given)
    except ConfigError as error:  # each setting named as this form names it
        return None, None, {error.key: error.says(field_name)}
    return config, data, {}


class FormField(Input):
    """A form's Input, bounded (max_length), that rings once for a run of refused keys: an
    unbracketed paste past its bound arrives as one key each, and rang the bell for each."""

    refused = False  # the bell has rung since the value last changed

    def restricted(self) -> None:
        if not self.refused:
            self.refused = True
            super().restricted()

    def watch_value(self) -> None:
        self.refused = False


class ConfigScreen(OnceModal[NewRun | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Cancel", id="cancel-config"),
    ]

    def __init__(self, config: Config, served: bool = False) -> None:
        super().__init__()
        self.config = config
        self.served = served  # serve: the file fields are shown, disabled, and refused
        self.shown_errors: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="config-body"):
            yield Static("lr, l1, l2, batch, eps and the update rule change mid-run, keeping the weights "
                         "and the step (b undoes it); any other change needs new weights and asks first.",
                         classes="hint")
            for key in FIELDS:
                if key == DATA[0]:
                    yield Static("Learning from data: with a dataset or a CSV file, the data decide "
                                 "the inputs and classes, and x and y are left out.", classes="hint")
                if key == "l1":
                    yield Static(REGULARIZATION, classes="hint")
                if key == OPTIMIZER[0]:
                    yield Static(UPDATE_RULE, classes="hint")
                with Vertical(classes="field"):
                    with Horizontal():
                        yield Label(key, classes="field-label")
                        shown = _shown(self.config, key)
                        yield FormField(shown, placeholder=BY_KEY[key].hint, id=f"field-{key}",
                                        select_on_focus=False, compact=True,
                                        max_length=max(LONGEST[key], len(shown)),
                                        disabled=self.served and key in FILE_FIELDS)
                    if self.served and key in FILE_FIELDS:
                        yield Static(f"{SERVED_REFUSAL[0].upper()}{SERVED_REFUSAL[1:]}.", classes="hint")
                    yield Static("", id=f"error-{key}", classes="field-error")
            with Horizontal(id="config-buttons"):
                yield Button("Apply", variant="primary", id="apply", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        body = self.query_one("#config-body")
        body.border_title = "Configuration"
        body.can_focus = False
        self.query_one("#field-inputs", Input).focus()

    def values(self) -> dict[str, str]:
        return {key: self.query_one(f"#field-{key}", Input).value for key in FIELDS}

    def show_errors(self, errors: dict[str, str]) -> None:
        """Each field's error under it (only the ones that changed are redrawn), and the field
        marked: Input drops the mark at each key, as it has no validators of its own."""
        for key in FIELDS:
            self.query_one(f"#field-{key}", Input).set_class(key in errors, "-invalid")
            if errors.get(key) != self.shown_errors.get(key):
                error = self.query_one(f"#error-{key}", Static)
                error.update(Content(printable(errors.get(key, ""))))  # may quote what was typed or read
                error.display = key in errors
        self.shown_errors = errors

    def on_input_changed(self, event: Input.Changed) -> None:
        """Check every field as one is typed in. A field posts a Changed for each key it takes,
        and under a paste or a held key they arrive faster than a check runs: a Changed its
        field has moved on from is skipped (the one queued behind it checks the newer value)."""
        if event.value == event.input.value:
            self.show_errors(parse_fields(self.values(), self.config, load=False, served=self.served)[1])

    def on_input_submitted(self) -> None:
        self.apply()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self.apply()
        else:
            self.dismiss(None)

    def apply(self) -> None:
        if self.dismissed:  # a second Enter typed before the form closed
            return
        config, data, errors = read_fields(self.values(), self.config, served=self.served)
        self.show_errors(errors)
        if config is not None:
            self.dismiss(NewRun(config, data))
        elif errors:  # on a short screen the field may be scrolled away: go to the first one
            first = next(key for key in FIELDS if key in errors)
            self.query_one(f"#field-{first}", Input).focus()
            self.call_after_refresh(self.query_one(f"#error-{first}", Static).scroll_visible, animate=False)
