"""One settings schema: the parser, the TOML reader, the form and the README's tables are
made from it, and every front end names a setting its own way from one message."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from engine.settings.config import Config, validate
from engine.settings.errors import ConfigError
from engine.settings.schema import BY_KEY, NAME, SETTINGS, Setting, field_name, flag, missing_help
from tui.cli import reference
from tui.cli.options import parse, refused


def test_every_config_field_is_a_setting_with_its_default() -> None:
    keys = {setting.key for setting in SETTINGS if setting.config}
    assert keys == {f.name.replace("_", "-") for f in fields(Config)}
    for f in fields(Config):
        assert f.default == BY_KEY[f.name.replace("_", "-")].default


def test_every_setting_has_help() -> None:
    assert missing_help(SETTINGS) == []


def test_a_setting_without_help_is_found() -> None:
    bare = Setting("colour", NAME, "", metavar="NAME")
    assert missing_help([*SETTINGS, bare]) == ["colour"]


def test_the_form_has_a_hint_for_each_field() -> None:
    from tui.app.screens.config import FIELDS

    assert all(BY_KEY[key].hint for key in FIELDS)


def test_the_readme_tables_are_the_schemas() -> None:
    readme = reference.README.read_text(encoding="utf-8")
    assert reference.rewritten(readme) == readme, "run python -m tui.cli.reference"


def test_a_rule_names_settings_as_each_front_end_does() -> None:
    with pytest.raises(ConfigError) as caught:
        validate(replace(Config(), dataset="moons", inputs=3), given={"inputs"})
    error = caught.value
    assert error.key == "inputs"
    assert str(refused(error)).endswith("(leave --inputs out)")
    assert error.says(field_name).endswith("(leave inputs out)")
    assert str(error) == f"inputs: {error.message}"


def test_names_of_a_setting() -> None:
    assert flag("gradcheck") == "--no-gradcheck" and flag("test-fraction") == "--test-fraction"
    assert field_name("test-fraction") == "test-fraction" and field_name("gradcheck") == "no-gradcheck"


def test_a_toml_value_of_the_wrong_kind_names_its_kind(tmp_path) -> None:
    from tui.cli.parser import UsageError

    path = tmp_path / "run.toml"
    path.write_text('model-timeout = "soon"\n')
    with pytest.raises(UsageError, match=r"key 'model-timeout' in .* must be a number, got 'soon'"):
        parse(["--config", str(path)])
