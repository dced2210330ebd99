"""What running a user's model in a process of its own costs, phase by phase.

Each model file (by default the seed notebook's code, and tests/fixtures/three_layer.py:
its own parameter names and init_params, gradients keyed by name) is stepped twice: called
in this process (engine.usermodel.inprocess, as the stepper did before the model got a process of its
own) and through engine.usermodel.client (a child process fed over a pipe). Each phase is timed
from the same state, many times, and the medians are printed with their difference.

    python bench/usermodel.py [--runs 200] [--inputs 3 --hidden 4] [--model FILE.py ...]

--inputs and --hidden shape a model without init_params (the notebook's); one with its
own init_params makes its own shapes.

Goal (issue 9): at 3-4-1 a phase costs at most 5 ms more in its own process.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.model.protocol import Model
from engine.run.stepper import PHASES, Stepper
from engine.settings.config import Config
from engine.usermodel.client import load_model
from engine.usermodel.contract import load_source
from engine.usermodel.inprocess import InProcess

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
MODELS = (FIXTURES / "notebook.py", FIXTURES / "three_layer.py")


def phase_medians(model: Model, config: Config, runs: int) -> list[float]:
    """Median seconds of each phase, each computed `runs` times from the same state."""
    stepper = Stepper(config, model=model)
    medians = []
    for _ in PHASES:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            new = stepper.compute()
            times.append(time.perf_counter() - start)
        stepper.commit(new)
        medians.append(statistics.median(times))
    return medians


def bench(path: Path, config: Config, runs: int) -> None:
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # the notebook's demo
        local = InProcess(load_source(path, path.read_bytes()))
    start = time.perf_counter()
    remote = load_model(path)
    started = time.perf_counter() - start
    try:
        inside = phase_medians(local, config, runs)
        outside = phase_medians(remote, config, runs)
        stepper = Stepper(config, model=remote)
    finally:
        remote.close()
    shapes = ", ".join(f"{name} {'x'.join(map(str, value.shape))}"
                       for name, value in stepper.initial.params.items())
    label = f"{path.name} ({stepper.param_count} parameters: {shapes})"
    print(label)
    for phase, a, b in zip(PHASES, inside, outside, strict=True):
        print(f"  {phase.value:<9} in-process {a * 1e3:7.3f} ms, own process {b * 1e3:7.3f} ms, "
              f"+{(b - a) * 1e3:.3f} ms  [median of {runs}]")
    print(f"  starting the model's process and importing the file: {started * 1e3:.0f} ms (once)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--inputs", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=4)
    parser.add_argument("--model", type=Path, action="append", help="a model file (repeatable)")
    args = parser.parse_args()
    config = replace(Config(inputs=args.inputs, hidden=(args.hidden,)), x=()).resolved()
    for path in args.model or MODELS:
        bench(path.resolve(), config, args.runs)


if __name__ == "__main__":
    main()
