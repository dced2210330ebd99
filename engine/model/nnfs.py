"""Neural Networks from Scratch (Kinsley and Kukieła): the book's classes, by their names,
composed into the notebook's contract inside the model's process.

    Layer_Dense(n_inputs, n_neurons, weight_regularizer_l1=0, weight_regularizer_l2=0, ...)
        weights (n_inputs, n_neurons) = 0.01 * randn, biases (1, n_neurons); forward(inputs)
        (or forward(inputs, training)) sets output; backward(dvalues) sets dweights, dbiases,
        dinputs, the regularisers' gradients included
    Activation_ReLU, Activation_Softmax, Activation_Sigmoid: forward sets output, backward dinputs
    Loss_CategoricalCrossentropy, Loss_BinaryCrossentropy: forward(y_pred, y_true) the samples'
        losses, backward(dvalues, y_true) sets dinputs; regularization_loss(layer), or (from the
        book's Model chapter on) regularization_loss() over remember_trainable_layers(layers)
    Activation_Softmax_Loss_CategoricalCrossentropy: backward(dvalues, y_true), the combined step
    Optimizer_SGD(learning_rate): update_params(layer), with pre_/post_update_params

The network is Dense -> ReLU -> ... -> Dense -> softmax with categorical cross-entropy, or, for a
binary data set when the file has Activation_Sigmoid and Loss_BinaryCrossentropy, one sigmoid unit
with binary cross-entropy (the book's binary chapter, and the built-in network's own output and
loss). Samples are rows, as the notebook's batch: X (B, n_0), y (B,) class indices ((B, 1) labels
for the sigmoid). W1, b1, ... are dense1's weights and biases, and so on. --reg is every layer's
weight_regularizer_l2, whose loss the file's regularization_loss adds.

`import nnfs; nnfs.init()` at the top of a book file makes np.dot, np.zeros and np.random.randn
return float32; a central difference in float32 is rounding, not a slope, so NumPy's own
functions (from the modules NumPy keeps them in) are put back, and the model's description
says so.
"""

from __future__ import annotations

import importlib
import inspect
import types
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.model import conventions as common

DENSE, RELU, SOFTMAX, SIGMOID = "Layer_Dense", "Activation_ReLU", "Activation_Softmax", "Activation_Sigmoid"
CCE, BCE = "Loss_CategoricalCrossentropy", "Loss_BinaryCrossentropy"
COMBINED, SGD = "Activation_Softmax_Loss_CategoricalCrossentropy", "Optimizer_SGD"
#: What the convention needs, each group met by any one of its alternatives.
NEEDS = ((DENSE,), (RELU,), (f"{SOFTMAX} with {CCE}", f"{SIGMOID} with {BCE}"))
#: Where NumPy keeps its own dot, zeros, eye and random.randn (NumPy 2, then 1.26), so that they
#: are found whatever a file has put in their place on np and np.random.
HOMES: dict[tuple[Any, str], tuple[str, ...]] = {
    (np, "dot"): ("numpy._core.multiarray", "numpy.core.multiarray"),
    (np, "zeros"): ("numpy._core.multiarray", "numpy.core.multiarray"),
    (np, "eye"): ("numpy.lib._twodim_base_impl", "numpy.lib.twodim_base"),
    (np.random, "randn"): ("numpy.random.mtrand",),
}


def _class(module: types.ModuleType, name: str) -> type | None:
    found = common._get(module, name)
    return found if isinstance(found, type) else None


def _met(module: types.ModuleType, alternative: str) -> bool:
    return all(_class(module, name) is not None for name in alternative.split(" with "))


def found(module: types.ModuleType) -> tuple[list[str], list[str]]:
    """(The book's class names the module defines, the needs it does not meet)."""
    names = (DENSE, RELU, SOFTMAX, SIGMOID, CCE, BCE, COMBINED, SGD)
    have = [name for name in names if _class(module, name) is not None]
    if DENSE not in have:  # the book's layer is what makes a file this convention's
        return [], [" or ".join(group) for group in NEEDS[:1]]
    missing = [" or ".join(group) for group in NEEDS
               if not any(_met(module, option) for option in group)]
    return have, missing


