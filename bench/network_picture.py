"""What the network picture (key m) costs a training run, and one redraw of it.

    python bench/network_picture.py [--runs 5] [--steps 2000]

run: the app, headless at 120x40, on 2-8-8-1 tanh moons (batch 16): `t` trains `steps` steps
on the runner's thread while the screen is redrawn every RUN_REPORT_EVERY (0.25 s), from the
key to the run's end; with the picture closed (m) and open, alternately, `runs` times each.
The medians and their ratio are printed, and how many times the picture was drawn. Goal:
open <= 1.1x closed (the picture must not slow training).

draw: one redraw of the picture as the app makes it at 120 columns (8 units a column): the
units' maps (one forward pass over 6 x 4 points), the weights' lines, and Rich rendering the
lines to segments. Goal: <= 20 ms median.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.style import Style
from rich.text import Text

from engine.data import batches
from engine.maths.plane import Plane, unit_maps
from engine.run.stepper import Stepper
from engine.settings.config import Config
from tui.app.app import StepperApp
from tui.app.widgets.network import (
    MAP_COLS,
    MAP_LINES,
    Drawing,
    Look,
    NetworkPicture,
    draw,
    geometry,
    sample_activations,
)

MOONS = Config(dataset="moons", hidden=(8, 8), activation="tanh", batch=16)


def stepper(config: Config) -> Stepper:
    data = batches.from_config(config)
    assert data is not None
    return Stepper(batches.fitted(config, data), data=data)


async def training_run(steps: int, shown: bool) -> tuple[float, int]:
    """Seconds from t to the run's end, and the picture's drawings meanwhile."""
    app = StepperApp(stepper(replace(MOONS, train_steps=steps)))
    drawn = 0
    async with app.run_test(size=(120, 40)) as pilot:
        picture = app.query_one(NetworkPicture)
        if picture.display != shown:
            await pilot.press("m")
        await pilot.pause()
        assert picture.display == shown
        render = picture.render

        def counted() -> Drawing | Text:
            nonlocal drawn
            drawn += 1
            return render()

        picture.render = counted  # type: ignore[method-assign]
        start = time.perf_counter()
        await pilot.press("t")
        await app.runner.idle.wait()
        took = time.perf_counter() - start
        assert app.stepper.state.step == steps
    return took, drawn


def run_line(runs: int, steps: int) -> str:
    times: dict[bool, list[float]] = {False: [], True: []}
    drawn = []
    for _ in range(runs):
        for shown in (False, True):
            took, count = asyncio.run(training_run(steps, shown))
            times[shown].append(took)
            if shown:
                drawn.append(count)
    closed, opened = statistics.median(times[False]), statistics.median(times[True])
    return (f"run: {steps} steps, picture closed {closed:.2f} s, open {opened:.2f} s "
            f"({opened / closed:.2f}x; drawn {statistics.median(drawn):.0f} times a run), medians of {runs}")


def draw_line(runs: int) -> str:
    s = stepper(MOONS)
    s.train(30)
    view = s.view()
    arch, data = view.config.architecture, s.data
    assert data is not None
    geo = geometry(arch.sizes, 114, 26)
    look = Look((30, 30, 30), Style(color="grey50"), Style(color="yellow", bold=True))
    console = Console(file=io.StringIO(), width=120, force_terminal=True, color_system="truecolor")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        maps = unit_maps(arch, view.state.params, Plane.around(data.dataset.X), MAP_COLS, 2 * MAP_LINES,
                         geo.shown)
        console.print(draw(arch, view.state.params, sample_activations(view), geo, (1, 2), look, maps))
        times.append(time.perf_counter() - start)
    return f"draw: {1000 * statistics.median(times):.1f} ms median of {runs}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    print(draw_line(50))
    print(run_line(args.runs, args.steps))


if __name__ == "__main__":
    main()
