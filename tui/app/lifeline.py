"""An app ends with its owner: its terminal, or in a browser the `serve` process relaying its tab.

When the owner goes, the app goes, whatever state it is in:
- SIGTERM (a kill, a server stopping) and SIGHUP (its terminal closed) ask it to exit as q does;
- a served app's input reaching its end (the server closed the pipe, or died) asks the same
  (ServedDriver);
and if it has not ended GRACE seconds after the first ask, the process exits anyway, from a
thread of its own.

Asking alone was not enough: Textual 8.2.8 handles an exit on the app's event loop, and an app
whose loop is stuck never gets to it. Seen: a served app asked to quit while a resize was
pending at start-up spun in Textual's layout for ever (the screen and the app disagree on its
size, and the screen posts a Resize to itself after each layout): 25-55% of a core, deaf to
SIGTERM and SIGHUP, outliving its server. Likewise an app whose terminal stopped reading waits
for ever on its output. The handlers are Python's (signal.signal), not the event loop's
(loop.add_signal_handler), because Python runs them in the main thread between two bytecodes
even while the loop is busy, and interrupts a wait on a lock or a write to run them. The loop's
own also learn of a signal from a byte in its wake-up socket, which Textual's input thread fills
with a byte a key: during a paste of a few hundred keys or more the signal was lost outright.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from types import FrameType
from typing import Any

from textual.app import App
from textual.drivers.web_driver import WebDriver

from tui.app.compat import driver_app

#: Seconds an app has to exit once asked before its process ends without it: an app exits in
#: well under a second even on a busy machine, so only a stuck one reaches this.
GRACE = 2.0
ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
#: The exit status when the owner's input ended and the app had to be ended without its help.
INPUT_ENDED = 1


class Lifeline:
    """Ends an app and its process when asked from anywhere: a signal handler, a thread."""

    def __init__(self, app: App[Any], grace: float = GRACE) -> None:
        self.app = app
        self.grace = grace
        self.loop: asyncio.AbstractEventLoop | None = None
        self._asked = threading.Event()
        self._status = INPUT_ENDED
        self._watchdog: threading.Thread | None = None

    @property
    def asked(self) -> bool:
        """Whether the app has been asked to end: the input still on its way is dropped
        (StepperApp.on_event), or the exit would wait behind a long paste's keys."""
        return self._asked.is_set()

    def hold(self) -> None:
        """From the app's event loop (on mount): SIGTERM and SIGHUP end the app from now on.
        Textual's web driver set its own SIGTERM handler on the loop: one handler a signal."""
        self.loop = asyncio.get_running_loop()
        self._start_watchdog()
        for number in ENDING_SIGNALS:
            if signal.getsignal(number) is signal.SIG_IGN:
                continue  # ignored by whoever started it (nohup): it stays ignored
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                self.loop.remove_signal_handler(number)
            with contextlib.suppress(ValueError):  # not the main thread: left as they were
                signal.signal(number, self._on_signal)

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        self.end(128 + number)

    def end(self, status: int) -> None:
        """Ask the app to exit; if it has not within `grace` seconds, exit the process with
        `status`. Safe from any thread and from a signal handler (no lock is taken that the
        interrupted code could hold)."""
        if not self._asked.is_set():
            self._status = status
            self._start_watchdog()  # already running, unless the app is not mounted yet
            self._asked.set()
        loop = self.loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: the app is ending
                loop.call_soon_threadsafe(self.app.exit)

    def _start_watchdog(self) -> None:
        if self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watch, name="lifeline", daemon=True)
            self._watchdog.start()

    def _watch(self) -> None:
        """Once asked, give the app `grace` seconds; a process that is still here after them
        is ended (a daemon thread: a process that exits on its own does not wait for it)."""
        self._asked.wait()
        time.sleep(self.grace)
        # Not a word on stderr: it may be the very terminal that has stopped reading, and
        # the write would block this thread too.
        os._exit(self._status)


class ServedDriver(WebDriver):
    """Textual's web driver (textual-serve runs each tab's app with it), which also hears its
    server go.

    textual-serve writes a tab's keys to the app's stdin; Textual 8.2.8's web driver reads them
    on a thread that, at the end of the input, just stops: the server had gone or closed the
    pipe, and the app ran on with nobody to see it. Here the end of the input ends the app
    (Lifeline.end), unless the app is already exiting."""

    def run_input_thread(self) -> None:
        super().run_input_thread()
        lifeline = getattr(driver_app(self), "lifeline", None)
        if not self.exit_event.is_set() and isinstance(lifeline, Lifeline):
            lifeline.end(INPUT_ENDED)
