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

from tui.cli import PROG, Options, UsageError, parse
from tui.text import printable

if TYPE_CHECKING:
    from engine.batches import Data
    from engine.usermodel import Captured, ModelError, UserModel


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
    if sys.stderr is None:  # started with stderr closed: print(file=None) would go to stdout
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:  # the app in a browser (tui.serve)
        from tui import serve

        return serve.main(argv[1:])
    try:
        options = parse(argv)
    except UsageError as error:
        print(f"{PROG}: error: {printable(str(error), oneline=True)}\nTry '{PROG} --help' for the flags.",
              file=sys.stderr)
        return 2
    try:  # the data before anything runs: a bad file gets one line and nothing else happens
        options, data = with_data(options)
    except UsageError as error:
        print(f"{PROG}: error: {printable(str(error), oneline=True)}", file=sys.stderr)
        return 2
    if options.export_notebook is not None:  # the run as a notebook, written instead of run
        from tui.notebook import export_notebook
        return export_notebook(options, data)
    from engine.contract import ModelError

    model: UserModel | None = None
    try:
        if options.model is not None:
            from engine.usermodel import Captured, load_model  # only now: it costs start-up time

            try:
                model = load_model(options.model, options.model_timeout, options.model_memory)
            except ModelError as error:
                if error.output:
                    _echo_to_stderr(options.model.name)(Captured("import", error.output))
                return _model_error(error)
        return _headless(options, model, data) if options.headless else _app(options, model, data)
    except KeyboardInterrupt:  # ctrl+c while headless: the user knows why; no traceback
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    finally:
        if model is not None:
            model.close()  # its atexit output, if any, reaches stderr (headless) too


def with_data(options: Options) -> tuple[Options, Data | None]:
    """The data the options name, loaded, split and planned, and the options with the
    network's inputs and classes the data's; a UsageError ("--data: line 3: ...") for a
    file that cannot be read or a setting the data contradict."""
    config = options.config
    if not config.learns_from_data:
        return options, None
    from dataclasses import replace

    from engine import batches
    from engine.config import ConfigError, check_fitted, validate
    from engine.data import DataError

    try:
        data = batches.from_config(config)
        # The loss was resolved for the output asked; the data may ask for another.
        config = replace(config, loss=config.loss if "loss" in options.given else "")
    except DataError as error:
        message = str(error)  # a file's problem names the file; a line's problem does not
        raise UsageError(f"--data: {message if config.data in message else f'{config.data}: {message}'}") \
            from None
    assert data is not None
    dataset = data.dataset
    name = config.dataset or os.path.basename(config.data)
    try:
        check_fitted(config, options.given, name, dataset.features, dataset.classes)
        fitted = validate(batches.fitted(config, data), given=())
    except ConfigError as error:
        raise UsageError(f"--{error.key}: {error.message}") from None
    return replace(options, config=fitted), data


class _BadElement(Exception):
    """An --explain element the final state does not have; the message is already printed."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _bad_element(known: dict[str, tuple[int, ...]],
                 elements: list[tuple[str, tuple[int, ...]]]) -> int | None:
    """Exit status 2, with the message (naming the tensors and shapes) on stderr, for the
    first element that is not in `known`; None when all are."""
    from engine.explain import resolve

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


def _headless(options: Options, model: UserModel | None, data: Data | None = None) -> int:
    from engine.contract import ModelError
    from engine.explain import Explanation, final_shapes, parse_element, resolve, shapes
    from engine.explain import explain as explain_element
    from engine.stepper import Stepper
    from tui.report import explanations_text, json_report, text_report

    # Headless never steps back and shows no loss history: a few phases of undo and no
    # trail keep a long run in constant memory.
    if model is not None:
        from engine.usermodel import Captured

        model.on_output = _echo_to_stderr(model.name)
        if model.import_output:
            model.on_output(Captured("import", model.import_output))
    try:  # a user's init_params runs here
        stepper = Stepper(options.config, model=model, max_history=8, keep_trail=False, data=data)
    except ModelError as error:
        return _model_error(error)
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
    steps = stepper.iter_steps(options.config.steps)
    chunks: Iterable[str]
    if options.format == "json":
        chunks = json_report(options.config, stepper, steps, explain)
    else:
        chunks = text_report(options.config, stepper, steps)
        if explain is not None:
            chunks = itertools.chain(chunks, _lazily(lambda: explanations_text(explain())))
    separator = "" if options.format == "json" else "\n"
    if model is None:  # the built-in network cannot fail mid-run: stream, in constant memory
        return _write(separator * bool(i) + chunk for i, chunk in enumerate(chunks))
    try:  # a user's model may break its contract at any step: nothing half-done on stdout
        report = list(chunks)
    except ModelError as error:
        return _model_error(error)
    except _BadElement as bad:
        return bad.status
    return _write([separator.join(report)])


def _app(options: Options, model: UserModel | None, data: Data | None = None) -> int:
    from engine.contract import ModelError
    from engine.stepper import Stepper

    if model is None:
        stepper = Stepper(options.config, data=data)
    else:
        # A broken contract (init_params included) fails here, like a load error, rather
        # than inside the app.
        imported = len(model.log)
        try:
            stepper = Stepper(options.config, model=model, data=data)  # runs the file's init_params
            kept = list(model.log)
            stepper.dry_run()
        except ModelError as error:
            echo = _echo_to_stderr(model.name)
            for captured in list(model.log)[imported:]:
                echo(captured)
            return _model_error(error)
        model.log.clear()  # the app's log starts with the import (and init), not the rehearsal
        model.log.extend(kept)
    from tui.app import StepperApp

    app = StepperApp(stepper, keymap=options.keymap, served=options.served)
    app.run()
    return app.return_code or 0  # Textual sets 1 when the app died of an exception


if __name__ == "__main__":
    sys.exit(main())
