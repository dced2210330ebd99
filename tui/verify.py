"""Gradient checks for a test suite: a model file, or forward and backward functions, run for
a few steps with every gradient checked, and the verdict returned (docs/how-to/ci.md,
Checks in CI and in a pytest suite).

    from tui.verify import check_model

    def test_backprop():
        result = check_model("model.py", steps=10, dataset="moons", batch=16)
        assert result.passed, result  # str(result): the failing tensors and the diagnosis

check_model runs the file exactly as `backprop-stepper --headless --model FILE` does: its
arguments become that command line, parsed, checked and loaded by the same code
(tui.cli.options, tui.cli.load), the stepper built as the report builds it
(tui.cli.headless.report_stepper), the verdict counted as the exit status counts it
(engine.run.verdict), and the file's process closed before it returns. So the test and the
command line cannot disagree: result.status is the command's exit status (0 or 1).

check_functions takes the functions themselves (the notebook's contract: forward(x, params,
y=None), backward(x, y, params, cache), optional sgd_update and init_params) and calls them
in this process through the same Contract a model file's process uses.

Both raise ValueError for settings the command line would refuse (its message), and
engine.usermodel.contract.ModelError for a model that fails to load or breaks its contract.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.run.verdict import CheckResult, StepVerdict, Tally, TensorFailure
from engine.usermodel.contract import Contract, ModelError
from engine.usermodel.inprocess import InProcess
from tui.cli.headless import diverged_origin, report_stepper
from tui.cli.load import load_user_model, opened
from tui.cli.options import Options, UsageError, parse

if TYPE_CHECKING:
    from engine.data.batches import Data
    from engine.model.protocol import Model
    from engine.run.session import Session

__all__ = ["CheckResult", "ModelError", "StepVerdict", "TensorFailure", "check_functions", "check_model"]

#: Flags whose output a check never writes: refused rather than silently ignored.
NOT_WRITTEN = ("save_session", "export_params", "export_notebook", "explain")


def check_model(model: str | os.PathLike[str], *, steps: int = 10, dataset: str | None = "moons",
                batch: int | None = 16, hidden: Sequence[int] | None = None, seed: int | None = None,
                flags: Sequence[str] = ()) -> CheckResult:
    """Check a model file over `steps` steps, every step's gradients checked, in a process
    of its own as `backprop-stepper --headless --model FILE` runs it.

    dataset, batch: the data set and the rows a step (batch is not passed without a data
    set, where a step is the notebook's one sample); hidden, seed: as --hidden and --seed
    (None: the command line's default); flags: any other flags, as typed (["--lr", "0.05",
    "--convention", "cs231n"]). ValueError for what the command line refuses; ModelError
    for a file that fails to load or breaks its contract."""
    options, data, session = _opened(["--model", os.fspath(model), *_settings(steps, dataset, batch, hidden,
                                                                               seed), *flags])
    try:
        loaded = load_user_model(options)
    except UsageError as error:
        raise ValueError(str(error)) from None
    assert loaded is not None
    try:
        return _checked(options, loaded, data, session)
    finally:
        loaded.close()


def check_functions(forward: Callable[..., Any], backward: Callable[..., Any], *,
                    sgd_update: Callable[..., Any] | None = None,
                    init_params: Callable[..., Any] | None = None, batched: bool = False,
                    steps: int = 10, dataset: str | None = "moons", batch: int | None = 16,
                    hidden: Sequence[int] | None = None, seed: int | None = None,
                    flags: Sequence[str] = ()) -> CheckResult:
    """Check forward and backward functions of the notebook's contract
    (docs/reference/model-contract.md) in this process: as check_model, without a file or a
    process. `batched`: the functions take a batch whole (a file's BATCHED = True). ModelError
    when they break the contract, named by the file forward is defined in."""
    options, data, session = _opened([*_settings(steps, dataset, batch, hidden, seed), *flags])
    if options.model is not None or options.config.inject_bug is not None:
        raise ValueError("check_functions checks the functions it is given: leave --model and "
                         "--inject-bug out")
    where = Path(inspect.getsourcefile(forward) or "<functions>")
    return _checked(options, InProcess(Contract(where, forward, backward, sgd_update, init_params, batched)),
                    data, session)


def _settings(steps: int, dataset: str | None, batch: int | None, hidden: Sequence[int] | None,
              seed: int | None) -> list[str]:
    """The keyword arguments as the command line's flags."""
    given = [("--steps", steps), ("--dataset", dataset), ("--batch", batch if dataset else None),
             ("--hidden", None if hidden is None else ",".join(map(str, hidden))), ("--seed", seed)]
    return [text for flag, value in given if value is not None for text in (flag, str(value))]


def _opened(flags: list[str]) -> tuple[Options, Data | None, Session | None]:
    """The flags parsed and the files they name read, as the command line does: a report's
    options (--headless), or ValueError with the command line's message."""
    try:
        options = parse(["--headless", *flags])
        options, data, session = opened(options)
    except UsageError as error:
        raise ValueError(str(error)) from None
    written = [name for name in NOT_WRITTEN if getattr(options, name)]
    if written:
        raise ValueError(f"--{written[0].replace('_', '-')}: a check writes no files and no report; "
                         "leave it out")
    return options, data, session


def _checked(options: Options, model: Model, data: Data | None, session: Session | None) -> CheckResult:
    """The steps run and counted, as the headless report runs and counts them."""
    try:
        stepper = report_stepper(options, model, data, session)
    except UsageError as error:
        raise ValueError(str(error)) from None
    tally = Tally(keep=True, origin=diverged_origin(stepper))
    for state in stepper.iter_steps(options.config.steps):
        tally.add(state)
    return CheckResult.of(model.name, tally)
