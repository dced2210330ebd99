"""Cost of `backprop-stepper --headless` against the notebook's own code run as a script.

Both are run as fresh processes, interleaved, so they share the machine's state; prints the
median wall time of each and the ratio. Goal (issue 28): ratio <= 1.25. The median CPU time
(user + system) of each is printed too: on a machine other work loads, a process waits for a
core as well as runs, and its CPU time is the part that is its own. Every process runs with
OPENBLAS_NUM_THREADS=1, as the other benchmarks do: OpenBLAS's threads, started at NumPy's import
and left spinning, would add CPU time that is no one's code.

    python bench/headless_startup.py [--runs 21] [--against CHECKOUT]

--against runs the same report from another checkout too (e.g. main's, to see what a change
did), interleaved with the others, with PYTHONDONTWRITEBYTECODE set so the checkout is only
read. Whether bytecode is cached changes the figures a lot (every module compiled at each
start without it), so that is printed, and the machine's load before and after.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "tests" / "fixtures" / "notebook.py"


def wall(command: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> float:
    return timed(command, env, cwd)[0]


def timed(command: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> tuple[float, float]:
    """The command's wall time and CPU time (user + system, its threads and children too)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=cwd, env=env)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--against", type=Path, help="another checkout whose report is timed too")
    args = parser.parse_args()
    runs = args.runs
    print(f"load average {load()}")
    os.environ["OPENBLAS_NUM_THREADS"] = "1"  # for every process started from here
    notebook_cmd = [sys.executable, str(NOTEBOOK)]
    ours_cmd = [sys.executable, "-m", "tui", "--headless"]
    against = None if args.against is None else args.against.resolve()
    other_env = None if against is None else os.environ | {"PYTHONPATH": str(against),
                                                          "PYTHONDONTWRITEBYTECODE": "1"}
    print(f"bytecode written: {'no' if sys.flags.dont_write_bytecode else 'yes'}; tui's cached: "
          f"{'yes' if (ROOT / 'tui' / '__pycache__').is_dir() else 'no'}")
    wall(notebook_cmd), wall(ours_cmd)  # warm the file cache
    if other_env is not None and against is not None:
        wall(ours_cmd, other_env, against)
    notebook: list[tuple[float, float]] = []
    ours: list[tuple[float, float]] = []
    other: list[tuple[float, float]] = []
    for _ in range(runs):
        notebook.append(timed(notebook_cmd))
        ours.append(timed(ours_cmd))
        if other_env is not None and against is not None:
            other.append(timed(ours_cmd, other_env, against))
    nb, nb_cpu = (statistics.median(t[i] for t in notebook) for i in (0, 1))
    us, us_cpu = (statistics.median(t[i] for t in ours) for i in (0, 1))
    print(f"notebook script   median {nb * 1000:.1f} ms over {runs} runs (CPU {nb_cpu * 1000:.1f} ms)")
    print(f"headless report   median {us * 1000:.1f} ms over {runs} runs (CPU {us_cpu * 1000:.1f} ms)")
    print(f"ratio {us / nb:.2f}x (goal <= 1.25x); CPU time {us_cpu / nb_cpu:.2f}x")
    if other:
        them, them_cpu = (statistics.median(t[i] for t in other) for i in (0, 1))
        print(f"{args.against}'s report median {them * 1000:.1f} ms: ratio {them / nb:.2f}x "
              f"(CPU {them_cpu * 1000:.1f} ms, {them_cpu / nb_cpu:.2f}x)")
    print(f"load average {load()} at the end")


if __name__ == "__main__":
    main()
