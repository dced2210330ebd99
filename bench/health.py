"""The cost of watching a run's health (engine.run.health), against the steps it watches.

    python bench/health.py [--runs 15]

A headless report on data counts every finished step into a Health tracker (the statistics
of each weight layer, and the conditions over the last steps). Measured: STEPS steps of
2-8-8-1 tanh and 2-32-32-1 ReLU on 200 moons (batch 32) and 2-128-128-3 ReLU on 1,000 spiral
points (batch 128), no gradient check, the steps alone
and the steps each counted into a Health, alternately, `runs` times; the medians and the
ratio are printed. Goal: <= 1.10x (the health adds at most 10% to a training step). Measured
2026-12-07 on the 2-core machine: 1.33x, 1.32x, 1.05x: about 50 µs a step whatever the size
(a few NumPy calls a layer), which is a third of the tiny networks' 0.16 ms steps.

The app measures nothing a step (tui.app.health): the "app" lines train STEPS steps as `t`
does (Stepper.train, every phase kept for b), alone and then with the data line's guard rails
judged once after the run as the screen draws them, and time the health view's opening (its
tracker rebuilt from the undo history). Measured 2026-12-07: the guard rails 0.55, 0.62 and
1.06 ms once, 1.010x, 1.011x, 1.001x of a 200-step t; the view opens in 11, 10 and 142 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.data import batches
from engine.run.health import Health
from engine.run.stepper import Stepper
from engine.settings.config import Config
from tui.app.health import Guard, rebuilt

STEPS = 200
NETWORKS = {"2-8-8-1 tanh": Config(dataset="moons", hidden=(8, 8), activation="tanh", batch=32,
                                   gradcheck=False),
            "2-32-32-1 relu": Config(dataset="moons", hidden=(32, 32), batch=32, gradcheck=False),
            "2-128-128-3 relu": Config(dataset="spiral", classes=3, hidden=(128, 128), batch=128,
                                       samples=1000, gradcheck=False)}


def seconds(config: Config, watched: bool) -> float:
    """STEPS steps from a fresh stepper, counted into a Health or not."""
    data = batches.from_config(config)
    assert data is not None
    stepper = Stepper(batches.fitted(config, data), data=data, max_history=8, keep_trail=False)
    health = Health(stepper.config.architecture, config.lr)
    start = time.perf_counter()
    for state in stepper.iter_steps(STEPS):
        if watched:
            health.add(state)
    return time.perf_counter() - start


def app_seconds(config: Config) -> tuple[float, float, float]:
    """(the run, the guard rails judged once after it, the view's opening), each timed alone:
    the guard's few milliseconds would drown in two runs' difference on a busy machine."""
    data = batches.from_config(config)
    assert data is not None
    stepper = Stepper(batches.fitted(config, data), data=data)
    start = time.perf_counter()
    stepper.train(STEPS)
    run = time.perf_counter() - start
    start = time.perf_counter()
    Guard().verdicts(stepper, data)
    guard = time.perf_counter() - start
    start = time.perf_counter()
    rebuilt(stepper)
    return run, guard, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    for name, config in NETWORKS.items():
        alone, watched = [], []
        for _ in range(runs):
            alone.append(seconds(config, False))
            watched.append(seconds(config, True))
        base, with_health = statistics.median(alone), statistics.median(watched)
        print(f"{name}: {STEPS} steps {1000 * base / STEPS:.3f} ms a step alone, "
              f"{1000 * with_health / STEPS:.3f} ms watched: {with_health / base:.3f}x (goal <= 1.10x)")
    for name, config in NETWORKS.items():
        alone, guard, opening = (statistics.median(t) for t in zip(
            *(app_seconds(config) for _ in range(runs)), strict=True))
        print(f"app, {name}: {STEPS} steps of t {1000 * alone / STEPS:.3f} ms a step; the guard rails "
              f"{1000 * guard:.2f} ms once: {(alone + guard) / alone:.3f}x (goal <= 1.10x); "
              f"the view opens in {1000 * opening:.1f} ms")


if __name__ == "__main__":
    main()
