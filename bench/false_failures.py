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
    python bench/false_failures.py --corpus /work/corpus/cs231n

--corpus runs real public cs231n solution files, unedited, kept outside the repository (this
script fetches nothing): each author's cs231n package is put together in a temporary folder
from their own fc_net.py, layers.py, layer_utils.py, fast_layers.py and im2col.py (an empty
__init__.py and, where the copy lacks it, an empty fast_layers.py are ours), and modules a
student's environment has but this one lacks (matplotlib, past, torch) are stubbed. Each
class (TwoLayerNet, FullyConnectedNet, assignment 1's TwoLayerNet(input_size, hidden_size,
output_size)) is stepped 10 times on moons batches of 16 as the cs231n convention steps it:
the check sees only its scores. The files, each at the commit named in /work/corpus/SOURCES.tsv:
    Atry/cs231n_2016_homework a22467b6: assignment1/cs231n/classifiers/neural_net.py,
        assignment2/cs231n/{classifiers/fc_net,layers,layer_utils,fast_layers,im2col}.py (2016)
    AKSoo/CS231n-2017 07e1861c: assignment1/cs231n/classifiers/neural_net.py,
        assignment2/cs231n/{classifiers/fc_net,layers,layer_utils}.py (2017)
    0809zheng/CS231n-assignment2019 3f5c8539: assignment1/cs231n/classifiers/neural_net.py,
        assignment2/cs231n/{classifiers/fc_net,layers,layer_utils,fast_layers,im2col}.py (2019)
    AnirudhM1/CS231n-2022-Solutions 7a5b4949: assignment1/cs231n/{classifiers/fc_net,layers,
        layer_utils}.py, assignment2/cs231n/{classifiers/fc_net,layers,layer_utils,fast_layers,
        im2col}.py (2022, relative imports)

Prints, per family: models and checks run, checks that reported FAILED, elements that failed
the central rule at first and what the second look made of them, and the forward passes the
recheck cost, against the check's own.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import importlib.util
import shutil
import sys
import tempfile
import textwrap
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from engine.check.recheck import STATUSES
from engine.check.verdicts import GradCheck, gradient_check
from engine.data.sets import make_dataset
from engine.maths.fastcheck import Mask
from engine.maths.network import Array, Labels, Params, Tensors, sgd_update
from engine.maths.slopes import (
    Nudge,
    Numerical,
    Progress,
    loop_numerical,
    pre_activation_sides,
)
from engine.run.stepper import all_finite_fast
from engine.usermodel.contract import Contract, ModelError, load_source
from engine.usermodel.inprocess import InProcess

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


class Counted(InProcess):
    """A loaded model file called in this process as the check calls it (the engine's
    InProcess), counting the forward passes the check's recheck costs."""

    def __init__(self, contract: Contract) -> None:
        super().__init__(contract)
        self.recheck_passes = 0

    def nudged_losses(self, params: Params, x: Array, y: Labels, nudges: list[Nudge],
                      progress: Progress | None) -> Array:
        self.recheck_passes += len(nudges)
        return super().nudged_losses(params, x, y, nudges, progress)


