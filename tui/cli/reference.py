"""The README's reference tables, made from the settings' schema (engine.settings.schema):
the flags, the flags for learning from data, and the keys of a TOML file.

`python -m tui.cli.reference` rewrites the tables in README.md; tests/cli/test_settings_schema.py
fails when the README's tables differ from these, so a setting cannot drift from its row.
"""

from __future__ import annotations

import sys
from pathlib import Path

from engine.settings.schema import SETTINGS, Setting, flag

README = Path(__file__).resolve().parents[2] / "README.md"
FLAGS_HEADER = "| flag | default | meaning |\n| --- | --- | --- |\n"
TOML_HEADER = "| key | value | meaning |\n| --- | --- | --- |\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _default(setting: Setting) -> str:
    """The default as the README shows it: empty for a switch or a setting with none."""
    if setting.shown_default is not None:
        return setting.shown_default
    value = setting.default
    if value is None or isinstance(value, bool) or value in ("", ()):
        return ""
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _flag_row(setting: Setting) -> str:
    shown = flag(setting.key) + (f" {setting.metavar}" if setting.metavar else "")
    default = f" {_default(setting)} " if _default(setting) else " "
    return f"| `{_cell(shown)}` |{default}| {setting.doc or setting.help} |\n"


def _flags(settings: list[Setting]) -> list[Setting]:
    return [s for s in settings if s.flag != "" and not s.hidden]


def flags_table() -> str:
    """The flags, those for learning from data in one row that points to their own table."""
    rows = [_flag_row(s) for s in _flags([s for s in SETTINGS if s.group != "data"])]
    data = ", ".join(f"`{flag(s.key)}`" for s in _flags([s for s in SETTINGS if s.group == "data"]))
    rows.append(f"| {data} | | learning from data: see [Learning from data](#learning-from-data) |\n")
    return FLAGS_HEADER + "".join(rows)


def data_flags_table() -> str:
    return FLAGS_HEADER + "".join(_flag_row(s) for s in _flags([s for s in SETTINGS if s.group == "data"]))


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
    return TOML_HEADER + "".join(_toml_row(s) for s in SETTINGS if s.toml)


#: Each generated table: the heading it follows in README.md and its text.
TABLES = {"### Flags": flags_table, "## Learning from data": data_flags_table,
          "### A config file": toml_table}


def table_in(readme: str, heading: str, header: str) -> tuple[int, int]:
    """Where the first table with this header after the heading starts and ends."""
    start = readme.index(header, readme.index(f"\n{heading}\n"))
    end = start
    while end < len(readme) and readme.startswith("|", end):
        end = readme.index("\n", end) + 1
    return start, end


def rewritten(readme: str) -> str:
    """The README with its tables made from the schema."""
    for heading, make in TABLES.items():
        table = make()
        start, end = table_in(readme, heading, table[:table.index("\n") + 1])
        readme = readme[:start] + table + readme[end:]
    return readme


def main() -> int:
    README.write_text(rewritten(README.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"Wrote the reference tables to {README}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
