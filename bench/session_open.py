"""Opening a session: at its saved step from its checkpoints, against np.load of the same file.

    python bench/session_open.py [--steps 1000,10000] [--runs 5] [--replay] [--train]

Makes a moons session as issue 28 measured it: 2-8-8-1 tanh on 200 moons (160 training rows),
the whole training split a step, the gradient check every step (the default), run with
Stepper.run_steps and the app's undo bound, saved at each of `--steps` (one run, saved on the
way). For each file it prints its size, and the medians over `--runs` of:

- np.load: reading every array of the file (`dict(np.load(file))`), the floor of any opening;
- open: engine.run.session.read and open_session, to the saved step (goal < 1 s);
- back 100: walking back 100 phases with b from the opened state (goal < 1 s), the history
  rebuilt from the checkpoints as it goes.

--replay also times one replay of each file's path (the format-1 way, how long opening took
before checkpoints), once: it takes as long as the run.

--train makes the session as the app's t leaves it instead: batches of 32 (5 steps an epoch),
Stepper.train with the configuration's gradient-check spacing (never, so the fused step), the
whole sets measured once an epoch and at the end of each run (a "measure" in the path), which
the checkpoints must open without replaying.

The machine's load average is printed before and after: the figures are only comparable with
the load they were measured at.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from gradcheck import median_time  # this folder is on sys.path when a bench script runs

from engine.data import batches
from engine.run.session import open_session, read, record, to_bytes
from engine.run.stepper import Stepper
from engine.settings.config import Config

BACK = 100


def load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg()) + f" on {os.cpu_count()} cores"


def moons(batch: int) -> Stepper:
    """2-8-8-1 tanh on 200 moons, in batches of `batch` (0: full batch), a gradient check
    every step when run phase by phase."""
    config = Config(dataset="moons", hidden=(8, 8), activation="tanh", samples=200, batch=batch)
    data = batches.from_config(config)
    assert data is not None
    return Stepper(batches.fitted(config, data), data=data)


def sessions(steps: list[int], folder: Path, train: bool) -> list[tuple[int, Path, float]]:
    """One run, saved at each of `steps`: (steps, file, seconds the run took to get there)."""
    stepper = moons(32 if train else 0)
    made, done, start = [], 0, time.perf_counter()
    for target in sorted(steps):
        if train:
            stepper.train(target - done, stepper.config.check_every)
        else:
            stepper.run_steps(target - done)
        done = target
        path = folder / f"moons-{target}.npz"
        path.write_bytes(to_bytes(record(stepper)))
        made.append((target, path, time.perf_counter() - start))
    return made


def every_array(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as members:
        return dict(members)


def opened(path: Path) -> Stepper:
    return open_session(read(path))


def walking_back(path: Path, runs: int) -> float:
    """The median time of walking back BACK phases, each run from a fresh opening (not timed)."""
    times = []
    for _ in range(runs):
        stepper = opened(path)
        start = time.perf_counter()
        for _ in range(BACK):
            assert stepper.back()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", default="1000,10000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--replay", action="store_true")
    parser.add_argument("--train", action="store_true")
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    print(f"load average {load()} (before)")
    with tempfile.TemporaryDirectory() as folder:
        for count, path, took in sessions(steps, Path(folder), args.train):
            session = read(path)
            assert session.checkpoints is not None and not session.replayed
            size = path.stat().st_size
            bare = len(to_bytes(dataclasses.replace(session, checkpoints=None)))
            np_load = median_time(partial(every_array, path), args.runs)
            opening = median_time(partial(opened, path), args.runs)
            back = walking_back(path, args.runs)
            kept = session.checkpoints
            print(f"{count:,} steps (run {took:.1f} s): file {size / 1024:,.0f} kB "
                  f"({bare / 1024:,.0f} kB without checkpoints; {len(kept.states)} checkpoints, "
                  f"every {kept.every} steps)")
            print(f"  np.load {np_load * 1000:8.1f} ms")
            print(f"  open    {opening * 1000:8.1f} ms  {opening / np_load:5.1f}x np.load   goal < 1 s: "
                  f"{'met' if opening < 1 else 'MISSED'}")
            print(f"  back {BACK} {back * 1000:7.1f} ms  {back / np_load:5.1f}x np.load   goal < 1 s: "
                  f"{'met' if back < 1 else 'MISSED'}")
            if args.replay:
                start = time.perf_counter()
                open_session(dataclasses.replace(session, checkpoints=None))
                replay = time.perf_counter() - start
                print(f"  replay  {replay * 1000:8.1f} ms  (format 1's opening, once)  "
                      f"{replay / opening:,.0f}x open")
    print(f"load average {load()} (after)")


if __name__ == "__main__":
    main()
