"""The contract a user's model file must keep, checked where the file runs.

The file follows the seed notebook's conventions:

    forward(x, params, y=None)      -> cache, or (cache, loss) when y is given
    backward(x, y, params, cache)   -> grads: 'd' + name for each parameter (the notebook's
                                    dW1) or the parameter's own name (cs231n's grads['W1']),
                                    one convention per model, found from the first backward
    sgd_update(params, grads, lr)   optional; may update params in place and return None
                                    (as the notebook's does) or return the new params. It gets
                                    the gradients keyed as its own backward keys them
    init_params(seed)               optional; the dict of parameters, any names and shapes.
                                    Without it the stepper makes the architecture's W1, b1, ...
    BATCHED = True                  optional; forward and backward then get a batch whole: x
                                    a matrix (B, n0), one sample a row, and y an int array
                                    (B,); forward's loss is the batch's mean, a number

Without BATCHED = True the functions get one sample, x of shape (n0,) and y an int (the
notebook's signature), and the model's process hands them a batch one sample at a time
(engine.usermodel.host), averaging. A BATCHED file given the one sample gets a batch of one,
(1, n0) and (1,): code written for rows keeps working on it unchanged.

Whatever the file's convention, the stepper holds, shows and writes the gradient of a
parameter P as dP (engine.maths.network's convention); the convention is stated once, in the
report's header and the JSON trace's "gradient_keys".

Why so much is checked: the point of stepping your own code is to find out what is wrong
with it, so every way the code can break the contract is reported by name (the function,
the key, the expected and the actual shape, your own traceback lines) instead of surfacing
later as a confusing failure deep in the stepper or the report.

This module runs inside the model's own process (engine.usermodel.host): it imports the file,
calls its functions and checks what they return. The stepper's side of the pipe is
engine.usermodel.client. The user's functions always get fresh writable copies of their
arguments: the notebook's sgd_update mutates params in place, and the loop gradient check
hands the same nudged parameters to forward again and again.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import importlib
import importlib.machinery
import importlib.util
import inspect
import linecache
import math
import sys
import traceback
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.maths import network
from engine.maths.fastcheck import Mask
from engine.maths.network import Array, Labels, Params, Tensors
from engine.maths.optimizers import OptimState, Settings
from engine.maths.slopes import pre_activation_sides
from engine.model import conventions
from engine.model.conventions import nielsen
from engine.model.conventions import optim as rule_config
from engine.settings.config import MAX_PARAMS
from engine.usermodel import loading, rules, script
from engine.usermodel.errors import ModelError as ModelError
from engine.usermodel.siblings import Siblings
from engine.usermodel.standins import StandIns

Where = Callable[[int], str]
#: A line of a plain file, as Python names it; a notebook's is its cell's (engine.usermodel.script).
LINE: Where = "line {}".format

FORWARD_ARGS = ("x", "params", "y")
BACKWARD_ARGS = ("x", "y", "params", "cache")
UPDATE_ARGS = ("params", "grads", "lr")
INIT_ARGS = ("seed",)
CONTRACT = "a model file needs forward(x, params, y=None) and backward(x, y, params, cache)"

#: How backward may key its gradients: "d" + name (the notebook's dW1), or "name", the
#: parameter's own name (cs231n's grads['W1']). The two never match the same key set: for
#: any set of names, the longest name's "d" + name is in the first set and not the second.
D_NAME, NAME = "d", "name"
GRADIENT_KEYS = (D_NAME, NAME)

#: Names the JSON trace writes beside the parameters' own, in the same objects (a step's
#: "gradcheck" and "update"): a parameter so named would be overwritten there.
RESERVED_NAMES = frozenset({"method", "eps", "atol", "passed", "notes", "diagnosis", "loss_after"})
#: Line numbers of the statements left out at import that a load failure names.
SKIPPED_SHOWN = 5
#: The name pip installs a module by, where the two differ.
PIP_NAMES = {"sklearn": "scikit-learn", "cv2": "opencv-python", "PIL": "pillow", "yaml": "pyyaml",
             "skimage": "scikit-image", "past": "future"}


def gradient_key(keys: str, name: str) -> str:
    """The key of parameter `name`'s gradient under convention `keys`."""
    return "d" + name if keys == D_NAME else name


def keys_words(keys: str, first: str = "W1") -> str:
    """The convention as a reader takes it in: "'d' + name, as grads['dW1']"."""
    if keys == D_NAME:
        return f"'d' + name, as grads['d{first}']"
    return f"by name, as grads['{first}']"


def _describe(value: object) -> str:
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} ({value.dtype})"
    return f"a {type(value).__name__}"


def _all_finite(values: Any) -> bool:
    """True when every numeric array or number among the values is finite."""
    for value in values:
        if isinstance(value, np.ndarray | np.generic | float | int) and not isinstance(value, bool):
            array = np.asarray(value)
            if array.dtype.kind in "iufc" and not np.all(np.isfinite(array)):
                return False
    return True


