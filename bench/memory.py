"""Memory held by the undo history: what 10,000 phases cost at 3-4-1, and what the
bounded history of 784-128-1 costs at its bound; and the peak RSS of a headless run of
2,000 against 200,000 steps, which must not grow with the steps.

Measured with tracemalloc (NumPy reports its array buffers to it), as the growth of traced
memory from the stepper's start to after the phases; median of a few runs.

    python bench/memory.py [--phases 10000] [--runs 3] [--steps 200000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.run.stepper import Stepper
from engine.settings.config import Config


def held(inputs: int, hidden: int, phases: int) -> tuple[int, Stepper]:
    tracemalloc.start()
    stepper = Stepper(Config(inputs=inputs, hidden=(hidden,)))
    start = tracemalloc.get_traced_memory()[0]
    for _ in range(phases):
        stepper.next()
    used = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    return used, stepper


def headless_peak(steps: int) -> int:
    """Peak resident memory, in KiB, of `--headless --steps N --no-gradcheck` as a child."""
    command = [sys.executable, "-m", "tui", "--headless", "--no-gradcheck", "--steps", str(steps)]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=Path(__file__).resolve().parent.parent)
    _, _, usage = os.wait4(child.pid, 0)
    return usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=200_000)
    args = parser.parse_args()
    # First, while this process is small: a child's peak counts its parent's pages at fork.
    few, many = headless_peak(2_000), headless_peak(args.steps)
    for inputs, hidden, phases in [(3, 4, args.phases), (784, 128, 800)]:
        results = [held(inputs, hidden, phases) for _ in range(args.runs)]
        used = statistics.median(r[0] for r in results)
        stepper = results[0][1]
        kept = stepper.history_length
        one_copy = 8 * stepper.param_count
        print(f"{inputs}-{hidden}-1 {phases:,} phases: {used / 2**20:.1f} MiB held "
              f"({used / max(kept, 1) / 1024:.1f} KiB per kept phase; {kept:,} phases kept, "
              f"bound {stepper.max_history:,}, {stepper.forgotten:,} forgotten; "
              f"one copy of the parameters is {one_copy / 1024:.1f} KiB)")

    print(f"headless --no-gradcheck: peak RSS {few / 1024:.1f} MiB at 2,000 steps, "
          f"{many / 1024:.1f} MiB at {args.steps:,} steps")


if __name__ == "__main__":
    main()
