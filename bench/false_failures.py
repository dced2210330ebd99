"""False failures of the gradient check on correct code, and what the recheck costs.

Random correct fully-connected ReLU networks, written as course code that shows the check no
pre-activation: cs231n-style classes (params and loss(X, y) returning the scores or
(loss, grads); the check sees only `scores`) and Nielsen-style files (column vectors inside,
W (n_l, n_(l-1)), b (n_l, 1), a sigmoid output with the cross-entropy cost; the cache holds only
the `activations` list). Random sizes (1 to 3 hidden layers of 1 to 32 units), weight scales
from cs231n's 1e-3 to He's, batches of 1 to 64 moons rows, 10 SGD steps each, every step
checked at eps 1e-5. Each model is loaded from its source exactly as `--model` loads a file
(engine.usermodel.contract.load_source), in this process. Broken copies (a missing ReLU mask,
a missing 1/m) must still fail.

    python bench/false_failures.py [--models 200] [--steps 10] [--seed 24] [--broken 20]

Prints, per family: models and checks run, checks that reported FAILED, elements that failed
the central rule at first and what the second look made of them, and the forward passes the
recheck cost, against the check's own.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from engine.check.verdicts import GradCheck, gradient_check
from engine.data.sets import make_dataset
from engine.maths.network import Architecture, Array, Labels, Params, Tensors
from engine.maths.slopes import Nudge, Numerical, Progress, loop_numerical, nudged_losses
from engine.usermodel.contract import D_NAME, Contract, ModelError, load_source

EPS = 1e-5
FAMILIES = ("cs231n", "nielsen")
BUGS = ("mask", "mean")  # a missing ReLU mask, a missing 1/m


def cs231n_source(scale: float, bug: str | None = None) -> str:
    """A cs231n assignment-2 style FullyConnectedNet: affine - relu - ... - affine - softmax."""
    mask = "" if bug == "mask" else " * (h > 0)"
    mean = "" if bug == "mean" else "\n                dscores /= N"
    return textwrap.dedent(f'''\
        import numpy as np

        class FullyConnectedNet(object):
            def __init__(self, hidden_dims, input_dim=2, num_classes=2, reg=0.0,
                         weight_scale={scale!r}):
                self.reg = reg
                self.num_layers = len(hidden_dims) + 1
                dims = [input_dim] + list(hidden_dims) + [num_classes]
                self.params = {{}}
                for i in range(self.num_layers):
                    self.params['W%d' % (i + 1)] = weight_scale * np.random.randn(dims[i], dims[i + 1])
                    self.params['b%d' % (i + 1)] = np.zeros(dims[i + 1])

            def loss(self, X, y=None):
                hs = [X]
                for i in range(1, self.num_layers):
                    z = hs[-1].dot(self.params['W%d' % i]) + self.params['b%d' % i]
                    hs.append(np.maximum(0, z))
                L = self.num_layers
                scores = hs[-1].dot(self.params['W%d' % L]) + self.params['b%d' % L]
                if y is None:
                    return scores
                N = X.shape[0]
                shifted = scores - scores.max(axis=1, keepdims=True)
                log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
                loss = -log_probs[np.arange(N), y].sum() / N
                dscores = np.exp(log_probs)
                dscores[np.arange(N), y] -= 1{mean}
                grads = {{}}
                dout = dscores
                for i in range(L, 0, -1):
                    W = self.params['W%d' % i]
                    loss += 0.5 * self.reg * np.sum(W * W)
                    grads['W%d' % i] = hs[i - 1].T.dot(dout) + self.reg * W
                    grads['b%d' % i] = dout.sum(axis=0)
                    if i > 1:
                        h = hs[i - 1]
                        dout = dout.dot(W.T){mask}
                return loss, grads
        ''')


def nielsen_source(sizes: list[int], scale: float, bug: str | None = None) -> str:
    """A Nielsen-style network in the notebook's contract: column vectors inside, biases
    (n, 1), ReLU hidden layers, sigmoid outputs, the cross-entropy cost of network2.py."""
    mask = "" if bug == "mask" else " * (activations[l - 1] > 0)"
    m = "1" if bug == "mean" else "m"
    return textwrap.dedent(f'''\
        import numpy as np

        BATCHED = True
        SIZES = {sizes!r}

        def init_params(seed):
            rng = np.random.default_rng(seed)
            params = {{}}
            for l, (x, y) in enumerate(zip(SIZES[:-1], SIZES[1:]), start=1):
                params['W%d' % l] = rng.standard_normal((y, x)) * {scale!r} / np.sqrt(x)
                params['b%d' % l] = rng.standard_normal((y, 1)) * {scale!r}
            return params

        def _feedforward(X, params):
            activation = X.T
            activations = [activation]
            L = len(SIZES) - 1
            for l in range(1, L + 1):
                z = np.dot(params['W%d' % l], activation) + params['b%d' % l]
                activation = 1.0 / (1.0 + np.exp(-z)) if l == L else np.maximum(z, 0.0)
                activations.append(activation)
            return activations

        def forward(x, params, y):
            activations = _feedforward(x, params)
            a = activations[-1]
            Y = np.eye(SIZES[-1])[:, y]
            cost = np.sum(np.nan_to_num(-Y * np.log(a) - (1 - Y) * np.log(1 - a))) / a.shape[1]
            return {{'activations': activations}}, cost

        def backward(x, y, params, cache):
            activations = cache['activations']
            m = activations[0].shape[1]
            Y = np.eye(SIZES[-1])[:, y]
            delta = activations[-1] - Y
            grads = {{}}
            for l in range(len(SIZES) - 1, 0, -1):
                grads['dW%d' % l] = np.dot(delta, activations[l - 1].T) / {m}
                grads['db%d' % l] = delta.sum(axis=1, keepdims=True) / {m}
                if l > 1:
                    delta = np.dot(params['W%d' % l].T, delta){mask}
            return grads
        ''')


class InProcess:
    """A loaded model file as the check calls it, in this process (engine.model.protocol)."""

    name = "bench"
    fast_gradcheck = False
    batched = True
    user_code = True
    bug = None
    log = None
    described = ""
    reg = 0.0
    source = None
    own_init = True
    gradient_keys = D_NAME

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.convention = contract.convention
        self.recheck_passes = 0

    def init_params(self, seed: int) -> Params | None:
        return self.contract.init_params(seed)

    def forward(self, x: Array, params: Params, y: Labels) -> tuple[Tensors, float]:
        return self.contract.forward(x, params, y)

    def backward(self, x: Array, y: Labels, params: Params, cache: Tensors) -> Tensors:
        return self.contract.backward(x, y, params, cache)

    def update(self, params: Params, grads: Tensors, lr: float) -> Params:
        return {name: value - lr * grads["d" + name] for name, value in params.items()}

    def fit_loss(self, x: Array, params: Params, y: Labels) -> float:
        return self.forward(x, params, y)[1]

    def resize(self, arch: Architecture) -> InProcess:
        return self

    def numerical_gradients(self, params: Params, x: Array, y: Labels, eps: float,
                            progress: Progress | None, method: str = "loop") -> Numerical:
        return loop_numerical(self.contract, params, x, y, eps, progress)

    def nudged_losses(self, params: Params, x: Array, y: Labels, nudges: list[Nudge],
                      progress: Progress | None) -> Array:
        self.recheck_passes += len(nudges)
        return nudged_losses(lambda nudged: self.forward(x, nudged, y)[1], params, nudges, progress)

    def interrupt(self) -> None:
        pass


@dataclass
class Tally:
    """What a family's runs came to."""

    models: int = 0
    checks: int = 0
    failed_checks: int = 0
    failed_models: int = 0
    first_failures: int = 0  # elements that failed the central rule (or a kink rule) at first
    statuses: dict[str, int] = field(default_factory=lambda: {"kink": 0, "step": 0, "fail": 0})
    check_passes: int = 0  # the loop check's forward passes: two an element
    recheck_passes: int = 0
    seconds: float = 0.0

    def add(self, check: GradCheck) -> None:
        self.checks += 1
        self.failed_checks += not check.passed and bool(check.failed_names)
        for t in check.tensors.values():
            self.check_passes += 2 * t.analytic.size
            for r in t.rechecked:
                self.statuses[r.status] += 1
            self.first_failures += int(t.failing.sum()) + sum(r.excused for r in t.rechecked)

    def line(self, family: str) -> str:
        s = self.statuses
        return (f"{family:<8} {self.models} models, {self.checks} checks: {self.failed_checks} FAILED "
                f"({self.failed_models} models); {self.first_failures} elements failed at first: "
                f"{s['kink']} rechecked: kink, {s['step']} rechecked: step, {s['fail']} still failing; "
                f"forward passes: {self.check_passes} the checks', {self.recheck_passes} the recheck's "
                f"({self.seconds:.1f} s)")


