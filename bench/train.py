"""Training from data: the cost of a training step, and of redrawing its pictures.

    python bench/train.py [--runs 30]

2-8-8-1 moons, a line per optimizer (sgd, momentum, nesterov, rmsprop, adam): the time a
training step of the stepper takes (Stepper.train with --optimizer that one: batch 32 of the 160
training rows of 200 moons samples, tanh, no gradient check, headless), against a plain NumPy
loop written here that does the same maths on the same batches: the batch's forward pass and
loss, the backward pass, the update as cs231n's optim.py writes it (and its notes' Nesterov),
and the batch's loss after it; the loss and accuracy over every training and test row once an
epoch and at the end, as the stepper measures them (--eval-every). Both run STEPS steps,
alternately, `runs` times; the medians and their ratio are printed. Goal: <= 1.3x. The two
runs' final parameters are compared (to rtol 1e-9; the largest difference is printed), so the
plain loop is known to compute what the stepper does.

60,000 x 784: synthetic MNIST-sized data (standard normal inputs, ten classes, a fixed seed),
784-128-10 ReLU with a softmax, He's init, batch 128: the median of the stepper's training
steps (each timed alone, so the whole-set measurements once an epoch are not in it) against
the same plain loop's, in the same run. Goal: <= 1.3x. Then an epoch (its measurements
included) at 7,500, 15,000, 30,000 and 60,000 rows, with its time per row: an epoch's cost
is linear in the rows when that figure stays flat.

boundary: the decision boundary of 2-8-8-1 tanh on moons (200 samples, after 30 steps)
redrawn at 120 x 40 cells (120 x 80 field points): the field's forward pass, the
half-block lines with the points drawn in, and Rich rendering them to segments, as the
widget does after each update. Goal: <= 50 ms median.

One function a measurement, each returning its line; main() prints them in order.
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# One BLAS thread for both sides: on a 2-core machine with other work, OpenBLAS's threads made
# a 784x128 product take 34 ms instead of 0.3 ms, and the ratios meaningless.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from rich.color import Color as RichColor
from rich.console import Console

from engine.data import batches
from engine.data.batches import Data
from engine.data.sets import Dataset
from engine.maths.network import init_params
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
#: Each optimizer with the learning rate it is used with (cs231n's assignment: about 1e-1 for
#: SGD and momentum, 1e-2 to 1e-3 for RMSprop and Adam), its other settings the defaults.
OPTIMIZERS = {"sgd": 0.1, "momentum": 0.1, "nesterov": 0.1, "rmsprop": 0.01, "adam": 0.01}

Tensors = dict[str, np.ndarray]
#: A plain update: (parameters, gradients by parameter name, the optimizer's state), in place.
Update = Callable[[Tensors, Tensors, Tensors], None]


def stepper_steps(config: Config) -> tuple[float, Tensors]:
    """Seconds a step of Stepper.train, and the parameters it ends with."""
    data = batches.from_config(config)
    assert data is not None
    stepper = Stepper(batches.fitted(config, data), data=data)
    start = time.perf_counter()
    stepper.train(STEPS)
    return (time.perf_counter() - start) / STEPS, dict(stepper.state.params)


def plain_update(config: Config) -> Update:
    """cs231n's optim.py (and its notes' Nesterov), written out again as a course writes it:
    each parameter's state in a dict, updated in place."""
    lr, mu, beta1, beta2, eps = config.lr, config.momentum, config.beta1, config.beta2, config.epsilon

    def update(P: Tensors, grads: Tensors, state: Tensors) -> None:
        state["t"] = state.get("t", np.zeros(())) + 1
        t = float(state["t"])
        for name, dw in grads.items():
            w = P[name]
            if config.optimizer == "sgd":
                P[name] = w - lr * dw
            elif config.optimizer in ("momentum", "nesterov"):
                v_prev = state.get("v" + name, np.zeros_like(w))
                v = state["v" + name] = mu * v_prev - lr * dw
                P[name] = w + v if config.optimizer == "momentum" else w - mu * v_prev + (1 + mu) * v
            elif config.optimizer == "rmsprop":
                s = state["s" + name] = beta2 * state.get("s" + name, np.zeros_like(w)) + (1 - beta2) * dw**2
                P[name] = w - lr * dw / (np.sqrt(s) + eps)
            else:  # adam
                m = state["m" + name] = beta1 * state.get("m" + name, np.zeros_like(w)) + (1 - beta1) * dw
                v = state["v" + name] = beta2 * state.get("v" + name, np.zeros_like(w)) + (1 - beta2) * dw**2
                mt, vt = m / (1 - beta1**t), v / (1 - beta2**t)
                P[name] = w - lr * mt / (np.sqrt(vt) + eps)
    return update


