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

from engine.model.conventions import common
from engine.model.course_names import NNFS as NNFS

DENSE, RELU, SOFTMAX, SIGMOID = "Layer_Dense", "Activation_ReLU", "Activation_Softmax", "Activation_Sigmoid"
CCE, BCE = "Loss_CategoricalCrossentropy", "Loss_BinaryCrossentropy"
COMBINED, SGD = "Activation_Softmax_Loss_CategoricalCrossentropy", "Optimizer_SGD"
#: The ReLU as the book spells it, then as some of its readers do.
RELUS = (RELU, "Activation_ReLu", "Activation_Relu")
#: The sigmoid's combined class, as from-scratch files built on the book write it.
SIGMOID_BCE = "Activation_Sigmoid_Loss_BinaryCrossentropy"
#: The output heads, each met by any one of its forms: the activation and the loss as two
#: classes, or one combined class with a forward(inputs, y_true) of its own.
SOFTMAX_HEADS = ((SOFTMAX, CCE), (f"{COMBINED}.forward",))
SIGMOID_HEADS = ((SIGMOID, BCE), (f"{SIGMOID_BCE}.forward",))
#: Where NumPy keeps its own dot, zeros, eye and random.randn (NumPy 2, then 1.26), so that they
#: are found whatever a file has put in their place on np and np.random.
HOMES: dict[tuple[Any, str], tuple[str, ...]] = {
    (np, "dot"): ("numpy._core.multiarray", "numpy.core.multiarray"),
    (np, "zeros"): ("numpy._core.multiarray", "numpy.core.multiarray"),
    (np, "eye"): ("numpy.lib._twodim_base_impl", "numpy.lib.twodim_base"),
    (np.random, "randn"): ("numpy.random.mtrand",),
}


def _class(module: types.ModuleType, name: str) -> type | None:
    """The module's class of that book name, spelt as the book does or in another case
    (readers write Loss_CategoricalCrossEntropy and Activation_ReLu)."""
    found = common.get(module, name)
    if not isinstance(found, type):
        spelt = [key for key in list(vars(module)) if key.lower() == name.lower()]
        found = common.get(module, spelt[0]) if len(spelt) == 1 else None
    return found if isinstance(found, type) else None


def _has(module: types.ModuleType, need: str) -> bool:
    """A class of the module ("Activation_ReLU"), or a method of one ("X.forward")."""
    name, _, method = need.partition(".")
    cls = _class(module, name)
    return cls is not None and (not method or callable(getattr(cls, method, None)))


def _spelt(module: types.ModuleType, name: str) -> str:
    """A book name as the file spells it."""
    cls = _class(module, name)
    return name if cls is None else cls.__name__


def _relu(module: types.ModuleType) -> str | None:
    return next((_spelt(module, name) for name in RELUS if _class(module, name) is not None), None)


def _head(module: types.ModuleType, heads: tuple[tuple[str, ...], ...]) -> tuple[str, ...] | None:
    """The first form of an output head the module has all of."""
    return next((form for form in heads if all(_has(module, need) for need in form)), None)


def _words(heads: tuple[tuple[str, ...], ...]) -> str:
    return " or ".join(" with ".join(form) for form in heads)


def found(module: types.ModuleType) -> tuple[list[str], list[str]]:
    """(The book's class names the module defines, the needs it does not meet)."""
    names = (DENSE, *RELUS, SOFTMAX, SIGMOID, CCE, BCE, COMBINED, SIGMOID_BCE, SGD)
    have = list(dict.fromkeys(_spelt(module, name) for name in names if _class(module, name) is not None))
    if _class(module, DENSE) is None:  # the book's layer is what makes a file this convention's
        return [], [DENSE]
    missing = [] if _relu(module) else [RELU]
    if _head(module, SOFTMAX_HEADS) is None and _head(module, SIGMOID_HEADS) is None:
        missing.append(_words(SOFTMAX_HEADS + SIGMOID_HEADS))
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
    if common.signature_names(method):
        return float(sum(float(method(layer)) for layer in layers))
    loss.trainable_layers = list(layers)  # what remember_trainable_layers keeps
    return float(method())


def _new(module: types.ModuleType, name: str, *args: Any, **kwargs: Any) -> Any:
    cls = _class(module, name.partition(".")[0])
    assert cls is not None
    return cls(*args, **kwargs)