@dataclass(frozen=True)
class Drawn:
    """One random model: its family, source, sizes (inputs, hidden..., classes) and batch."""

    family: str
    source: str
    sizes: tuple[int, ...]
    batch: int


def draw(rng: np.random.Generator, family: str, bug: str | None = None) -> Drawn:
    """Random sizes, weight scale and batch; the model written as its family writes it."""
    hidden = [int(rng.integers(1, 33)) for _ in range(int(rng.integers(1, 4)))]
    sizes = (2, *hidden, 2)
    scale = float(rng.choice([1e-3, 1e-2, 1e-1, 0.5, 1.0]))
    batch = int(rng.integers(2 if bug == "mean" else 1, 65))  # 1/m is 1 for a batch of one
    source = cs231n_source(scale, bug) if family == "cs231n" else nielsen_source(list(sizes), scale, bug)
    return Drawn(family, source, sizes, batch)


def load(drawn: Drawn) -> InProcess:
    """The source loaded as --model loads a file (the cs231n convention builds the class)."""
    convention = "cs231n" if drawn.family == "cs231n" else None
    return InProcess(load_source(Path(f"{drawn.family}.py"), drawn.source.encode(), convention, drawn.sizes))


def run(drawn: Drawn, steps: int, seed: int, lr: float = 0.5) -> tuple[list[GradCheck], int]:
    """`steps` SGD steps on moons batches, each checked: the checks, and the forward passes
    their rechecks cost."""
    model = load(drawn)
    moons = make_dataset("moons", samples=200, noise=0.1, seed=seed)
    rng = np.random.default_rng(seed)
    params = model.init_params(seed)
    assert params is not None
    checks = []
    for _ in range(steps):
        rows = rng.choice(len(moons.X), size=drawn.batch, replace=False)
        x, y = moons.X[rows], np.asarray(moons.y)[rows]
        try:
            cache, _ = model.forward(x, params, y)
        except ModelError:  # a broken gradient's steps diverged: the checks so far stand
            break
        grads = model.backward(x, y, params, cache)
        checks.append(gradient_check(model, params, x, y, grads, EPS, "loop"))
        params = model.update(params, grads, lr)
    return checks, model.recheck_passes


def survey(family: str, models: int, steps: int, seed: int, bug: str | None = None) -> Tally:
    rng = np.random.default_rng([seed, FAMILIES.index(family), BUGS.index(bug) + 1 if bug else 0])
    tally = Tally()
    start = time.perf_counter()
    for k in range(models):
        checks, passes = run(draw(rng, family, bug), steps, seed + k)
        tally.models += 1
        for check in checks:
            tally.add(check)
        tally.recheck_passes += passes
        tally.failed_models += any(bool(c.failed_names) for c in checks)
    tally.seconds = time.perf_counter() - start
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--broken", type=int, default=20, help="broken models of each bug and family")
    args = parser.parse_args()
    print(f"correct models (eps {EPS:g}, {args.steps} steps each, seed {args.seed}):")
    for family in FAMILIES:
        print("  " + survey(family, args.models, args.steps, args.seed).line(family))
    print("broken copies (every one should fail):")
    for family in FAMILIES:
        for bug in BUGS:
            tally = survey(family, args.broken, args.steps, args.seed, bug)
            print(f"  {bug:<5}" + tally.line(family))


if __name__ == "__main__":
    main()
