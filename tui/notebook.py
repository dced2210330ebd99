"""--export-notebook FILE.ipynb: the run the other flags describe, written as a Jupyter notebook.

engine/notebook.py writes the cells' text; this module runs the stepper for the losses the
notebook's introduction quotes, builds an nbformat 4 notebook, validates it with nbformat and
writes it. Errors are one line, "--export-notebook: ...", with exit status 2.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.cli import PROG
from tui.text import printable

if TYPE_CHECKING:
    from engine.batches import Data
    from engine.network import Params
    from tui.cli import Options


class ExportError(Exception):
    """A notebook that cannot be exported or written: the message follows '--export-notebook: '."""


def check_path(text: str) -> Path:
    """The file to write: refused when empty, a directory, or in a directory that does not exist
    or cannot be written (an existing file is replaced)."""
    if not text:
        raise ExportError("the file name is empty")
    path = Path(text)
    if path.is_dir():
        raise ExportError(f"{text} is a directory; give a file name such as run.ipynb")
    parent = path.parent
    if not parent.is_dir():
        raise ExportError(f"cannot write {text}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ExportError(f"cannot write {text}: permission denied")
    return path


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
    """Write the notebook to options.export_notebook; print where; exit status 0, or 2 with
    one line on stderr."""
    import nbformat

    text = options.export_notebook or ""
    try:
        path = check_path(text)
        notebook = notebook_of(options, data, params)
        try:
            with path.open("w", encoding="utf-8") as file:
                nbformat.write(notebook, file)  # type: ignore[no-untyped-call]
        except OSError as error:
            raise ExportError(f"cannot write {text}: {error.strerror or error}") from None
    except ExportError as error:
        print(f"{PROG}: error: --export-notebook: {printable(str(error), oneline=True)}", file=sys.stderr)
        return 2
    print(f"Wrote the notebook of the run to {printable(str(path), oneline=True)}")
    return 0