@dataclass
class Tally:
    """What a family's runs came to."""

    models: int = 0
    checks: int = 0
    failed_checks: int = 0
    unresolved_checks: int = 0  # nothing failed, but something could not be judged
    failed_models: int = 0
    first_failures: int = 0  # elements that failed the central rule (or a kink rule) at first
    statuses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    check_passes: int = 0  # the loop check's forward passes: two an element
    recheck_passes: int = 0
    seconds: float = 0.0

    def add(self, check: GradCheck) -> None:
        self.checks += 1
        self.failed_checks += bool(check.failed_names)
        self.unresolved_checks += not check.failed_names and bool(check.unresolved_names)
        for t in check.tensors.values():
            self.check_passes += 2 * t.analytic.size
            for r in t.rechecked:
                self.statuses[r.status] += 1
            self.first_failures += int(t.failing.sum()) + sum(r.cleared for r in t.rechecked)

    def line(self, family: str) -> str:
        s = self.statuses
        return (f"{family:<8} {self.models} models, {self.checks} checks: {self.failed_checks} FAILED "
                f"({self.failed_models} models), {self.unresolved_checks} unresolved; "
                f"{self.first_failures} elements failed at first: {s['kink']} rechecked: kink, "
                f"{s['step']} rechecked: step, {s['unresolved']} rechecked: unresolved, "
                f"{s['fail']} still failing; "
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


def load(drawn: Drawn) -> Counted:
    """The source loaded as --model loads a file (the cs231n convention builds the class)."""
    convention = "cs231n" if drawn.family == "cs231n" else None
    return Counted(load_source(Path(f"{drawn.family}.py"), drawn.source.encode(), convention, drawn.sizes))


def run(drawn: Drawn, steps: int, seed: int, lr: float = 0.5) -> tuple[list[GradCheck], int]:
    """`steps` SGD steps on moons batches, each checked: the checks, and the forward passes
    their rechecks cost."""
    model = load(drawn)
    return checked_steps(model, drawn.batch, steps, seed, lr), model.recheck_passes


def checked_steps(model: Counted, batch: int, steps: int, seed: int, lr: float = 0.5) -> list[GradCheck]:
    """SGD steps on moons batches of `batch` rows, each step's gradients checked at EPS."""
    moons = make_dataset("moons", samples=200, noise=0.1, seed=seed)
    rng = np.random.default_rng(seed)
    params = model.init_params(seed)
    assert params is not None
    checks = []
    for _ in range(steps):
        rows = rng.choice(len(moons.X), size=batch, replace=False)
        x, y = moons.X[rows], np.asarray(moons.y)[rows]
        try:
            cache, loss = model.forward(x, params, y)
            grads = model.backward(x, y, params, cache)
        except ModelError:  # non-finite at the first parameters: the file's fault
            break
        if not all_finite_fast([loss, *grads.values()]):  # a broken gradient's steps diverged:
            break  # the checks so far stand, as the stepper's would (non-finite ones prove nothing)
        checks.append(gradient_check(model, params, x, y, grads, EPS, "loop"))
        params = model.update(params, grads, lr)
    return checks


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


# ---- real cs231n files -------------------------------------------------------------------

#: Modules a student's environment has and this one may lack, imported by the files at the top.
STUBS: dict[str, dict[str, Any]] = {"matplotlib": {}, "matplotlib.pyplot": {}, "past": {},
                                    "past.builtins": {"xrange": range}, "torch": {}, "torch.nn": {}}
SIBLINGS = ("layers", "layer_utils", "fast_layers", "im2col")


class CourseClass(Counted):
    """A cs231n class instance stepped as the cs231n convention steps it: params set, then
    loss(X) for the scores (all the check sees) and loss(X, y) for (loss, grads)."""

    def __init__(self, net: Any) -> None:
        self.net = net
        self.convention = "cs231n"
        self.recheck_passes = 0

    def init_params(self, seed: int) -> Params | None:
        return {name: np.array(value, dtype=np.float64) for name, value in self.net.params.items()}

    def forward(self, x: Array, params: Params, y: Labels) -> tuple[Tensors, float]:
        self.net.params = {name: np.array(value) for name, value in params.items()}
        scores = self.net.loss(x)
        loss, _ = self.net.loss(x, y)
        return {"scores": np.asarray(scores)}, float(loss)

    def backward(self, x: Array, y: Labels, params: Params, cache: Tensors) -> Tensors:
        self.net.params = {name: np.array(value) for name, value in params.items()}
        _, grads = self.net.loss(x, y)
        return {"d" + name: np.asarray(value, dtype=np.float64) for name, value in grads.items()}

    def fit_loss(self, x: Array, params: Params, y: Labels) -> float:
        return self.forward(x, params, y)[1]

    def update(self, params: Params, grads: Tensors, lr: float) -> Params:
        return sgd_update(params, grads, lr)

    def kink_sides(self, cache: Tensors) -> list[Mask]:
        return pre_activation_sides(cache)

    def numerical_gradients(self, params: Params, x: Array, y: Labels, eps: float,
                            progress: Progress | None, method: str = "loop") -> Numerical:
        return loop_numerical(self, params, x, y, eps, progress)


def _stub_environment() -> None:
    missing = {name.split(".")[0] for name in STUBS if importlib.util.find_spec(name.split(".")[0]) is None}
    for name, attributes in STUBS.items():
        if name not in sys.modules and name.split(".")[0] in missing:
            module = types.ModuleType(name)
            module.__dict__.update(attributes)
            sys.modules[name] = module


def _package(corpus: Path, prefix: str, assignment: str, root: Path) -> Path | None:
    """The author's cs231n package put together under `root` from their flat files (an empty
    __init__.py, and an empty fast_layers.py where the copy lacks one, are ours); None when
    the corpus has no classifier of theirs for this assignment."""
    classifiers = {stem: corpus / f"{prefix}__{assignment}_cs231n_classifiers_{stem}.py"
                   for stem in ("fc_net", "neural_net")}
    if not any(path.exists() for path in classifiers.values()):
        return None
    base = root / prefix / assignment
    package = base / "cs231n"
    (package / "classifiers").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "classifiers" / "__init__.py").write_text("")
    for stem, path in classifiers.items():
        if path.exists():
            shutil.copy(path, package / "classifiers" / f"{stem}.py")
    for name in SIBLINGS:
        source = corpus / f"{prefix}__{assignment}_cs231n_{name}.py"
        if source.exists():
            shutil.copy(source, package / f"{name}.py")
        elif name == "fast_layers":  # only convolutions use it
            (package / "fast_layers.py").write_text("")
    return base


