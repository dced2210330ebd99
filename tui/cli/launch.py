"""Opening the Textual app on the run the flags describe: the only place the command line
imports tui.app, when the app is opened, so the headless run never pays for Textual.
"""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING

from engine.usermodel.errors import ModelError
from tui.cli.load import app_stepper
from tui.cli.options import PROG, Options, UsageError
from tui.cli.stderr import echo_to_stderr, model_error, usage

if TYPE_CHECKING:
    from engine.data.batches import Data
    from engine.run.session import Session
    from engine.usermodel.client import UserModel

#: A session longer than this many actions takes a second or more to replay: say so first.
SLOW_REPLAY = 400


def launch(options: Options, model: UserModel | None, data: Data | None = None,
           session: Session | None = None) -> int:
    """The app, once its stepper is built (a model's contract rehearsed); its exit status,
    or 2 with one line on stderr for a file or model refused before it opens."""
    if session is not None and session.replayed and sum(count for _, count in session.path) > SLOW_REPLAY:
        print(f"{PROG}: replaying the session's {sum(c for _, c in session.path):,} actions…",
              file=sys.stderr)
    imported = 0 if model is None else len(model.log)
    try:
        stepper = app_stepper(options, model, data, session)
    except UsageError as error:
        return usage(error)
    except ModelError as error:
        assert model is not None
        echo = echo_to_stderr(model.name)
        for captured in list(model.log)[imported:]:
            echo(captured)
        return model_error(error)
    # The collector paused until the first frame (StepperApp.on_mount turns it back on): what
    # starting makes (the app's modules, Textual's styles, the widgets: about 64,000 objects)
    # is not garbage, and walking it again every 700 new objects, once in full, took about
    # 70 ms of the first frame's 340 (issue 28).
    gc.disable()
    try:
        # Textual only now, when the app opens: the headless run and serve never import it.
        from tui.app import writer
        from tui.app.app import StepperApp

        writer.install()  # the app ends even when its terminal went away first
        app = StepperApp(stepper, keymap=options.keymap, served=options.served,
                         model_file=None if options.model is None else str(options.model))
        app.run()
    finally:
        gc.enable()
    return app.return_code or 0  # Textual sets 1 when the app died of an exception
