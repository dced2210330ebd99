"""One settings schema: the parser, the TOML reader, the form and the docs' tables are
made from it, and every front end names a setting its own way from one message."""

from __future__ import annotations

import argparse
from dataclasses import fields, replace

import pytest

from engine.settings.config import Config, validate
from engine.settings.errors import ConfigError
from engine.settings.schema import BY_KEY, NAME, SETTINGS, Setting, field_name, flag, missing_help
from tests.docs import pages, text
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


def test_the_docs_tables_are_made_when_the_site_is_built() -> None:
    """Each reference table is a marker its page's build fills (docs/hooks.py), never a copy:
    no page holds a flags, TOML or keys table written by hand."""
    written = "".join(page.read_text(encoding="utf-8") for page in pages())
    for name in reference.TABLES:
        assert f"<!-- generated: {name} -->" in written, name
    for header in (reference.FLAGS_HEADER, reference.TOML_HEADER, reference.KEYS_HEADER):
        assert header not in written


def test_every_flag_and_key_has_its_row_in_the_docs() -> None:
    from tui.cli.parser import build_parser
    from tui.keys import KEYS

    shown = [o for a in build_parser()._actions if a.help != argparse.SUPPRESS
             for o in a.option_strings if o.startswith("--")]
    for name in shown:
        assert f"`{name}" in text() or f"<code>{name}" in text(), name
    assert all(f"| {key.id} |" in text() for key in KEYS)
    assert all(f"| `{s.key}` |" in text() for s in SETTINGS if s.toml)


def test_a_setting_without_help_stops_the_docs_build(monkeypatch) -> None:
    monkeypatch.setattr(reference, "SETTINGS", [*SETTINGS, Setting("colour", NAME, "", metavar="NAME")])
    with pytest.raises(reference.MissingHelp, match="--colour"):
        reference.flags_table()
    with pytest.raises(reference.MissingHelp):
        reference.toml_table()


def test_a_flag_of_the_parser_without_help_stops_the_docs_build(monkeypatch) -> None:
    from tui.cli import parser

    monkeypatch.setattr(parser, "LOADING_FLAGS", {**parser.LOADING_FLAGS, "--bare": {"metavar": "X"}})
    with pytest.raises(reference.MissingHelp, match="--bare"):
        reference.flags_table()


def test_a_key_without_a_description_stops_the_docs_build() -> None:
    from tui.keys import KEYS, Key

    with pytest.raises(reference.MissingHelp, match="shout"):
        reference.keys_table([*KEYS, Key("shout", "!", "shout", " ")])
    assert "| `^s` | save-session |" in reference.keys_table()  # named as the footer prints it


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