def _private(value: Any) -> Any:
    """A deep copy the user's function may change at will. Some values cannot be copied
    (a generator, a lock): those are handed over as they are."""
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True)
    try:
        return copy.deepcopy(value)
    except Exception:
        return value


def _writable(tensors: dict[str, Any]) -> dict[str, Any]:
    return {name: _private(value) for name, value in tensors.items()}


def _exit_words(error: SystemExit) -> str:
    return "exit() or sys.exit()" if error.code is None else f"sys.exit({error.code!r})"


class Contract:
    """A user's forward/backward (and optional sgd_update), called and checked.

    `own_update` is True when the file defines sgd_update; otherwise plain SGD is used.
    Every method raises ModelError when the user's code breaks the contract or raises,
    whatever it raises: KeyboardInterrupt or a BaseException of the user's own included.
    """

    def __init__(self, path: Path, forward: Callable[..., Any], backward: Callable[..., Any],
                 sgd_update: Callable[..., Any] | None, init: Callable[..., Any] | None = None,
                 batched: bool = False, convention: str = conventions.NOTEBOOK,
                 described: str = "", kink_names: Callable[[dict[str, Any]], list[str]] | None = None
                 ) -> None:
        self.path = path
        #: The file's convention (engine.model.conventions), and how it was adapted, in words.
        self.convention = convention
        self.described = described
        self._kink_names = kink_names
        #: A course's backward returns its intermediate gradients (dA1, dZ1) too: kept, for show.
        self.intermediates = convention == conventions.DLAI
        self.name = path.name
        self._forward = forward
        self._backward = backward
        self._sgd_update = sgd_update
        self._init = init
        self.own_update = sgd_update is not None
        self.own_init = init is not None
        #: The file set BATCHED = True: its functions take a batch whole (rows of samples).
        self.batched = batched
        #: The gradient keys' convention (D_NAME or NAME), once a backward has shown it.
        self.gradient_keys: str | None = None
        #: The top-level statements left out of the import (engine.usermodel.loading).
        self.skipped: tuple[loading.Skipped, ...] = ()
        #: How a line of the file is named: "line 12", or in a notebook "cell 4, line 2".
        self.where: Where = LINE
        #: The imported module, where its own update rules are looked up (engine.usermodel.rules).
        self.module: types.ModuleType | None = None
        self._rules: dict[str, rules.OwnRule | None] = {}
        #: The parameters of the first forward or backward: a run's initial ones (_diverging).
        self._first_params: Params | None = None

    def init_params(self, seed: int) -> Params | None:
        """The file's init_params(seed), checked: a non-empty dict of printable names to
        arrays (or nested lists, or numbers) of finite real numbers, each with at least one
        element, MAX_PARAMS in all at most. Returned as new float64 arrays: integer arrays
        are converted, since the gradient check and SGD need float64. None without one."""
        if self._init is None:
            return None
        params = self._call("init_params", self._init, seed)
        if not isinstance(params, dict) or not params:
            what = "an empty dict" if isinstance(params, dict) else _describe(params)
            raise self._error(f"init_params(seed) must return a dict of parameter arrays, got {what}")
        for name in params:
            if not isinstance(name, str) or not name or not name.isprintable():
                raise self._error("init_params's parameter names must be non-empty printable "
                                  f"strings, got {name!r}")
            if name in RESERVED_NAMES:
                raise self._error(f"init_params's parameter name {name!r} is one the JSON trace "
                                  f"uses beside the parameters' ({', '.join(sorted(RESERVED_NAMES))}); "
                                  "rename it")
        self._count(params)  # before the float64 copies: a huge float32 array would double
        out = self._tensors("init_params", params, {name: name for name in params}, None, True, "")
        self._count(out)
        return out

    def _count(self, params: dict[str, Any]) -> None:
        """At least one element in each parameter, MAX_PARAMS in all at most (arrays only:
        the sizes of lists and numbers are known once they are arrays)."""
        arrays = {name: value for name, value in params.items() if isinstance(value, np.ndarray)}
        for name, array in arrays.items():
            if array.size == 0:
                raise self._error(f"init_params returned {name} of shape {array.shape}; a parameter "
                                  "needs at least one element")
        total = sum(array.size for array in arrays.values())
        if total > MAX_PARAMS:
            raise self._error(f"init_params returned {total:,} parameters; at most {MAX_PARAMS:,} "
                              "fit in memory with their history (and a loop gradient check of so "
                              "many would take days)")

    def kink_sides(self, cache: Tensors) -> list[Mask]:
        if self._kink_names is not None:  # a course's names for its pre-activations (Z1, ...)
            return [np.asarray(cache[name]) > 0 for name in self._kink_names(cache)]
        return pre_activation_sides(cache)

    # ---- the Model protocol ---------------------------------------------------------
    def rows(self, x: Array, y: Labels) -> tuple[Array, Labels]:
        """What the file's functions get for x and y: as given, except that a BATCHED file
        gets the one sample as a batch of one, x (1, n0) and y (1,), since code written for
        rows (X.shape[0], A[np.arange(B), y]) would break on a vector and a bare int."""
        x = np.array(x, copy=True)
        if self.batched and x.ndim == 1:
            return x[np.newaxis], np.asarray(y, dtype=np.int64).reshape(1)
        return x, np.array(y, copy=True) if isinstance(y, np.ndarray) else y

    def forward(self, x: Array, params: Params, y: Labels) -> tuple[Tensors, float]:
        x, y = self.rows(x, y)
        self._remember(params)
        result = self._call("forward", self._forward, x, _writable(params), y)
        if not isinstance(result, tuple) or len(result) != 2:
            got = "a tuple of length " + str(len(result)) if isinstance(result, tuple) else _describe(result)
            raise self._error(f"forward(x, params, y) returned {got}; when y is given it must "
                              "return (cache, loss)")
        cache, loss = result
        if not isinstance(cache, dict):
            raise self._error(f"forward's cache must be a dict, got {_describe(cache)}")
        bad_keys = [key for key in cache if not isinstance(key, str)]
        if bad_keys:
            raise self._error(f"forward's cache keys must be strings, got {bad_keys[0]!r}")
        if self.batched and isinstance(loss, np.ndarray) and loss.size > 1:
            raise self._error(f"forward returned a loss of shape {loss.shape} for a batch of "
                              f"{len(x)}; with BATCHED = True the loss is the batch's mean, a "
                              "number (np.mean of the samples' losses)")
        value = self._loss_value(loss)
        if not math.isfinite(value) and _all_finite([x, *params.values()]) and not self._diverging(params):
            raise self._error(f"forward returned a non-finite loss ({value}) although x and "
                              "params are finite")
        return cache, value

    def backward(self, x: Array, y: Labels, params: Params, cache: Tensors,
                 keys: str | None = None) -> Tensors:
        """The gradients keyed 'd' + name, whichever convention the file keys them by.

        The first backward shows the convention and it must not change afterwards. `keys`
        is the convention the stepper saw already, if any: a restarted process (after a
        cancel or a timeout) starts knowing none, and a switch must still be refused."""
        if keys is not None:
            self.gradient_keys = keys
        x, y = self.rows(x, y)
        self._remember(params)
        grads = self._call("backward", self._backward, x, y,
                           _writable(params), _writable(cache))
        if not isinstance(grads, dict):
            raise self._error(f"backward must return a dict of gradients ({self._expected(params)}); "
                              f"it returned {_describe(grads)}")
        keys = self._convention(grads, params)
        finite = _all_finite([x, *params.values(), *cache.values()]) and not self._diverging(params)
        names = {gradient_key(keys, name): name for name in params}
        extras: dict[str, Any] = {}
        if self.intermediates:  # a course's dA1, dZ1, ...: shown beside the parameters' gradients
            extras = {key: value for key, value in grads.items() if key not in names}
            grads = {key: value for key, value in grads.items() if key in names}
        checked = self._tensors("backward", grads, names, params, finite,
                                "although x, params and cache are finite")
        self.gradient_keys = keys  # only a backward that keeps the contract decides it
        out = {"d" + name: checked[gradient_key(keys, name)] for name in params}
        return {**out, **_intermediates(extras, out)}

    def _expected(self, params: Params) -> str:
        """The keys backward may return, as a message says them."""
        if self.gradient_keys is not None:
            return "keys " + ", ".join(gradient_key(self.gradient_keys, name) for name in params)
        return " or ".join(f"keys {', '.join(gradient_key(keys, name) for name in params)}"
                           for keys in GRADIENT_KEYS)

    def _convention(self, grads: dict[Any, Any], params: Params) -> str:
        """The convention of this backward's keys; when they follow neither exactly, the one
        to check them against for the message (the one seen before, else the one more keys
        follow). Refused: a switch, keys of both conventions at once, and keys of neither."""
        sets = {keys: {gradient_key(keys, name) for name in params} for keys in GRADIENT_KEYS}
        exact = [keys for keys, wanted in sets.items() if wanted == set(grads)]
        if exact:
            [keys] = exact  # never both (see GRADIENT_KEYS)
            self._refuse_switch(keys, params)
            return keys
        if self.gradient_keys is not None:
            return self.gradient_keys
        return self._nearest(grads, params, sets)

    def _refuse_switch(self, keys: str, params: Params) -> None:
        """A backward keyed one way after one keyed the other: one convention per model."""
        seen = self.gradient_keys
        if seen is not None and keys != seen:
            first = next(iter(params))
            raise self._error(f"backward keyed its gradients {keys_words(seen, first)}, before, "
                              f"and {keys_words(keys, first)}, now; key them one way")

    def _nearest(self, grads: dict[Any, Any], params: Params, sets: dict[str, set[str]]) -> str:
        """The convention more of a first backward's keys follow, for the message that names
        what is missing; refused when its keys follow both conventions, or neither."""
        only = {keys: [key for key in grads if key in sets[keys] and
                       all(key not in wanted for other, wanted in sets.items() if other != keys)]
                for keys in GRADIENT_KEYS}
        if all(only.values()):
            raise self._error(f"backward returned gradients keyed both ways, {only[D_NAME][0]!r} "
                              f"('d' + name) and {only[NAME][0]!r} (by name); key them one way: "
                              f"{self._expected(params)}")
        if not any(key in wanted for wanted in sets.values() for key in grads):
            shown = ", ".join(map(repr, list(grads)[:5])) + (", …" if len(grads) > 5 else "")
            raise self._error(f"backward returned {shown or 'an empty dict'}; "
                              f"expected {self._expected(params)}")
        return max(GRADIENT_KEYS, key=lambda keys: len(sets[keys] & set(grads)))

    def update(self, params: Params, grads: Tensors, lr: float, keys: str = D_NAME) -> Params:
        """The file's sgd_update if it has one, else W <- W - lr dW. Its sgd_update gets the
        gradients keyed as its backward keys them (`keys`: the stepper sends the convention,
        as a restarted process has not seen a backward).

        Its result is not checked for finiteness: a large lr makes W - lr dW overflow
        honestly, and that divergence is the stepper's to show, not a broken contract.
        """
        if self._sgd_update is None:
            return network.sgd_update(params, grads, lr)
        work = _writable(params)
        theirs = {gradient_key(keys, name): grads["d" + name] for name in params}
        result = self._call("sgd_update", self._sgd_update, work, _writable(theirs), lr)
        if result is None:
            result = work
        elif not isinstance(result, dict):
            raise self._error("sgd_update must update params in place and return None, or return "
                              f"a dict of the new params; it returned {_describe(result)}")
        return self._tensors("sgd_update", result, {name: name for name in params}, params, False, "")

    def optimize(self, optimizer: str, params: Params, grads: Tensors, state: OptimState,
                 numbers: tuple[float, ...]) -> tuple[Params, OptimState, str] | None:
        """The file's own update rule of `optimizer` (engine.usermodel.rules), called on each
        parameter as cs231n's Solver calls it, with a config of the stepper's settings
        (`numbers`: engine.maths.optimizers.Settings's lr, momentum, beta1, beta2, epsilon) and
        state: the new parameters, the state read back from the configs it returned, and
        where the rule is. A moment a config came back without restarts at zeros, as the
        Solver's next call would see it. None when the file brings no rule of that name."""
        rule = self._rule(optimizer)
        if rule is None:
            return None
        lr, momentum, beta1, beta2, epsilon = numbers
        settings = Settings(lr, momentum, beta1, beta2, epsilon)
        after: Params = {}
        new_state: OptimState = {}
        configs = []
        for name, w in params.items():
            made = rule_config.config(optimizer, name, state, settings)
            result = self._call(rule.where, rule.function, np.array(w, dtype=np.float64),
                                np.array(grads["d" + name], dtype=np.float64), made)
            next_w, back = self._rule_result(rule.where, result)
            after[name] = self._tensor(rule.where, name, next_w, name, w)
            for key, moment in rule_config.moments(optimizer, name).items():
                value = back.get(key)
                new_state[moment] = np.zeros_like(w) if value is None else \
                    self._tensor(rule.where, f"config[{key!r}] of {name}", value, name, w)
            configs.append(back)
        if optimizer == "adam":
            t = rule_config.steps(optimizer, configs)
            if t is None:
                counts = ", ".join(sorted({repr(c.get("t")) for c in configs}))
                raise self._error(f"{rule.where}: the configs came back with t = {counts}; t counts "
                                  "Adam's steps, one whole number for every parameter")
            new_state["t"] = t
        return after, new_state, rule.where

    def _rule(self, optimizer: str) -> rules.OwnRule | None:
        """The file's rule of `optimizer`, looked up once; importing its package's optim
        module may fail, and says so."""
        if optimizer not in self._rules:
            try:
                found = None if self.module is None else rules.find(self.module, optimizer, self.name)
            except BaseException as error:
                message, user_traceback = _raised(
                    f"importing its package's optim module, for the {optimizer} rule, raised", error,
                    self.path, self.where)
                raise self._error(message, user_traceback) from None
            self._rules[optimizer] = found
        return self._rules[optimizer]

    def _rule_result(self, where: str, result: object) -> tuple[Any, dict[str, Any]]:
        """An update rule's (next_w, config), as cs231n's rules return them."""
        if not (isinstance(result, tuple | list) and len(result) == 2 and isinstance(result[1], dict)):
            raise self._error(f"{where} must return (next_w, config), as cs231n's rules do; it "
                              f"returned {_describe(result)}")
        return result[0], result[1]

    # ---- calling and checking ---------------------------------------------------------
    def _call(self, source: str, function: Callable[..., Any], *args: Any) -> Any:
        """Run one of the user's functions with its errors named. Whatever it raises becomes
        a ModelError: exit(), KeyboardInterrupt and a BaseException of the user's own too,
        since this process exists to survive the user's code."""
        try:
            result = function(*args)
        except SystemExit as error:
            raise self._error(f"{source} called {_exit_words(error)}") from None
        except conventions.ConventionError as error:  # the adapter's own check, not a raise of theirs
            raise self._error(str(error)) from None
        except BaseException as error:
            message, user_traceback = _raised(f"{source} raised", error, self.path, self.where)
            raise self._error(message, user_traceback) from None
        if inspect.isawaitable(result):  # a coroutine never runs unless awaited
            close = getattr(result, "close", None)
            if callable(close):
                close()
            raise self._error(f"{source} returned an awaitable (is it an async def?); the stepper "
                              "calls plain functions")
        return result

    def _remember(self, params: Params) -> None:
        if self._first_params is None:
            self._first_params = {name: np.array(value, copy=True) for name, value in params.items()}

    def _diverging(self, params: Params) -> bool:
        """Whether a non-finite result from finite inputs is a run diverging, not the file's
        fault: at the first parameters forward or backward was called with (a run's initial
        ones) it is a broken contract (exit 2); at any others, training (or the check's nudge)
        took the parameters there, and the stepper shows the divergence as it shows the
        built-in network's (exit 1). A restarted process (after a cancel) starts again."""
        first = self._first_params
        assert first is not None, "forward and backward remember the first parameters"
        return params.keys() != first.keys() or \
            not all(np.array_equal(params[name], value) for name, value in first.items())

    def _error(self, message: str, user_traceback: str = "", output: str = "") -> ModelError:
        return ModelError(f"{self.name}: {message}", user_traceback, output)

    def _loss_value(self, loss: object) -> float:
        """A real number, or a one-element real array (the notebook's z2 has shape (1,)), that
        fits in float64: a finite loss beyond it (an int of 400 digits, a long double of
        1e4000) is named as such, not mistaken for a diverging run's infinity."""
        if isinstance(loss, np.ndarray) and loss.size == 1 and loss.dtype.kind in "iuf":
            loss = loss.reshape(()).item() if loss.dtype.itemsize <= 8 else loss.reshape(())[()]
        if not isinstance(loss, int | float | np.integer | np.floating) or isinstance(loss, bool):
            raise self._error(f"forward's loss must be a real number, got {_describe(loss)}")
        try:
            value = float(loss)
        except OverflowError:  # an int beyond float range
            value = math.inf
        if math.isinf(value) and not (isinstance(loss, float | np.floating) and np.isinf(loss)):
            raise self._error(f"forward returned a loss too large for float64 ({str(loss)[:40]}); "
                              "the stepper computes in float64")
        return value

    def _tensors(self, source: str, tensors: dict[Any, Any], names: dict[str, str],
                 params: Params | None, finite_inputs: bool, why: str) -> dict[str, Any]:
        """Exactly the keys of `names` (key -> the parameter it is for), each as a new float64
        array in the shape of that parameter in `params` (None: any shape). A non-finite
        value is refused when `finite_inputs` says the inputs were finite (`why` says so)."""
        missing = [name for name in names if name not in tensors]
        extra = [repr(key) for key in tensors if key not in names]
        if missing or extra:
            parts = ([f"no {', '.join(missing)}"] if missing else []) + \
                    ([f"unexpected key(s) {', '.join(extra)}"] if extra else [])
            raise self._error(f"{source} returned {' and '.join(parts)}; expected exactly "
                              f"{', '.join(names)}")
        checked = {name: self._tensor(source, name, tensors[name], param,
                                      None if params is None else params[param])
                   for name, param in names.items()}
        if finite_inputs:  # in the order the file returned them: the first non-finite it computed
            for name in tensors:
                self._finite(source, name, checked[name], why)
        return checked

    def _tensor(self, source: str, name: str, value: Any, param: str, shaped: Array | None) -> Array:
        """One returned tensor as a new float64 array: real numbers, in the shape of the
        parameter it is for (`shaped`; None: any shape)."""
        try:
            array = np.asarray(value)
        except Exception:
            raise self._error(f"{source} returned {name} that is not an array of numbers") from None
        if array.dtype.kind not in "iuf":
            raise self._error(f"{source} returned {name} as {_describe(array)}; "
                              "it must hold real numbers")
        if shaped is not None and array.shape != shaped.shape:
            per_sample = self.batched and array.shape[1:] == shaped.shape
            raise self._error(f"{source} returned {name} of shape {array.shape}; expected "
                              f"{shaped.shape}, the shape of {param}" +
                              (" (a batch's gradient is the mean over its rows, not one a "
                               "sample)" if per_sample else ""))
        with np.errstate(over="ignore"):  # a long double beyond float64 becomes inf: named below
            return np.array(array, dtype=np.float64, copy=True)

    def _finite(self, source: str, name: str, array: Array, why: str) -> None:
        """Refuse a non-finite tensor, naming its first non-finite element (row-major)."""
        if np.all(np.isfinite(array)):
            return
        bad = ~np.isfinite(array)
        first = tuple(int(i) for i in np.argwhere(bad)[0]) if array.ndim else ()
        at = f"{name}[{','.join(map(str, first))}]" if first else name
        raise self._error(f"{source} returned a non-finite {name} ({int(bad.sum())} of {array.size} "
                          f"element(s) NaN or inf, the first {at} = {array[first]})"
                          + (f" {why}" if why else ""))


