"""The command line (`backprop-stepper` and `python -m tui`, entered through tui.cli.start):
the flags parsed, then the run handed to the module that does it.

Everything is parsed and checked before anything runs, so bad input gets one clear
message and exit status 2, with nothing printed on stdout. A user's model file (--model)
is loaded before the app starts, so a file that fails to load gets the same treatment.

- tui.cli.load: the files the flags name, the model, the stepper;
- tui.cli.headless: --headless, the report on stdout;
- tui.cli.launch: the Textual app;
- tui.cli.export: --export-notebook;
- tui.cli.serve: `backprop-stepper serve`, the app in a browser.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from engine.model.protocol import Captured
from engine.usermodel.errors import ModelError
from tui.cli.headless import headless
from tui.cli.launch import launch
from tui.cli.load import load_user_model, opened
from tui.cli.options import PROG, Options, UsageError, parse
from tui.cli.stderr import echo_to_stderr, model_error, usage
from tui.text import printable

if TYPE_CHECKING:
    from engine.data.batches import Data
    from engine.run.session import Session
    from engine.usermodel.client import UserModel


def main(argv: list[str] | None = None) -> int:
    """The command line. ctrl+c anywhere in it (a CSV loading, a notebook being written, a
    headless run) is one line and exit status 130: the user knows why; no traceback."""
    if sys.stderr is None:  # started with stderr closed: print(file=None) would go to stdout
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    try:
        return _main(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:  # the app in a browser
        from tui.cli import serve  # only for serve: its sockets are no part of the headless start-up

        return serve.main(argv[1:])
    try:
        options = parse(argv)
    except UsageError as error:
        print(f"{PROG}: error: {printable(str(error), oneline=True)}\nTry '{PROG} --help' for the flags.",
              file=sys.stderr)
        return 2
    try:  # the data before anything runs: a bad file gets one line and nothing else happens
        options, data, session = opened(options)
    except UsageError as error:
        return usage(error)
    if options.export_notebook is not None:  # the run as a notebook, written instead of run
        from tui.cli.export import export_run  # only here: nbformat takes 0.1 s to import

        return export_run(options, data, session)
    return _run(options, data, session)


def _run(options: Options, data: Data | None, session: Session | None) -> int:
    """The headless report or the app, with --model's file loaded first and closed after
    (its atexit output, if any, reaches stderr, headless too)."""
    model: UserModel | None = None
    try:
        try:
            model = load_user_model(options)
        except ModelError as error:
            if error.output:
                assert options.model is not None
                echo_to_stderr(options.model.name)(Captured("import", error.output))
            return model_error(error)
        except UsageError as error:
            return usage(error)
        run = headless if options.headless else launch
        return run(options, model, data, session)
    finally:
        if model is not None:
            model.close()
