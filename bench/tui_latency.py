"""Keypress-to-frame time of the app, measured headlessly.

For each network size: open the app at 120x40, send the key `n` as the terminal driver
would, and time from sending the key event to the end of the next frame the app renders
(compositing plus turning the frame into terminal output, which a headless app skips, so it
is done here). Between presses the app is left to go idle, so each press is timed alone.
Pilot's own press() waits for idle and would add ~65 ms of its own: it is not used.

    python bench/tui_latency.py [--presses 40]

Goals: 3-4-1 median <= 50 ms; 784-128-1 and 784-256-128-10 (softmax) median <= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events

from engine.config import Config
from engine.stepper import Stepper
from tui.app import StepperApp

NETWORKS = [Config(), Config(inputs=784, hidden=(128,)),
            Config(inputs=784, hidden=(256, 128), classes=10, init="he")]


async def measure(config: Config, presses: int) -> list[float]:
    app = StepperApp(Stepper(config.resolved()))
    frame = asyncio.Event()
    display = app._display
    before: list[object] = [None]

    def timed_display(screen, renderable) -> None:  # type: ignore[no-untyped-def]
        display(screen, renderable)
        # Only a frame drawn after the key changed the stepper's state counts.
        if renderable is not None and app.stepper.state is not before[0]:
            renderable.render_segments(app.console)  # what a real terminal driver would do
            frame.set()

    app._display = timed_display  # type: ignore[method-assign]
    times: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for _ in range(presses):
            frame.clear()
            before[0] = app.stepper.state
            start = time.perf_counter()
            event = events.Key("n", "n")
            event.set_sender(app)
            app._driver.send_message(event)  # type: ignore[union-attr]
            await frame.wait()
            times.append(time.perf_counter() - start)
            await pilot.pause()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=40)
    presses = parser.parse_args().presses
    for config in NETWORKS:
        times = sorted(asyncio.run(measure(config, presses)))
        p90 = times[int(0.9 * (len(times) - 1))]
        print(f"{config.shape_label} median {statistics.median(times) * 1000:.1f} ms, "
              f"p90 {p90 * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms over {len(times)} presses")


if __name__ == "__main__":
    main()
