"""Course conventions: a deeplearning.ai or cs231n style module, turned into the notebook's
contract inside the model's process (engine.usermodel.host), so that everything downstream
(engine.usermodel.contract's checks, the stepper, the panels, the check, sessions) is unchanged.

    notebook         forward(x, params, y) and backward(x, y, params, cache): as always
    deeplearning-ai  forward_propagation(X, parameters) -> (A2, cache) or
                     L_model_forward(X, parameters) -> (AL, caches); compute_cost(AL, Y);
                     backward_propagation(parameters, cache, X, Y) or
                     L_model_backward(AL, Y, caches) -> grads dW1, db1, ...; optional
                     update_parameters(parameters, grads, learning_rate) and
                     initialize_parameters(n_x, n_h, n_y) / initialize_parameters_deep(dims).
                     Samples are columns: X (n_x, m), Y (1, m) (one-hot (K, m) for K classes);
                     W_l (n_l, n_(l-1)), b_l (n_l, 1).
    cs231n           a class whose constructor takes input_dim, hidden_dim (or hidden_dims),
                     num_classes, reg, with `params` and loss(X, y=None): the scores without y,
                     (loss, grads) with it, grads keyed by the parameter names; or a module
                     level loss(params, X, y). Samples are rows: X (N, D), y (N,) class
                     indices; W_l (n_(l-1), n_l), b_l (n_l,); a softmax of max(2, classes).

The adapter's functions take the notebook's arguments for a batch (BATCHED = True): x
(B, n0) rows of samples and y (B,) ints, and hand the course its own layout. They only
ever call the functions of the module the user named with --model.
"""

from __future__ import annotations

import inspect
import itertools
import re
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.maths import network

NOTEBOOK, DLAI, CS231N = "notebook", "deeplearning-ai", "cs231n"
NIELSEN, NNFS = "nielsen", "nnfs"
CONVENTIONS = (NOTEBOOK, DLAI, CS231N, NIELSEN, NNFS)
#: Conventions in which --reg means something (the regularisation strength they take).
WITH_REG = (CS231N, NNFS)
#: Conventions whose samples are columns (one sample's slice of a batch is a column).
COLUMNS = (DLAI, NIELSEN)
#: The cs231n constructor's keywords, tried in this order (those the constructor accepts).
CS231N_KEYWORDS = ("input_dim", "hidden_dim", "hidden_dims", "num_classes", "weight_scale", "reg")


class ConventionError(Exception):
    """The module fits no convention, fits two, or breaks the one it follows."""


@dataclass
class Adapted:
    """The notebook contract's functions, made from a course-style module."""

    convention: str
    forward: Callable[..., Any]
    backward: Callable[..., Any]
    sgd_update: Callable[..., Any] | None
    init_params: Callable[..., Any] | None
    #: How the model was built, as a reader takes it in ("TwoLayerNet(input_dim=2, ...)").
    described: str
    kink_names: Callable[[dict[str, Any]], list[str]] | None = None


def _get(module: types.ModuleType, name: str) -> Any:
    try:
        return getattr(module, name, None)
    except BaseException:  # a module-level __getattr__ may raise anything
        return None


def _has(module: types.ModuleType, name: str) -> bool:
    return callable(_get(module, name))


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
    fitting = [cls for cls in classes if wanted in _signature_names(cls)]
    if len(fitting) == 1:
        return fitting[0]
    names = ", ".join(cls.__name__ for cls in classes)
    raise ConventionError(f"defines several model classes ({names}) and not one whose constructor "
                          f"takes {wanted} for the sizes {'-'.join(map(str, sizes))}")


def _module_loss(module: types.ModuleType) -> bool:
    """A module-level loss(params, X, y): its first parameter named params (or model)."""
    found = _get(module, "loss")
    if not callable(found):
        return False
    try:
        names = list(inspect.signature(found).parameters)
    except (TypeError, ValueError):
        return False
    return len(names) >= 3 and names[0] in ("params", "model")


