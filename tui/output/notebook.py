"""--export-notebook FILE.ipynb: the run the other flags describe, written as a Jupyter notebook.

tui/output/cells.py writes the cells' text; this module runs the stepper for the losses the
notebook's introduction quotes, builds an nbformat 4 notebook and validates it with nbformat
(tui.cli.export writes it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import nbformat

from engine.maths.optimizers import READS
from engine.run.stepper import Stepper
from tui.output.cells import Run, TooLarge, cells

if TYPE_CHECKING:
    from engine.data.batches import Data
    from engine.maths.network import Params
    from engine.settings.config import Config


class ExportError(Exception):
    """A run that cannot be exported as a notebook: the message follows '--export-notebook: '."""


def notebook_of(config: Config, data: Data | None, params: Params | None = None) -> Any:
    """The nbformat notebook of the run (from `params` when given: a session's or --params'
    initial parameters), validated."""
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
              losses=losses, final_loss=final, optimizer=resolved.optimizer,
              settings=tuple((key, float(getattr(resolved, key))) for key in READS[resolved.optimizer]),
              decay=resolved.decay)
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
