"""The fast (vectorised) gradient check against the notebook's element-by-element loop.

Both methods check every parameter tensor of the same network in one run. The loop is
timed in full for 3-4-1; for the large networks it is timed on a random sample of elements
(two forward passes each, exactly the loop's work per element) and extrapolated to all of
them, which the output says.

    python bench/gradcheck.py [--runs 15] [--sample 3000] [--full-loop]

Goals: 784-128-1 fast <= 250 ms; 784-256-128-10 (softmax, 235,146 parameters) fast
<= 150 ms; both >= 50x faster than the loop.
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

from engine.check.verdicts import gradient_check
from engine.maths.network import init_params
from engine.maths.slopes import central_difference
from engine.model.builtin import BuiltinModel
from engine.settings.config import Config

#: (inputs, hidden layers, classes, activation)
SIZES = [(3, (4,), 1, "relu"), (784, (128,), 1, "relu"), (784, (256, 128), 10, "relu"),
         (784, (256, 128), 10, "tanh")]


def median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def loop_sample_time(model: BuiltinModel, params, x, y, eps: float,  # type: ignore[no-untyped-def]
                     sample: int) -> float:
    """Seconds per element of the loop method, timed on a random sample of its elements."""
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
    for inputs, hidden, classes, activation in SIZES:
        config = Config(inputs=inputs, hidden=hidden, classes=classes, activation=activation,
                        init="he").resolved()
        arch = config.architecture
        model = BuiltinModel(arch)
        params = init_params(arch, config.seed, config.init)
        x, y, eps = np.array(config.x), config.y, config.eps
        grads = model.backward(x, y, params, model.forward(x, params, y)[0])
        count = arch.param_count

        fast = median_time(partial(gradient_check, model, params, x, y, grads, eps, "fast"), args.runs)
        if count <= 10_000 or args.full_loop:
            loop = median_time(partial(gradient_check, model, params, x, y, grads, eps, "loop"),
                               args.runs if count <= 10_000 else 3)
            how = "measured"
        else:
            loop = loop_sample_time(model, params, x, y, eps, args.sample) * count
            how = f"estimated from {args.sample} sampled elements"
        loop_text = f"{loop:.2f} s" if loop >= 1 else f"{loop * 1000:.2f} ms"
        print(f"{arch.label} fast {fast * 1000:.2f} ms, loop {loop_text} ({how}), "
              f"{loop / fast:.0f}x  [{arch.activation}, {arch.loss}, {count:,} parameters, "
              f"median of {args.runs} fast runs]")


if __name__ == "__main__":
    main()
