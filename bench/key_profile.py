"""Where a key's time goes inside the app: cProfile from the key event to the first frame drawn
after the state changed (as bench/tui_latency.py's headless figure times it, the frame turned
into terminal output), summed over the presses of one phase kind or all, at 120x40.

    python bench/key_profile.py [--network 784-256-128-10] [--presses 20] [--phase update]
                                [--sort cumulative] [--top 40]

Networks: 3-4-1, 784-128-1, 784-256-128-10 and moons (2-8-8-1 tanh on the moons data). The
figures are cProfile's, which slows Python code about twofold: read them as shares of a key,
and time keys with bench/tui_latency.py.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui_latency import NextFrame  # bench/, the script's folder, is on sys.path

from engine.data import batches
from engine.run.stepper import Stepper
from engine.settings.config import Config
from tui.app.app import StepperApp

NETWORKS = {
    "3-4-1": Config(),
    "784-128-1": Config(inputs=784, hidden=(128,)),
    "784-256-128-10": Config(inputs=784, hidden=(256, 128), classes=10, init="he"),
    "moons": Config(dataset="moons", hidden=(8, 8), activation="tanh"),
}


def stepper(config: Config) -> Stepper:
    data = batches.from_config(config)
    return Stepper(config.resolved()) if data is None else Stepper(batches.fitted(config, data), data=data)


async def profile(config: Config, presses: int, phase: str) -> tuple[cProfile.Profile, int]:
    """The profile of the presses of `phase` ("all": every press), and how many there were."""
    app = StepperApp(stepper(config))
    frame = NextFrame(app)
    profiler, profiled = cProfile.Profile(), 0
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for _ in range(presses):
            on = phase in ("all", app.stepper.next_phase.value)
            if on:
                profiler.enable()
            frame.send()
            await frame.drawn.wait()
            if on:
                profiler.disable()
                profiled += 1
            await pilot.pause()
    return profiler, profiled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", choices=NETWORKS, default="784-256-128-10")
    parser.add_argument("--presses", type=int, default=20)
    parser.add_argument("--phase", default="all",
                        choices=["all", "forward", "backward", "gradcheck", "update"])
    parser.add_argument("--sort", default="cumulative", help="a pstats sort key: cumulative, tottime, ...")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    print(f"load {', '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 minutes)")
    profiler, profiled = asyncio.run(profile(NETWORKS[args.network], args.presses, args.phase))
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    per_press = stats.total_tt / max(1, profiled) * 1000  # type: ignore[attr-defined]
    print(f"{args.network}, {args.phase}: {profiled} presses, {per_press:.1f} ms a press under cProfile")
    stats.sort_stats(args.sort).print_stats(args.top)
    print(out.getvalue())


if __name__ == "__main__":
    main()
