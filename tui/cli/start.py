"""The program's entry point (`backprop-stepper`, `python -m tui`): the command line
(tui.cli.main) imported with the collector paused.

Importing it makes tens of thousands of objects that live as long as the process (modules,
classes, NumPy's and the engine's tables) and no garbage, and the collector, run every 700 new
objects, walked them again at each run: about 4 ms of the headless report's 100 (issue 28). It
is on again before anything runs; the app pauses it once more while it starts (tui.cli.launch).
"""

from __future__ import annotations

import gc


def main() -> int:
    gc.disable()
    try:
        from tui.cli.main import main as command_line  # with the collector paused: see above
    finally:
        gc.enable()
    return command_line()
