"""Entry point: `backprop-stepper` and `python -m tui`.

Parses and validates everything before doing anything, so bad input gets one clear
message and exit status 2, with nothing printed on stdout. A user's model file (--model)
is loaded before the app starts, so a file that fails to load gets the same treatment.
Textual is imported only when the app is opened.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from engine.files import shown_name
from tui.cli.files import check_outputs
from tui.cli.options import PROG, Options, UsageError, parse, usage
from tui.text import printable

if TYPE_CHECKING:
    from pathlib import Path

    from engine.data.batches import Data
    from engine.run.session import Session
    from engine.run.stepper import Stepper
    from engine.usermodel.client import Captured, ModelError, UserModel


def _model_error(error: ModelError) -> int:
    """A broken model: the user's traceback lines, then one line naming the problem, last
    where the eye lands (what the model printed is already on stderr)."""
    if error.user_traceback:
        print(printable(error.user_traceback), file=sys.stderr)
    print(f"{PROG}: error: {printable(error.message, oneline=True)}", file=sys.stderr)
    return 2


def _echo_to_stderr(name: str) -> Callable[[Captured], None]:
    """Headless: show what the model prints on stderr (stdout is the report), each line
    marked "  | " so it is not mistaken for the report, under a header whenever the
    printing function changes (a chatty forward in the loop gradient check gets one
    header, not one per call). Escape sequences are removed: the model's output must not
    clear the user's screen or set the terminal's title."""
    name = printable(name, oneline=True)
    last: list[str] = []

    def echo(captured: Captured) -> None:
        if last != [captured.source]:
            print(f"{PROG}: {name} printed {captured.during}:", file=sys.stderr)
            last[:] = [captured.source]
        for line in printable(captured.text).rstrip("\n").split("\n"):
            print(f"  | {line}", file=sys.stderr)

    return echo


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
    if argv[:1] == ["serve"]:  # the app in a browser (tui.cli.serve)
        from tui.cli import serve

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
        print(f"{PROG}: error: {printable(str(error), oneline=True)}", file=sys.stderr)
        return 2
    if options.export_notebook is not None:  # the run as a notebook, written instead of run
        return _export_notebook(options, data, session)
    from engine.usermodel.contract import ModelError

    model: UserModel | None = None
    try:
        try:
            model = load_user_model(options)
        except ModelError as error:
            if error.output:
                from engine.usermodel.client import Captured

                assert options.model is not None
                _echo_to_stderr(options.model.name)(Captured("import", error.output))
            return _model_error(error)
        except UsageError as error:
            return _usage(error)
        if options.headless:
            return _headless(options, model, data, session)
        return _app(options, model, data, session)
    finally:
        if model is not None:
            model.close()  # its atexit output, if any, reaches stderr (headless) too


def opened(options: Options) -> tuple[Options, Data | None, Session | None]:
    """The files the options name, read and checked before anything runs: the outputs'
    folders, then the session (which fixes the configuration and holds its data) or the
    data; the options as the files complete them. A UsageError naming the problem."""
    check_outputs(options)
    if options.session is not None:
        options, session = with_session(options)
        return options, session.data, session
    options, data = with_data(options)
    return options, data, None


def load_user_model(options: Options) -> UserModel | None:
    """--model's file, imported as the app and the report run it: with the convention, the
    network's sizes and --reg the flags give (a course's model is built from them); None
    without --model. ModelError for a file that does not load; UsageError for --reg with a
    convention that takes none."""
    if options.model is None:
        return None
    from engine.model.conventions import WITH_REG
    from engine.usermodel.client import load_model  # only now: it costs start-up time

    model = load_model(options.model, options.model_timeout, options.model_memory, options.convention,
                       options.config.architecture.sizes, options.reg or 0.0)
    if options.reg is not None and model.convention not in WITH_REG:
        model.close()
        raise UsageError(f"--reg: {options.model.name} follows the {model.convention} convention, "
                         f"which takes no regularisation; --reg applies to {', '.join(WITH_REG)}")
    return model


def with_data(options: Options) -> tuple[Options, Data | None]:
    """The data the options name, loaded, split and planned, and the options with the
    network's inputs and classes the data's; a UsageError ("--data: line 3: ...") for a
    file that cannot be read or a setting the data contradict."""
    config = options.config
    if not config.learns_from_data:
        return options, None
    from dataclasses import replace

    from engine.data.fit import fit_to_data
    from engine.data.sets import DataError
    from engine.settings.config import ConfigError

    try:
        fitted, data = fit_to_data(config, options.given)
    except DataError as error:
        message = str(error)  # a file's problem names the file; a line's problem does not
        raise UsageError(f"--data: {message if config.data in message else f'{config.data}: {message}'}") \
            from None
    except ConfigError as error:
        raise usage(error) from None
    return replace(options, config=fitted), data


def with_session(options: Options) -> tuple[Options, Session]:
    """The session file --session names, read and checked (nothing in it is run), and the
    options with its configuration; a UsageError naming the problem otherwise."""
    from dataclasses import replace

    from engine.run.session import SessionError, read

    assert options.session is not None
    try:
        session = read(options.session)
    except SessionError as error:
        raise file_error("--session", options.session, error) from None
    if session.model is not None and options.model is None:
        raise UsageError(f"--session: {shown_name(options.session)} was recorded with the model file "
                         f"{session.model!r}; a session never loads code: give --model "
                         f"{session.model} to replay it")
    if session.model is None and options.model is not None:
        raise UsageError("--model: this session was recorded with the built-in network; leave "
                         "--model out")
    if options.model is not None:  # before its code runs: the same code, or none of it
        _check_model_source(session, options.model)
    if options.explain and session.config.learns_from_data:
        raise UsageError("--explain: explanations follow one sample's numbers; this session trains on "
                         "data: leave --explain out")
    if session.convention is not None:  # a course's file: its convention and reg are the session's
        if options.convention not in (None, session.convention):
            raise UsageError(f"--convention: this session was recorded with the {session.convention} "
                             f"convention; leave --convention out or give {session.convention}")
        if options.reg is not None and options.reg != session.reg:
            raise UsageError(f"--reg: this session was recorded with --reg {session.reg:g}; leave --reg "
                             "out to replay it as recorded")
        options = replace(options, convention=session.convention, reg=session.reg)
    # The run's own settings stay the session's; only the report's length and trace are this
    # command's.
    from engine.settings.config import ConfigError, validate

    config = replace(session.config, steps=options.config.steps)
    if options.session_trace is not None:
        try:
            config = validate(replace(config, trace=options.session_trace), given={"trace"})
        except ConfigError as error:
            raise usage(error) from None
    return replace(options, config=config), session


def _check_model_source(session: Session, model: Path) -> None:
    """UsageError when --model is not the code the session was recorded with (a file that
    cannot be read is left to load_model, which says why)."""
    from engine.files import MAX_MODEL_BYTES, read_user_file
    from engine.run.session import model_difference

    try:
        source = read_user_file(model, "Python model file", MAX_MODEL_BYTES)
    except OSError:
        return
    problem = model_difference(session, model.name, source)
    if problem:
        raise UsageError(f"--model: {problem}")


def file_error(flag: str, path: object, error: Exception) -> UsageError:
    """A file's trouble after its flag: the file named once (a missing or non-regular file's
    message names it already; what its contents break does not)."""
    shown = shown_name(path)
    return UsageError(f"{flag}: {error}" if shown in str(error) else f"{flag}: {shown}: {error}")


def _export_notebook(options: Options, data: Data | None, session: Session | None) -> int:
    """--export-notebook: the run from its initial parameters (a session's or --params' when
    given) for --steps N steps, or, for a session, the whole steps it has finished."""
    from dataclasses import replace

    from engine.run.stepper import Phase
    from tui.cli.export import export_notebook

    if session is None and options.params is None:
        return export_notebook(options, data)
    try:
        start = build_stepper(options, None, data, session if options.model is None else None,
                              max_history=1, keep_trail=False)
    except UsageError as error:
        return _usage(error)
    steps = options.config.steps
    if session is not None:
        state = start.state
        steps = max(1, state.step - (state.last_phase is not Phase.UPDATE))
    return export_notebook(replace(options, config=replace(options.config, steps=steps)), data,
                           dict(start.initial.params))


def build_stepper(options: Options, model: UserModel | None, data: Data | None,
                  session: Session | None, max_history: int | None = None,
                  keep_trail: bool = True) -> Stepper:
    """The stepper the options ask for: a session reopened (its path replayed), or a fresh
    one, started from --params when given. UsageError for a session or parameters file
    that does not fit; the model's own errors (ModelError) pass through."""
    from engine.run.session import SessionError, open_session, read_params
    from engine.run.stepper import Stepper

    if session is not None:
        try:
            stepper = open_session(session, model, max_history=max_history)
        except SessionError as error:
            raise file_error("--session", options.session, error) from None
        stepper.keep_trail = keep_trail
        return stepper
    stepper = Stepper(options.config, model=model, max_history=max_history, keep_trail=keep_trail, data=data)
    if options.params is not None:
        try:
            stepper.start_from(read_params(options.params, stepper.initial.params))
        except SessionError as error:
            raise file_error("--params", options.params, error) from None
    return stepper


