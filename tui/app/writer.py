"""The terminal's output thread, made to outlive its terminal (tui.app.compat.SurvivingWriter).

Its own module, apart from the app: the command line (tui.cli.main) installs it just before
the app runs, by this name.
"""

from __future__ import annotations

from tui.app.compat import install_surviving_writer


def install() -> None:
    """Make the Linux driver (the terminal's) write through compat.SurvivingWriter."""
    install_surviving_writer()
