"""ModelError alone, in a module that imports nothing: the command line catches it on every
run, and importing it from engine.usermodel.contract would load the whole contract (its
course conventions, the loader, the stand-ins: tens of milliseconds) for runs that never
load a model file."""

from __future__ import annotations


class ModelError(Exception):
    """The user's model file broke its contract, failed to load, raised, or its process
    ended or ran out of time.

    `message` is one short line naming what is wrong. `user_traceback` holds the
    traceback lines that come from the user's own file (none of ours), formatted as
    Python prints them, or "" when the error is not an exception in the user's code.
    `output` is what the user's code printed in the failing import or call.
    """

    def __init__(self, message: str, user_traceback: str = "", output: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.user_traceback = user_traceback
        self.output = output
