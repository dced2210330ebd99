"""deeplearning.ai (Andrew Ng's course 1): samples are columns, X (n_x, m), Y (1, m) (one-hot
(K, m) for K classes); W_l (n_l, n_(l-1)), b_l (n_l, 1).

    forward_propagation(X, parameters) -> (A2, cache) or L_model_forward(X, parameters) ->
    (AL, caches); compute_cost(AL, Y), or compute_cost(A2, Y, parameters) as the planar
    notebook had it to v6c; backward_propagation(parameters, cache, X, Y) or
    L_model_backward(AL, Y, caches) -> grads dW1, db1, ... (and the intermediates dA1, dZ1);
    optional update_parameters(parameters, grads, learning_rate) and
    initialize_parameters(n_x, n_h, n_y) / initialize_parameters_deep(dims).

Each function's signature is read (inspect) before it is called, and one that fits none of
the course's versions is named with the signatures it could have had.
"""

from __future__ import annotations

import itertools
import re
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.maths import network
from engine.model.conventions.common import (
    DLAI,
    Adapted,
    Build,
    ConventionError,
    Found,
    call_form,
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


#: The course's signatures, in the order they are tried: the arguments as the stepper passes them.
COST_FORMS = (("AL", "Y"), ("A2", "Y", "parameters"))
UPDATE_FORMS = (("parameters", "grads", "learning_rate"), ("parameters", "grads"))
#: An intermediate gradient of the course: dA1, dZ2.
INTERMEDIATE = re.compile(r"d([AZ])(\d+)")


def _dlai_kinks(cache: dict[str, Any]) -> list[str]:
    """The course's pre-activations (Z1, ..., or caches[l].activation_cache.Z) whose
    activation has a kink at 0, in order: a ReLU's (or a leaky one's), not a tanh's or a
    sigmoid's, told by the values themselves (A equals Z where Z > 0; a layer that is all
    dead, A = 0). The output's is left out (a sigmoid or softmax is smooth); a Z whose
    activation the cache does not hold counts as kinked."""
    names = [name for name in cache if re.fullmatch(r"(.*\.)?Z\d*", name)][:-1]
    return [name for name in names if _kinked(cache.get(_activation_of(name, names)), cache[name])]


def _activation_of(name: str, zs: list[str]) -> str:
    """Where the cache holds the activation of the pre-activation `name`: A1 beside Z1 in the
    2-layer's cache, the next layer's linear_cache.A_prev in the L-layer's caches."""
    if name.endswith(".activation_cache.Z"):
        index = int(re.findall(r"\[(\d+)\]", name)[-1])
        return name.replace(f"[{index}].activation_cache.Z", f"[{index + 1}].linear_cache.A_prev")
    return re.sub(r"Z(\d*)$", r"A\1", name)


def _kinked(A: Any, Z: Any) -> bool:
    if A is None or np.shape(A) != np.shape(Z):
        return True
    A, Z = np.asarray(A, dtype=np.float64), np.asarray(Z, dtype=np.float64)
    positive = Z > 0
    if not positive.any():
        return bool(np.all(A == 0))
    return bool(np.allclose(A[positive], Z[positive], rtol=1e-12, atol=0.0))


def builtin_gradients(grads: dict[str, Any], depth: int) -> dict[str, Any]:
    """The course's intermediate gradients under the built-in network's names and layout,
    so that an error is said to enter at the same place whatever the convention: dZ_l
    (n_l, m) is dz_l (m, n_l); dA_k is da_k as the course names it since v8a (dA0 to
    dA{L-1}), and da_(k-1) as it did before (dA1 to dA{L}: grads["dA" + str(l + 1)] was
    layer l + 1's dA_prev), told by which of dA0 and dA{L} the grads hold."""
    older = f"dA{depth}" in grads and "dA0" not in grads
    out: dict[str, Any] = {}
    for key, value in grads.items():
        found = INTERMEDIATE.fullmatch(key) if isinstance(key, str) else None
        if found is None or np.ndim(value) != 2:
            continue
        symbol, k = found[1].lower(), int(found[2]) - (found[1] == "A" and older)
        if 1 <= k <= depth - (symbol == "a"):
            out[f"d{symbol}{k}"] = np.transpose(value)
    return out


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


@dataclass(frozen=True)
class _Course:
    """The course's functions a module defines, each checked against the signatures of the
    course's versions: which forward and backward (the planar 2-layer's or the L-layer's),
    and whether compute_cost takes the parameters and update_parameters a learning rate."""

    forward: Any
    two: bool  # forward_propagation, not L_model_forward
    cost: Any
    cost_with_params: bool
    backward: Any
    two_back: bool  # backward_propagation, not L_model_backward
    update: Any  # None: the stepper's SGD
    own_rate: bool  # update_parameters(parameters, grads): its own learning rate, not --lr
    init: str  # the initialiser's name, "" for none


def _course(module: types.ModuleType, file: str) -> _Course:
    two, two_back = has(module, "forward_propagation"), has(module, "backward_propagation")
    forward = get(module, "forward_propagation" if two else "L_model_forward")
    backward = get(module, "backward_propagation" if two_back else "L_model_backward")
    call_form(forward, "forward_propagation" if two else "L_model_forward", (("X", "parameters"),), file)
    call_form(backward, "backward_propagation" if two_back else "L_model_backward",
              (("parameters", "cache", "X", "Y"),) if two_back else (("AL", "Y", "caches"),), file)
    cost = get(module, "compute_cost")
    update = get(module, "update_parameters") if has(module, "update_parameters") else None
    own_rate = update is not None and call_form(update, "update_parameters", UPDATE_FORMS, file) == 1
    inits = [n for n in ("initialize_parameters_deep", "initialize_parameters") if has(module, n)]
    return _Course(forward, two, cost, call_form(cost, "compute_cost", COST_FORMS, file) == 1,
                   backward, two_back, None if own_rate else update, own_rate, inits[0] if inits else "")


def _described(course: _Course) -> str:
    """The model line: which of the course's functions run, and how."""
    update = ", update_parameters" if course.update is not None else \
        " (plain SGD: update_parameters(parameters, grads) takes no learning rate)" if course.own_rate \
        else " (plain SGD)"
    return (f"{'forward_propagation' if course.two else 'L_model_forward'}, "
            f"{'compute_cost(A2, Y, parameters)' if course.cost_with_params else 'compute_cost'}, "
            f"{'backward_propagation' if course.two_back else 'L_model_backward'}{update}"
            f"{', ' + course.init if course.init else ''}; X (n_x, m) columns")


def adapt(module: types.ModuleType, build: Build) -> Adapted:
    sizes, file = build.sizes, build.file
    course = _course(module, file)
    classes = sizes[-1]
    depth = len(sizes) - 1

    def forward(x: Any, params: Any, y: Any) -> tuple[dict[str, Any], Any]:
        X, Y = _dlai_columns(x, y, classes)
        AL, cache = course.forward(X, params)
        cost = course.cost(AL, Y, params) if course.cost_with_params else course.cost(AL, Y)
        flat: dict[str, Any] = {}
        flatten(cache, "cache" if course.two else "caches", flat)
        if not any(value is AL for value in flat.values()):  # the 2-layer's cache holds A2
            flat["A2" if course.two and depth == 2 else "AL"] = np.asarray(AL)
        return flat, number(cost)

    def backward(x: Any, y: Any, params: Any, cache: Any) -> Any:
        X, Y = _dlai_columns(x, y, classes)
        AL, raw = course.forward(X, params)  # the course's own cache: the flattened copy is for show
        # dW1, db1, ... and dA1, dZ1, ...: the contract keeps the course's intermediates for show
        return course.backward(params, raw, X, Y) if course.two_back else course.backward(AL, Y, raw)

    def update(params: Any, grads: Any, lr: float) -> Any:
        return course.update(params, grads, lr)

    def init(seed: int) -> Any:
        return _dlai_init(module, sizes, seed)

    if course.init == "initialize_parameters" and depth != 2:
        raise ConventionError(f"{file}: initialize_parameters(n_x, n_h, n_y) makes a network with "
                              f"one hidden layer, but the sizes are {'-'.join(map(str, sizes))}; "
                              "give one --hidden layer, or define initialize_parameters_deep")
    return Adapted(DLAI, forward, backward, update if course.update is not None else None, init,
                   _described(course), _dlai_kinks)


def expected_dlai(sizes: Sequence[int]) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    for l, (m, n) in enumerate(itertools.pairwise(sizes), start=1):
        out[f"W{l}"], out[f"b{l}"] = (n, m), (n, 1)
    return out
