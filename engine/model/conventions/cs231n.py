"""cs231n (Stanford's course): samples are rows, X (N, D), y (N,) class indices;
W_l (n_(l-1), n_l), b_l (n_l,) (or (1, n_l), as some write it); a softmax of max(2, classes).

A class with `params` and loss(X, y=None) (the scores without y, (loss, grads) with it,
grads keyed by the parameter names), defined in the file or imported into it, as the
releases wrote it:

    assignment 1   TwoLayerNet(input_size, hidden_size, output_size, std=1e-4),
                   loss(X, y=None, reg=0.0): reg passed to loss
    assignment 2   TwoLayerNet(input_dim, hidden_dim, num_classes, weight_scale, reg) and
                   FullyConnectedNet(hidden_dims, input_dim, num_classes, dropout |
                   dropout_keep_ratio, use_batchnorm | normalization, reg, weight_scale,
                   dtype, seed)

The sizes go to whatever keywords the constructor's signature has; --model-option keywords
are passed through, checked against it. dtype is float64 (a check in float32 would fail on
rounding alone), and seed is fixed (a dropout mask drawn afresh for each call would make
the loss a random variable). Or a module-level loss(params, X, y).
"""

from __future__ import annotations

import inspect
import itertools
import types
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.maths import network
from engine.model.conventions.common import (
    CS231N,
    Adapted,
    Build,
    ConventionError,
    Found,
    check_shapes,
    get,
    number,
    signature_names,
    words,
)

#: The constructor's keyword for each size, by the names the releases gave it.
INPUT_NAMES = ("input_dim", "input_size")
HIDDEN_NAMES = ("hidden_dim", "hidden_size")  # one hidden layer
HIDDENS_NAMES = ("hidden_dims",)  # a list of them
OUTPUT_NAMES = ("num_classes", "output_size")
#: Every keyword a size or a flag fills, in the order they are stated.
CS231N_KEYWORDS = (*INPUT_NAMES, *HIDDEN_NAMES, *HIDDENS_NAMES, *OUTPUT_NAMES, "weight_scale", "reg")
#: The keyword that fixes a dropout mask (the assignment's dropout_param["seed"]).
SEED = "seed"
#: Agreement of two identical calls' losses, for a model to be checked at all.
SAME_LOSS = 1e-12


def found(module: types.ModuleType) -> Found:
    """The cs231n model the module defines or imports (a class with loss), or a module-level loss."""
    classes = _cs231n_classes(module)
    if classes:
        return [f"class {words([c.__name__ for c in classes])} with loss"], []
    if _module_loss(module):
        return ["loss(params, X, y)"], []
    return [], ["class with params and loss(X, y=None), or loss(params, X, y)"]


def _cs231n_classes(module: types.ModuleType) -> list[type]:
    """The module's classes with a callable loss: those it defines, or else those it imports
    (`from cs231n.classifiers.fc_net import FullyConnectedNet`, a file that re-exports)."""
    classes = [value for value in list(vars(module).values())
               if isinstance(value, type) and callable(getattr(value, "loss", None))]
    own = [cls for cls in classes if getattr(cls, "__module__", None) == module.__name__]
    return own or classes


def _takes(cls: type, names: Sequence[str]) -> bool:
    return any(name in signature_names(cls) for name in names)


def _cs231n_class(module: types.ModuleType, sizes: Sequence[int] = (),
                  options: Sequence[str] = ()) -> type | None:
    """The module's model class: its only one, or (as in the assignment's fc_net.py, with
    TwoLayerNet and FullyConnectedNet) the one that takes the --model-option keywords and the
    hidden layers as the sizes have them: hidden_dim for one (hidden_dims if none does), and
    hidden_dims for more."""
    classes = _cs231n_classes(module)
    if len(classes) <= 1 or not sizes:
        return classes[0] if classes else None
    fitting = [cls for cls in classes if all(_takes(cls, (key,)) for key in options)] or classes
    one = len(sizes) == 3
    for wanted in ((HIDDEN_NAMES, HIDDENS_NAMES) if one else (HIDDENS_NAMES,)):
        taking = [cls for cls in fitting if _takes(cls, wanted)]
        if len(taking) == 1:
            return taking[0]
    names = ", ".join(cls.__name__ for cls in classes)
    wanted_words = "hidden_dim" if one else "hidden_dims"
    raise ConventionError(f"defines several model classes ({names}) and not one whose constructor "
                          f"takes {wanted_words} for the sizes {'-'.join(map(str, sizes))}")