def _usage(error: UsageError) -> int:
    print(f"{PROG}: error: {printable(str(error), oneline=True)}", file=sys.stderr)
    return 2


def _save_files(options: Options, stepper: Stepper) -> int:
    """Headless, after the report: --save-session and --export-params. Each is written
    whole or not at all (tui.cli.files)."""
    from engine.run.session import params_to_bytes, record, to_bytes
    from tui.cli.files import write_output

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


class _BadElement(Exception):
    """An --explain element the final state does not have; the message is already printed."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _bad_element(known: dict[str, tuple[int, ...]],
                 elements: list[tuple[str, tuple[int, ...]]]) -> int | None:
    """Exit status 2, with the message (naming the tensors and shapes) on stderr, for the
    first element that is not in `known`; None when all are."""
    from engine.explain.elements import resolve

    for name, index in elements:
        try:
            resolve(known, name, index)
        except ValueError as error:
            print(f"{PROG}: error: --explain: {printable(str(error), oneline=True)}", file=sys.stderr)
            return 2
    return None


def _lazily(make: Callable[[], str]) -> Iterator[str]:
    """One chunk, made only when it is reached: after the steps before it have run."""
    yield make()


def _headless(options: Options, model: UserModel | None, data: Data | None = None,
              session: Session | None = None) -> int:
    from dataclasses import replace

    from engine.explain.elements import Explanation, final_shapes, parse_element, resolve, shapes
    from engine.explain.elements import explain as explain_element
    from engine.run.stepper import Phase
    from engine.usermodel.contract import ModelError
    from tui.output.report import explanations_text, json_report, text_report

    # Headless never steps back and shows no loss history: a few phases of undo and no
    # trail keep a long run in constant memory.
    if model is not None:
        from engine.usermodel.client import Captured

        model.on_output = _echo_to_stderr(model.name)
        if model.import_output:
            model.on_output(Captured("import", model.import_output))
    try:  # a user's init_params runs here (and a session's path is replayed)
        stepper = build_stepper(options, model, data, session, max_history=8, keep_trail=False)
    except ModelError as error:
        return _model_error(error)
    except UsageError as error:
        return _usage(error)
    count = options.config.steps  # whole steps to run from here
    continues: dict[str, object] | None = None
    if session is not None:  # --steps more from the saved state: the report numbers them on
        state = stepper.state
        first = state.step + 1 if state.last_phase is Phase.UPDATE else state.step
        continues = {"file": str(options.session), "step": state.step,
                     "phase": None if state.last_phase is None else state.last_phase.value,
                     "first_step": first}
        options = replace(options, config=replace(options.config, steps=first + options.config.steps - 1))
    if "check-every" in options.given:  # every Nth step (0: none); else as --no-gradcheck says
        stepper.check_every = options.config.check_every
    elements = [parse_element(text) for text in options.explain]  # their syntax checked by parse
    # The built-in network's final shapes follow from the architecture: a bad name or index
    # is refused before the run, so the report can still be streamed with nothing half-done.
    implied = final_shapes(options.config.architecture, options.config.gradcheck)
    if elements and model is None and (problem := _bad_element(implied, elements)) is not None:
        return problem
    explain: Callable[[], list[Explanation]] | None = None
    if elements:
        def explain() -> list[Explanation]:
            view = stepper.view()  # the final state: after the last update
            known = shapes(view.state)
            # A user's model's tensors are known only now; its report is buffered, so a bad
            # element still leaves stdout empty.
            problem = _bad_element(known, elements)
            if problem is not None:
                raise _BadElement(problem)
            forward = stepper.model.forward if view.user_code else None
            return [explain_element(view, resolve(known, name, index), index, forward)
                    for name, index in elements]
    steps = stepper.iter_steps(count)
    chunks: Iterable[str]
    if options.format == "json":
        chunks = json_report(options.config, stepper, steps, explain, continues)
    else:
        chunks = text_report(options.config, stepper, steps)
        if explain is not None:
            chunks = itertools.chain(chunks, _lazily(lambda: explanations_text(explain())))
    separator = "" if options.format == "json" else "\n"
    if model is None:  # the built-in network cannot fail mid-run: stream, in constant memory
        status = _write(separator * bool(i) + chunk for i, chunk in enumerate(chunks))
    else:
        try:  # a user's model may break its contract at any step: nothing half-done on stdout
            report = list(chunks)
        except ModelError as error:
            return _model_error(error)
        except _BadElement as bad:
            return bad.status
        status = _write([separator.join(report)])
    return status or _save_files(options, stepper)


def app_stepper(options: Options, model: UserModel | None, data: Data | None,
                session: Session | None) -> Stepper:
    """The stepper the app opens with (build_stepper's). A user's model is also rehearsed
    once (Stepper.dry_run): a broken contract, init_params included, fails here like a load
    error rather than inside the app. UsageError for a session or parameters file that does
    not fit; ModelError for a model that breaks its contract."""
    stepper = build_stepper(options, model, data, session)  # runs the file's init_params
    if model is not None:
        kept = list(model.log)
        stepper.dry_run()
        model.log.clear()  # the app's log starts with the import (and init), not the rehearsal
        model.log.extend(kept)
    return stepper


def _app(options: Options, model: UserModel | None, data: Data | None = None,
         session: Session | None = None) -> int:
    from engine.usermodel.contract import ModelError

    if session is not None and sum(count for _, count in session.path) > 400:  # a second or more
        print(f"{PROG}: replaying the session's {sum(c for _, c in session.path):,} actions…",
              file=sys.stderr)
    imported = 0 if model is None else len(model.log)
    try:
        stepper = app_stepper(options, model, data, session)
    except UsageError as error:
        return _usage(error)
    except ModelError as error:
        assert model is not None
        echo = _echo_to_stderr(model.name)
        for captured in list(model.log)[imported:]:
            echo(captured)
        return _model_error(error)
    from tui.app import writer
    from tui.app.app import StepperApp

    writer.install()  # the app ends even when its terminal went away first
    app = StepperApp(stepper, keymap=options.keymap, served=options.served,
                     model_file=None if options.model is None else str(options.model))
    app.run()
    return app.return_code or 0  # Textual sets 1 when the app died of an exception

