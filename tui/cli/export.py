"""--export-notebook FILE.ipynb: the command line's side of the notebook export (the run's
starting parameters, the rules between flags, the message, the write); tui.output.notebook
builds the notebook.

Errors are one line, "--export-notebook: ...", with exit status 2 (1 for a write that fails);
tui.cli.files checks the file before anything runs and writes it whole.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import TYPE_CHECKING

import nbformat

from engine.run.stepper import Phase
from tui.cli.files import write_output
from tui.cli.load import build_stepper
from tui.cli.options import PROG, Options, UsageError
from tui.cli.stderr import usage
from tui.output.notebook import ExportError, notebook_of
from tui.text import printable

if TYPE_CHECKING:
    from engine.data.batches import Data
    from engine.maths.network import Params
    from engine.run.session import Session


def export_run(options: Options, data: Data | None, session: Session | None) -> int:
    """--export-notebook: the run from its initial parameters (a session's or --params' when
    given) for --steps N steps, or, for a session, the whole steps it has finished."""
    if session is None and options.params is None:
        return export_notebook(options, data)
    if session is not None and any(action.startswith("set ") for action, _ in session.path):
        return usage(UsageError("--export-notebook: this session changes its settings mid-run (its path "
                                "holds \"set ...\"); a notebook runs one setting throughout"))
    try:
        start = build_stepper(options, None, data, session if options.model is None else None,
                              max_history=1, keep_trail=False)
    except UsageError as error:
        return usage(error)
    steps = options.config.steps
    if session is not None:
        state = start.state
        steps = max(1, state.step - (state.last_phase is not Phase.UPDATE))
    return export_notebook(replace(options, config=replace(options.config, steps=steps)), data,
                           dict(start.initial.params))


def export_notebook(options: Options, data: Data | None, params: Params | None = None) -> int:
    """Write the notebook to options.export_notebook (checked with the other outputs before,
    by tui.cli.files, and written as they are: whole or not at all); print where. Exit status
    0; 2 with one line on stderr for a run that cannot be exported; 1 for a failed write."""
    assert options.export_notebook is not None
    try:
        if options.model is not None:
            raise ExportError("exports the built-in network; a --model file's maths is its own: leave "
                              "--model out")
        if options.explain or options.format != "text":
            raise ExportError("writes a notebook instead of a report: leave --explain and --format out")
        notebook = notebook_of(options.config, data, params)
    except ExportError as error:
        print(f"{PROG}: error: --export-notebook: {printable(str(error), oneline=True)}", file=sys.stderr)
        return 2
    text: str = nbformat.writes(notebook)  # type: ignore[no-untyped-call]
    text = text if text.endswith("\n") else f"{text}\n"  # as nbformat.write ends it
    status = write_output("--export-notebook", options.export_notebook, text.encode("utf-8"))
    if status == 0:
        print(f"Wrote the notebook of the run to {printable(options.export_notebook, oneline=True)}")
    return status
