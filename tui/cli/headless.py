"""--headless: the run's report on stdout (text, JSON, or --quiet's lines), then the files
--save-session and --export-params ask for, then the run's verdict as the exit status.

The built-in network's report is streamed a step at a time, in constant memory. A user's
model may break its contract at any step, so its report is buffered and written only
whole: stdout never holds half a report.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from engine.model.protocol import Captured
from engine.run.stepper import TUNABLE, Phase, State, Stepper
from engine.run.verdict import Tally
from engine.usermodel.errors import ModelError
from tui.cli.files import write_output
from tui.cli.load import build_stepper
from tui.cli.options import PROG, Options, UsageError
from tui.cli.stderr import BadElement, echo_to_stderr, model_error, usage
from tui.output.report import explanations_text, json_report, quiet_report, text_report

if TYPE_CHECKING:
    from engine.data.batches import Data
    from engine.explain.elements import Explanation
    from engine.model.protocol import Model
    from engine.run.session import Session
    from engine.usermodel.client import UserModel
    from tui.output.sidecar import Sidecar


def headless(options: Options, model: UserModel | None, data: Data | None = None,
             session: Session | None = None) -> int:
    """The report, then the files, then the verdict (engine.run.verdict). Exit status 0
    every step passed; 1 a gradient check failed (a diagnosis was made) or the run diverged,
    or a report or file could not be written; 2 a flag, file or model refused (one line on
    stderr). The files are written whatever the verdict: the status says it, not that
    nothing was done."""
    if model is not None:
        model.on_output = echo_to_stderr(model.name)
        if model.import_output:
            model.on_output(Captured("import", model.import_output))
    try:  # a user's init_params runs here (and a session's path is replayed)
        stepper = report_stepper(options, model, data, session)
    except ModelError as error:
        return model_error(error)
    except UsageError as error:
        return usage(error)
    count = options.config.steps  # whole steps to run from here
    options, continues = _continued(options, stepper, session)
    explain = None
    if options.explain:
        # Only with --explain: engine.explain's import is start-up time every other run would pay.
        from tui.cli.explain import bad_before_run, elements_of, explainer

        elements = elements_of(options)
        if model is None and (problem := bad_before_run(options, elements)) is not None:
            return problem
        explain = explainer(stepper, elements)
    tally = Tally(origin=diverged_origin(stepper))
    steps = stepper.iter_steps(count)
    if options.output is not None:  # into a file (and a JSON trace's large arrays beside it)
        from tui.cli.reportfile import write_report_file  # only with --output: zipfile's start-up time

        status = write_report_file(options, lambda sidecar: _report(options, stepper, steps, explain,
                                                                       continues, tally, sidecar))
    else:
        status = _print(options, model is None, _report(options, stepper, steps, explain, continues, tally))
    return status or _save_files(options, stepper) or tally.status


def diverged_origin(stepper: Stepper) -> Callable[[State], str | None]:
    """The verdicts' one line on where a diverged step's first inf or NaN came from."""
    def line(state: State) -> str | None:
        from engine.explain.origin import origin_of  # only for a diverged step: start-up time

        found = origin_of(stepper, state)
        return None if found is None else found.line()
    return line


def report_stepper(options: Options, model: Model | None, data: Data | None,
                   session: Session | None) -> Stepper:
    """The stepper a report runs, and tui.verify's check with it: build_stepper's, checking
    every Nth step with --check-every. UsageError for a session or parameters file that
    does not fit; ModelError for a model whose init_params breaks its contract."""
    # Headless never steps back and shows no loss history: no undo and no trail keep a long
    # run in constant memory, the least a step can hold. A session opened or saved keeps a
    # few phases of undo: its file records that history (engine.run.rebuild's checkpoints).
    keep = 8 if session is not None or options.save_session is not None else 0
    stepper = build_stepper(options, model, data, session, max_history=keep, keep_trail=False)
    if "check-every" in options.given:  # every Nth step (0: none); else as --no-gradcheck says
        stepper.check_every = options.config.check_every
    return stepper


def _continued(options: Options, stepper: Stepper,
               session: Session | None) -> tuple[Options, dict[str, object] | None]:
    """A session's run goes --steps more from its saved state, and the report numbers them
    on: the options with the last step's number, and the trace's "session" (None without
    a session)."""
    if session is None:
        return options, None
    state = stepper.state
    first = state.step + 1 if state.last_phase is Phase.UPDATE else state.step
    continues: dict[str, object] = {
        "file": str(options.session), "step": state.step,
        "phase": None if state.last_phase is None else state.last_phase.value, "first_step": first}
    # The settings the path left (a change mid-run, Stepper.retune), which the steps go on with.
    tuned = {key: getattr(stepper.config, key) for key in TUNABLE}
    config = replace(options.config, steps=first + options.config.steps - 1, **tuned)
    return replace(options, config=config), continues


def _report(options: Options, stepper: Stepper, steps: Iterable[State],
            explain: Callable[[], list[Explanation]] | None,
            continues: dict[str, object] | None, tally: Tally,
            sidecar: Sidecar | None = None) -> Iterable[str]:
    """The report's chunks as --format (or --quiet) asks, made as the steps run, each step
    counted into `tally` as it goes by; a JSON trace's large arrays into `sidecar`."""
    if options.quiet:
        if not stepper.max_history:  # nothing reads them: no undo, no session, no trace's head
            stepper.let_go_of_start()
        return quiet_report(tally, steps)
    steps = tally.watch(steps)
    if options.format == "json":
        return json_report(options.config, stepper, steps, explain, continues, sidecar)
    chunks = text_report(options.config, stepper, steps)
    if explain is None:
        return chunks
    return itertools.chain(chunks, _lazily(lambda: explanations_text(explain())))