def _own(name: str, homes: tuple[str, ...]) -> Any:
    for home in homes:
        try:
            with warnings.catch_warnings():  # numpy.core is deprecated in NumPy 2
                warnings.simplefilter("ignore")
                module = importlib.import_module(home)
        except ImportError:
            continue
        found = getattr(module, name, None)
        if callable(found):
            return found
    return None


def restore_numpy() -> list[str]:
    """NumPy's own dot, zeros, eye and random.randn where a file replaced them (nnfs.init()):
    the names put back."""
    restored = []
    for (owner, name), homes in HOMES.items():
        own = _own(name, homes)
        if own is not None and getattr(owner, name) is not own:
            setattr(owner, name, own)
            restored.append(f"np.{'random.' if owner is np.random else ''}{name}")
    return restored


def _forward(layer: Any, inputs: Any) -> Any:
    """layer.forward(inputs), or forward(inputs, training) as the book's later chapters have
    it (training=True: the step being checked is a training step)."""
    try:
        rest = list(inspect.signature(layer.forward).parameters.values())[1:]
    except (TypeError, ValueError):
        rest = []
    if rest and rest[0].default is inspect.Parameter.empty:
        layer.forward(inputs, True)
    else:
        layer.forward(inputs)
    return layer.output


def _regularisation(loss: Any, layers: list[Any]) -> float:
    """The file's regularization_loss over the dense layers, in whichever form it has."""
    method = loss.regularization_loss
    if common._signature_names(method):
        return float(sum(float(method(layer)) for layer in layers))
    loss.trainable_layers = list(layers)  # what remember_trainable_layers keeps
    return float(method())


class _Network:
    """The book's objects for one architecture: dense layers, the hidden ReLUs, the output."""

    def __init__(self, module: types.ModuleType, sizes: Sequence[int], reg: float) -> None:
        self.module, self.reg = module, reg
        self.sigmoid = sizes[-1] == 1 and _met(module, f"{SIGMOID} with {BCE}")
        self.sizes = [*sizes[:-1], 1 if self.sigmoid else max(2, sizes[-1])]
        self.depth = len(sizes) - 1
        self.dense: list[Any] = []
        self.relu = [self._new(RELU) for _ in range(self.depth - 1)]
        self.output = self._new(SIGMOID if self.sigmoid else SOFTMAX)
        self.loss = self._new(BCE if self.sigmoid else CCE)
        self.combined = None if self.sigmoid or _class(module, COMBINED) is None else self._new(COMBINED)

    def _new(self, name: str, *args: Any, **kwargs: Any) -> Any:
        cls = _class(self.module, name)
        assert cls is not None
        return cls(*args, **kwargs)

    def build(self, seed: int) -> None:
        np.random.seed(seed)
        extra = {"weight_regularizer_l2": self.reg} if self.reg else {}
        self.dense = [self._new(DENSE, m, n, **extra)
                      for m, n in zip(self.sizes[:-1], self.sizes[1:], strict=True)]

    def set(self, params: Any) -> None:
        if not self.dense:
            self.build(0)
        for l, layer in enumerate(self.dense, start=1):
            layer.weights, layer.biases = np.array(params[f"W{l}"]), np.array(params[f"b{l}"])

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for l, layer in enumerate(self.dense, start=1):
            out[f"W{l}"], out[f"b{l}"] = layer.weights, layer.biases
        return out

    def target(self, y: Any) -> Any:
        labels = np.asarray(y, dtype=np.int64).reshape(-1)
        return labels.reshape(-1, 1) if self.sigmoid else labels

    def forward(self, x: Any, y: Any) -> tuple[dict[str, Any], float]:
        cache: dict[str, Any] = {}
        inputs = np.asarray(x, dtype=np.float64)
        for l, layer in enumerate(self.dense, start=1):
            inputs = cache[f"dense{l}.output"] = _forward(layer, inputs)
            act = self.relu[l - 1] if l < self.depth else self.output
            inputs = cache[f"activation{l}.output"] = _forward(act, inputs)
        loss = float(np.mean(self.loss.forward(inputs, self.target(y))))
        if any(getattr(layer, "weight_regularizer_l2", 0) for layer in self.dense):
            loss += _regularisation(self.loss, self.dense)
        return cache, loss

    def backward(self, x: Any, y: Any) -> dict[str, Any]:
        self.forward(x, y)
        probs, target = self.output.output, self.target(y)
        if self.combined is not None:
            self.combined.backward(probs, target)
            dvalues = self.combined.dinputs
        else:
            self.loss.backward(probs, target)
            self.output.backward(self.loss.dinputs)
            dvalues = self.output.dinputs
        grads: dict[str, Any] = {}
        for l in range(self.depth, 0, -1):
            layer = self.dense[l - 1]
            layer.backward(dvalues)
            grads[f"dW{l}"], grads[f"db{l}"] = layer.dweights, layer.dbiases
            if l > 1:
                self.relu[l - 2].backward(layer.dinputs)
                dvalues = self.relu[l - 2].dinputs
        return grads

    def update(self, grads: Any, lr: float) -> dict[str, Any]:
        """The file's Optimizer_SGD(learning_rate=lr), once over every dense layer."""
        optimizer = self._new(SGD, learning_rate=lr)
        for l, layer in enumerate(self.dense, start=1):
            layer.dweights, layer.dbiases = np.array(grads[f"dW{l}"]), np.array(grads[f"db{l}"])
        for step in ("pre_update_params", "update_params", "post_update_params"):
            method = getattr(optimizer, step, None)
            if step == "update_params":
                for layer in self.dense:
                    optimizer.update_params(layer)
            elif callable(method):
                method()
        return self.params()


