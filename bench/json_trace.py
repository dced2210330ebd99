"""The JSON trace of a big network: time and peak memory of `--format json --output FILE`
(arrays over --json-arrays-max in FILE.npz beside it) at 1,000,000-9-1 for 3 steps, and of
a small network, each against baselines measured in the same run.

Every figure is a fresh child process, its peak resident memory (ru_maxrss) read by
os.wait4 and its wall time around it; the median of --runs runs. Baselines:

- the interpreter: `python -c "import tui.cli.main"` (Python, NumPy and our imports), the
  RSS a run has before it does anything; "over base" is a peak less this (less
  `python -c "import numpy"` for np.savez's script);
- the same run with --quiet: the same steps computed, no trace written: what the trace costs
  is the difference;
- np.savez of the network's parameters (the same shapes, float64) into a file: the cheapest
  way to put those numbers on disk.

Goal (issue 28): the trace in under 5 s with a peak under 2x the parameters' size, over the
interpreter's. With the gradient check the run itself (--quiet) is above both; so the
figures are also given with --no-gradcheck.

    python bench/json_trace.py [--runs 3] [--inline]

--inline adds the trace written to stdout with every array inline (minutes at 1,000,000).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIG = ["--inputs", "1000000", "--hidden", "9", "--steps", "3"]
SMALL = ["--steps", "3"]  # the notebook's 3-4-1
MIDDLE = ["--inputs", "784", "--hidden", "128", "--init", "he", "--steps", "3"]
SAVEZ = """
import sys
import numpy as np
sizes = [int(n) for n in sys.argv[2].split(",")]
rng = np.random.default_rng(0)
params = {}
for layer, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]), start=1):
    params[f"W{layer}"] = rng.standard_normal((n_out, n_in))
    params[f"b{layer}"] = np.zeros(n_out)
np.savez(sys.argv[1], **params)
"""


def child(command: list[str], stdout: int | None = subprocess.DEVNULL) -> tuple[float, int]:
    """Wall seconds and peak resident KiB of one child process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=stdout, stderr=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):  # 1: a failed check is still a whole trace
        raise SystemExit(f"failed: {' '.join(command)}")
    return elapsed, usage.ru_maxrss


def measured(command: list[str], runs: int) -> tuple[float, float]:
    """Median wall seconds and median peak MiB over `runs` runs."""
    results = [child(command) for _ in range(runs)]
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results) / 1024


def param_mib(sizes: list[int]) -> float:
    return sum(8 * (n_in * n_out + n_out) for n_in, n_out in itertools.pairwise(sizes)) / 2**20


def network(name: str, flags: list[str], sizes: list[int], folder: Path, runs: int, inline: bool,
            bases: tuple[float, float]) -> None:
    ours = [sys.executable, "-m", "tui", "--headless"]
    size = param_mib(sizes)
    trace = folder / f"{name}.json"
    rows = {"np.savez of the parameters": [sys.executable, "-c", SAVEZ, str(folder / f"{name}-savez.npz"),
                                           ",".join(map(str, sizes))]}
    for check in ([], ["--no-gradcheck"]):
        said = " --no-gradcheck" if check else ""
        rows[f"--quiet{said} (the run, no trace)"] = [*ours, *flags, *check, "--quiet"]
        rows[f"--format json --output{said}"] = [*ours, *flags, *check, "--format", "json", "--output",
                                                 str(trace)]
        if inline:
            rows[f"--format json > stdout{said} (all inline)"] = [*ours, *flags, *check, "--format", "json"]
    print(f"\n{name}: parameters {size:,.2f} MiB (float64)")
    found: dict[str, tuple[float, float]] = {}
    for label, command in rows.items():
        found[label] = measured(command, runs)
        wall, peak = found[label]
        over = peak - (bases[0] if label.startswith("np.savez") else bases[1])
        times = f" = {over / size:6.2f}x the parameters" if size >= 1 else ""  # a small net's: noise
        print(f"  {label:<44} median {wall:7.2f} s  peak {peak:8.1f} MiB  over base {over:8.1f} MiB{times}")
    savez = found["np.savez of the parameters"][0]
    for said in ("", " --no-gradcheck"):
        wall, peak = found[f"--format json --output{said}"]
        quiet_wall, quiet_peak = found[f"--quiet{said} (the run, no trace)"]
        times = f" ({(peak - quiet_peak) / size:+.2f}x the parameters)" if size >= 1 else ""
        print(f"  trace{said or ' (with the check)'}: {wall / savez:.2f}x np.savez's time; "
              f"the trace adds {wall - quiet_wall:+.2f} s and {peak - quiet_peak:+.1f} MiB{times} to the run")
    written = [p for p in (trace, trace.with_suffix(".npz")) if p.exists()]
    print("  files: " + ", ".join(f"{p.name} {p.stat().st_size / 2**20:,.1f} MiB" for p in written))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--inline", action="store_true", help="also the trace on stdout, all inline")
    args = parser.parse_args()
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} cores")
    _, numpy = measured([sys.executable, "-c", "import numpy"], args.runs)
    _, base = measured([sys.executable, "-c", "import tui.cli.main"], args.runs)
    print(f"interpreter baselines: python -c 'import tui.cli.main' peak {base:.1f} MiB; "
          f"python -c 'import numpy' {numpy:.1f} MiB")
    with tempfile.TemporaryDirectory() as folder:
        for name, flags, sizes in (("1,000,000-9-1", BIG, [1_000_000, 9, 1]),
                                   ("784-128-1", MIDDLE, [784, 128, 1]), ("3-4-1", SMALL, [3, 4, 1])):
            network(name, flags, sizes, Path(folder), args.runs, args.inline, (numpy, base))
    print(f"\nload average {' '.join(f'{v:.2f}' for v in os.getloadavg())} at the end")


if __name__ == "__main__":
    main()
