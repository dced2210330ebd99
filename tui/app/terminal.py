"""The app and its terminal: it ends with the terminal, and comes back whole after ctrl+z.

Two defects of Textual 8.2.8's Linux driver, met when a terminal is closed or the app stopped:

- Its SIGCONT handler starts application mode again whether or not SIGTSTP stopped it. The
  kernel sends a SIGCONT with the SIGHUP of a closed terminal (to its session leader, as a
  tmux pane or a terminal window runs the app), so a closed terminal got a second input
  thread and writer; the first input thread was left reading the dead terminal's end of file
  in a loop, at full CPU, and kept the process from ending after the app had (kill -CONT,
  then q: it ran on until killed). TerminalDriver resumes only what it stopped.
- Back from ctrl+z it enters the alternate screen again, blank, and nothing is drawn until a
  key changes something: the app repaints the whole screen when it is resumed.
"""

from __future__ import annotations

from typing import Any

from textual.drivers.linux_driver import LinuxDriver


class TerminalDriver(LinuxDriver):
    """Textual's Linux driver, resuming after SIGCONT only what it stopped for SIGTSTP."""

    stopped = False  # application mode was stopped for SIGTSTP, to start again at SIGCONT

    def _sigtstp_application(self, *args: Any) -> None:
        self.stopped = self._auto_restart
        super()._sigtstp_application(*args)  # type: ignore[no-untyped-call]

    def _sigcont_application(self, *args: Any) -> None:
        if self.stopped:
            self.stopped = False
            super()._sigcont_application(*args)  # type: ignore[no-untyped-call]