def _intermediates(extras: dict[Any, Any], taken: Tensors) -> Tensors:
    """A course's intermediate gradients (dA1, dZ1, ...) that can be shown: real-valued
    arrays under string keys the parameters' gradients do not use, as float64 copies."""
    out: Tensors = {}
    for key, value in extras.items():
        array = np.asarray(value) if isinstance(value, np.ndarray | np.generic) else None
        if isinstance(key, str) and array is not None and array.dtype.kind in "iuf" and key not in taken:
            out[key] = np.array(array, dtype=np.float64, copy=True)
    return out


def _exception_line(error: BaseException) -> str:
    """The exception's last line, e.g. "ZeroDivisionError: division by zero"."""
    return traceback.format_exception_only(type(error), error)[-1].strip()


def _user_frames(error: BaseException, path: Path) -> list[traceback.FrameSummary]:
    """The traceback's frames from the user's files (the model file, its package, its sibling
    modules): the stepper's, Python's and the installed packages' say nothing to them."""
    return [frame for frame in traceback.extract_tb(error.__traceback__)
            if loading.users_file(frame.filename, path)]


def _raised(what: str, error: BaseException, path: Path, where: Where = LINE) -> tuple[str, str]:
    """A one-line message ending at the user's last line (in another of their files, that
    file's name too), and their traceback lines; a line of the model file is named by
    `where` (a notebook's "cell 14, line 3")."""
    frames = _user_frames(error, path)
    place = ""
    if isinstance(error, SyntaxError) and error.filename and error.lineno:  # in a module it imported
        place = f" ({Path(error.filename).name}, line {error.lineno})"
    elif frames:
        last = frames[-1]
        line = last.lineno or 0
        shown = where(line) if last.filename == str(path) else f"{Path(last.filename).name}, line {line}"
        place = f" ({shown}, in {last.name})"
    message = f"{what} {_exception_line(error)}{place}"
    lines = [_placed(text, frame, path, where) for frame, text in zip(frames, traceback.format_list(frames),
                                                                    strict=True)]
    return message, "".join(lines).rstrip("\n")


