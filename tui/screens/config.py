"""The configuration form: the same parsers, bounds and hints as the command line
(engine.config.FIELDS), errors shown in place, nothing applied until every field is valid."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Input, Label, Static

from engine.config import FIELDS as RULES
from engine.config import Config, ConfigError, default_x, validate
from tui.screens.safe import OnceModal

#: The settings the form edits, in the order a network is read: its shape, then the run.
FIELDS = ("inputs", "hidden", "activation", "classes", "loss", "init", "seed", "x", "y", "lr", "eps")


def _shown(config: Config, key: str) -> str:
    """A value as the field's parser reads it back: repr for floats, so no digit is lost.
    The output's default loss is shown empty, so changing the classes alone stays valid."""
    value = getattr(config, key)
    if key == "loss" and value == replace(config, loss="").architecture.loss:
        return ""
    if isinstance(value, tuple):
        return ",".join(repr(v) if isinstance(v, float) else str(v) for v in value)
    return repr(value) if isinstance(value, float) else str(value)


def parse_fields(values: dict[str, str], base: Config) -> tuple[Config | None, dict[str, str]]:
    """The form's strings to a validated Config, or the error of each field that has one."""
    errors: dict[str, str] = {}
    settings: dict[str, object] = {}
    for key, text in values.items():
        try:
            settings[key] = RULES[key].parse(text.strip())
        except ValueError:
            errors[key] = f"expected {RULES[key].expected}"
    if errors:
        return None, errors
    drawn = base.x == default_x(base.inputs, base.seed)  # the x shown is the one drawn for them
    moved = settings.get("inputs") != base.inputs or settings.get("seed") != base.seed
    if settings.get("x") == () or (moved and drawn and settings.get("x") == base.x):
        settings["x"] = ()  # a new size or seed with the old default x: take the new default
    # The fault drill is not the form's: the app keeps or drops it for the new network.
    candidate = replace(base, inject_bug=None, **settings)  # type: ignore[arg-type]
    try:
        return validate(candidate), {}
    except ConfigError as error:
        return None, {error.key: error.message}


class ConfigScreen(OnceModal[Config | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Cancel", id="cancel-config"),
    ]

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="config-body"):
            yield Static("Applying resets the stepper with the new settings.", classes="hint")
            for key in FIELDS:
                with Vertical(classes="field"):
                    with Horizontal():
                        yield Label(key, classes="field-label")
                        yield Input(_shown(self.config, key), placeholder=RULES[key].hint, id=f"field-{key}",
                                    select_on_focus=False, compact=True)
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
        for key in FIELDS:
            error = self.query_one(f"#error-{key}", Static)
            error.update(Content(errors.get(key, "")))  # may quote what was typed: never markup
            error.display = key in errors
            self.query_one(f"#field-{key}", Input).set_class(key in errors, "-invalid")

    def on_input_changed(self) -> None:
        self.show_errors(parse_fields(self.values(), self.config)[1])

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
        config, errors = parse_fields(self.values(), self.config)
        self.show_errors(errors)
        if config is not None:
            self.dismiss(config)
