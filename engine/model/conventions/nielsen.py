"""Michael Nielsen's `Network(sizes)` (network.py, network2.py and their Python 3 ports) as the
notebook's contract, inside the model's process.

    Network(sizes)            biases [(n_l, 1)], weights [(n_l, n_(l-1))], drawn by the file
                              itself (np.random.randn, or network2's default_weight_initializer)
    feedforward(a)            a (n_0, 1) column in, the output column out
    backprop(x, y)            (nabla_b, nabla_w) of one sample's cost C_x, x (n_0, 1), y (k, 1)
    update_mini_batch(mini_batch, eta[, lmbda, n])   SGD on a list of (x, y)
    cost (network2 only)      a class with fn(a, y) and delta(z, a, y): QuadraticCost or
                              CrossEntropyCost; network.py's cost is C_x = |a - y|^2 / 2

The batch's cost is the mean of C_x over its samples, so its gradient is the mean of backprop's;
the parameters are named W1, b1, W2, b2, ... for weights[0], biases[0], ... . The output layer has
the classes' units, one-hot y; a binary data set is one sigmoid unit with y its label, which is the
built-in network's own output (and, with CrossEntropyCost, its loss), so the built-in network of
the same sizes can be the reference.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from engine.model.conventions import common
from engine.model.conventions.dlai import expected_dlai
from engine.model.course_names import NIELSEN as NIELSEN

NEEDS = "class Network(sizes) with feedforward(a) and backprop(x, y)"
#: Python 2 names a Python 3 port replaces; a method using one fails only when it runs.
PYTHON2_NAMES = {"xrange": "range", "cPickle": "pickle", "izip": "zip", "raw_input": "input"}


#: Python's own syntax errors on Python 2 code, and the construct each one means.
PYTHON2_SYNTAX = {
    "call to 'print'": "a print statement",
    "call to 'exec'": "an exec statement",
    "multiple exception types must be parenthesized": "except E, name",
    "leading zeros in decimal integer literals": "an octal literal such as 0777",
}


def python2_hint(message: str) -> str:
    """What to add to a syntax error's message when it is Python 2 code (Nielsen's original
    network.py and network2.py are): the construct, and the way to a Python 3 file."""
    construct = next((what for sign, what in PYTHON2_SYNTAX.items() if sign in message), None)
    if construct is None:
        return ""
    return (f"; this is Python 2 code ({construct}) and the model runs in Python 3: use a Python 3 "
            "port of the file (2to3 makes one)")


def _network_class(module: types.ModuleType) -> type | None:
    """The module's class named Network (its own, or imported into it)."""
    found = common.get(module, "Network")
    return found if isinstance(found, type) else None


def found(module: types.ModuleType) -> tuple[list[str], list[str]]:
    """(The names of the convention the module defines, those it lacks)."""
    cls = _network_class(module)
    if cls is None:
        return [], [NEEDS]
    have = [name for name in ("feedforward", "backprop") if callable(getattr(cls, name, None))]
    lacks = [f"Network.{name}" for name in ("feedforward", "backprop") if name not in have]
    return [f"class Network with {common.words(have)}" if have else "class Network"], lacks


def _python2(module: types.ModuleType, cls: type, file: str) -> None:
    """A method that names one of Python 2's builtins (which the module does not define
    itself) would fail only when it runs: told at load."""
    for name, method in vars(cls).items():
        code = getattr(method, "__code__", None)
        used = [old for old in PYTHON2_NAMES if code is not None and old in code.co_names
                and common.get(module, old) is None]
        if used:
            old = used[0]
            raise common.ConventionError(
                f"{file}: Network.{name} uses {old}, which is Python 2's (Python 3 has "
                f"{PYTHON2_NAMES[old]}); use a Python 3 port of the file (2to3 makes one)")


def _columns(x: Any, y: Any, outputs: int) -> list[tuple[Any, Any]]:
    """The notebook's rows as Nielsen's samples: (x (n_0, 1), y (k, 1)), y one-hot for k
    classes or the label itself for one output unit."""
    X = np.asarray(x, dtype=np.float64)
    labels = np.asarray(y, dtype=np.int64).reshape(len(X))
    if outputs == 1:
        targets = labels.reshape(-1, 1, 1).astype(np.float64)
    else:
        targets = np.eye(outputs)[labels].reshape(-1, outputs, 1)
    return [(row.reshape(-1, 1), target) for row, target in zip(X, targets, strict=True)]


def _cost(net: Any, a: Any, y: Any) -> float:
    """C_x as the file defines it: network2's cost.fn(a, y), or network.py's |a - y|^2 / 2
    (the cost whose derivative its cost_derivative returns)."""
    cost = getattr(net, "cost", None)
    fn = getattr(cost, "fn", None)
    if callable(fn):
        return float(np.asarray(fn(a, y)).reshape(()))
    return float(0.5 * np.sum((np.asarray(a) - y) ** 2))


def _layers(module: types.ModuleType, net: Any, X: Any, output: Any) -> dict[str, Any]:
    """backprop's own lists, zs[l] and activations[l], for the whole batch (samples as
    columns), with the file's sigmoid; left out if they do not give feedforward's output."""
    sigmoid = common.get(module, "sigmoid")
    if not callable(sigmoid):
        return {}
    out: dict[str, Any] = {"activations[0]": X}
    activation = X
    try:
        for l, (b, w) in enumerate(zip(net.biases, net.weights, strict=True)):
            z = np.dot(w, activation) + b
            activation = sigmoid(z)
            out[f"zs[{l}]"], out[f"activations[{l + 1}]"] = z, activation
    except Exception:  # a port whose layers work otherwise: its output alone is shown
        return {}
    same = np.shape(activation) == np.shape(output) and np.allclose(activation, output)
    return out if same else {}