def _placed(text: str, frame: traceback.FrameSummary, path: Path, where: Where) -> str:
    """A traceback entry of the model file with its line named by `where`."""
    if frame.filename != str(path) or frame.lineno is None:
        return text
    return text.replace(f", line {frame.lineno},", f", {where(frame.lineno)},", 1)


def _function(module: types.ModuleType, name: str, args: tuple[str, ...], required: bool,
              file: str) -> Callable[..., Any] | None:
    """The module's function `name`, checked up front to accept the stepper's arguments."""
    wanted = f"{name}({', '.join(args)})"
    try:
        found: object = getattr(module, name, None)
    except BaseException as error:  # a module-level __getattr__ may raise anything
        raise ModelError(f"{file}: looking up {name} raised {_exception_line(error)}") from None
    if found is None:
        if required:
            raise ModelError(f"{file} defines no {wanted} function; {CONTRACT}")
        return None
    if not callable(found):
        raise ModelError(f"{file}: {name} must be a function {wanted}, "
                         f"but it is {_describe(found)}")
    function: Callable[..., Any] = found
    if inspect.iscoroutinefunction(function):
        raise ModelError(f"{file}: {name} is an async def; the stepper calls plain functions "
                         f"{wanted}")
    try:
        signature = inspect.signature(function)
    except Exception:
        return function  # a builtin without a signature: it will tell at the call
    try:
        signature.bind(*args)
    except TypeError as error:
        raise ModelError(f"{file}: {name}{signature} cannot be called as {wanted}: {error}") from None
    positional = [p.name for p in signature.parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][:len(args)]
    if sorted(positional) == sorted(args) and positional != list(args):
        raise ModelError(f"{file}: {name}{signature} takes its arguments in another order; "
                         f"the stepper calls {wanted}")
    return function




