"""The fast (vectorised) gradient check against the notebook's element-by-element loop.

Both methods check all four parameter tensors of the same network in one run. The loop is
timed in full for 3-4-1; for 784-128-1 it is timed on a random sample of elements (two
forward passes each, exactly the loop's work per element) and extrapolated to all of them,
which the output says.

    python bench/gradcheck.py [--runs 15] [--sample 3000] [--full-loop]

Goal: 784-128-1 fast <= 250 ms and >= 50x faster than the loop.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from engine.config import Config
from engine.gradcheck import central_difference, gradient_check
from engine.model import BuiltinModel
from engine.network import backward, forward, init_params

SIZES = [(3, 4), (784, 128)]


def median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def loop_sample_time(params, x, y, eps: float, sample: int) -> float:  # type: ignore[no-untyped-def]
    """Seconds per element of the loop method, timed on a random sample of its elements."""
    model = BuiltinModel()
    work = {k: v.copy() for k, v in params.items()}
    elements = [(name, idx) for name in work for idx in np.ndindex(work[name].shape)]
    rng = np.random.default_rng(0)
    picks = [elements[i] for i in rng.choice(len(elements), size=min(sample, len(elements)),
                                             replace=False)]
    start = time.perf_counter()
    for name, idx in picks:
        central_difference(model, work, name, idx, x, y, eps)
    return (time.perf_counter() - start) / len(picks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--sample", type=int, default=3000)
    parser.add_argument("--full-loop", action="store_true", help="time the whole loop at every size")
    args = parser.parse_args()
    for inputs, hidden in SIZES:
        config = Config(inputs=inputs, hidden=hidden).resolved()
        params = init_params(inputs, hidden, config.seed)
        x, y, eps = np.array(config.x), config.y, config.eps
        grads = backward(x, y, params, forward(x, params, y)[0])
        count = sum(v.size for v in params.values())

        fast = median_time(partial(gradient_check, BuiltinModel(), params, x, y, grads, eps, "fast"),
                           args.runs)
        if count <= 10_000 or args.full_loop:
            loop = median_time(partial(gradient_check, BuiltinModel(), params, x, y, grads, eps, "loop"),
                               args.runs if count <= 10_000 else 3)
            how = "measured"
        else:
            loop = loop_sample_time(params, x, y, eps, args.sample) * count
            how = f"estimated from {args.sample} sampled elements"
        loop_text = f"{loop:.2f} s" if loop >= 1 else f"{loop * 1000:.2f} ms"
        print(f"{inputs}-{hidden}-1 fast {fast * 1000:.2f} ms, loop {loop_text} ({how}), "
              f"{loop / fast:.0f}x  [{count:,} parameters, median of {args.runs} fast runs]")


if __name__ == "__main__":
    main()
