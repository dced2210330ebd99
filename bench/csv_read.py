"""Reading a CSV of MNIST's size: the project's reader against numpy.loadtxt, in the same run.

Writes two CSVs shaped like MNIST's (784 integer pixels 0-255, about four in five of them 0 as
in MNIST, and a label 0-9 last; seed 0) into a temporary folder: 60,000 rows (about 110 MB, the
size of the usual mnist_train.csv) and 10,000 rows. Each reader then reads each file in a fresh
Python process, the readers taking turns (--runs times each), and the script prints each one's
median time and peak memory and the ratios to numpy.loadtxt's. The goal (issue 28): at most 1.5
times loadtxt's time and 1.5 times its peak memory.

Time: measured in the child around the read alone (not Python's start nor the imports).
Peak memory: the child's own peak resident set, resource.getrusage(RUSAGE_SELF).ru_maxrss at
its end (what RUSAGE_CHILDREN reports for that one child); it includes the interpreter and
NumPy (and this script's own resident set, which a forked child starts from: so this script
imports nothing large and writes the files from a child of its own), printed on its own line
as "imports only".

--candidates adds the other C readers on the same files: numpy.genfromtxt (10,000 rows only: it
parses in Python), pandas.read_csv and pyarrow.csv.read_csv when they are installed (neither is
a dependency; each converted to one float64 array, as the data set needs).

    python bench/csv_read.py [--runs 3] [--rows 60000,10000] [--candidates]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIXELS = 784

#: Each reader as the child runs it: its imports (not timed), then the read of `path`, bound to `data`.
READERS = {
    "backprop-stepper": ("from engine.data.sets import read_csv", "data = read_csv(path)"),
    "numpy.loadtxt": ("", "data = np.loadtxt(path, delimiter=',', dtype=np.float64)"),
    "imports only": ("import engine.data.sets", "data = None"),
}
CANDIDATES = {
    "numpy.genfromtxt": ("", "data = np.genfromtxt(path, delimiter=',', dtype=np.float64)"),
    "pandas.read_csv": ("import pandas",
                        "data = pandas.read_csv(path, header=None, dtype=np.float64).to_numpy()"),
    "pyarrow.csv": ("import pyarrow.csv as pc",
                    "t = pc.read_csv(path, read_options=pc.ReadOptions(autogenerate_column_names=True))\n"
                    "data = np.column_stack([c.to_numpy().astype(np.float64) for c in t.columns])"),
}
CHILD = """\
import json, resource, sys, time
import numpy as np
{setup}
path = sys.argv[1]
start = time.perf_counter()
{code}
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""


WRITER = """\
import sys
import numpy as np
rows = int(sys.argv[2])
rng = np.random.default_rng(0)
pixels = rng.integers(0, 256, (rows, {pixels}))
pixels[rng.random((rows, {pixels})) < 0.8] = 0
labels = rng.integers(0, 10, rows)
np.savetxt(sys.argv[1], np.column_stack([pixels, labels]), fmt="%d", delimiter=",")
"""


def write_mnist_like(path: Path, rows: int) -> None:
    """rows lines of 784 pixels and a label, as integers, like the usual mnist_train.csv.

    Written by a child process: a reader's process inherits the peak memory of the process it
    was forked from (Linux carries ru_maxrss across fork and exec), so this one stays small."""
    subprocess.run([sys.executable, "-c", WRITER.format(pixels=PIXELS), str(path), str(rows)], check=True)


def measure(reader: tuple[str, str], path: Path) -> dict[str, float]:
    """One read in a fresh process: its seconds and its peak resident set in KiB."""
    setup, code = reader
    done = subprocess.run([sys.executable, "-c", CHILD.format(setup=setup, code=code), str(path)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def available(name: str) -> bool:
    """Whether a candidate's library is installed (they are not the project's dependencies)."""
    module = {"pandas.read_csv": "pandas", "pyarrow.csv": "pyarrow"}.get(name)
    if module is None:
        return True
    return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode == 0


def report(rows: int, path: Path, readers: dict[str, tuple[str, str]], runs: int) -> None:
    """Each reader's median seconds and peak memory on the file, and the ratios to loadtxt's."""
    seconds: dict[str, list[float]] = {name: [] for name in readers}
    peaks: dict[str, list[float]] = {name: [] for name in readers}
    for _ in range(runs):
        for name, reader in readers.items():  # taking turns, so a change of load hits every reader
            result = measure(reader, path)
            seconds[name].append(result["seconds"])
            peaks[name].append(result["peak_kib"] / 1024)
    size = path.stat().st_size / 1e6
    print(f"\n{rows:,} x {PIXELS} + label ({size:.0f} MB), median of {runs}, load {load()}")
    base_time = statistics.median(seconds["numpy.loadtxt"])
    base_peak = statistics.median(peaks["numpy.loadtxt"])
    for name in readers:
        time, peak = statistics.median(seconds[name]), statistics.median(peaks[name])
        ratios = "" if name == "imports only" else \
            f"   {time / base_time:5.2f}x time   {peak / base_peak:5.2f}x memory"
        print(f"  {name:18} {time:7.2f} s  {peak:7.0f} MB peak{ratios}")
    ours = "backprop-stepper"
    time_ratio = statistics.median(seconds[ours]) / base_time
    peak_ratio = statistics.median(peaks[ours]) / base_peak
    met = time_ratio <= 1.5 and peak_ratio <= 1.5
    print(f"  goal (at most 1.5x loadtxt's time and memory): {'met' if met else 'MISSED'} "
          f"({time_ratio:.2f}x, {peak_ratio:.2f}x)")


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", default="60000,10000", help="comma-separated row counts")
    parser.add_argument("--candidates", action="store_true",
                        help="also numpy.genfromtxt, pandas and pyarrow (when installed)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # figures as they come
    print(f"load before: {load()} (1, 5 and 15 minutes; {os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory() as folder:
        for rows in (int(r) for r in args.rows.split(",")):
            path = Path(folder) / f"mnist_{rows}.csv"
            write_mnist_like(path, rows)
            readers = dict(READERS)
            if args.candidates:
                readers |= {name: reader for name, reader in CANDIDATES.items()
                            if available(name) and (name != "numpy.genfromtxt" or rows <= 10_000)}
            report(rows, path, readers, args.runs)
    print(f"\nload after: {load()}")


if __name__ == "__main__":
    main()
