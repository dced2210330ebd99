"""The configuration form: the same rules as the command line, errors shown in place,
nothing applied until every field is valid."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Input, Label, Static

from engine.config import MAX_HIDDEN, MAX_INPUTS, MAX_SEED, Config, ConfigError, real, validate, whole
from tui.screens.safe import OnceModal

FIELDS = (  # (key, label, hint); the bounds are the ones validate() applies
    ("inputs", "inputs", f"input size, 1 to {MAX_INPUTS:,}"),
    ("hidden", "hidden", f"hidden units, 1 to {MAX_HIDDEN:,}"),
    ("seed", "seed", f"0 to {MAX_SEED}"),
    ("x", "x", "comma-separated; empty for the default"),
    ("y", "y", "0 or 1"),
    ("lr", "lr", "learning rate, finite and > 0"),
    ("eps", "eps", "gradient-check step, finite and > 0"),
)
WHOLE = ("inputs", "hidden", "seed", "y")


def _shown(config: Config, key: str) -> str:
    if key == "x":
        return ",".join(repr(v) for v in config.x)
    return repr(getattr(config, key)) if key in ("lr", "eps") else str(getattr(config, key))


def parse_fields(values: dict[str, str], base: Config) -> tuple[Config | None, dict[str, str]]:
    """The form's strings to a validated Config, or the error of each field that has one."""
    errors: dict[str, str] = {}
    settings: dict[str, object] = {}
    for key, text in values.items():
        text = text.strip()
        try:
            if key == "x":
                settings["x"] = tuple(real(v) for v in text.split(",")) if text else ()
            elif key in WHOLE:
                settings[key] = whole(text)
            else:
                settings[key] = real(text)
        except ValueError:
            errors[key] = ("expected comma-separated numbers" if key == "x" else
                           "expected a whole number" if key in WHOLE else "expected a number")
    if errors:
        return None, errors
    if settings.get("x") == () or (settings.get("inputs") != base.inputs and
                                   settings.get("x") == base.x):
        settings["x"] = ()  # a new size with the old x: take the new size's default x
    candidate = replace(base, **settings)  # type: ignore[arg-type]
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
            for key, label, hint in FIELDS:
                with Vertical(classes="field"):
                    with Horizontal():
                        yield Label(label, classes="field-label")
                        yield Input(_shown(self.config, key), placeholder=hint, id=f"field-{key}",
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
        return {key: self.query_one(f"#field-{key}", Input).value for key, _, _ in FIELDS}

    def show_errors(self, errors: dict[str, str]) -> None:
        for key, _, _ in FIELDS:
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
