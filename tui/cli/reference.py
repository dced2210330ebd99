"""The documentation's reference tables, made from what the program itself reads: the flags
from the command line's parsers (tui.cli.parser, tui.cli.serve) and the settings' schema
(engine.settings.schema), the TOML keys from the schema, the keys from the key table
(tui.keys).

The docs site's build calls these (docs/hooks.py fills each `<!-- generated: NAME -->` marker),
so a table cannot drift from the program: a flag, a setting or a key without help text stops
the build (MissingHelp) rather than printing an empty cell. `python -m tui.cli.reference NAME`
prints one table.
"""

from __future__ import annotations

import argparse
import html
import sys
from collections.abc import Callable, Iterable

from engine.settings.schema import SETTINGS, Setting, flag, missing_help
from tui.keys import KEYS, Key

FLAGS_HEADER = "| flag | default | meaning |\n| --- | --- | --- |\n"
TOML_HEADER = "| key | value | meaning |\n| --- | --- | --- |\n"
KEYS_HEADER = "| key | binding id | what it does |\n| --- | --- | --- |\n"


class MissingHelp(ValueError):
    """A flag, a setting or a key that says nothing about itself: its row would be empty."""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _default(setting: Setting) -> str:
    """The default as the table shows it: empty for a switch or a setting with none."""
    if setting.shown_default is not None:
        return setting.shown_default
    value = setting.default
    if value is None or isinstance(value, bool) or value in ("", ()):
        return ""
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _code(text: str) -> str:
    """`text` as code in a table's cell. A `|` inside backticks would keep its escaping
    backslash on the page (Python-Markdown), so such a cell is HTML with the bar as &#124;."""
    if "|" not in text:
        return f"`{text}`"
    return f"<code>{html.escape(text).replace('|', '&#124;')}</code>"


def _row(shown: str, default: str, meaning: str) -> str:
    return f"| {_code(shown)} |{f' {default} ' if default else ' '}| {meaning} |\n"


def _setting_row(setting: Setting) -> str:
    shown = flag(setting.key) + (f" {setting.metavar}" if setting.metavar else "")
    return _row(shown, _default(setting), setting.doc or setting.help)


def _action_row(action: argparse.Action) -> str:
    """A flag of the parser's own (no setting): its help, its metavar, its default."""
    name = max(action.option_strings, key=len)
    shown = name + (f" {action.metavar}" if isinstance(action.metavar, str) else "")
    default = action.default
    shown_default = "" if default in (None, False, argparse.SUPPRESS) else str(default)
    return _row(shown, shown_default, _cell(action.help or ""))


def _setting_of(action: argparse.Action) -> Setting | None:
    names = {o.removeprefix("--") for o in action.option_strings}
    return next((s for s in SETTINGS if s.flag != "" and s.flag_name in names), None)


def _checked(actions: Iterable[argparse.Action]) -> list[argparse.Action]:
    """The parser's flags, refusing any without help (argparse prints nothing for it)."""
    shown = [a for a in actions if a.option_strings and a.help != argparse.SUPPRESS]
    bare = [max(a.option_strings, key=len) for a in shown if not (a.help or "").strip()]
    bare += [flag(key) for key in missing_help(SETTINGS)]
    if bare:
        raise MissingHelp(f"no help text for {', '.join(sorted(set(bare)))}: every flag says what it does")
    return shown


def _flags_of(parser: argparse.ArgumentParser, group: str | None) -> str:
    """The parser's flags of one settings group (None: those of no group, and the parser's own)."""
    rows = []
    for action in _checked(parser._actions):
        setting = _setting_of(action)
        if setting is None:
            if group is None:
                rows.append(_action_row(action))
        elif (setting.group or None) == group and not setting.hidden:
            rows.append(_setting_row(setting))
    return FLAGS_HEADER + "".join(rows)


def flags_table() -> str:
    """`backprop-stepper`'s flags, in `--help`'s order, but those of a group (data, sessions)."""
    from tui.cli.parser import build_parser

    return _flags_of(build_parser(), None)


def group_table(group: str) -> Callable[[], str]:
    def table() -> str:
        from tui.cli.parser import build_parser

        return _flags_of(build_parser(), group)

    return table


def serve_flags_table() -> str:
    """`backprop-stepper serve`'s own flags."""
    from tui.cli.serve import build_parser

    return FLAGS_HEADER + "".join(_action_row(a) for a in _checked(build_parser()._actions))


def _toml_row(setting: Setting) -> str:
    if setting.flag == "":
        meaning = setting.help
    elif setting.action == "switch_off":
        meaning = f"`{setting.key} = false` is `{flag(setting.key)}`"
    else:
        meaning = f"as `{flag(setting.key)}`"
    return f"| `{setting.key}` | {_cell(setting.kind.toml_words)} | {meaning} |\n"


def toml_table() -> str:
    """The keys a TOML file may set, in the schema's order."""
    _checked([])
    return TOML_HEADER + "".join(_toml_row(s) for s in SETTINGS if s.toml)


def printed(key: str) -> str:
    """A Textual key name as the app's footer prints it ("[" for left_square_bracket, "^s"),
    by Textual's own formatting, so the table names keys as the screen does."""
    from textual.keys import format_key

    *modifiers, name = key.split("+")
    name = format_key(name)
    if "ctrl" in modifiers:
        modifiers.remove("ctrl")
        name = f"^{name}"
    return "+".join([*modifiers, name])


def _key_row(key: Key) -> str:
    keys = ", ".join(f"`{_cell(printed(k.strip()))}`" for k in key.keys.split(","))
    return f"| {keys} | {key.id} | {_cell(key.description)} |\n"


def keys_table(keys: Iterable[Key] = KEYS) -> str:
    """The app's keys, their binding ids (what a `[keymap]` names) and what each does."""
    keys = list(keys)
    bare = [k.id for k in keys if not k.description.strip()]
    if bare:
        raise MissingHelp(f"no description for the key binding {', '.join(bare)}")
    return KEYS_HEADER + "".join(_key_row(k) for k in keys)


#: Each generated table by the name its marker gives: <!-- generated: NAME -->.
TABLES: dict[str, Callable[[], str]] = {
    "flags": flags_table,
    "data-flags": group_table("data"),
    "session-flags": group_table("kept"),
    "serve-flags": serve_flags_table,
    "toml": toml_table,
    "keys": keys_table,
}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in TABLES:
        print(f"usage: python -m tui.cli.reference {{{','.join(TABLES)}}}", file=sys.stderr)
        return 2
    print(TABLES[argv[0]](), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
