"""--session FILE: the session read and checked against the other flags before anything
runs. A session fixes the run's configuration and holds its data; it never loads code, so
a session recorded with a model file needs that same file given again with --model.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from engine.files import MAX_MODEL_BYTES, read_user_file, shown_name
from engine.run.session import Session, SessionError, model_difference, read
from engine.settings.config import ConfigError, validate
from tui.cli.options import Options, UsageError, refused
from tui.cli.stderr import file_error


def with_session(options: Options) -> tuple[Options, Session]:
    """The session file --session names, read and checked (nothing in it is run), and the
    options with its configuration; a UsageError naming the problem otherwise."""
    assert options.session is not None
    try:
        session = read(options.session)
    except SessionError as error:
        raise file_error("--session", options.session, error) from None
    _check_model_flag(options, session)
    if options.explain and session.config.learns_from_data:
        raise UsageError("--explain: explanations follow one sample's numbers; this session trains on "
                         "data: leave --explain out")
    if session.convention is not None:  # a course's file: its convention and reg are the session's
        options = _with_convention(options, session)
    if options.run_module and not session.run_module and session.model is not None:
        raise UsageError("--run-module: this session was recorded with the file's training and I/O left "
                         "out at import; leave --run-module out to replay it as recorded")
    if session.run_module:  # its whole top level ran at import: so it does again
        options = replace(options, run_module=True)
    # The run's own settings stay the session's; only the report's length and trace are this
    # command's.
    config = replace(session.config, steps=options.config.steps)
    if options.session_trace is not None:
        try:
            config = validate(replace(config, trace=options.session_trace), given={"trace"})
        except ConfigError as error:
            raise refused(error) from None
    return replace(options, config=config), session


def _check_model_flag(options: Options, session: Session) -> None:
    """--model given exactly when the session was recorded with a model file, and then the
    same file: a UsageError saying which flag to give or leave out otherwise."""
    assert options.session is not None
    if session.model is not None and options.model is None:
        raise UsageError(f"--session: {shown_name(options.session)} was recorded with the model file "
                         f"{session.model!r}; a session never loads code: give --model "
                         f"{session.model} to replay it")
    if session.model is None and options.model is not None:
        raise UsageError("--model: this session was recorded with the built-in network; leave "
                         "--model out")
    if options.model is not None:  # before its code runs: the same code, or none of it
        _check_model_source(session, options.model)


def _with_convention(options: Options, session: Session) -> Options:
    """The options with a course file's session's convention and --reg, which the flags may
    repeat but not change."""
    assert session.convention is not None
    if options.convention not in (None, session.convention):
        raise UsageError(f"--convention: this session was recorded with the {session.convention} "
                         f"convention; leave --convention out or give {session.convention}")
    if options.reg is not None and options.reg != session.reg:
        raise UsageError(f"--reg: this session was recorded with --reg {session.reg:g}; leave --reg "
                         "out to replay it as recorded")
    if options.model_options and list(options.model_options) != list(session.model_options):
        raise UsageError("--model-option: this session was recorded with its own model options; leave "
                         "--model-option out to replay it as recorded")
    return replace(options, convention=session.convention, reg=session.reg,
                   model_options=session.model_options)


def _check_model_source(session: Session, model: Path) -> None:
    """UsageError when --model is not the code the session was recorded with (a file that
    cannot be read is left to load_model, which says why)."""
    try:
        source = read_user_file(model, "Python model file", MAX_MODEL_BYTES)
    except OSError:
        return
    problem = model_difference(session, model.name, source)
    if problem:
        raise UsageError(f"--model: {problem}")