def _module_loss(module: types.ModuleType) -> bool:
    """A module-level loss(params, X, y): its first parameter named params (or model)."""
    found = get(module, "loss")
    if not callable(found):
        return False
    try:
        names = list(inspect.signature(found).parameters)
    except (TypeError, ValueError):
        return False
    return len(names) >= 3 and names[0] in ("params", "model")


def expected_cs231n(sizes: Sequence[int]) -> dict[str, tuple[int, ...]]:
    sizes = [*sizes[:-1], max(2, sizes[-1])]
    out: dict[str, tuple[int, ...]] = {}
    for l, (m, n) in enumerate(itertools.pairwise(sizes), start=1):
        out[f"W{l}"], out[f"b{l}"] = (m, n), (n,)
    return out


def row_bias(params: Any, expected: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """The expected shapes with each bias the file writes as a row, (1, n), taken as written:
    Neural Networks from Scratch and some cs231n solutions keep b_l (1, n_l)."""
    if not isinstance(params, dict):
        return expected
    return {name: (1, *shape) if name.startswith("b") and name in params
            and np.shape(params[name]) == (1, *shape) else shape for name, shape in expected.items()}


def _cs231n_loss(module: types.ModuleType, sizes: Sequence[int], reg: float, classes: int,
                 binary: str) -> Adapted:
    """A module-level loss(params, X, y) -> (loss, grads), cs231n's functional style."""
    loss_fn = get(module, "loss")
    takes_reg = "reg" in signature_names(loss_fn)

    def call(params: Any, x: Any, y: Any) -> Any:
        return loss_fn(params, x, y, reg=reg) if takes_reg else loss_fn(params, x, y)

    def forward(x: Any, params: Any, y: Any) -> tuple[dict[str, Any], Any]:
        loss, _ = call(params, x, y)
        return {}, number(loss)

    def backward(x: Any, y: Any, params: Any, cache: Any) -> Any:
        return call(params, x, y)[1]

    def init(seed: int) -> Any:
        arch = network.Architecture(sizes[0], tuple(sizes[1:-1]), "relu", classes,
                                    network.SOFTMAX_LOSS)
        return {name: value.T if name.startswith("W") else value
                for name, value in network.init_params(arch, seed).items()}

    return Adapted(CS231N, forward, backward, None, init,
                   f"loss(params, X, y{', reg=' + repr(reg) if takes_reg else ''}){binary}")


def _accepted(cls: type) -> list[str]:
    """The constructor's keywords (its *args and **kwargs left out)."""
    return [name for name, p in inspect.signature(cls).parameters.items()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _filled(accepted: list[str], build: Build) -> dict[str, Any]:
    """The sizes under whatever names the constructor has, reg, dtype float64 and a seed."""
    sizes = build.sizes
    hidden = list(sizes[1:-1])
    filled: dict[str, Any] = {}
    for names, value in ((INPUT_NAMES, sizes[0]), (HIDDEN_NAMES, hidden[0] if len(hidden) == 1 else None),
                         (HIDDENS_NAMES, hidden), (OUTPUT_NAMES, max(2, sizes[-1])), (("reg",), build.reg),
                         (("dtype",), np.float64), ((SEED,), 0)):
        name = next((n for n in names if n in accepted), None)
        if name is not None and value is not None:
            filled[name] = value
    return filled


def _keywords(cls: type, build: Build) -> dict[str, Any]:
    """The constructor's keywords: the sizes under whatever names its signature has, reg,
    dtype float64, a fixed seed, and the --model-option keywords, checked against it."""
    sizes, file = build.sizes, build.file
    accepted = _accepted(cls)
    filled = _filled(accepted, build)
    _refuse_options(cls, build, accepted, filled)
    if _takes(cls, HIDDEN_NAMES) and not any(n in filled for n in (*HIDDEN_NAMES, *HIDDENS_NAMES)):
        raise ConventionError(f"{file}: {cls.__name__}(hidden_dim=...) has one hidden layer, but the "
                              f"sizes are {'-'.join(map(str, sizes))}; give one --hidden layer")
    kwargs = {**filled, **dict(build.options)}
    parameters = inspect.signature(cls).parameters
    missing = [name for name in accepted if parameters[name].default is inspect.Parameter.empty
               and name not in kwargs]
    if missing:
        raise ConventionError(f"{file}: {cls.__name__}{inspect.signature(cls)} takes {words(missing)}, "
                              "which are no size the stepper knows; give them with --model-option "
                              "KEY=VALUE")
    return kwargs


def _refuse_options(cls: type, build: Build, accepted: list[str], filled: dict[str, Any]) -> None:
    """--model-option keywords the constructor does not take, or that a flag sets."""
    takes_any = any(p.kind == p.VAR_KEYWORD for p in inspect.signature(cls).parameters.values())
    for key, _ in build.options:
        if key == "dtype":
            raise ConventionError(f"--model-option dtype: {cls.__name__} is built with dtype=float64 "
                                  "for the gradient check (float32 fails it on rounding alone)")
        if key in filled and key != SEED:
            flag = "--reg" if key == "reg" else "--inputs/--hidden/--classes or the data"
            raise ConventionError(f"--model-option {key}: set by {flag}, not by an option")
        if key not in accepted and not takes_any:
            raise ConventionError(f"--model-option {key}: {build.file}'s {cls.__name__} takes no "
                                  f"keyword {key}; it accepts {', '.join(accepted)}")


def _described(cls: type, kwargs: dict[str, Any], loss_reg: bool, build: Build) -> str:
    """How the model was built, with why dtype and seed are what they are."""
    shown = ", ".join(f"{k}=float64" if k == "dtype" else f"{k}={v!r}" for k, v in kwargs.items())
    text = f"{cls.__name__}({shown})"
    if loss_reg:
        text += f", loss(X, y, reg={build.reg!r})"
    notes = []
    if "dtype" in kwargs:
        notes.append("dtype float64 for the check")
    if SEED in kwargs:
        notes.append(f"seed {kwargs[SEED]!r} fixes any dropout mask, so the check is deterministic")
    if build.sizes[-1] == 1:
        notes.append("a binary data set as a 2-class softmax")
    return text + (f" ({'; '.join(notes)})" if notes else "")


def _same_loss(first: Any, second: Any, name: str) -> None:
    """Refused: a loss that two identical calls disagree on cannot be checked."""
    a, b = number(first[0] if isinstance(first, tuple) else first), \
        number(second[0] if isinstance(second, tuple) else second)
    if isinstance(a, float) and isinstance(b, float) and abs(a - b) > SAME_LOSS * max(1.0, abs(a)):
        raise ConventionError(f"{name}.loss gave {a!r}, then {b!r} for the same X, y and "
                              "parameters, so its gradient cannot be checked (dropout drawing a new "
                              "mask each call?); fix its randomness with a seed (--model-option "
                              "seed=0, if the constructor takes one)")


def adapt(module: types.ModuleType, build: Build) -> Adapted:
    sizes, reg, file = build.sizes, build.reg, build.file
    classes = max(2, sizes[-1])
    binary = " (a binary data set as a 2-class softmax)" if sizes[-1] == 1 else ""
    try:
        cls = _cs231n_class(module, sizes, [key for key, _ in build.options])
    except ConventionError as error:
        raise ConventionError(f"{file} {error}") from None
    if cls is None:
        return _cs231n_loss(module, sizes, reg, classes, binary)
    return _class_adapter(cls, build)


def _class_adapter(cls: type, build: Build) -> Adapted:
    """The notebook's contract for a model class: built once per init (after np.random.seed),
    its params replaced by the stepper's for each call."""
    kwargs = _keywords(cls, build)
    loss_reg = "reg" in signature_names(getattr(cls, "loss", None)) and "reg" not in kwargs
    extra = {"reg": build.reg} if loss_reg else {}
    holder: list[Any] = []
    checked: list[bool] = []

    def construct(seed: int) -> Any:
        np.random.seed(seed)
        model = cls(**kwargs)
        holder[:] = [model]
        return model

    def with_params(params: Any) -> Any:
        model = holder[0] if holder else construct(0)
        model.params = dict(params)
        return model

    def forward(x: Any, params: Any, y: Any) -> tuple[dict[str, Any], Any]:
        model = with_params(params)
        scores = model.loss(x, **extra)
        result = model.loss(x, y, **extra)
        if not checked:
            _same_loss(result, model.loss(x, y, **extra), cls.__name__)
            checked.append(True)
        loss = result[0] if isinstance(result, tuple) else result
        return {"scores": np.asarray(scores)}, number(loss)

    def backward(x: Any, y: Any, params: Any, cache: Any) -> Any:
        result = with_params(params).loss(x, y, **extra)
        return result[1] if isinstance(result, tuple) and len(result) == 2 else result

    def init(seed: int) -> Any:
        params = dict(construct(seed).params)
        if _takes(cls, HIDDEN_NAMES):
            expected = expected_cs231n(build.sizes)
            check_shapes(params, row_bias(params, expected), f"{cls.__name__}(...).params has", CS231N)
        return params

    construct(0)  # a constructor that breaks is told at load
    return Adapted(CS231N, forward, backward, None, init, _described(cls, kwargs, loss_reg, build))
