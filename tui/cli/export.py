"""--export-notebook FILE.ipynb: the command line's side of the notebook export (the rules
between flags, the message, the write); tui.output.notebook builds the notebook.

Errors are one line, "--export-notebook: ...", with exit status 2 (1 for a write that fails);
tui.cli.files checks the file before anything runs and writes it whole.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from tui.cli.files import write_output
from tui.cli.options import PROG
from tui.output.notebook import ExportError, notebook_of
from tui.text import printable

if TYPE_CHECKING:
    from engine.data.batches import Data
    from engine.maths.network import Params
    from tui.cli.options import Options


def export_notebook(options: Options, data: Data | None, params: Params | None = None) -> int:
    """Write the notebook to options.export_notebook (checked with the other outputs before,
    by tui.cli.files, and written as they are: whole or not at all); print where. Exit status
    0; 2 with one line on stderr for a run that cannot be exported; 1 for a failed write."""
    import nbformat

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