def load_source(path: Path, source: bytes, convention: str | None = None,
                sizes: tuple[int, ...] = (), reg: float = 0.0, run_module: bool = False,
                options: tuple[tuple[str, Any], ...] = (), cells: tuple[str, ...] | None = None
                ) -> Contract:
    """Import the model file's source as it was written and check its functions, or raise
    ModelError.

    `convention` is the one asked for (--convention), or None to detect it from what the
    module defines (engine.model.conventions); `sizes` (n0, hidden..., outputs), `reg` and
    `options` (--model-option's constructor keywords) are what a course's adapter needs to
    build and call its model. `run_module` runs every top-level statement; otherwise those
    that run the file's training or I/O are left out (engine.usermodel.loading), and the
    contract says which (`skipped`). `cells`: a notebook's code cells (read by nbformat
    where the stepper runs, engine.usermodel.script), which run instead of `source`; a
    script's IPython lines (magics, shell lines) are left out either way.

    The source is the bytes the stepper read (their hash is what a session records), compiled
    here, never the file read again; the module is named as its package makes it (a plain
    file's name is never "__main__", so a `if __name__ == "__main__":` block stays out).
    Whatever the import raises, exit() included, is a load failure.
    """
    file = path.name or str(path)
    module, found, skipped = _import(path, source, run_module, file, cells)
    try:
        contract = _checked(path, module, convention, sizes, reg, file, options, found.where)
    except ModelError as error:  # a name a left-out statement would have bound may be what it missed
        binding = [item for item in skipped if item.names]
        if not binding:
            raise
        lines = ", ".join(item.where for item in binding[:SKIPPED_SHOWN]) + \
            (", …" if len(binding) > SKIPPED_SHOWN else "")
        raise ModelError(f"{error.message} (not run at import: {lines}; --run-module runs "
                         "them)", error.user_traceback) from None
    contract.skipped = tuple(skipped)
    contract.where = found.where
    contract.module = module
    return contract


