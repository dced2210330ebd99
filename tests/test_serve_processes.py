"""Every process ends with its owner: a browser tab's app when its server goes, and at SIGTERM
or SIGHUP; an app in a terminal when its terminal goes.

Each wait is on a condition with a generous deadline: nothing here depends on how fast the
machine is, only on what eventually happens.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.test_serve import ROOT

T = TypeVar("T")
#: What the app's first screen shows (its footer): the app is up and drawing.
DRAWN = b"Next phase"
#: The environment textual-serve gives a tab's app (textual_serve.app_service), as far as the
#: app cares: Textual's web driver, talking in packets on stdin and stdout.
WEB_DRIVER = {"TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver", "COLUMNS": "80", "ROWS": "24"}

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads Linux's /proc")


def wait_until(condition: Callable[[], T], within: float, what: str) -> T:
    """Poll `condition` until it holds (its value returned), failing after `within` seconds."""
    deadline = time.monotonic() + within
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {within:g} s")
        time.sleep(0.05)
    return value


# ---- an app alone -------------------------------------------------------------------------

@contextlib.contextmanager
def served_app(stdout: int = subprocess.PIPE) -> Iterator[subprocess.Popen[bytes]]:
    """A tab's app as textual-serve starts it, without the server: our end of its pipes."""
    with subprocess.Popen([sys.executable, "-m", "tui", "--served"], cwd=ROOT, env=os.environ | WEB_DRIVER,
                          stdin=subprocess.PIPE, stdout=stdout, stderr=subprocess.DEVNULL) as app:
        try:
            yield app
        finally:
            app.kill()


def fill(path: str) -> None:
    """Write into a pipe or terminal until it takes no more: nothing more the app writes there
    (its exit's last words included) can go through until someone reads. Through a file
    description of our own, non-blocking: the app's stays blocking."""
    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        for size in (1 << 16, 1):  # whole pages, then what room is left in the last one
            with contextlib.suppress(BlockingIOError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)


@pytest.mark.slow
@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_served_app_that_cannot_write_ends_at_sigterm_and_sighup(number: signal.Signals) -> None:
    """Nobody reads its output any more (a server gone still, a full pipe): exiting as q does
    means writing, so the app waited for ever, deaf to the signal. It is ended instead."""
    output, into = os.pipe()
    with served_app(stdout=into) as app:
        os.close(into)
        shown = b""
        while DRAWN not in shown:  # up and drawing: its handlers are in place
            chunk = os.read(output, 1 << 16)
            assert chunk, "the app ended before drawing"
            shown = shown[-100:] + chunk
        fill(f"/proc/self/fd/{output}")  # the read end's path opens the pipe for writing too
        app.send_signal(number)
        assert app.wait(timeout=30) == 128 + number  # ended by its lifeline: it could not exit itself
    os.close(output)


@pytest.mark.slow
def test_a_served_app_ends_when_its_input_ends() -> None:
    """The server gone (or done with it), its stdin ends: Textual's web driver stopped reading
    and the app ran on, unseen, for ever."""
    with served_app() as app:
        assert app.stdin is not None and app.stdout is not None
        output = bytearray()

        def read() -> None:  # all it draws, so that it never waits on a full pipe
            while chunk := app.stdout.read1():
                output.extend(chunk)

        threading.Thread(target=read, daemon=True).start()
        wait_until(lambda: DRAWN in output, 120, "the app's first screen")
        app.stdin.close()
        assert app.wait(timeout=30) == 0  # it exited as q does: not ended without its help


# ---- an app in a terminal -----------------------------------------------------------------

@contextlib.contextmanager
def in_terminal() -> Iterator[tuple[subprocess.Popen[bytes], int, str]]:
    """The app in a 120x40 pseudo-terminal: the app, our end of the terminal and the path of
    the app's end."""
    ours, its = os.openpty()
    fcntl.ioctl(its, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    path = os.ttyname(its)
    try:
        with subprocess.Popen([sys.executable, "-m", "tui"], cwd=ROOT, stdin=its, stdout=its, stderr=its,
                              env=dict(os.environ, TERM="xterm-256color", COLUMNS="120", LINES="40"),
                              start_new_session=True) as app:
            os.close(its)
            try:
                yield app, ours, path
            finally:
                app.kill()
    finally:
        os.close(ours)


@pytest.mark.slow
@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_an_app_whose_terminal_takes_no_output_ends_at_sigterm_and_sighup(number: signal.Signals) -> None:
    """A terminal that takes no more output (its output stopped as ctrl+s stops it, or hung):
    exiting as q does means restoring the terminal, so the app waited for ever, deaf to the
    signal (the issue's apps left running 25 minutes after their terminals closed). It is
    ended instead."""
    with in_terminal() as (app, terminal, path):
        shown = b""
        while DRAWN not in shown:
            shown = shown[-100:] + os.read(terminal, 1 << 16)
        stopper = os.open(path, os.O_WRONLY | os.O_NOCTTY)
        try:
            termios.tcflow(stopper, termios.TCOOFF)  # every write to the terminal now waits
            app.send_signal(number)
            assert app.wait(timeout=30) == 128 + number
        finally:
            os.close(stopper)
