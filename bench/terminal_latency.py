"""Keypress-to-screen time of the app in a real terminal, as a person feels it.

Starts the app in a tmux session at 120x40, then for each press of `n`: sends the key
with `tmux send-keys` and polls `tmux capture-pane` until the phase bar (the top line,
which every phase changes) shows something new. Between presses the screen is left to
settle, so each press is timed alone. Polling costs about 2 ms a capture, so figures
are accurate to a few ms; tui_latency.py times frames headlessly, without tmux.

    python bench/terminal_latency.py [--presses 24]

Goal (issue 10): 784-256-128-10 median <= 100 ms.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NETWORKS = {
    "3-4-1": [],
    "784-256-128-10": ["--inputs", "784", "--hidden", "256,128", "--classes", "10", "--init", "he"],
}
SESSION = "backprop-latency"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def top_line() -> str:
    return tmux("capture-pane", "-p", "-t", SESSION).split("\n", 1)[0]


def wait_for_change(before: str, timeout: float = 10.0) -> float:
    start = time.perf_counter()
    while top_line() == before:
        if time.perf_counter() - start > timeout:
            raise TimeoutError("the screen did not change")
    return time.perf_counter() - start


def settle(quiet: float = 0.3) -> str:
    """The screen once it has not changed for `quiet` seconds."""
    last, since = tmux("capture-pane", "-p", "-t", SESSION), time.perf_counter()
    while time.perf_counter() - since < quiet:
        now = tmux("capture-pane", "-p", "-t", SESSION)
        if now != last:
            last, since = now, time.perf_counter()
    return last.split("\n", 1)[0]


def measure(args: list[str], presses: int) -> list[float]:
    command = " ".join([sys.executable, "-m", "tui", *args])
    subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    tmux("new-session", "-d", "-s", SESSION, "-x", "120", "-y", "40", "-c", str(ROOT), command)
    try:
        wait_for_change("")  # the first frame
        times = []
        for _ in range(presses):
            before = settle()
            tmux("send-keys", "-t", SESSION, "n")
            times.append(wait_for_change(before))
        return times
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=24)
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        sys.exit("tmux is not installed")
    for label, flags in NETWORKS.items():
        times = sorted(measure(flags, args.presses))
        p90 = times[int(0.9 * (len(times) - 1))]
        print(f"{label} median {statistics.median(times) * 1000:.1f} ms, p90 {p90 * 1000:.1f} ms, "
              f"max {times[-1] * 1000:.1f} ms over {len(times)} presses (tmux, 120x40)")


if __name__ == "__main__":
    main()
