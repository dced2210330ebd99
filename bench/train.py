"""Training from data: the cost of a training step, and of redrawing its pictures.

    python bench/train.py [--runs 30]

2-8-8-1 moons, a line per optimizer (sgd, momentum, nesterov, rmsprop, adam): the time a
training step of the stepper takes (Stepper.train with --optimizer that one: batch 32 of the 160
training rows of 200 moons samples, tanh, no gradient check, headless), against a plain NumPy
loop written here that does the same maths on the same batches: the batch's forward pass and
loss, the loss and accuracy over every training and test row, the backward pass, the update as
cs231n's optim.py writes it (and its notes' Nesterov), and the batch's loss after it. Both run
STEPS steps, alternately, `runs` times; the medians and their ratio are printed. Goal: <= 1.5x.
The two runs' final parameters are compared (to rtol 1e-9; the largest difference is printed),
so the plain loop is known to compute what the stepper does.

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
from dataclasses import replace
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
        epoch, k = (step - 1) // per_epoch + 1, (step - 1) % per_epoch
        if epoch not in orders:  # the stepper's shuffle: its own stream, one an epoch
            rng = np.random.default_rng([config.seed, batches.BATCH_STREAM, epoch])
            orders[epoch] = rng.permutation(len(train))
        rows = train[orders[epoch][k * size:(k + 1) * size]]
        X, y = X_all[rows], y_all[rows]
        z1, a1, z2, a2, z3 = logits(X)
        bce(z3, y).mean()
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
            f"steps, batch {config.batch}; final parameters within {worst:.0e}; goal <= 1.5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs a measurement (>= 20)")
    args = parser.parse_args()
    runs = max(20, args.runs)
    for optimizer in OPTIMIZERS:
        print(training_step(runs, optimizer))
    print(boundary(runs))


if __name__ == "__main__":
    main()
