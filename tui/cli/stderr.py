"""What the command line says on stderr: a refused flag or file, a broken model, and what a
user's model prints while the headless report fills stdout.

Every message is one line after "backprop-stepper: ", made printable (tui.text): a file
name or a model's message must not move the cursor or clear the user's screen.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from engine.files import shown_name
from engine.model.protocol import Captured
from engine.usermodel.errors import ModelError
from tui.cli.options import PROG, UsageError
from tui.text import printable


class BadElement(Exception):
    """An --explain element the final state does not have; the message is already printed.
    Here, not in tui.cli.explain, so the headless run can catch it without importing
    engine.explain when --explain is not given (start-up time)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def usage(error: UsageError) -> int:
    """A flag or a file refused: one line on stderr, exit status 2."""
    print(f"{PROG}: error: {printable(str(error), oneline=True)}", file=sys.stderr)
    return 2


def model_error(error: ModelError) -> int:
    """A broken model: the user's traceback lines, then one line naming the problem, last
    where the eye lands (what the model printed is already on stderr)."""
    if error.user_traceback:
        print(printable(error.user_traceback), file=sys.stderr)
    print(f"{PROG}: error: {printable(error.message, oneline=True)}", file=sys.stderr)
    return 2


def file_error(flag: str, path: object, error: Exception) -> UsageError:
    """A file's trouble after its flag: the file named once (a missing or non-regular file's
    message names it already; what its contents break does not)."""
    shown = shown_name(path)
    return UsageError(f"{flag}: {error}" if shown in str(error) else f"{flag}: {shown}: {error}")


def echo_to_stderr(name: str) -> Callable[[Captured], None]:
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