def plain_rows(seed: int, train: np.ndarray, size: int, step: int,
               orders: dict[int, np.ndarray]) -> np.ndarray:
    """The rows of a step as the stepper draws them: slice k of the epoch's shuffle, from its
    own stream, one shuffle an epoch (kept in `orders`)."""
    per_epoch = -(-len(train) // size)
    epoch, k = (step - 1) // per_epoch + 1, (step - 1) % per_epoch
    if epoch not in orders:
        orders[epoch] = np.random.default_rng([seed, batches.BATCH_STREAM, epoch]).permutation(len(train))
    rows: np.ndarray = train[orders[epoch][k * size:(k + 1) * size]]
    return rows


def plain_steps(config: Config) -> tuple[float, Tensors]:
    """The same steps as a course would write them: one function, no stepper."""
    data = batches.from_config(config)
    assert data is not None
    X_all, y_all = data.dataset.X, data.dataset.y
    train, test = data.dataset.train, data.dataset.test
    rs = np.random.RandomState(config.seed)  # the notebook's draws, in layer order
    P = {"W1": rs.randn(8, 2), "b1": np.zeros(8), "W2": rs.randn(8, 8), "b2": np.zeros(8),
         "W3": rs.randn(1, 8), "b3": np.zeros(1)}
    update, state = plain_update(config), dict[str, np.ndarray]()
    size, per_epoch = config.batch, -(-len(train) // config.batch)
    orders: dict[int, np.ndarray] = {}

    def logits(X: np.ndarray) -> tuple[np.ndarray, ...]:
        z1 = X @ P["W1"].T + P["b1"]
        a1 = np.tanh(z1)
        z2 = a1 @ P["W2"].T + P["b2"]
        a2 = np.tanh(z2)
        return z1, a1, z2, a2, a2 @ P["W3"].T + P["b3"]

    def bce(z3: np.ndarray, y: np.ndarray) -> np.ndarray:
        losses: np.ndarray = np.logaddexp(0.0, (1 - 2 * y) * z3[:, 0])
        return losses

    start = time.perf_counter()
    for step in range(1, STEPS + 1):
        k = (step - 1) % per_epoch
        rows = plain_rows(config.seed, train, size, step, orders)
        X, y = X_all[rows], y_all[rows]
        z1, a1, z2, a2, z3 = logits(X)
        bce(z3, y).mean()
        if k == 0:  # once an epoch, as the stepper measures the whole sets
            every = logits(X_all)[4]
            losses, right = bce(every, y_all), (every[:, 0] > 0) == y_all
            (losses[train].mean(), right[train].mean(), losses[test].mean(), right[test].mean())
        dz3 = 1.0 / (1.0 + np.exp(-z3)) - y[:, None]
        dz2 = dz3 @ P["W3"] * (1.0 - np.tanh(z2) ** 2)
        dz1 = dz2 @ P["W2"] * (1.0 - np.tanh(z1) ** 2)
        n = len(X)
        update(P, {"W3": dz3.T @ a2 / n, "b3": dz3.mean(axis=0), "W2": dz2.T @ a1 / n,
                   "b2": dz2.mean(axis=0), "W1": dz1.T @ X / n, "b1": dz1.mean(axis=0)}, state)
        bce(logits(X)[4], y).mean()
    every = logits(X_all)[4]  # and at the end
    losses, right = bce(every, y_all), (every[:, 0] > 0) == y_all
    (losses[train].mean(), right[train].mean(), losses[test].mean(), right[test].mean())
    return (time.perf_counter() - start) / STEPS, P


def training_step(runs: int, optimizer: str) -> str:
    """The stepper's training step with `optimizer` against the plain loop of it, alternately."""
    config = replace(MOONS, optimizer=optimizer, lr=OPTIMIZERS[optimizer])
    ours, plain = [], []
    for _ in range(runs):  # alternately, so both see the same machine
        seconds, params = stepper_steps(config)
        ours.append(seconds)
        seconds, expected = plain_steps(config)
        plain.append(seconds)
    worst = max(float(np.max(np.abs(params[name] - value))) for name, value in expected.items())
    for name, value in expected.items():  # the same maths, to rounding
        assert np.allclose(params[name], value, rtol=1e-9, atol=1e-12), (optimizer, name)
    us, base = 1e6 * statistics.median(ours), 1e6 * statistics.median(plain)
    return (f"2-8-8-1 moons {optimizer:<8} lr {config.lr:<4}  {us:.0f} us a training step  "
            f"(plain NumPy loop {base:.0f} us: {us / base:.2f}x; median of {runs} runs of {STEPS} "
            f"steps, batch {config.batch}; final parameters within {worst:.0e}; goal <= 1.3x)")


MNIST_ROWS = 60_000
MNIST = Config(dataset="moons", hidden=(128,), classes=10, batch=128, init="he", lr=0.01, gradcheck=False)
MNIST_STEPS = 200


def synthetic(rows: int) -> tuple[Config, Data]:
    """rows x 784 standard normal inputs and labels of ten classes from a fixed seed, split
    and planned in batches of 128 as the stepper does a CSV file's (no file is read)."""
    rng = np.random.default_rng(28)
    dataset = Dataset(rng.standard_normal((rows, 784)), rng.integers(0, 10, rows), "synthetic")
    data = batches.prepare(dataset, MNIST.test_fraction, MNIST.batch, MNIST.seed)
    return batches.fitted(MNIST, data), data


class StepClock:
    """Each step's seconds, from the moments a run reports reaching each step (its progress)."""

    def __init__(self) -> None:
        self.marks: list[float] = []

    def __call__(self, done: int, total: int) -> None:
        self.marks.append(time.perf_counter())

    def steps(self) -> list[float]:
        return [b - a for a, b in itertools.pairwise(self.marks)]


def plain_softmax(config: Config, data: Data, steps: int,
                  progress: Callable[[int, int], None]) -> Tensors:
    """784-128-10 as a course writes it: ReLU, softmax cross-entropy, SGD, the batch's loss after
    the update; the loss and accuracy over every row once an epoch and at the end."""
    X_all, y_all = data.dataset.X, data.dataset.y
    train, test = data.dataset.train, data.dataset.test
    P = dict(init_params(config.architecture, config.seed, config.init))
    size, per_epoch, lr = data.batch, data.steps_per_epoch, config.lr
    orders: dict[int, np.ndarray] = {}

    def logits(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        z1 = X @ P["W1"].T + P["b1"]
        a1 = np.maximum(z1, 0.0)
        return z1, a1, a1 @ P["W2"].T + P["b2"]

    def cross_entropy(z2: np.ndarray, y: np.ndarray) -> np.ndarray:
        top = z2.max(axis=1, keepdims=True)
        losses: np.ndarray = np.log(np.exp(z2 - top).sum(axis=1)) + top[:, 0] - z2[np.arange(len(y)), y]
        return losses

    def fit() -> tuple[float, ...]:
        every = logits(X_all)[2]
        losses, right = cross_entropy(every, y_all), every.argmax(axis=1) == y_all
        return losses[train].mean(), right[train].mean(), losses[test].mean(), right[test].mean()

    for step in range(1, steps + 1):
        progress(step - 1, steps)
        k = (step - 1) % per_epoch
        rows = plain_rows(config.seed, train, size, step, orders)
        X, y = X_all[rows], y_all[rows]
        z1, a1, z2 = logits(X)
        cross_entropy(z2, y).mean()
        if k == 0:
            fit()
        e = np.exp(z2 - z2.max(axis=1, keepdims=True))
        dz2 = e / e.sum(axis=1, keepdims=True)
        dz2[np.arange(len(y)), y] -= 1.0
        dz1 = dz2 @ P["W2"] * (z1 > 0)
        n = len(X)
        grads = {"W2": dz2.T @ a1 / n, "b2": dz2.mean(axis=0), "W1": dz1.T @ X / n, "b1": dz1.mean(axis=0)}
        for name, dw in grads.items():
            P[name] = P[name] - lr * dw
        cross_entropy(logits(X)[2], y).mean()
    fit()
    progress(steps, steps)
    return P


def mnist_step(runs: int) -> str:
    """The stepper's training step at 60,000 x 784 against the plain loop's, alternately."""
    config, data = synthetic(MNIST_ROWS)
    ours: list[float] = []
    plain: list[float] = []
    for _ in range(max(3, runs // 10)):
        stepper, clock = Stepper(config, data=data, keep_trail=False), StepClock()
        stepper.train(MNIST_STEPS, progress=clock)
        ours += clock.steps()
        clock = StepClock()
        expected = plain_softmax(config, data, MNIST_STEPS, clock)
        plain += clock.steps()
    params = stepper.state.params
    worst = max(float(np.max(np.abs(params[name] - value))) for name, value in expected.items())
    for name, value in expected.items():
        assert np.allclose(params[name], value, rtol=1e-9, atol=1e-12), name
    ms, base = 1e3 * statistics.median(ours), 1e3 * statistics.median(plain)
    return (f"{MNIST_ROWS:,} x 784 784-128-10 batch {data.batch}  {ms:.2f} ms a training step  (plain NumPy "
            f"loop {base:.2f} ms: {ms / base:.2f}x; median of {len(ours)} steps; final parameters within "
            f"{worst:.0e}; goal <= 1.3x)")


def epoch_times(runs: int) -> str:
    """An epoch of the stepper, its whole-set measurements included, at growing row counts."""
    parts = []
    for rows in (7_500, 15_000, 30_000, 60_000):
        config, data = synthetic(rows)
        times = []
        for _ in range(max(3, runs // 10)):
            stepper = Stepper(config, data=data, keep_trail=False)
            start = time.perf_counter()
            stepper.train(data.steps_per_epoch)
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
        parts.append(f"{rows:,} rows {seconds:.2f} s ({1e6 * seconds / rows:.1f} us a row)")
    return "epoch (784-128-10, batch 128, median of 3): " + "; ".join(parts) + \
        "; linear when the time a row stays flat"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs a measurement (>= 20)")
    args = parser.parse_args()
    runs = max(20, args.runs)
    print("load average (1, 5, 15 min): " + ", ".join(f"{load:.2f}" for load in os.getloadavg()))
    print(mnist_step(runs))
    print(epoch_times(runs))
    for optimizer in OPTIMIZERS:
        print(training_step(runs, optimizer))
    print(boundary(runs))
    print("load average (1, 5, 15 min): " + ", ".join(f"{load:.2f}" for load in os.getloadavg()))


if __name__ == "__main__":
    main()
