"""The independent reference network the architecture tests and the diagnosis tests compare
the engine with: written plainly from the issue's spec, importing nothing of
engine.maths.network for its maths. Its forward pass works on NumPy or on autograd.numpy (so
HIPS autograd, not our chain rule, differentiates it), its loop central difference is the
textbook one, and its fault drills follow the spec's one-line descriptions.

Also the random architectures (random_case) and, for each drill, the cases on which it is
visible and the verdict decisive (drill_cases).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd import grad

from engine.check.verdicts import ATOL, RTOL

ACTIVATIONS = ("relu", "leaky-relu", "tanh", "sigmoid")
LOSSES = ("bce", "mse", "softmax")  # softmax: 3 classes with cross-entropy
INITS = ("notebook", "he", "xavier")
KINKED = ("relu", "leaky-relu")
SLOPE = 0.01  # leaky-relu's slope below 0
EPS = 1e-5


@dataclass(frozen=True)
class Case:
    inputs: int
    hidden: tuple[int, ...]
    activation: str
    classes: int
    loss: str  # bce, mse, or cross-entropy (classes >= 2)
    init: str
    seed: int
    x: tuple[float, ...]
    y: int
    lr: float = 0.1
    eps: float = EPS

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.inputs, *self.hidden, self.classes)

    @property
    def depth(self) -> int:
        return len(self.hidden) + 1

    @property
    def names(self) -> list[str]:
        return [f"{kind}{l}" for l in range(1, self.depth + 1) for kind in ("W", "b")]

    def argv(self, *extra: str) -> list[str]:
        argv = ["--headless", "--format", "json", "--inputs", str(self.inputs),
                "--hidden", ",".join(map(str, self.hidden)), "--activation", self.activation,
                "--classes", str(self.classes), "--init", self.init, "--seed", str(self.seed),
                "--x", ",".join(repr(v) for v in self.x), "--y", str(self.y), "--lr", repr(self.lr),
                "--eps", repr(self.eps)]
        if self.classes == 1:
            argv += ["--loss", self.loss]
        return argv + list(extra)


def draws(case: Case) -> dict[str, np.ndarray]:
    """The spec's initialisation: one RandomState(seed), randn(n_out, n_in) for W1, W2, ...
    in layer order, scaled by He or Xavier; biases zero."""
    rs = np.random.RandomState(case.seed)
    params = {}
    for l, (n_in, n_out) in enumerate(zip(case.sizes, case.sizes[1:], strict=False), start=1):
        scale = {"notebook": 1.0, "he": np.sqrt(2.0 / n_in),
                 "xavier": np.sqrt(2.0 / (n_in + n_out))}[case.init]
        params[f"W{l}"] = rs.randn(n_out, n_in) * scale
        params[f"b{l}"] = np.zeros(n_out)
    return params


def hidden_f(xp: Any, activation: str, z: Any) -> Any:
    if activation == "relu":
        return xp.where(z > 0, z, 0.0)
    if activation == "leaky-relu":
        return xp.where(z > 0, z, SLOPE * z)
    if activation == "tanh":
        return xp.tanh(z)
    return 1.0 / (1.0 + xp.exp(-z))  # sigmoid; no overflow for the |z| < 700 used here


def softplus(xp: Any, t: Any) -> Any:
    """log(1 + e^t), written so it neither overflows nor cancels."""
    return xp.maximum(t, 0.0) + xp.log1p(xp.exp(-xp.abs(t)))


def output(xp: Any, case: Case, z: Any) -> Any:
    if case.classes == 1:
        return 1.0 / (1.0 + xp.exp(-z))
    e = xp.exp(z - xp.max(z))
    return e / xp.sum(e)


def loss_of_logits(xp: Any, case: Case, z: Any) -> Any:
    y = case.y
    if case.loss == "bce":  # -y log σ(z) - (1 - y) log(1 - σ(z)), with -log σ(t) = softplus(-t)
        return y * softplus(xp, -z[0]) + (1 - y) * softplus(xp, z[0])
    if case.loss == "mse":
        return 0.5 * (1.0 / (1.0 + xp.exp(-z[0])) - y) ** 2
    m = xp.max(z)  # cross-entropy of the softmax: log sum e^z - z_y
    return m + xp.log(xp.sum(xp.exp(z - m))) - z[y]


def downstream(xp: Any, case: Case, p: dict[str, Any], a: Any, start: int) -> Any:
    """The loss from a_start (a0 = x) through layers start+1 .. L."""
    z = a
    for l in range(start + 1, case.depth + 1):
        z = xp.dot(p[f"W{l}"], a) + p[f"b{l}"]
        a = hidden_f(xp, case.activation, z)
    return loss_of_logits(xp, case, z)


def ref_forward(case: Case, p: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], float]:
    x = np.array(case.x)
    cache = {"x": x}
    a = x
    for l in range(1, case.depth + 1):
        z = p[f"W{l}"] @ a + p[f"b{l}"]
        a = hidden_f(np, case.activation, z) if l < case.depth else output(np, case, z)
        cache[f"z{l}"], cache[f"a{l}"] = z, a
    return cache, float(loss_of_logits(np, case, cache[f"z{case.depth}"]))


def ref_loss(case: Case, p: dict[str, Any]) -> Any:
    return downstream(anp, case, p, np.array(case.x), 0)


def autograd_backward(case: Case, p: dict[str, np.ndarray], cache: dict[str, np.ndarray]) -> dict:
    """dW_l, db_l by autograd of the reference loss; dz_l and da_l by autograd of the loss
    as a function of z_l and of a_l (the rest of the network held fixed)."""
    L = case.depth
    names = case.names
    flat = grad(lambda values: ref_loss(case, dict(zip(names, values, strict=True))))(
        [p[n] for n in names])
    grads = {f"d{n}": g for n, g in zip(names, flat, strict=True)}
    for l in range(1, L + 1):
        if l == L:
            grads[f"dz{l}"] = grad(lambda z: loss_of_logits(anp, case, z))(cache[f"z{l}"])
        else:
            def from_a(a: Any, l: int = l) -> Any:
                return downstream(anp, case, p, a, l)

            grads[f"da{l}"] = grad(from_a)(cache[f"a{l}"])
            grads[f"dz{l}"] = grad(lambda z, f=from_a: f(hidden_f(anp, case.activation, z)))(cache[f"z{l}"])
    return grads


def drilled_backward(case: Case, p: dict[str, np.ndarray], cache: dict[str, np.ndarray],
                     bug: str | None) -> dict[str, np.ndarray]:
    """Backpropagation by hand, with each fault drill as the spec describes it."""
    L, y, a_out = case.depth, case.y, cache[f"a{case.depth}"]
    if case.loss == "bce":
        dz = a_out - y
    elif case.loss == "mse":
        dz = (a_out - y) * a_out * (1 - a_out)
    else:
        dz = a_out - np.eye(case.classes)[y]
    if bug == "sign":
        dz = -dz
    grads = {}
    for l in range(L, 0, -1):
        grads[f"dz{l}"] = dz
        source = cache[f"z{l - 1}"] if bug == "cache" and l == L else cache["x" if l == 1 else f"a{l - 1}"]
        grads[f"dW{l}"] = np.outer(dz, source)
        grads[f"db{l}"] = np.zeros_like(dz) if bug == "bias-grad" else dz
        if l == 1:
            break
        W = p[f"W{l}"]
        square_hidden = l < L and W.shape[0] == W.shape[1]
        da = (W if bug == "transpose" and square_hidden else W.T) @ dz
        grads[f"da{l - 1}"] = da
        z = cache[f"z{l - 1}"]
        slope = {"relu": (z > 0) * 1.0, "leaky-relu": np.where(z > 0, 1.0, SLOPE),
                 "tanh": 1 - np.tanh(z) ** 2,
                 "sigmoid": cache[f"a{l - 1}"] * (1 - cache[f"a{l - 1}"])}[case.activation]
        dz = da if bug == "activation-grad" else da * slope
    return grads


def kink_sides(case: Case, cache: dict[str, np.ndarray]) -> np.ndarray:
    if case.activation not in KINKED:
        return np.zeros(0, bool)
    return np.concatenate([cache[f"z{l}"] > 0 for l in range(1, case.depth)])


def ref_numerical(case: Case, p: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(L(θ + eps) - L(θ - eps)) / (2 eps), one element at a time, and whether the two
    passes put some relu / leaky-relu hidden unit on different sides of 0 (a kink)."""
    return ref_numerical_sides(case, p)[0]


