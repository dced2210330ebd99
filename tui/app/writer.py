"""Textual's output thread, made to outlive its terminal.

Textual 8.2.8 writes the screen from a thread fed by a queue of at most 30 writes. When the
terminal goes away (its window closed, tmux's session killed, a served browser tab shut),
the thread's next write fails with EIO and the thread dies; the writes that follow fill the
queue, and the app's exit, which queues the terminal's restoration and then waits for the
thread, blocks for ever: the app stayed alive with no terminal, until killed. Here a failed
write ends the writing, not the thread: it goes on taking writes (and dropping them) until
it is stopped, so exit completes.
"""

from __future__ import annotations

from textual.drivers import linux_driver
from textual.drivers._writer_thread import WriterThread


class SurvivingWriter(WriterThread):
    def run(self) -> None:
        try:
            super().run()
        except OSError:  # the terminal is gone: nothing more can be shown
            while self._queue.get() is not None:
                pass


def install() -> None:
    """Make the Linux driver (the terminal's) write through SurvivingWriter."""
    linux_driver.WriterThread = SurvivingWriter  # type: ignore[attr-defined,misc]
