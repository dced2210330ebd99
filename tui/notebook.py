"""--export-notebook FILE.ipynb: the run the other flags describe, written as a Jupyter notebook.

engine/notebook.py writes the cells' text; this module runs the stepper for the losses the
notebook's introduction quotes, builds an nbformat 4 notebook, validates it with nbformat and
writes it (tui.outputs checks the file before anything runs and writes it whole). Errors are
one line, "--export-notebook: ...", with exit status 2 (1 for a write that fails).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from tui.cli import PROG
from tui.text import printable

if TYPE_CHECKING:
    from engine.batches import Data
    from engine.network import Params
    from tui.cli import Options


class ExportError(Exception):
    """A run that cannot be exported as a notebook: the message follows '--export-notebook: '."""


def notebook_of(options: Options, data: Data | None, params: Params | None = None) -> Any:
    """The nbformat notebook of the run (from `params` when given: a session's or --params'
    initial parameters), validated."""
    import nbformat

    from engine.notebook import Run, TooLarge, cells
    from engine.stepper import Stepper

    config = options.config
    if options.model is not None:
        raise ExportError("exports the built-in network; a --model file's maths is its own: leave "
                          "--model out")
    if options.explain or options.format != "text":
        raise ExportError("writes a notebook instead of a report: leave --explain and --format out")
    if config.inject_bug:
        raise ExportError("the notebook writes the correct backward pass; a fault drill "
                          "(--inject-bug) is not exported: leave it out")
    stepper = Stepper(config, data=data, max_history=8, keep_trail=False)
    if params is not None:
        stepper.start_from(params)
    stepper.gradcheck_enabled = False  # the losses only; the notebook checks the gradients itself
    initial = stepper.initial.params
    losses: list[float] = []
    final: float | None = None
    for state in stepper.iter_steps(config.steps):
        assert state.forward is not None and state.update is not None
        losses.append(state.forward.loss)
        final = state.update.loss_after
    resolved = stepper.config
    run = Run(resolved.architecture, dict(initial), resolved.lr, resolved.eps, resolved.steps,
              resolved.seed, resolved.init, resolved.gradcheck,
              x=None if data is not None else stepper.x, y=resolved.y, data=data,
              losses=losses, final_loss=final)
    try:
        made = cells(run)
    except TooLarge as error:
        raise ExportError(str(error)) from None
    v4 = nbformat.v4  # nbformat has no type hints: its calls are untyped
    notebook = v4.new_notebook()  # type: ignore[no-untyped-call]
    notebook.cells = [v4.new_markdown_cell(cell.source)  # type: ignore[no-untyped-call]
                      if cell.kind == "markdown"
                      else v4.new_code_cell(cell.source)  # type: ignore[no-untyped-call]
                      for cell in made]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    nbformat.validate(notebook)  # raises nbformat.ValidationError: a bug here, not the user's
    return notebook


def export_notebook(options: Options, data: Data | None, params: Params | None = None) -> int:
    """Write the notebook to options.export_notebook (checked with the other outputs before,
    by tui.outputs, and written as they are: whole or not at all); print where. Exit status
    0; 2 with one line on stderr for a run that cannot be exported; 1 for a failed write."""
    import nbformat

    from tui.outputs import write_output

    assert options.export_notebook is not None
    try:
        notebook = notebook_of(options, data, params)
    except ExportError as error:
        print(f"{PROG}: error: --export-notebook: {printable(str(error), oneline=True)}", file=sys.stderr)
        return 2
    text: str = nbformat.writes(notebook)  # type: ignore[no-untyped-call]
    text = text if text.endswith("\n") else f"{text}\n"  # as nbformat.write ends it
    status = write_output("--export-notebook", options.export_notebook, text.encode("utf-8"))
    if status == 0:
        print(f"Wrote the notebook of the run to {printable(options.export_notebook, oneline=True)}")
    return status