def _checked(path: Path, module: types.ModuleType, convention: str | None, sizes: tuple[int, ...],
             reg: float, file: str, options: tuple[tuple[str, Any], ...], where: Where) -> Contract:
    """The imported module's functions, by its convention, checked."""
    try:
        found = conventions.detect(module, convention, file)
    except conventions.ConventionError as error:
        raise ModelError(str(error)) from None
    if found != conventions.NOTEBOOK:
        return _adapted(path, module, found, sizes, reg, file, options, where)
    forward = _function(module, "forward", FORWARD_ARGS, True, file)
    backward = _function(module, "backward", BACKWARD_ARGS, True, file)
    sgd_update = _function(module, "sgd_update", UPDATE_ARGS, False, file)
    init = _function(module, "init_params", INIT_ARGS, False, file)
    assert forward is not None and backward is not None
    return Contract(path, forward, backward, sgd_update, init, _batched(module, file))


def _import(path: Path, source: bytes, run_module: bool, file: str, cells: tuple[str, ...] | None
            ) -> tuple[types.ModuleType, script.Script, list[loading.Skipped]]:
    """The file's module, imported from `source` (or a notebook's cells) where the file sits
    (its package, its folder); the script that ran, and the lines left out: IPython's, and
    the top-level statements that run the file's training or I/O."""
    found = _script(source, cells, file)
    try:
        tree = ast.parse(found.text, str(path))
    except SyntaxError as error:
        where = f", {found.where(error.lineno)}" if error.lineno else ""
        hint = nielsen.python2_hint(error.msg or "")
        raise ModelError(f"{file}{where}: syntax error: {error.msg}{hint}") from None
    except ValueError as error:  # a null byte: not Python source at all
        raise ModelError(f"{file} is not Python source: {error}") from None
    # Tracebacks quote the code that ran, not the file (a notebook's JSON, a magic's line).
    linecache.cache[str(path)] = (len(found.text), None, found.text.splitlines(True), str(path))
    placement = loading.place(path, tree)
    module = _module(path, placement, file)  # its folders on sys.path, for _missing
    skipped = [loading.Skipped(found.where(item.line), f"{item.text} (IPython)", (), item.line)
               for item in found.dropped]
    helpers = None
    standins = StandIns(path, found.where)  # before skip_runs: a helper it serves is not missing
    standins.install()
    if not run_module:
        skipped = sorted(skipped + loading.skip_runs(tree, found.text, found.where, _missing),
                         key=lambda item: item.line)
        if not placement.package:  # its helper modules beside it, definitions only too
            helpers = Siblings(path.parent, _missing)
            sys.meta_path.insert(0, helpers)
    code = compile(tree, str(path), "exec", dont_inherit=True)
    try:
        exec(code, module.__dict__)
    except SystemExit as error:
        raise ModelError(f"{file} called {_exit_words(error)} while being imported; a model "
                         "file should only define functions (put demo code under "
                         "if __name__ == '__main__':)") from None
    except BaseException as error:
        raise _import_error(f"{file} failed while being imported:", error, path, found.where) from None
    return module, found, skipped + (helpers.skipped if helpers is not None else []) + standins.used


