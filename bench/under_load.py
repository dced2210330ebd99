"""The test suite, run again and again while other work keeps every core busy.

Why: CI runs the suite at every stop, and one flaky failure loses the whole submission. The
suite's waits must be on events and conditions, never on how fast the machine is; this
script is how that is checked. It starts one busy process per core (as `yes > /dev/null`
would), runs pytest RUNS times in a row with the arguments given after `--`, and prints each
run's closing line, its wall time and the load average, then how many runs passed. The busy
processes are ended however the script ends; a failed run's whole output is kept in a
temporary file, named after its failures.

    python bench/under_load.py                    # 5 runs of the whole suite, a hog a core
    python bench/under_load.py --runs 3 --hogs 4 -- -m "not slow"

Exit status 0 when every run passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOG = "while True:\n    pass"


def closing_line(output: str) -> str:
    """pytest's last line: '1229 passed in 106.20s' or '2 failed, 1227 passed in ...'."""
    lines = [line.strip("= ") for line in output.strip().splitlines()]
    return lines[-1] if lines else "(no output)"


def run_suite(pytest_args: list[str]) -> tuple[bool, str, float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args],
                          cwd=ROOT, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if done.returncode != 0:  # the failures' names, and the whole output kept for their tracebacks
        failed = [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
        with tempfile.NamedTemporaryFile("w", prefix="under-load-", suffix=".log", delete=False) as log:
            log.write(done.stdout + done.stderr)
        print("\n".join(f"    {line}" for line in failed) + f"\n    output: {log.name}", flush=True)
    return done.returncode == 0, closing_line(done.stdout), elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="runs of the suite (default 5)")
    parser.add_argument("--hogs", type=int, default=os.cpu_count() or 2,
                        help="busy processes kept running (default: one a core)")
    parser.add_argument("pytest_args", nargs="*", help="arguments for pytest, after --")
    args = parser.parse_args()
    # ctrl+c or a kill ends the runs and the busy processes with them (a background job's
    # ctrl+c is ignored unless set here; a SIGTERM would skip the cleanup below).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(args.hogs)]
    passed = 0
    try:
        print(f"{args.hogs} busy processes on {os.cpu_count()} cores; pytest {' '.join(args.pytest_args)}",
              flush=True)
        for run in range(1, args.runs + 1):
            ok, line, elapsed = run_suite(args.pytest_args)
            passed += ok
            load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
            print(f"run {run}: {line} (wall {elapsed:.0f} s, load average {load})", flush=True)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    print(f"{passed} of {args.runs} runs passed under load")
    return 0 if passed == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
