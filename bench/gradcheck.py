"""The fast (vectorised) gradient check against the notebook's element-by-element loop.

Both methods check every parameter tensor of the same network in one run. The loop is
timed in full for 3-4-1; for the large networks it is timed on a random sample of elements
(two forward passes each, exactly the loop's work per element) and extrapolated to all of
them, which the output says.

    python bench/gradcheck.py [--runs 15] [--sample 3000] [--full-loop] [--speed-only]

Goals: 784-128-1 fast <= 250 ms; 784-256-128-10 (softmax, 235,146 parameters) fast
<= 150 ms; both >= 50x faster than the loop.

Then issue 28's lines (`--speed-only` prints only these): the whole check (gradient_check,
fast) against two baselines measured in the same run, the method before issue 28 (read
from git at BEFORE, the commit before it changed) and the directional floor (one forward-
backward and two forwards, what a random-direction check costs), with the machine's load
and the largest difference between the two methods' numerical gradients, relative to
each tensor's largest. Goals: 784-256-128-10 <= 30 ms; 784-512-512-10 tanh <= 3x its relu;
784-500-10000 < 2 s.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from engine.check.verdicts import gradient_check
from engine.maths.network import init_params
from engine.maths.slopes import central_difference
from engine.model import builtin
from engine.model.builtin import BuiltinModel
from engine.settings.config import Config

#: (inputs, hidden layers, classes, activation)
SIZES = [(3, (4,), 1, "relu"), (784, (128,), 1, "relu"), (784, (256, 128), 10, "relu"),
         (784, (256, 128), 10, "tanh")]


#: The commit before issue 28 changed the vectorised check: its method is the baseline.
BEFORE = "1d9f78e"
#: Issue 28's shapes: (inputs, hidden layers, classes, activation, runs).
ISSUE28 = [(784, (256, 128), 10, "relu", 15), (784, (512, 512), 10, "relu", 5),
           (784, (512, 512), 10, "tanh", 5), (784, (500,), 10000, "relu", 3)]


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


def method_before() -> ModuleType | None:
    """engine.maths.fastcheck as it was at BEFORE, or None outside a git checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        source = subprocess.run(["git", "show", f"{BEFORE}:engine/maths/fastcheck.py"], cwd=root,
                                capture_output=True, check=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp()) / "fastcheck_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("fastcheck_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def issue28(before: ModuleType | None) -> None:
    """Issue 28's gradient-check lines: each shape's check against the method before it and
    the directional floor, measured here and now."""
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
          f"the method before: {'commit ' + BEFORE if before else 'not found (no git)'}")
    relu_time: dict[tuple[int, ...], float] = {}
    for inputs, hidden, classes, activation, runs in ISSUE28:
        config = Config(inputs=inputs, hidden=hidden, classes=classes, activation=activation,
                        init="he").resolved()
        now, line = shape_line(config, runs, before)
        if activation == "relu":
            relu_time[hidden] = now
        elif hidden in relu_time:
            line += f", {now / relu_time[hidden]:.2f}x its relu"
        print(line, flush=True)


def shape_line(config: Config, runs: int, before: ModuleType | None) -> tuple[float, str]:
    """One shape's check time, and its line: the floor, the method before and how far
    apart the two methods' numbers are."""
    arch = config.architecture
    model = BuiltinModel(arch)
    params = init_params(arch, config.seed, config.init)
    x, y, eps = np.array(config.x), config.y, config.eps
    grads = model.backward(x, y, params, model.forward(x, params, y)[0])
    check = partial(gradient_check, model, params, x, y, grads, eps, "fast")
    now = median_time(check, runs)

    def directional() -> None:  # one forward-backward and two forwards
        model.backward(x, y, params, model.forward(x, params, y)[0])
        model.forward(x, params, y)
        model.forward(x, params, y)

    floor = median_time(directional, runs)
    line = f"{arch.label} {arch.activation}: check {now * 1000:.1f} ms, floor {floor * 1000:.2f} ms"
    if before is None:
        return now, line
    fast_now = builtin.fast_numerical  # type: ignore[attr-defined]
    builtin.fast_numerical = before.fast_numerical  # type: ignore[attr-defined]
    try:
        then = median_time(check, max(1, runs // 5))
    finally:
        builtin.fast_numerical = fast_now  # type: ignore[attr-defined]
    new, old = fast_now(arch, params, x, y, eps), before.fast_numerical(arch, params, x, y, eps)
    if all(np.array_equal(new[k][0], old[k][0]) for k in new):
        agree = "bit for bit"
    else:
        worst = max(float(np.max(np.abs(new[k][0] - old[k][0])) / max(np.max(np.abs(old[k][0])), 1e-300))
                    for k in new)
        agree = f"within {worst:.1e} of each tensor's largest"
    return now, line + f", before {then * 1000:.1f} ms ({then / now:.1f}x), numbers {agree}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--sample", type=int, default=3000)
    parser.add_argument("--full-loop", action="store_true", help="time the whole loop at every size")
    parser.add_argument("--speed-only", action="store_true", help="only issue 28's lines")
    args = parser.parse_args()
    if not args.speed_only:
        sizes(args)
    issue28(method_before())


def sizes(args: argparse.Namespace) -> None:
    """The fast check against the loop at each of SIZES."""
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
