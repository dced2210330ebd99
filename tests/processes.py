"""Children that take signals as a terminal's programs do, however the suite was started."""

from __future__ import annotations

import signal


def default_signals() -> None:
    """Run in a child before it executes (preexec_fn, or after a fork): the signals a test sends
    act as they do from a terminal. A shell starts a background job with SIGINT and SIGQUIT
    ignored, nohup ignores SIGHUP, and a child inherits what is ignored: Python then installs
    no ctrl+c handler, and a test of ctrl+c or a hang-up fails for how the suite was started
    (as it did under bench/under_load.py run in the background)."""
    for number in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)