def real_classes(corpus: Path, root: Path) -> Iterator[tuple[str, Callable[[], Any]]]:
    """(label, a function building an instance) for each class of each author's files: the
    packages kept as folders (<author>__<repo>/.../cs231n/classifiers/*.py, imported where
    they lie), else the flat files put together under `root`."""
    _stub_environment()
    sys.dont_write_bytecode = True  # nothing written into the corpus
    folders = sorted(corpus.glob("*/**/cs231n/classifiers/fc_net.py")) + \
        sorted(corpus.glob("*/**/cs231n/classifiers/neural_net.py"))
    kept = {path.relative_to(corpus).parts[0].split("__mine")[0] for path in folders}
    for path in folders:
        label = f"{path.relative_to(corpus).parts[0]}/{path.relative_to(corpus).parts[1]}"
        yield from _classes(label, path.stem, path.parents[2])
    prefixes = sorted({"__".join(path.name.split("__")[:2]) for path in corpus.glob("*__*__*.py")})
    for prefix in prefixes:
        if prefix in kept:
            continue
        for assignment in ("assignment1", "assignment2"):
            base = _package(corpus, prefix, assignment, root)
            if base is not None:
                for stem in ("fc_net", "neural_net"):
                    if (base / "cs231n" / "classifiers" / f"{stem}.py").exists():
                        yield from _classes(f"{prefix} {assignment}", stem, base)


def _classes(label: str, stem: str, base: Path) -> Iterator[tuple[str, Callable[[], Any]]]:
    """The classes of cs231n/classifiers/<stem>.py under `base`, imported as a package."""
    for loaded in [n for n in sys.modules if n == "cs231n" or n.startswith("cs231n.")]:
        del sys.modules[loaded]
    sys.path.insert(0, str(base))
    try:
        module = importlib.import_module(f"cs231n.classifiers.{stem}")
    except Exception as error:  # Python 2 source, a module this machine lacks
        yield f"{label} {stem}.py", functools.partial(_raise, error)
        return
    finally:
        sys.path.remove(str(base))
    if stem == "neural_net":
        yield f"{label} neural_net.py TwoLayerNet", functools.partial(module.TwoLayerNet, 2, 8, 2)
        return
    if hasattr(module, "TwoLayerNet"):
        yield f"{label} fc_net.py TwoLayerNet", functools.partial(
            module.TwoLayerNet, input_dim=2, hidden_dim=8, num_classes=2)
    if hasattr(module, "FullyConnectedNet"):
        yield f"{label} fc_net.py FullyConnectedNet", functools.partial(
            module.FullyConnectedNet, [8, 8], input_dim=2, num_classes=2, dtype=np.float64)


def _raise(error: Exception) -> Any:
    raise error


def corpus_report(corpus: Path, steps: int, seed: int) -> None:
    """One line a real class: its checks' verdicts with the recheck, and without it."""
    with tempfile.TemporaryDirectory() as root:
        for label, build in real_classes(corpus, Path(root)):
            np.random.seed(0)
            try:
                model = CourseClass(build())
                if not model.net.params:
                    raise ValueError("no parameters (its TODO is not done)")
                checks = checked_steps(model, 16, steps, seed)
            except Exception as error:  # a real file may be unfinished, or Python 2
                print(f"  {label}: does not run: {type(error).__name__}: {error}")
                continue
            before = sum(bool(c.failed_names) or any(r.cleared for t in c.tensors.values()
                                                     for r in t.rechecked) for c in checks)
            tally = Tally()
            for check in checks:
                tally.add(check)
            s = tally.statuses
            print(f"  {label}: {len(checks)} checks, FAILED {tally.failed_checks} (without the "
                  f"recheck {before}), unresolved {tally.unresolved_checks}; rechecked: {s['kink']} "
                  f"kink, {s['step']} step, {s['unresolved']} unresolved, {s['fail']} fail; "
                  f"{model.recheck_passes} recheck passes against {tally.check_passes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--broken", type=int, default=20, help="broken models of each bug and family")
    parser.add_argument("--corpus", type=Path, help="a folder of real cs231n files (see above)")
    args = parser.parse_args()
    if args.corpus is not None:
        print(f"real cs231n classes ({args.steps} steps, moons batches of 16, eps {EPS:g}):")
        corpus_report(args.corpus, args.steps, args.seed)
        return
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