def _update_call(cls: type) -> Callable[..., Any] | None:
    """update_mini_batch(mini_batch, eta) or network2's (mini_batch, eta, lmbda, n), as a
    function of (net, mini_batch, eta): lmbda 0 (its weight decay is not in backprop's
    gradient, so the check could not see it) and n 1."""
    method = getattr(cls, "update_mini_batch", None)
    if not callable(method):
        return None
    try:
        required = [p for p in list(inspect.signature(method).parameters.values())[1:]
                    if p.default is inspect.Parameter.empty]
    except (TypeError, ValueError):
        return None
    if len(required) == 2:
        return lambda net, batch, eta: net.update_mini_batch(batch, eta)
    if len(required) == 4:
        return lambda net, batch, eta: net.update_mini_batch(batch, eta, 0.0, 1)
    return None


class _Model:
    """One Network of the file's class, its parameters set from the stepper's."""

    def __init__(self, cls: type, sizes: Sequence[int]) -> None:
        self.cls, self.sizes, self.depth = cls, list(sizes), len(sizes) - 1
        self.net: Any = None

    def build(self, seed: int) -> Any:
        np.random.seed(seed)
        self.net = self.cls(list(self.sizes))
        return self.net

    def params(self) -> dict[str, Any]:
        net = self.net
        out: dict[str, Any] = {}
        for l in range(1, self.depth + 1):
            out[f"W{l}"], out[f"b{l}"] = net.weights[l - 1], net.biases[l - 1]
        return out

    def set(self, params: Any) -> Any:
        net = self.net if self.net is not None else self.build(0)
        net.weights = [np.asarray(params[f"W{l}"]) for l in range(1, self.depth + 1)]
        net.biases = [np.asarray(params[f"b{l}"]) for l in range(1, self.depth + 1)]
        return net


def _gradients(nabla_b: Any, nabla_w: Any, count: int, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for l in range(1, depth + 1):
        out[f"dW{l}"] = np.asarray(nabla_w[l - 1]) / count
        out[f"db{l}"] = np.asarray(nabla_b[l - 1]) / count
    return out


def adapt(module: types.ModuleType, build: common.Build) -> common.Adapted:
    """The notebook contract's functions for a module defining Nielsen's Network."""
    sizes, file = build.sizes, build.file
    cls = _network_class(module)
    assert cls is not None
    _python2(module, cls, file)
    model = _Model(cls, sizes)
    outputs, depth = sizes[-1], len(sizes) - 1
    updater = _update_call(cls)

    def forward(x: Any, params: Any, y: Any) -> tuple[dict[str, Any], Any]:
        net = model.set(params)
        pairs = _columns(x, y, outputs)
        output = np.hstack([net.feedforward(xi) for xi, _ in pairs])
        loss = float(np.mean([_cost(net, output[:, [i]], yi) for i, (_, yi) in enumerate(pairs)]))
        X = np.asarray(x, dtype=np.float64).T
        return {**_layers(module, net, X, output), "output": output}, loss

    def backward(x: Any, y: Any, params: Any, cache: Any) -> Any:
        net = model.set(params)
        pairs = _columns(x, y, outputs)
        sum_b: list[Any] = [0.0] * depth
        sum_w: list[Any] = [0.0] * depth
        for xi, yi in pairs:
            nabla_b, nabla_w = net.backprop(xi, yi)
            sum_b = [s + np.asarray(g) for s, g in zip(sum_b, nabla_b, strict=True)]
            sum_w = [s + np.asarray(g) for s, g in zip(sum_w, nabla_w, strict=True)]
        return _gradients(sum_b, sum_w, len(pairs), depth)

    def update(params: Any, grads: Any, lr: float) -> Any:
        """The file's update_mini_batch on a batch of one whose backprop returns the
        stepper's gradients: its own step, with exactly the gradients shown."""
        assert updater is not None
        net = model.set(params)
        nabla_b = [np.array(grads[f"db{l}"]) for l in range(1, depth + 1)]
        nabla_w = [np.array(grads[f"dW{l}"]) for l in range(1, depth + 1)]
        net.backprop = lambda _x, _y: ([b.copy() for b in nabla_b], [w.copy() for w in nabla_w])
        try:
            updater(net, [(np.zeros((sizes[0], 1)), np.zeros((outputs, 1)))], lr)
        finally:
            del net.backprop
        return model.params()

    def init(seed: int) -> Any:
        model.build(seed)
        params = model.params()
        common.check_shapes(params, expected_dlai(sizes), f"{cls.__name__}(sizes) made",
                             NIELSEN)
        return params

    model.build(0)  # a constructor that breaks is told at load
    cost = getattr(getattr(model.net, "cost", None), "__name__", None)
    described = (f"{cls.__name__}({list(sizes)}){f', cost={cost}' if cost else ', C = |a - y|²/2'}"
                 f"; x (n, 1) columns; {'update_mini_batch' if updater else 'plain SGD'}")
    return common.Adapted(NIELSEN, forward, backward, update if updater else None, init,
                          described)