def _missing(name: str) -> bool:
    """Whether no module `name` can be imported here (installed, or beside the file)."""
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):  # a name find_spec cannot look for: let the import say
        return False


def _script(source: bytes, cells: tuple[str, ...] | None, file: str) -> script.Script:
    """The Python to run: a notebook's cells, or the file's text, IPython's lines left out."""
    if cells is not None:
        return script.from_cells(cells)
    try:
        return script.from_text(importlib.util.decode_source(source))
    except (ValueError, UnicodeDecodeError) as error:
        raise ModelError(f"{file} is not Python source: {error}") from None


def _module(path: Path, placement: loading.Placement, file: str) -> types.ModuleType:
    """An empty module for the file, registered under its name as an import registers it
    (dataclasses and typing look it up), its package imported first (its `__init__.py` files
    run, as Python runs them) and its folders first on sys.path."""
    for folder in reversed(placement.folders):
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))
        sys.path.insert(0, str(folder))
    if placement.package:
        top = placement.package.partition(".")[0]
        taken = sys.modules.get(top)
        if taken is not None and not _from_folder(taken, placement.folders[0]):
            raise ModelError(f"{file}: its package {top} has the name of a module the model's "
                             f"process has imported already ({getattr(taken, '__file__', top)}); "
                             "rename the folder")
        try:
            importlib.import_module(placement.package)
        except BaseException as error:
            raise _import_error(f"{file}: importing its package {placement.package} failed:",
                                error, path, LINE) from None
    # The loader is named: a notebook's suffix has none of its own (its cells run, not it).
    loader = importlib.machinery.SourceFileLoader(placement.name, str(path))
    spec = importlib.util.spec_from_file_location(placement.name, path, loader=loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[placement.name] = module
    if placement.package:
        setattr(sys.modules[placement.package], path.stem, module)
    return module


def _from_folder(module: types.ModuleType, root: Path) -> bool:
    """Whether a package was imported from below `root` (a namespace package has no file)."""
    places = [getattr(module, "__file__", None), *getattr(module, "__path__", [])]
    return any(place and Path(place).resolve().is_relative_to(root.resolve()) for place in places)


def _import_error(what: str, error: BaseException, path: Path, where: Where) -> ModelError:
    """A failed import as a message; a missing module says which Python lacked it, and how to
    give it one."""
    message, user_traceback = _raised(what, error, path, where)
    if isinstance(error, ImportError):
        message += "; " + _missing_hint(error, path)
    return ModelError(message, user_traceback)


def _missing_hint(error: ImportError, path: Path) -> str:
    python = sys.executable
    name = (error.name or "").partition(".")[0] if isinstance(error, ModuleNotFoundError) else ""
    if not name:
        return f"your model runs in {python} (--python PATH runs it in your own Python)"
    return (f"{python}, the Python your model runs in, has no module {name}, and no {name}.py is "
            f"beside {path.name}: install it there ({python} -m pip install "
            f"{PIP_NAMES.get(name, name)}) or run your model with your own Python (--python PATH)")


def _adapted(path: Path, module: types.ModuleType, convention: str, sizes: tuple[int, ...],
             reg: float, file: str, options: tuple[tuple[str, Any], ...], where: Where) -> Contract:
    """A course-style module as the notebook's contract (engine.model.conventions): a batch whole."""
    if len(sizes) < 2:
        raise ModelError(f"{file}: the {convention} convention needs the network's sizes")
    try:
        made = conventions.adapt(module, convention, sizes, reg, file, options)
    except conventions.ConventionError as error:
        raise ModelError(str(error)) from None
    except SystemExit as error:
        raise ModelError(f"{file} called {_exit_words(error)} while its model was built") from None
    except BaseException as error:
        message, user_traceback = _raised(f"{file}: building its model raised", error, path, where)
        raise ModelError(message, user_traceback) from None
    return Contract(path, made.forward, made.backward, made.sgd_update, made.init_params, True,
                    convention, made.described, made.kink_names)


def _batched(module: types.ModuleType, file: str) -> bool:
    """The module's BATCHED flag (False when it sets none). Only True or False: a "yes" or
    a 1 may mean either, and guessing would hand the functions arguments of a shape they
    were not written for."""
    try:
        found: object = getattr(module, "BATCHED", False)
    except BaseException as error:  # a module-level __getattr__ may raise anything
        raise ModelError(f"{file}: looking up BATCHED raised {_exception_line(error)}") from None
    if type(found) is not bool:
        shown = repr(found) if type(found) in (str, int, float) and len(repr(found)) <= 40 \
            else _describe(found)
        raise ModelError(f"{file}: BATCHED must be True or False, got {shown}; set BATCHED = True "
                         "when forward and backward take a batch whole (x of shape (B, n0), y of "
                         "shape (B,)), or leave it out to get one sample at a time")
    return found
