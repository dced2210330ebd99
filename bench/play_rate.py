"""The rate the display keeps up at while the app plays (p): steps a second and frames a second,
in a real terminal, against the engine training alone measured in the same run.

The app runs in tmux at 120x40 (bench/tui_latency.py's session and control-mode client, so
watching costs the app no core) on `--dataset moons --hidden 8,8`. After p, the screen is
captured every POLL seconds for WINDOW seconds, several times: a frame is a capture whose step
number (the phase bar's "step N") differs from the one before, steps a second is the rise of
that number over the window. The baseline is Stepper.train in this process, whole steps as p
runs them without a screen: the ratio says what drawing costs the run (1.0: nothing).

    python bench/play_rate.py [--windows 5] [--window 3]
"""

from __future__ import annotations

import argparse
import importlib
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.data import batches
from engine.run.stepper import Stepper
from engine.settings.config import Config

#: bench/tui_latency.py: its tmux session (APP, SESSION, launch) and control-mode client (Pane),
#: imported by name: mypy checks bench/ as files, where `bench.tui_latency` would be a second name.
latency: Any = importlib.import_module("bench.tui_latency")
Pane = Any
ARGS = ["--dataset", "moons", "--hidden", "8,8"]
CONFIG = Config(dataset="moons", hidden=(8, 8))
POLL = 0.01  # seconds between captures: a frame comes every 0.25 s (RUN_REPORT_EVERY) or later
STEP = re.compile(r"step ([0-9,]+)")


def shown_step(screen: str) -> int | None:
    """The step number of the phase bar (the screen's first line)."""
    match = STEP.search(screen.split("\n", 1)[0])
    return None if match is None else int(match[1].replace(",", ""))


def watch(pane: Pane, seconds: float) -> tuple[float, float]:
    """Steps a second and frames a second over `seconds` of play."""
    first = last = shown_step(pane.screen())
    frames = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        step = shown_step(pane.screen())
        if step is not None and step != last:
            frames += 1
            last = step
        time.sleep(POLL)
    elapsed = time.perf_counter() - start
    assert first is not None and last is not None, "no step number on the screen"
    return (last - first) / elapsed, frames / elapsed


def in_terminal(windows: int, window: float) -> tuple[list[float], list[float]]:
    pane, _ = latency.launch([*latency.APP, *ARGS])
    try:
        time.sleep(1.0)  # the first frame is up; let the start's work finish
        pane.send("p")
        time.sleep(1.0)  # the first steps and frames of the run
        rates = [watch(pane, window) for _ in range(windows)]
        pane.send("p")
        return [r[0] for r in rates], [r[1] for r in rates]
    finally:
        pane.send("q")
        pane.close()
        subprocess.run(["tmux", "kill-session", "-t", latency.SESSION], capture_output=True)


def engine_alone(windows: int, window: float) -> list[float]:
    """Steps a second of Stepper.train without a screen, as the app's play runs them."""
    data = batches.from_config(CONFIG)
    stepper = Stepper(batches.fitted(CONFIG, data), data=data) if data is not None else Stepper(CONFIG)
    rates = []
    for _ in range(windows):
        start, done = time.perf_counter(), 0
        while time.perf_counter() - start < window:
            done += stepper.train(50)
        rates.append(done / (time.perf_counter() - start))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--window", type=float, default=3.0, help="seconds each")
    args = parser.parse_args()
    steps, frames = in_terminal(args.windows, args.window)
    alone = engine_alone(args.windows, args.window)
    playing, baseline = statistics.median(steps), statistics.median(alone)
    print(f"moons 2-8-8-1, 120x40 tmux, {args.windows} windows of {args.window:g} s (medians):")
    print(f"  playing in the app: {playing:8.1f} steps/s  {statistics.median(frames):5.2f} frames/s")
    print(f"  engine alone:       {baseline:8.1f} steps/s  (Stepper.train, no screen)")
    print(f"  ratio app/engine:   {playing / baseline:8.2f}")


if __name__ == "__main__":
    main()
