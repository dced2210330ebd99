"""Training from data: the cost of a training step, and of redrawing its pictures.

    python bench/train.py [--runs 30]

2-8-8-1 moons: the time a training step of the stepper takes (Stepper.train: batch 32 of
the 160 training rows of 200 moons samples, tanh, no gradient check, headless), against a
plain NumPy loop written here that does the same maths on the same batches: the batch's
forward pass and loss, the loss and accuracy over every training and test row, the backward
pass, the SGD update and the batch's loss after it. Both run STEPS steps, alternately,
`runs` times; the medians and their ratio are printed. Goal: <= 1.5x. The two runs' final
parameters are compared, so the plain loop is known to compute what the stepper does.

boundary: the decision boundary of 2-8-8-1 tanh on moons (200 samples, after 30 steps)
redrawn at 120 x 40 cells (120 x 80 field points): the field's forward pass, the
half-block lines with the points drawn in, and Rich rendering them to segments, as the
widget does after each update. Goal: <= 50 ms median.

One function a measurement, each returning its line; main() prints them in order.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from rich.color import Color as RichColor
from rich.console import Console

from engine.data import batches
from engine.run.stepper import Stepper
from engine.settings.config import Config
from tui.app.widgets.boundary import draw

COLS, LINES = 120, 40  # the whole terminal: the largest map the app can show


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def moons_stepper(steps: int) -> Stepper:
    """2-8-8-1 tanh on 200 moons, trained `steps` steps without gradient checks."""
    config = Config(dataset="moons", hidden=(8, 8), activation="tanh", samples=200)
    data = batches.from_config(config)
    assert data is not None
    stepper = Stepper(batches.fitted(config, data), data=data)
    stepper.train(steps)
    return stepper


def boundary(runs: int) -> str:
    """Field + renderable + Rich's render to segments, at 120 x 40 (one line of it is the
    axes and one the legend: the field is 120 x 76 points, plus those two lines)."""
    view = moons_stepper(30).view()
    assert view.data is not None
    data, arch, params = view.data, view.config.architecture, view.state.params
    console = Console(width=COLS, color_system="truecolor", file=io.StringIO())  # renders, never writes
    muted = RichColor.from_rgb(150, 150, 150)

    def redraw() -> None:
        picture = draw(arch, params, data, None, COLS, LINES - 2, (30, 30, 30), muted)
        list(console.render(picture))

    ms = median_ms(redraw, runs)
    return (f"boundary  {ms:.1f} ms  (median of {runs}: 2-8-8-1 tanh moons, {COLS}x{LINES} cells, "
            f"{COLS}x{2 * (LINES - 2)} field points, {len(data.dataset.X)} points drawn; goal <= 50 ms)")


STEPS = 200
MOONS = Config(dataset="moons", hidden=(8, 8), activation="tanh", samples=200, batch=32)


def stepper_steps() -> tuple[float, dict[str, np.ndarray]]:
    """Seconds a step of Stepper.train, and the parameters it ends with."""
    data = batches.from_config(MOONS)
    assert data is not None
    stepper = Stepper(batches.fitted(MOONS, data), data=data)
    start = time.perf_counter()
    stepper.train(STEPS)
    return (time.perf_counter() - start) / STEPS, dict(stepper.state.params)


def plain_steps() -> tuple[float, dict[str, np.ndarray]]:
    """The same steps as a course would write them: one function, no stepper."""
    data = batches.from_config(MOONS)
    assert data is not None
    X_all, y_all = data.dataset.X, data.dataset.y
    train, test = data.dataset.train, data.dataset.test
    rs = np.random.RandomState(MOONS.seed)  # the notebook's draws, in layer order
    W1, b1 = rs.randn(8, 2), np.zeros(8)
    W2, b2 = rs.randn(8, 8), np.zeros(8)
    W3, b3 = rs.randn(1, 8), np.zeros(1)
    lr, size = MOONS.lr, MOONS.batch
    per_epoch = -(-len(train) // size)
    orders: dict[int, np.ndarray] = {}

    def logits(X: np.ndarray) -> tuple[np.ndarray, ...]:
        z1 = X @ W1.T + b1
        a1 = np.tanh(z1)
        z2 = a1 @ W2.T + b2
        a2 = np.tanh(z2)
        return z1, a1, z2, a2, a2 @ W3.T + b3

    def bce(z3: np.ndarray, y: np.ndarray) -> np.ndarray:
        losses: np.ndarray = np.logaddexp(0.0, (1 - 2 * y) * z3[:, 0])
        return losses

    start = time.perf_counter()
    for step in range(1, STEPS + 1):
        epoch, k = (step - 1) // per_epoch + 1, (step - 1) % per_epoch
        if epoch not in orders:  # the stepper's shuffle: its own stream, one an epoch
            rng = np.random.default_rng([MOONS.seed, batches.BATCH_STREAM, epoch])
            orders[epoch] = rng.permutation(len(train))
        rows = train[orders[epoch][k * size:(k + 1) * size]]
        X, y = X_all[rows], y_all[rows]
        z1, a1, z2, a2, z3 = logits(X)
        bce(z3, y).mean()
        every = logits(X_all)[4]
        losses, right = bce(every, y_all), (every[:, 0] > 0) == y_all
        (losses[train].mean(), right[train].mean(), losses[test].mean(), right[test].mean())
        dz3 = 1.0 / (1.0 + np.exp(-z3)) - y[:, None]
        da2 = dz3 @ W3
        dz2 = da2 * (1.0 - np.tanh(z2) ** 2)
        da1 = dz2 @ W2
        dz1 = da1 * (1.0 - np.tanh(z1) ** 2)
        n = len(X)
        W3, b3 = W3 - lr * (dz3.T @ a2 / n), b3 - lr * dz3.mean(axis=0)
        W2, b2 = W2 - lr * (dz2.T @ a1 / n), b2 - lr * dz2.mean(axis=0)
        W1, b1 = W1 - lr * (dz1.T @ X / n), b1 - lr * dz1.mean(axis=0)
        bce(logits(X)[4], y).mean()
    seconds = (time.perf_counter() - start) / STEPS
    return seconds, {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}


def training_step(runs: int) -> str:
    ours, plain = [], []
    for _ in range(runs):  # alternately, so both see the same machine
        seconds, params = stepper_steps()
        ours.append(seconds)
        seconds, expected = plain_steps()
        plain.append(seconds)
    for name, value in expected.items():  # the same maths, to rounding
        assert np.allclose(params[name], value, rtol=1e-9, atol=1e-12), name
    us, base = 1e6 * statistics.median(ours), 1e6 * statistics.median(plain)
    return (f"2-8-8-1 moons  {us:.0f} us a training step  (plain NumPy loop {base:.0f} us: "
            f"{us / base:.2f}x; median of {runs} runs of {STEPS} steps, batch {MOONS.batch}; goal <= 1.5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs a measurement (>= 20)")
    args = parser.parse_args()
    runs = max(20, args.runs)
    print(training_step(runs))
    print(boundary(runs))


if __name__ == "__main__":
    main()