def _lazily(make: Callable[[], str]) -> Iterator[str]:
    """One chunk, made only when it is reached: after the steps before it have run."""
    yield make()


def _print(options: Options, stream: bool, chunks: Iterable[str]) -> int:
    """The report on stdout: streamed (the built-in network cannot fail mid-run), or else
    buffered whole, so a model's error mid-run leaves stdout empty."""
    separator = "" if options.format == "json" else "\n"
    if stream:
        return _write(separator * bool(i) + chunk for i, chunk in enumerate(chunks))
    try:
        report = list(chunks)
    except ModelError as error:
        return model_error(error)
    except BadElement as bad:
        return bad.status
    return _write([separator.join(report)])


def _write(chunks: Iterable[str]) -> int:
    """The report on stdout, ended by a newline. A reader that stops early (`| head`) is no
    error worth a word: exit 1 quietly, as the Python docs advise for a broken pipe. Any
    other write error (a full disk, a closed stdout) gets one line on stderr and exit 1.
    Either way stdout is pointed at /dev/null, so the interpreter's last flush of what is
    still buffered cannot print "Exception ignored" after us."""
    try:
        if sys.stdout is None:  # Python leaves it None when started with stdout closed
            raise OSError(errno.EBADF, "stdout is closed")
        for chunk in chunks:
            sys.stdout.write(chunk)
        sys.stdout.write("\n")
        sys.stdout.flush()
        return 0
    except OSError as error:
        if not isinstance(error, BrokenPipeError):
            print(f"{PROG}: cannot write the report: {error.strerror or error}", file=sys.stderr)
        with contextlib.suppress(AttributeError, OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _save_files(options: Options, stepper: Stepper) -> int:
    """Headless, after the report: --save-session and --export-params. Each is written
    whole or not at all (tui.cli.files)."""
    if options.save_session is None and options.export_params is None:
        return 0
    from engine.run.session import params_to_bytes, record, to_bytes  # only now: start-up time

    model_name = None if options.model is None else str(options.model)
    wanted: list[tuple[str, Path, Callable[[], bytes]]] = []
    if options.save_session is not None:
        wanted.append(("--save-session", options.save_session,
                       lambda: to_bytes(record(stepper, model_name))))
    if options.export_params is not None:
        wanted.append(("--export-params", options.export_params,
                       lambda: params_to_bytes(stepper.state.params)))
    for flag, path, make in wanted:
        status = write_output(flag, path, make())
        if status:
            return status
    return 0
