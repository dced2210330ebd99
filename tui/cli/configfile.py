"""A TOML file of settings (--config): read, its keys and their types checked against the
settings' schema (engine.settings.schema), its [keymap] against the app's bindings.

A key is named as the file spells it; the file is named by the flag that gave it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.files import MAX_CONFIG_BYTES, read_user_file
from engine.settings.schema import BY_KEY, TOML_KEYS, toml_key
from engine.settings.text import did_you_mean, shown
from tui.cli.parser import UsageError
from tui.keys import IDS as KEY_IDS
from tui.keys import KEYS
from tui.text import printable

#: How a suggestion writes a key: quoted, as the message writes the key it refuses.
QUOTED = "'{}'"


def read_config_file(path_text: str) -> dict[str, Any]:
    """The TOML file's settings, keyed as the settings' keys, with clear errors."""
    try:
        raw = read_user_file(Path(path_text), "TOML file", MAX_CONFIG_BYTES)
    except OSError as error:
        raise UsageError(f"--config: {error}") from None
    import tomllib  # only with --config: start-up time a run from flags never needs

    try:  # utf-8-sig: a byte-order mark, as some editors write, is not content
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise UsageError(f"--config: {path_text} is not a text file (not UTF-8)") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"--config: {path_text} is not valid TOML: {error}") from None
    except ValueError:  # tomllib's int() of a number past 4,300 digits
        raise UsageError(f"--config: {path_text} holds a number too long to read") from None
    _check_keys(data, path_text)
    return data


def _check_keys(data: dict[str, Any], path_text: str) -> None:
    if "model" in data:
        raise UsageError(f"--config: {path_text} names a model file; a settings file may not run "
                         "code: pass --model FILE on the command line")
    if "explain" in data:  # not a setting of the run but a question about its output
        raise UsageError(f"--config: {path_text} sets explain; which numbers to explain is asked "
                         "of one report, not set for every run: pass --explain ELEMENT on the "
                         "command line")
    known = sorted(toml_key(key) for key in TOML_KEYS)
    unknown = sorted(set(data) - set(known))
    if unknown:
        hint = did_you_mean(unknown[0], known, QUOTED)
        raise UsageError(f"--config: unknown key {unknown[0]!r} in {path_text}{hint}; "
                         f"known keys: {', '.join(known)}")


def check_keymap(keymap: dict[str, Any], path: str) -> dict[str, str]:
    """[keymap] maps binding ids (see the help screen) to comma-separated Textual key names."""
    for binding_id, keys in keymap.items():
        if binding_id not in KEY_IDS:
            raise UsageError(f"--config: unknown binding id {binding_id!r} in [keymap] of {path}"
                             f"{did_you_mean(binding_id, KEY_IDS, QUOTED)}; "
                             f"known ids: {', '.join(sorted(KEY_IDS))}")
        if not isinstance(keys, str) or not all(key.strip() for key in keys.split(",")):
            raise UsageError(f"--config: [keymap] {binding_id} in {path} must be a string of "
                             f"key names such as \"j\" or \"j,down\", none of them empty, "
                             f"got {shown(keys)}")
        if printable(keys, oneline=True) != keys:  # a shared file's escape codes, bound for the help screen
            raise UsageError(f"--config: [keymap] {binding_id} in {path} holds a control character or "
                             f"escape sequence, got {shown(keys)}; key names are printable, such as "
                             "\"j\" or \"ctrl+s\"")
    _check_no_key_shared(keymap, path)
    return dict(keymap)


def _check_no_key_shared(keymap: dict[str, Any], path: str) -> None:
    bound: dict[tuple[str, str], str] = {}  # (scope, key) -> binding id, after the keymap
    for key in KEYS:
        for name in keymap.get(key.id, key.keys).split(","):
            other = bound.setdefault((key.scope, name.strip()), key.id)
            if other != key.id:  # Textual would keep one of them and drop the other in silence
                raise UsageError(f"--config: [keymap] in {path} leaves {name.strip()!r} bound to both "
                                 f"{other} and {key.id}; give each key one binding (the defaults are "
                                 "on the help screen, ?)")


def _holds(key: str, value: object) -> bool:
    """Whether a TOML value is of the setting's kind (true is not a number, nor 1 a switch)."""
    kinds = BY_KEY[key].kind.toml
    if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
        return False
    if isinstance(value, list):
        if str in kinds:  # features: names
            return all(isinstance(v, str) for v in value)
        whole = int in kinds  # hidden's layers are whole numbers; x's values any numbers
        numbers = int if whole else int | float
        return all(isinstance(v, numbers) and not isinstance(v, bool) for v in value)
    return True


def check_file_types(data: dict[str, Any], path: str) -> None:
    for key, value in data.items():
        if not _holds(key, value):
            raise UsageError(f"--config: key {toml_key(key)!r} in {path} must be "
                             f"{BY_KEY[key].kind.toml_words}, got {shown(value)}")
