"""Training from data: how fast the pictures of a run are redrawn.

    python bench/train.py [--runs 30]

boundary: the decision boundary of 2-8-8-1 tanh on moons (200 samples, after 30 steps)
redrawn at 120 x 40 cells (120 x 80 field points): the field's forward pass, the
half-block lines with the points drawn in, and Rich rendering them to segments, as the
widget does after each update. Goal: <= 50 ms median.

One function a measurement, each returning its line; main() prints them in order.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.color import Color as RichColor
from rich.console import Console

from engine import batches
from engine.config import Config
from engine.stepper import Stepper
from tui.widgets.boundary import draw

COLS, LINES = 120, 40  # the whole terminal: the largest map the app can show


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def moons_stepper(steps: int) -> Stepper:
    """2-8-8-1 tanh on 200 moons, trained `steps` steps without gradient checks."""
    config = Config(dataset="moons", hidden=(8, 8), activation="tanh", samples=200)
    data = batches.from_config(config)
    assert data is not None
    stepper = Stepper(batches.fitted(config, data), data=data)
    stepper.train(steps)
    return stepper


def boundary(runs: int) -> str:
    """Field + renderable + Rich's render to segments, at 120 x 40 (one line of it is the
    axes and one the legend: the field is 120 x 76 points, plus those two lines)."""
    view = moons_stepper(30).view()
    assert view.data is not None
    data, arch, params = view.data, view.config.architecture, view.state.params
    console = Console(width=COLS, color_system="truecolor", file=io.StringIO())  # renders, never writes
    muted = RichColor.from_rgb(150, 150, 150)

    def redraw() -> None:
        picture = draw(arch, params, data, None, COLS, LINES - 2, (30, 30, 30), muted)
        list(console.render(picture))

    ms = median_ms(redraw, runs)
    return (f"boundary  {ms:.1f} ms  (median of {runs}: 2-8-8-1 tanh moons, {COLS}x{LINES} cells, "
            f"{COLS}x{2 * (LINES - 2)} field points, {len(data.dataset.X)} points drawn; goal <= 50 ms)")


# The `2-8-8-1 moons` line (time per training step against a plain NumPy loop) goes here:
# a function returning its line, called from main() before boundary().


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs a measurement (>= 20)")
    args = parser.parse_args()
    runs = max(20, args.runs)
    print(boundary(runs))


if __name__ == "__main__":
    main()