class _Output:
    """The output layer's activation and the loss: the file's two classes (with the combined
    softmax and cross-entropy's backward when it has one, as the book steps back), or its one
    combined class."""

    def __init__(self, module: types.ModuleType, form: tuple[str, ...], softmax: bool) -> None:
        self.module = module
        self.activation: Any = None
        self.loss: Any = None
        self.combined: Any = None
        if len(form) == 1:
            self.combined = _new(module, form[0])
        else:
            self.activation, self.loss = _new(module, form[0]), _new(module, form[1])
            if softmax and _class(module, COMBINED) is not None:
                self.combined = _new(module, COMBINED)

    def forward(self, logits: Any, target: Any) -> tuple[Any, float]:
        """(The probabilities, the batch's mean loss)."""
        if self.activation is None:
            loss = float(np.mean(self.combined.forward(logits, target)))
            return self.combined.output, loss
        probs = _forward(self.activation, logits)
        return probs, float(np.mean(self.loss.forward(probs, target)))

    def backward(self, probs: Any, target: Any) -> Any:
        """The gradient of the loss with respect to the output layer's dense output."""
        if self.combined is not None:
            self.combined.backward(probs, target)
            return self.combined.dinputs
        assert self.activation is not None and self.loss is not None
        self.loss.backward(probs, target)
        self.activation.backward(self.loss.dinputs)
        return self.activation.dinputs

    def regulariser(self) -> Any:
        """An object with the file's regularization_loss: the loss, the combined class's own
        loss, or the book's Loss base class; None without one."""
        own = _class(self.module, "Loss")
        for candidate in (self.loss, getattr(self.combined, "loss", None), own() if own else None):
            if callable(getattr(candidate, "regularization_loss", None)):
                return candidate
        return None


class _Network:
    """The book's objects for one architecture: dense layers, the hidden ReLUs, the output."""

    def __init__(self, module: types.ModuleType, sizes: Sequence[int], reg: float) -> None:
        self.module, self.reg = module, reg
        sigmoid, softmax = _head(module, SIGMOID_HEADS), _head(module, SOFTMAX_HEADS)
        self.sigmoid = sigmoid is not None and (sizes[-1] == 1 or softmax is None)
        if self.sigmoid and sizes[-1] > 2:
            named = " with ".join(need.partition(".")[0] for need in sigmoid or ())
            raise common.ConventionError(f"its output is a sigmoid with binary cross-entropy ({named}) "
                                         f"and no softmax, so it takes 2 classes, not {sizes[-1]}")
        self.sizes = [*sizes[:-1], 1 if self.sigmoid else max(2, sizes[-1])]
        self.depth = len(sizes) - 1
        self.dense: list[Any] = []
        self.relu = [_new(module, _relu(module) or RELU) for _ in range(self.depth - 1)]
        form = sigmoid if self.sigmoid else softmax
        assert form is not None
        self.form = form
        self.output = _Output(module, form, not self.sigmoid)

    def build(self, seed: int) -> None:
        np.random.seed(seed)
        extra = {"weight_regularizer_l2": self.reg} if self.reg else {}
        self.dense = [_new(self.module, DENSE, m, n, **extra)
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
            if l < self.depth:
                inputs = cache[f"activation{l}.output"] = _forward(self.relu[l - 1], inputs)
        probs, loss = self.output.forward(inputs, self.target(y))
        cache[f"activation{self.depth}.output"] = probs
        if any(getattr(layer, "weight_regularizer_l2", 0) for layer in self.dense):
            loss += _regularisation(self.output.regulariser(), self.dense)
        return cache, loss

    def backward(self, x: Any, y: Any) -> dict[str, Any]:
        cache, _ = self.forward(x, y)
        dvalues = self.output.backward(cache[f"activation{self.depth}.output"], self.target(y))
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
        optimizer = _new(self.module, SGD, learning_rate=lr)
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
    if "weight_regularizer_l2" not in common.signature_names(dense):
        raise common.ConventionError(f"{file}: --reg is Layer_Dense's weight_regularizer_l2, but its "
                                     "constructor takes none")
    if not any(callable(getattr(_class(module, name), "regularization_loss", None))
               for name in (CCE, BCE, "Loss")):
        raise common.ConventionError(f"{file}: --reg needs the loss's regularization_loss, which the "
                                     "file does not define")


def adapt(module: types.ModuleType, build: common.Build) -> common.Adapted:
    """The notebook contract's functions for a module defining the book's classes."""
    sizes, reg, file = build.sizes, build.reg, build.file
    _check(module, reg, file)
    restored = restore_numpy()
    try:
        net = _Network(module, sizes, reg)
    except common.ConventionError as error:
        raise common.ConventionError(f"{file}: {error}") from None
    has_sgd = _class(module, SGD) is not None and \
        "learning_rate" in common.signature_names(_class(module, SGD))

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
            f", {_relu(module)}, {' + '.join(_spelt(module, need.partition('.')[0]) for need in net.form)}")
    binary = " (a binary data set as a 2-class softmax)" if sizes[-1] == 1 and not net.sigmoid else ""
    fixed = f"; {', '.join(restored)} set back from nnfs.init()'s float32 to NumPy's own" if restored else ""
    described = f"{head}{binary}; X (B, n) rows; {SGD if has_sgd else 'plain SGD'}{fixed}"
    return common.Adapted(NNFS, forward, backward, update if has_sgd else None, init, described,
                          lambda cache: [f"dense{l}.output" for l in range(1, net.depth)])
