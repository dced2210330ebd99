"""What a run starts from, read and checked before anything runs: the files the options
name (the outputs' folders, a session or the data), a user's model file, and the stepper
built from them. The headless run, the app and serve open a run the same way, here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.run.stepper import Stepper
from tui.cli.files import check_outputs
from tui.cli.fit import with_data
from tui.cli.options import Options, UsageError
from tui.cli.stderr import file_error

if TYPE_CHECKING:
    from engine.data.batches import Data
    from engine.model.protocol import Model
    from engine.run.session import Session
    from engine.usermodel.client import UserModel


def opened(options: Options) -> tuple[Options, Data | None, Session | None]:
    """The files the options name, read and checked before anything runs: the outputs'
    folders, then the session (which fixes the configuration and holds its data) or the
    data; the options as the files complete them. A UsageError naming the problem."""
    check_outputs(options)
    if options.session is not None:
        # Imported only for a session (and --params, below): engine.run.session is start-up
        # time that a run from the flags never needs.
        from tui.cli.session import with_session

        options, session = with_session(options)
        return options, session.data, session
    options, data = with_data(options)
    return options, data, None


def load_user_model(options: Options) -> UserModel | None:
    """--model's file, imported as the app and the report run it: with the convention, the
    network's sizes and --reg the flags give (a course's model is built from them), its top
    level whole or not (--run-module), in the Python --python names; None
    without --model. ModelError for a file that does not load; UsageError for --reg with a
    convention that takes none."""
    if options.model is None:
        return None
    from engine.model.conventions import WITH_OPTIONS, WITH_REG  # only now, as the client: start-up time
    from engine.usermodel.client import Loading, load_model  # only now: it costs start-up time

    model = load_model(options.model, options.model_timeout, options.model_memory, options.convention,
                       options.config.architecture.sizes, options.reg or 0.0, options.model_options,
                       Loading(options.run_module, options.python))
    if options.reg is not None and model.convention not in WITH_REG:
        model.close()
        raise UsageError(f"--reg: {options.model.name} follows the {model.convention} convention, "
                         f"which takes no regularisation; --reg applies to {', '.join(WITH_REG)}")
    if options.model_options and model.convention not in WITH_OPTIONS:
        model.close()
        raise UsageError(f"--model-option: {options.model.name} follows the {model.convention} "
                         f"convention, which builds no model class; --model-option applies to "
                         f"{', '.join(WITH_OPTIONS)}")
    return model


def build_stepper(options: Options, model: Model | None, data: Data | None,
                  session: Session | None, max_history: int | None = None,
                  keep_trail: bool = True) -> Stepper:
    """The stepper the options ask for: a session reopened (its path replayed), or a fresh
    one, started from --params when given. UsageError for a session or parameters file
    that does not fit; the model's own errors (ModelError) pass through."""
    if session is not None or options.params is not None:  # only then: see opened
        from engine.run.session import SessionError, open_session, read_params
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
