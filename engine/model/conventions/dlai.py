"""deeplearning.ai (Andrew Ng's course 1): samples are columns, X (n_x, m), Y (1, m) (one-hot
(K, m) for K classes); W_l (n_l, n_(l-1)), b_l (n_l, 1).

    forward_propagation(X, parameters) -> (A2, cache) or L_model_forward(X, parameters) ->
    (AL, caches); compute_cost(AL, Y); backward_propagation(parameters, cache, X, Y) or
    L_model_backward(AL, Y, caches) -> grads dW1, db1, ...; optional
    update_parameters(parameters, grads, learning_rate) and initialize_parameters(n_x, n_h, n_y)
    / initialize_parameters_deep(dims).
"""

from __future__ import annotations

import itertools
import re
import types
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.maths import network
from engine.model.conventions.common import (
    DLAI,
    Adapted,
    Build,
    ConventionError,
    Found,
    check_shapes,
    flatten,
    get,
    has,
    number,
)


def found(module: types.ModuleType) -> Found:
    """The deeplearning.ai names the module defines, and the groups it lacks."""
    here, missing = [], []
    for group in (("forward_propagation", "L_model_forward"), ("compute_cost",),
                  ("backward_propagation", "L_model_backward")):
        defined = [name for name in group if has(module, name)]
        if defined:
            here.extend(defined)
        else:
            missing.append(" or ".join(group))
    return here, missing


def _dlai_kinks(cache: dict[str, Any]) -> list[str]:
    """The course's pre-activations (Z1, ..., or caches[l].activation_cache.Z), in order,
    the output's left out (a sigmoid or softmax is smooth)."""
    names = [name for name in cache if re.fullmatch(r"(.*\.)?Z\d*", name)]
    return names[:-1]


def _dlai_columns(x: Any, y: Any, classes: int) -> tuple[Any, Any]:
    """The notebook's rows of samples as the course's columns: X (n_x, m), and Y (1, m) for
    one output unit or one-hot (K, m) for K classes."""
    X = np.asarray(x, dtype=np.float64).T
    m = X.shape[1]
    labels = np.asarray(y, dtype=np.int64).reshape(m)
    if classes == 1:
        return X, labels.reshape(1, m).astype(np.float64)
    return X, np.eye(classes)[labels].T


def _dlai_init(module: types.ModuleType, sizes: Sequence[int], seed: int) -> Any:
    """The course's initialize_parameters_deep(dims), or initialize_parameters(n_x, n_h, n_y)
    for one hidden layer, seeded as the course seeds (np.random.seed); else the stepper's
    own draws in the course's layout (b (n, 1))."""
    np.random.seed(seed)
    if has(module, "initialize_parameters_deep"):
        params = get(module, "initialize_parameters_deep")(list(sizes))
        made = "initialize_parameters_deep"
    elif has(module, "initialize_parameters") and len(sizes) - 1 == 2:
        params = get(module, "initialize_parameters")(*sizes)
        made = "initialize_parameters"
    else:
        arch = network.Architecture(sizes[0], tuple(sizes[1:-1]), "relu", sizes[-1])
        made = "the stepper's initialisation"
        params = {name: value.reshape(-1, 1) if name.startswith("b") else value
                  for name, value in network.init_params(arch, seed).items()}
    check_shapes(params, expected_dlai(sizes), f"{made} returned", DLAI)
    return params


def adapt(module: types.ModuleType, build: Build) -> Adapted:
    sizes, file = build.sizes, build.file
    two = has(module, "forward_propagation")
    forward_fn = get(module, "forward_propagation" if two else "L_model_forward")
    backward_fn = get(module, "backward_propagation") if has(module, "backward_propagation") \
        else get(module, "L_model_backward")
    two_back = has(module, "backward_propagation")
    cost_fn = get(module, "compute_cost")
    update_fn = get(module, "update_parameters") if has(module, "update_parameters") else None
    classes = sizes[-1]
    depth = len(sizes) - 1

    def forward(x: Any, params: Any, y: Any) -> tuple[dict[str, Any], Any]:
        X, Y = _dlai_columns(x, y, classes)
        AL, cache = forward_fn(X, params)
        cost = cost_fn(AL, Y)
        flat: dict[str, Any] = {}
        flatten(cache, "cache" if two else "caches", flat)
        if not any(value is AL for value in flat.values()):  # the 2-layer's cache holds A2
            flat["A2" if two and depth == 2 else "AL"] = np.asarray(AL)
        return flat, number(cost)

    def backward(x: Any, y: Any, params: Any, cache: Any) -> Any:
        X, Y = _dlai_columns(x, y, classes)
        AL, raw = forward_fn(X, params)  # the course's own cache: the flattened copy is for show
        grads = backward_fn(params, raw, X, Y) if two_back else backward_fn(AL, Y, raw)
        return grads  # dA1, dZ1, ...: the contract keeps the course's intermediates for show

    def update(params: Any, grads: Any, lr: float) -> Any:
        assert update_fn is not None
        return update_fn(params, grads, lr)

    def init(seed: int) -> Any:
        return _dlai_init(module, sizes, seed)

    if has(module, "initialize_parameters") and not has(module, "initialize_parameters_deep") \
            and depth != 2:
        raise ConventionError(f"{file}: initialize_parameters(n_x, n_h, n_y) makes a network with "
                              f"one hidden layer, but the sizes are {'-'.join(map(str, sizes))}; "
                              "give one --hidden layer, or define initialize_parameters_deep")
    names = [n for n in ("initialize_parameters_deep", "initialize_parameters") if has(module, n)]
    described = (f"{'forward_propagation' if two else 'L_model_forward'}, compute_cost, "
                 f"{'backward_propagation' if two_back else 'L_model_backward'}"
                 f"{', update_parameters' if update_fn else ' (plain SGD)'}"
                 f"{', ' + names[0] if names else ''}; X (n_x, m) columns")
    return Adapted(DLAI, forward, backward, update if update_fn is not None else None, init,
                   described, _dlai_kinks)


def expected_dlai(sizes: Sequence[int]) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    for l, (m, n) in enumerate(itertools.pairwise(sizes), start=1):
        out[f"W{l}"], out[f"b{l}"] = (n, m), (n, 1)
    return out
