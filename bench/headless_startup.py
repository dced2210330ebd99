"""Cost of `backprop-stepper --headless` against the notebook's own code run as a script.

Both are run as fresh processes, interleaved, so they share the machine's state; prints the
median wall time of each and the ratio. Goal: ratio <= 1.5.

    python bench/headless_startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "tests" / "fixtures" / "notebook.py"


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    runs = parser.parse_args().runs
    notebook_cmd = [sys.executable, str(NOTEBOOK)]
    ours_cmd = [sys.executable, "-m", "tui", "--headless"]
    wall(notebook_cmd), wall(ours_cmd)  # warm the file cache
    notebook, ours = [], []
    for _ in range(runs):
        notebook.append(wall(notebook_cmd))
        ours.append(wall(ours_cmd))
    nb, us = statistics.median(notebook), statistics.median(ours)
    print(f"notebook script   median {nb * 1000:.1f} ms over {runs} runs")
    print(f"headless report   median {us * 1000:.1f} ms over {runs} runs")
    print(f"ratio {us / nb:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