def ref_numerical_sides(case: Case, p: dict[str, np.ndarray]) -> tuple[
        dict[str, tuple[np.ndarray, np.ndarray]], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """ref_numerical, and each kink's one-sided slopes (L(θ) - L(θ - eps)) / eps and
    (L(θ + eps) - L(θ)) / eps (NaN off the kinks)."""
    out, sides = {}, {}
    _, base = ref_forward(case, p)
    for name in case.names:
        num, kinks = np.zeros_like(p[name]), np.zeros(p[name].shape, bool)
        left, right = np.full(p[name].shape, np.nan), np.full(p[name].shape, np.nan)
        for idx in np.ndindex(num.shape):
            passes = []
            for sign in (1, -1):
                q = dict(p, **{name: p[name].copy()})
                q[name][idx] += sign * case.eps
                passes.append(ref_forward(case, q))
            (c_plus, l_plus), (c_minus, l_minus) = passes
            num[idx] = (l_plus - l_minus) / (2 * case.eps)
            kinks[idx] = bool(np.any(kink_sides(case, c_plus) != kink_sides(case, c_minus)))
            if kinks[idx]:
                left[idx], right[idx] = (base - l_minus) / case.eps, (l_plus - base) / case.eps
        out[name] = (num, kinks)
        sides[name] = (left, right)
    return out, sides


# ---- random architectures ---------------------------------------------------------------

def random_case(rng: np.random.Generator, activation: str, loss: str, init: str) -> Case:
    """1 to 4 hidden layers of 1 to 6 units, 1 to 5 inputs; x scaled down with depth so
    the unscaled notebook init keeps the loss moderate (|L| < 50: see the tolerances)."""
    depth = int(rng.integers(1, 5))
    hidden = tuple(int(n) for n in rng.integers(1, 7, size=depth))
    inputs = int(rng.integers(1, 6))
    classes = 3 if loss == "softmax" else 1
    scale = 1.0 if init != "notebook" else 0.5 ** depth
    x = tuple(float(v) for v in rng.normal(size=inputs) * scale)
    y = int(rng.integers(0, max(2, classes)))
    return Case(inputs, hidden, activation, classes, "cross-entropy" if loss == "softmax" else loss,
                init, int(rng.integers(0, 2**32)), x, y, lr=float(rng.uniform(0.05, 0.5)))


# ---- fault drills ---------------------------------------------------------------------

def expected_failures(case: Case, broken: dict, true: dict, kinks: dict, sides: dict) -> set[str] | None:
    """The tensors a drill breaks: where the broken gradient differs from the true one by far
    more than the check's tolerance (100x), and at a kink, where it lies that far outside the
    one-sided slopes. None when some element is in the grey zone (between half and 100 times
    the tolerance), where the verdict could go either way: such a case says nothing and is
    not used."""
    failing = set()
    for name in case.names:
        b, t = broken[f"d{name}"], true[f"d{name}"]
        ratio = np.abs(b - t) / (ATOL + RTOL * np.maximum(np.abs(b), np.abs(t)))
        left, right = sides[name]
        with np.errstate(invalid="ignore"):
            outside = np.maximum(np.minimum(left, right) - b, b - np.maximum(left, right))
            scale = np.maximum(np.abs(b), np.maximum(np.abs(left), np.abs(right)))
            at_kink = np.maximum(outside, 0.0) / (ATOL + RTOL * scale)
        ratio = np.where(kinks[name], at_kink, ratio)
        if np.any((ratio > 0.5) & (ratio < 100)):
            return None
        if np.any(ratio >= 100):
            failing.add(name)
    return failing


def drill_cases(bug: str, wanted: int = 4) -> list[tuple[Case, set[str]]]:
    """Random multi-layer networks on which the drill is visible and the verdict decisive."""
    rng = np.random.default_rng(sum(map(ord, bug)))
    found: list[tuple[Case, set[str]]] = []
    for i in range(200):
        case = random_case(rng, ACTIVATIONS[i % 4], LOSSES[i % 3], INITS[i % 3])
        if len(case.hidden) < 2:
            continue
        if bug == "transpose":  # make two adjacent hidden layers of equal width
            at = int(rng.integers(0, len(case.hidden) - 1))
            hidden = list(case.hidden)
            hidden[at + 1] = hidden[at] = max(2, hidden[at])
            case = replace(case, hidden=tuple(hidden))
        params = draws(case)
        cache, _ = ref_forward(case, params)
        true = drilled_backward(case, params, cache, None)
        broken = drilled_backward(case, params, cache, bug)
        numerical, sides = ref_numerical_sides(case, params)
        kinks = {n: k for n, (_, k) in numerical.items()}
        expected = expected_failures(case, broken, true, kinks, sides)
        if expected:  # None: undecidable; empty: the drill changes nothing here
            found.append((case, expected))
        if len(found) == wanted:
            return found
    raise AssertionError(f"too few usable cases for {bug}")
