"""The command line's argparse parser, made from the settings' schema (engine.settings.schema):
a flag for each setting, in the schema's order and sections, with its metavar and help."""

from __future__ import annotations

import argparse
import re
from typing import Any, NoReturn

from engine.settings.schema import GROUPS, SETTINGS, Setting, unreadable
from engine.settings.text import did_you_mean, shown

PROG = "backprop-stepper"
DESCRIPTION = ("Watch backpropagation one phase at a time: forward, backward, gradient check, update, "
               "every tensor shown and any number explained with its formula and real numbers (e in the "
               "app, --explain here). Any MLP of up to 8 hidden layers (ReLU, leaky ReLU, tanh, sigmoid; "
               "a sigmoid or softmax output), on one sample or a data set (--dataset, --data), trained "
               "with SGD, momentum, Nesterov, RMSprop or Adam and L1/L2; or your own model's file "
               "(--model). Headless it prints a report or a JSON trace; it also saves and replays "
               "sessions (--save-session, --session), writes the run as a notebook (--export-notebook) "
               "and serves the app to a browser (serve).")
EPILOG = ("In the app, press ? for the keys. Every flag can also be set in a TOML file (--config); see "
          "docs/reference/toml.md. In a browser: backprop-stepper serve [--host ADDRESS] [--port N] "
          "[these flags] (see serve --help).")


class UsageError(Exception):
    """Bad input from the user: printed without a traceback, exit status 2."""


class _FlagParser(argparse.ArgumentParser):
    #: Flags a typo may have meant besides the parser's own: serve's, before the app's flags.
    also_known: tuple[str, ...] = ()

    def error(self, message: str) -> NoReturn:
        message += self.suggestion(message)
        # argparse echoes what it refuses, unquoted or quoted: shorten each long word.
        raise UsageError(re.sub(r"\S{41,}", lambda m: shown(m[0].strip("'")), message))

    def suggestion(self, message: str) -> str:
        """" (did you mean --hidden?)" for the first mistyped flag of an "unrecognized
        arguments" message (argparse's own suggest_on_error is Python 3.14's)."""
        head, _, typed = message.partition("unrecognized arguments: ")
        flags = [o for a in self._actions for o in a.option_strings if o.startswith("--")]
        names = [flag[2:] for flag in (*flags, *self.also_known)]  # "--" alike in all: not compared
        for word in typed.split() if not head else ():
            if word.startswith("--") and (hint := did_you_mean(word.split("=", 1)[0][2:], names, "--{}")):
                return hint
        return ""


class _Version(argparse.Action):
    """--version, the version looked up only when asked for (see installed_version)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> NoReturn:
        print(f"{parser.prog} {installed_version()}")  # on stdout, as argparse's own version action
        parser.exit()


def _typed(setting: Setting) -> Any:
    """An argparse type from the setting's parser, which the app's form uses too."""
    read = setting.kind.parse
    assert read is not None

    def parse(text: str) -> Any:
        try:
            value = read(text)
        except ValueError:
            raise argparse.ArgumentTypeError(unreadable(setting.key, text)) from None
        return list(value) if isinstance(value, tuple) else value  # x = [] in TOML is a list

    parse.__name__ = setting.key  # argparse names the type in its messages
    return parse


def _arguments(setting: Setting) -> dict[str, Any]:
    """add_argument's keywords for a setting."""
    if setting.action == "store_true":
        return {"action": "store_true"}
    if setting.action in ("switch_off", "switch_on"):
        return {"dest": setting.dest, "action": "store_const", "const": setting.action == "switch_on"}
    found: dict[str, Any] = {"metavar": setting.metavar}
    if setting.action == "append":
        found["action"] = "append"
    if setting.kind.on_command_line:
        found["type"] = _typed(setting)
    elif setting.kind.parse is float:  # --reg: argparse's own float and its own message
        found["type"] = float
    return found


#: Flags of the command line alone, no setting (a TOML file cannot name code to run or the
#: Python to run it in): how --model's file is loaded (docs/how-to/course-code.md, Loading your
#: file as it was written).
LOADING_FLAGS: dict[str, dict[str, Any]] = {
    "--run-module": {"action": "store_const", "const": True,
                     "help": "with --model: run the file's whole top level at import (by default the "
                             "statements that run its training or I/O are left out)"},
    "--python": {"metavar": "PATH",
                 "help": "with --model: run your model in this Python (3.11 or later, with NumPy), e.g. "
                         "your course's environment's"},
}


def installed_version() -> str:
    """The version the package's metadata holds (pyproject.toml's, as installed)."""
    # Imported here: importlib.metadata (and the email package under it) is start-up time that
    # only --version needs.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PROG)
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser(also_known: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    """The flags' parser; `also_known`: flags a typo may have meant that another parser reads
    (serve's)."""
    parser = _FlagParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG)
    parser.also_known = also_known
    parser.add_argument("--version", action=_Version, nargs=0, help="show program's version number and exit")
    groups = {name: parser.add_argument_group(title, text) for name, (title, text) in GROUPS.items()}
    for setting in SETTINGS:
        if setting.flag == "":  # a TOML file's own key ([keymap])
            continue
        where = groups[setting.group] if setting.group else parser
        where.add_argument(f"--{setting.flag_name}", help=setting.help, **_arguments(setting))
    for name, keywords in LOADING_FLAGS.items():
        parser.add_argument(name, **keywords)
    return parser


def join_negative_values(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """`--x -0.5,1,2` as typed: argparse alone takes '-0.5,1,2' for a flag."""
    takes_value = {o for a in parser._actions if a.nargs is None and a.const is None
                   for o in a.option_strings}
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in takes_value and i + 1 < len(argv) and argv[i + 1].startswith("-") \
                and argv[i + 1] not in takes_value and not argv[i + 1].startswith("--"):
            out.append(f"{arg}={argv[i + 1]}")
            i += 2
        else:
            out.append(arg)
            i += 1
    return out