def _found(module: types.ModuleType) -> dict[str, tuple[list[str], list[str]]]:
    """Per convention: (the names it needs that the module defines, those it lacks)."""
    out: dict[str, tuple[list[str], list[str]]] = {}
    nb = [name for name in ("forward", "backward") if _has(module, name)]
    out[NOTEBOOK] = (nb, [name for name in ("forward", "backward") if name not in nb])
    found, missing = [], []
    for group in (("forward_propagation", "L_model_forward"), ("compute_cost",),
                  ("backward_propagation", "L_model_backward")):
        here = [name for name in group if _has(module, name)]
        if here:
            found.extend(here)
        else:
            missing.append(" or ".join(group))
    out[DLAI] = (found, missing)
    classes = _cs231n_classes(module)
    if classes:
        out[CS231N] = ([f"class {_words([c.__name__ for c in classes])} with loss"], [])
    elif _module_loss(module):
        out[CS231N] = (["loss(params, X, y)"], [])
    else:
        out[CS231N] = ([], ["class with params and loss(X, y=None), or loss(params, X, y)"])
    from engine.model import nielsen, nnfs  # here: they import this module's helpers
    out[NIELSEN], out[NNFS] = nielsen.found(module), nnfs.found(module)
    return out


def _words(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _lacks(convention: str, found: list[str], missing: list[str]) -> str:
    what = f"found {_words(found)} but no " if found else "no "
    return f"{what}{' and no '.join(missing)} ({convention})"


def detect(module: types.ModuleType, asked: str | None, file: str) -> str:
    """The module's convention: the one asked for if it fits, else the one it fits, or a
    ConventionError naming what was found and what is missing. A file that defines none of
    the courses' names is left to the notebook's own checks and their messages."""
    found = _found(module)
    fits = [name for name, (_, missing) in found.items() if not missing]
    if asked is not None:
        if asked in fits:
            return asked
        have, missing = found[asked]
        raise ConventionError(f"{file} does not fit --convention {asked}: "
                              f"{_lacks(asked, have, missing)}")
    if len(fits) == 1:
        return fits[0]
    if len(fits) > 1:
        both = "; ".join(f"{name} ({_words(found[name][0])})" for name in fits)
        raise ConventionError(f"{file} fits more than one convention: {both}; choose one with "
                              f"--convention {'|'.join(fits)}")
    if not any(found[name][0] for name in CONVENTIONS[1:]):
        return NOTEBOOK  # nothing of any course: the notebook's checks name what is missing
    partial = [name for name in CONVENTIONS if found[name][0]]
    told = "; ".join(_lacks(name, *found[name]) for name in partial)
    raise ConventionError(f"{file} fits no convention: {told}")


# ---- helpers ---------------------------------------------------------------------------
def _number(value: Any) -> Any:
    """A cost as the course returns it (np.squeeze of a (1, 1) array) as a plain number."""
    array = np.asarray(value) if isinstance(value, np.ndarray | np.generic) else None
    if array is not None and array.size == 1 and array.dtype.kind in "iuf":
        return float(array.reshape(()))
    return value


def flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    """A cache whatever its structure (dicts, tuples, lists of tuples, objects with
    attributes) as named leaves: "caches[0].linear_cache.A_prev". The course's
    linear_activation cache ((A_prev, W, b), Z) is named as the course names it."""
    if isinstance(value, dict):
        for key, item in value.items():
            flatten(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, tuple | list):
        if len(value) == 2 and isinstance(value[0], tuple) and len(value[0]) == 3 \
                and isinstance(value[1], np.ndarray):
            for name, item in zip(("A_prev", "W", "b"), value[0], strict=True):
                out[f"{path}.linear_cache.{name}"] = item
            out[f"{path}.activation_cache.Z"] = value[1]
            return
        for i, item in enumerate(value):
            flatten(item, f"{path}[{i}]", out)
    elif isinstance(value, np.ndarray | np.generic | int | float) and not isinstance(value, bool):
        out[path or "value"] = np.asarray(value)
    # anything else (a string, None, an object) says nothing as a tensor: left out


def _dlai_kinks(cache: dict[str, Any]) -> list[str]:
    """The course's pre-activations (Z1, ..., or caches[l].activation_cache.Z), in order,
    the output's left out (a sigmoid or softmax is smooth)."""
    names = [name for name in cache if re.fullmatch(r"(.*\.)?Z\d*", name)]
    return names[:-1]


def _signature_names(function: Any) -> list[str]:
    try:
        return list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return []


# ---- deeplearning.ai -----------------------------------------------------------------------
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
    if _has(module, "initialize_parameters_deep"):
        params = _get(module, "initialize_parameters_deep")(list(sizes))
        made = "initialize_parameters_deep"
    elif _has(module, "initialize_parameters") and len(sizes) - 1 == 2:
        params = _get(module, "initialize_parameters")(*sizes)
        made = "initialize_parameters"
    else:
        arch = network.Architecture(sizes[0], tuple(sizes[1:-1]), "relu", sizes[-1])
        made = "the stepper's initialisation"
        params = {name: value.reshape(-1, 1) if name.startswith("b") else value
                  for name, value in network.init_params(arch, seed).items()}
    _check_shapes(params, expected_dlai(sizes), f"{made} returned", DLAI)
    return params


def _dlai(module: types.ModuleType, sizes: Sequence[int], file: str) -> Adapted:
    two = _has(module, "forward_propagation")
    forward_fn = _get(module, "forward_propagation" if two else "L_model_forward")
    backward_fn = _get(module, "backward_propagation") if _has(module, "backward_propagation") \
        else _get(module, "L_model_backward")
    two_back = _has(module, "backward_propagation")
    cost_fn = _get(module, "compute_cost")
    update_fn = _get(module, "update_parameters") if _has(module, "update_parameters") else None
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
        return flat, _number(cost)

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

    if _has(module, "initialize_parameters") and not _has(module, "initialize_parameters_deep") \
            and depth != 2:
        raise ConventionError(f"{file}: initialize_parameters(n_x, n_h, n_y) makes a network with "
                              f"one hidden layer, but the sizes are {'-'.join(map(str, sizes))}; "
                              "give one --hidden layer, or define initialize_parameters_deep")
    names = [n for n in ("initialize_parameters_deep", "initialize_parameters") if _has(module, n)]
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


def expected_cs231n(sizes: Sequence[int]) -> dict[str, tuple[int, ...]]:
    sizes = [*sizes[:-1], max(2, sizes[-1])]
    out: dict[str, tuple[int, ...]] = {}
    for l, (m, n) in enumerate(itertools.pairwise(sizes), start=1):
        out[f"W{l}"], out[f"b{l}"] = (m, n), (n,)
    return out


def _check_shapes(params: Any, expected: dict[str, tuple[int, ...]], source: str,
                  convention: str) -> None:
    """Parameters named and shaped as the convention has them for these sizes."""
    if not isinstance(params, dict):
        return  # the contract names what it is
    for name, shape in expected.items():
        if name not in params:
            raise ConventionError(f"{source} no {name}; the {convention} convention expects "
                                  f"{', '.join(expected)} for these sizes")
        got = np.shape(params[name])
        if got != shape:
            raise ConventionError(f"{source} {name} of shape {got}; the {convention} convention "
                                  f"expects {shape}")


def _cs231n_loss(module: types.ModuleType, sizes: Sequence[int], reg: float, classes: int,
                 binary: str) -> Adapted:
    """A module-level loss(params, X, y) -> (loss, grads), cs231n's functional style."""
    loss_fn = _get(module, "loss")
    takes_reg = "reg" in _signature_names(loss_fn)

    def call(params: Any, x: Any, y: Any) -> Any:
        return loss_fn(params, x, y, reg=reg) if takes_reg else loss_fn(params, x, y)

    def forward(x: Any, params: Any, y: Any) -> tuple[dict[str, Any], Any]:
        loss, _ = call(params, x, y)
        return {}, _number(loss)

    def backward(x: Any, y: Any, params: Any, cache: Any) -> Any:
        return call(params, x, y)[1]

    def init(seed: int) -> Any:
        arch = network.Architecture(sizes[0], tuple(sizes[1:-1]), "relu", classes,
                                    network.SOFTMAX_LOSS)
        return {name: value.T if name.startswith("W") else value
                for name, value in network.init_params(arch, seed).items()}

    return Adapted(CS231N, forward, backward, None, init,
                   f"loss(params, X, y{', reg=' + repr(reg) if takes_reg else ''}){binary}")


# ---- cs231n ---------------------------------------------------------------------------------
def _cs231n(module: types.ModuleType, sizes: Sequence[int], reg: float, file: str) -> Adapted:
    classes = max(2, sizes[-1])
    binary = " (a binary data set as a 2-class softmax)" if sizes[-1] == 1 else ""
    try:
        cls = _cs231n_class(module, sizes)
    except ConventionError as error:
        raise ConventionError(f"{file} {error}") from None
    if cls is None:
        return _cs231n_loss(module, sizes, reg, classes, binary)
    accepted = _signature_names(cls)
    values: dict[str, Any] = {"input_dim": sizes[0], "hidden_dim": sizes[1] if len(sizes) == 3 else None,
                              "hidden_dims": list(sizes[1:-1]), "num_classes": classes, "reg": reg}
    kwargs = {key: values[key] for key in CS231N_KEYWORDS
              if key in accepted and key in values and values[key] is not None}
    if "hidden_dim" in accepted and "hidden_dim" not in kwargs:
        raise ConventionError(f"{file}: {cls.__name__}(hidden_dim=...) has one hidden layer, but the "
                              f"sizes are {'-'.join(map(str, sizes))}; give one --hidden layer")
    described = f"{cls.__name__}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())}){binary}"
    holder: list[Any] = []

    def build(seed: int) -> Any:
        np.random.seed(seed)
        model = cls(**kwargs)
        holder[:] = [model]
        return model

    def instance() -> Any:
        return holder[0] if holder else build(0)

    def with_params(params: Any) -> Any:
        model = instance()
        model.params = dict(params)
        return model

    def forward(x: Any, params: Any, y: Any) -> tuple[dict[str, Any], Any]:
        model = with_params(params)
        scores = model.loss(x)
        result = model.loss(x, y)
        loss = result[0] if isinstance(result, tuple) else result
        return {"scores": np.asarray(scores)}, _number(loss)

    def backward(x: Any, y: Any, params: Any, cache: Any) -> Any:
        result = with_params(params).loss(x, y)
        return result[1] if isinstance(result, tuple) and len(result) == 2 else result

    def init(seed: int) -> Any:
        params = dict(build(seed).params)
        if "hidden_dim" in kwargs:
            _check_shapes(params, expected_cs231n(sizes), f"{cls.__name__}(...).params has", CS231N)
        return params

    build(0)  # a constructor that breaks is told at load
    return Adapted(CS231N, forward, backward, None, init, described)


def adapt(module: types.ModuleType, convention: str, sizes: Sequence[int], reg: float,
          file: str) -> Adapted:
    """The notebook contract's functions for a deeplearning-ai or cs231n module."""
    if convention == DLAI:
        return _dlai(module, sizes, file)
    if convention == CS231N:
        return _cs231n(module, sizes, reg, file)
    from engine.model import nielsen, nnfs  # here: they import this module's helpers
    if convention == NIELSEN:
        return nielsen.adapt(module, sizes, reg, file)
    if convention == NNFS:
        return nnfs.adapt(module, sizes, reg, file)
    raise ValueError(f"no adapter for {convention!r}")