def _check(module: types.ModuleType, reg: float, file: str) -> None:
    """What --reg needs of the file, told at load."""
    if not reg:
        return
    dense = _class(module, DENSE)
    if "weight_regularizer_l2" not in common._signature_names(dense):
        raise common.ConventionError(f"{file}: --reg is Layer_Dense's weight_regularizer_l2, but its "
                                     "constructor takes none")
    if not any(callable(getattr(_class(module, name), "regularization_loss", None)) for name in (CCE, BCE)):
        raise common.ConventionError(f"{file}: --reg needs the loss's regularization_loss, which the "
                                     "file does not define")


def adapt(module: types.ModuleType, sizes: Sequence[int], reg: float, file: str) -> common.Adapted:
    """The notebook contract's functions for a module defining the book's classes."""
    _check(module, reg, file)
    restored = restore_numpy()
    net = _Network(module, sizes, reg)
    has_sgd = _class(module, SGD) is not None and \
        "learning_rate" in common._signature_names(_class(module, SGD))

    def forward(x: Any, params: Any, y: Any) -> tuple[dict[str, Any], Any]:
        net.set(params)
        return net.forward(x, y)

    def backward(x: Any, y: Any, params: Any, cache: Any) -> Any:
        net.set(params)
        return net.backward(x, y)

    def update(params: Any, grads: Any, lr: float) -> Any:
        net.set(params)
        return net.update(grads, lr)

    def init(seed: int) -> Any:
        net.build(seed)
        return {name: value.copy() for name, value in net.params().items()}

    net.build(0)  # a constructor that breaks is told at load
    sizes_text = "-".join(map(str, net.sizes))
    head = (f"Layer_Dense x{net.depth} ({sizes_text}{', weight_regularizer_l2=' + repr(reg) if reg else ''})"
            f", Activation_ReLU, {SIGMOID + ' + ' + BCE if net.sigmoid else SOFTMAX + ' + ' + CCE}")
    binary = " (a binary data set as a 2-class softmax)" if sizes[-1] == 1 and not net.sigmoid else ""
    fixed = f"; {', '.join(restored)} set back from nnfs.init()'s float32 to NumPy's own" if restored else ""
    described = f"{head}{binary}; X (B, n) rows; {SGD if has_sgd else 'plain SGD'}{fixed}"
    return common.Adapted(common.NNFS, forward, backward, update if has_sgd else None, init, described,
                          lambda cache: [f"dense{l}.output" for l in range(1, net.depth)])
