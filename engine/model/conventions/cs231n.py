"""cs231n (Stanford's course): samples are rows, X (N, D), y (N,) class indices;
W_l (n_(l-1), n_l), b_l (n_l,); a softmax of max(2, classes).

A class whose constructor takes input_dim, hidden_dim (or hidden_dims), num_classes, reg,
with `params` and loss(X, y=None): the scores without y, (loss, grads) with it, grads keyed
by the parameter names; or a module level loss(params, X, y).
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

#: The cs231n constructor's keywords, tried in this order (those the constructor accepts).
CS231N_KEYWORDS = ("input_dim", "hidden_dim", "hidden_dims", "num_classes", "weight_scale", "reg")


def found(module: types.ModuleType) -> Found:
    """The cs231n model the module defines (a class with loss, or a module-level loss)."""
    classes = _cs231n_classes(module)
    if classes:
        return [f"class {words([c.__name__ for c in classes])} with loss"], []
    if _module_loss(module):
        return ["loss(params, X, y)"], []
    return [], ["class with params and loss(X, y=None), or loss(params, X, y)"]


def _cs231n_classes(module: types.ModuleType) -> list[type]:
    """The module's own classes with a callable loss."""
    return [value for value in list(vars(module).values())
            if isinstance(value, type) and getattr(value, "__module__", None) == module.__name__
            and callable(getattr(value, "loss", None))]


def _cs231n_class(module: types.ModuleType, sizes: Sequence[int] = ()) -> type | None:
    """The module's model class: its only one, or (as in the assignment's fc_net.py, with
    TwoLayerNet and FullyConnectedNet) the one whose constructor takes the hidden layers as
    the sizes have them: hidden_dim for one, hidden_dims for more."""
    classes = _cs231n_classes(module)
    if len(classes) <= 1 or not sizes:
        return classes[0] if classes else None
    wanted = "hidden_dim" if len(sizes) == 3 else "hidden_dims"
    fitting = [cls for cls in classes if wanted in signature_names(cls)]
    if len(fitting) == 1:
        return fitting[0]
    names = ", ".join(cls.__name__ for cls in classes)
    raise ConventionError(f"defines several model classes ({names}) and not one whose constructor "
                          f"takes {wanted} for the sizes {'-'.join(map(str, sizes))}")


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


def adapt(module: types.ModuleType, build: Build) -> Adapted:
    sizes, reg, file = build.sizes, build.reg, build.file
    classes = max(2, sizes[-1])
    binary = " (a binary data set as a 2-class softmax)" if sizes[-1] == 1 else ""
    try:
        cls = _cs231n_class(module, sizes)
    except ConventionError as error:
        raise ConventionError(f"{file} {error}") from None
    if cls is None:
        return _cs231n_loss(module, sizes, reg, classes, binary)
    accepted = signature_names(cls)
    values: dict[str, Any] = {"input_dim": sizes[0], "hidden_dim": sizes[1] if len(sizes) == 3 else None,
                              "hidden_dims": list(sizes[1:-1]), "num_classes": classes, "reg": reg}
    kwargs = {key: values[key] for key in CS231N_KEYWORDS
              if key in accepted and key in values and values[key] is not None}
    if "hidden_dim" in accepted and "hidden_dim" not in kwargs:
        raise ConventionError(f"{file}: {cls.__name__}(hidden_dim=...) has one hidden layer, but the "
                              f"sizes are {'-'.join(map(str, sizes))}; give one --hidden layer")
    described = f"{cls.__name__}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())}){binary}"
    holder: list[Any] = []

    def construct(seed: int) -> Any:
        np.random.seed(seed)
        model = cls(**kwargs)
        holder[:] = [model]
        return model

    def instance() -> Any:
        return holder[0] if holder else construct(0)

    def with_params(params: Any) -> Any:
        model = instance()
        model.params = dict(params)
        return model

    def forward(x: Any, params: Any, y: Any) -> tuple[dict[str, Any], Any]:
        model = with_params(params)
        scores = model.loss(x)
        result = model.loss(x, y)
        loss = result[0] if isinstance(result, tuple) else result
        return {"scores": np.asarray(scores)}, number(loss)

    def backward(x: Any, y: Any, params: Any, cache: Any) -> Any:
        result = with_params(params).loss(x, y)
        return result[1] if isinstance(result, tuple) and len(result) == 2 else result

    def init(seed: int) -> Any:
        params = dict(construct(seed).params)
        if "hidden_dim" in kwargs:
            check_shapes(params, expected_cs231n(sizes), f"{cls.__name__}(...).params has", CS231N)
        return params

    construct(0)  # a constructor that breaks is told at load
    return Adapted(CS231N, forward, backward, None, init, described)
