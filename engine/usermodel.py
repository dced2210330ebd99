"""A user's own forward and backward, loaded from a Python file and stepped like the built-in.

The file follows the seed notebook's conventions:

    forward(x, params, y=None)      -> cache, or (cache, loss) when y is given
    backward(x, y, params, cache)   -> {'dW1', 'db1', 'dW2', 'db2'}
    sgd_update(params, grads, lr)   optional; may update params in place and return None
                                    (as the notebook's does) or return the new params

Why a wrapper checks so much: the point of stepping your own code is to find out what is
wrong with it, so every way the code can break the contract is reported by name (the
function, the key, the expected and the actual shape, your own traceback lines) instead of
surfacing later as a confusing failure deep in the stepper or the report.

The user's functions always get fresh writable copies, never the stepper's read-only
arrays: the notebook's sgd_update mutates params in place, and a backward may well edit
its cache, but the stepper's undo history relies on stored arrays never changing. What
the functions return is copied too, so code that keeps a reference cannot change the
history later either.

The engine stays silent: whatever the file prints while being imported (the notebook calls
run_demo() at import) and whatever its functions print later is captured, never written
to stdout, and kept for the caller to show.

A model file is Python code and runs with the user's rights. Nothing is loaded implicitly:
only the file the user names, and its directory is not added to sys.path.
"""

from __future__ import annotations

import copy
import inspect
import io
import itertools
import math
import sys
import traceback
import types
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from engine import network
from engine.files import read_user_file
from engine.network import GRAD_NAMES, PARAM_NAMES, Array, Params, Tensors

#: Captured outputs kept in UserModel.log; a forward that prints, run by the loop gradient
#: check (two calls per parameter), would otherwise grow the log without bound.
LOG_LIMIT = 10_000

FORWARD_ARGS = ("x", "params", "y")
BACKWARD_ARGS = ("x", "y", "params", "cache")
UPDATE_ARGS = ("params", "grads", "lr")
CONTRACT = "a model file needs forward(x, params, y=None) and backward(x, y, params, cache)"

_module_ids = itertools.count(1)


class ModelError(Exception):
    """The user's model file broke its contract, failed to load, or raised.

    `message` is one short line naming what is wrong. `user_traceback` holds the
    traceback lines that come from the user's own file (none of ours), formatted as
    Python prints them, or "" when the error is not an exception in the user's code.
    `output` is what the user's code printed in the failing import or call (for a call it
    is also in UserModel.log).
    """

    def __init__(self, message: str, user_traceback: str = "", output: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.user_traceback = user_traceback
        self.output = output


@dataclass(frozen=True)
class Captured:
    """Text the user's code printed (stdout and stderr together) in one import or call."""

    source: str  # "import", "forward", "backward" or "sgd_update"
    text: str


@contextmanager
def _captured() -> Iterator[io.StringIO]:
    """Route stdout and stderr into a buffer, and give stdin an empty one.

    An empty stdin makes input() fail at once with EOFError instead of blocking the app
    or a headless run; it also keeps the site module's exit(), which closes sys.stdin,
    from closing the real one. The swap is process-wide, so calls must not overlap (the
    stepper runs one phase at a time). Textual reads and writes the terminal through
    sys.__stdin__ and sys.__stderr__, which are left alone.
    """
    buffer = io.StringIO()
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(), buffer, buffer
    try:
        yield buffer
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved


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


def _writable(tensors: dict[str, Any]) -> dict[str, Any]:
    """A private deep copy, with every array writable: lists or dicts in a user's cache must
    not be shared with the stepper's history either (a backward that pops from a cached list
    would otherwise change a stored state and break exact undo)."""
    return {k: np.array(v, copy=True) if isinstance(v, np.ndarray) else copy.deepcopy(v)
            for k, v in tensors.items()}


def _exit_words(error: SystemExit) -> str:
    return "exit() or sys.exit()" if error.code is None else f"sys.exit({error.code!r})"


class UserModel:
    """A user's forward/backward (and optional sgd_update), as a Model the stepper drives.

    Attributes for the app and the headless report:

    - `name`: the file's name, e.g. "model.py" (shown as the model in reports).
    - `path`: the file's resolved path.
    - `fast_gradcheck`: always False. The vectorised check computes the built-in network's
      loss, which is not provably this model's, so the black-box loop method is used.
    - `own_update`: True when the file defines sgd_update; otherwise plain SGD is used.
    - `import_output`: everything the file printed while being imported ("" if nothing).
    - `log`: every non-empty Captured output, oldest first, starting with the import's;
      bounded to LOG_LIMIT entries (the oldest are dropped). `import_output` is kept apart
      so it survives that bound.
    - `on_output`: None, or a function called with each new Captured as it happens
      (in the thread that ran the call: an app running phases in a worker must hop back
      to its own thread).

    Every method raises ModelError when the user's code breaks the contract or raises;
    the stepper computes a phase before committing it, so its state is then untouched.
    """

    fast_gradcheck = False

    def __init__(self, path: Path, forward: Callable[..., Any], backward: Callable[..., Any],
                 sgd_update: Callable[..., Any] | None, import_output: str = "") -> None:
        self.path = path
        self.name = path.name
        self._forward = forward
        self._backward = backward
        self._sgd_update = sgd_update
        self.own_update = sgd_update is not None
        self.import_output = import_output
        self.log: deque[Captured] = deque(maxlen=LOG_LIMIT)
        if import_output:
            self.log.append(Captured("import", import_output))
        self.on_output: Callable[[Captured], None] | None = None

    def __repr__(self) -> str:
        return f"UserModel({str(self.path)!r})"

    # ---- the Model protocol ---------------------------------------------------------
    def forward(self, x: Array, params: Params, y: float) -> tuple[Tensors, float]:
        result = self._call("forward", self._forward, np.array(x, copy=True), _writable(params), y)
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
        value = self._loss_value(loss)
        if not math.isfinite(value) and _all_finite([x, *params.values()]):
            raise self._error(f"forward returned a non-finite loss ({value}) although x and "
                              "params are finite")
        return _writable(cache), value

    def backward(self, x: Array, y: float, params: Params, cache: Tensors) -> Tensors:
        grads = self._call("backward", self._backward, np.array(x, copy=True), y,
                           _writable(params), _writable(cache))
        if not isinstance(grads, dict):
            raise self._error(f"backward must return a dict with keys {', '.join(GRAD_NAMES)}; "
                              f"it returned {_describe(grads)}")
        finite = _all_finite([x, *params.values(), *cache.values()])
        return self._tensors("backward", grads, GRAD_NAMES, params, finite, "although x, params "
                             "and cache are finite")

    def update(self, params: Params, grads: Tensors, lr: float) -> Params:
        """The file's sgd_update if it has one, else W <- W - lr dW.

        Its result is not checked for finiteness: a large lr makes W - lr dW overflow
        honestly, and that divergence is the stepper's to show, not a broken contract.
        """
        if self._sgd_update is None:
            return network.sgd_update(params, grads, lr)
        work = _writable(params)
        result = self._call("sgd_update", self._sgd_update, work, _writable(grads), lr)
        if result is None:
            result = work
        elif not isinstance(result, dict):
            raise self._error("sgd_update must update params in place and return None, or return "
                              f"a dict of the new params; it returned {_describe(result)}")
        return self._tensors("sgd_update", result, PARAM_NAMES, params, False, "")

    # ---- calling and checking ---------------------------------------------------------
    def _call(self, source: str, function: Callable[..., Any], *args: Any) -> Any:
        """Run one of the user's functions with its output captured and its errors named.

        The output is recorded after the streams are restored, so an on_output callback
        that writes to stderr reaches the real one.
        """
        text = ""
        try:
            with _captured() as buffer:
                try:
                    return function(*args)
                finally:
                    text = buffer.getvalue()
        except SystemExit as error:
            raise self._error(f"{source} called {_exit_words(error)}", output=text) from error
        except Exception as error:
            message, user_traceback = _raised(f"{source} raised", error, self.path)
            raise self._error(message, user_traceback, text) from error
        finally:
            self._record(source, text)

    def _record(self, source: str, text: str) -> None:
        if text:
            captured = Captured(source, text)
            self.log.append(captured)
            if self.on_output is not None:
                self.on_output(captured)

    def _error(self, message: str, user_traceback: str = "", output: str = "") -> ModelError:
        return ModelError(f"{self.name}: {message}", user_traceback, output)

    def _loss_value(self, loss: object) -> float:
        """A real number, or a one-element real array (the notebook's z2 has shape (1,))."""
        if isinstance(loss, int | float | np.integer | np.floating) and not isinstance(loss, bool):
            try:
                return float(loss)
            except OverflowError:  # an int beyond float range
                return math.inf
        if isinstance(loss, np.ndarray) and loss.size == 1 and loss.dtype.kind in "iuf":
            return float(loss.reshape(()))
        raise self._error(f"forward's loss must be a real number, got {_describe(loss)}")

    def _tensors(self, source: str, tensors: dict[Any, Any], names: tuple[str, ...], params: Params,
                 finite_inputs: bool, why: str) -> dict[str, Any]:
        """Exactly the named tensors, each in its parameter's shape, as new float64 arrays."""
        missing = [name for name in names if name not in tensors]
        extra = [repr(key) for key in tensors if key not in names]
        if missing or extra:
            parts = ([f"no {', '.join(missing)}"] if missing else []) + \
                    ([f"unexpected key(s) {', '.join(extra)}"] if extra else [])
            raise self._error(f"{source} returned {' and '.join(parts)}; expected exactly "
                              f"{', '.join(names)}")
        out: dict[str, Any] = {}
        for name in names:
            param = name.removeprefix("d") if name in GRAD_NAMES else name
            try:
                array = np.asarray(tensors[name])
            except ValueError:
                raise self._error(f"{source} returned {name} that is not an array of numbers") from None
            if array.dtype.kind not in "iuf":
                raise self._error(f"{source} returned {name} as {_describe(array)}; "
                                  "it must hold real numbers")
            expected = np.shape(params[param])
            if array.shape != expected:
                raise self._error(f"{source} returned {name} of shape {array.shape}; expected "
                                  f"{expected}, the shape of {param}")
            array = np.array(array, dtype=np.float64, copy=True)
            if finite_inputs and not np.all(np.isfinite(array)):
                count = int((~np.isfinite(array)).sum())
                raise self._error(f"{source} returned a non-finite {name} ({count} of {array.size} "
                                  f"element(s) NaN or inf) {why}")
            out[name] = array
        return out


def _exception_line(error: BaseException) -> str:
    """The exception's last line, e.g. "ZeroDivisionError: division by zero"."""
    return traceback.format_exception_only(type(error), error)[-1].strip()


def _user_frames(error: BaseException, path: Path) -> list[traceback.FrameSummary]:
    """The traceback's frames from the user's file only: ours say nothing to them."""
    return [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == str(path)]


def _raised(what: str, error: BaseException, path: Path) -> tuple[str, str]:
    """A one-line message ending at the user's last line, and their traceback lines."""
    frames = _user_frames(error, path)
    where = f" (line {frames[-1].lineno}, in {frames[-1].name})" if frames else ""
    message = f"{what} {_exception_line(error)}{where}"
    return message, "".join(traceback.format_list(frames)).rstrip("\n")


def _function(module: types.ModuleType, name: str, args: tuple[str, ...], required: bool,
              file: str) -> Callable[..., Any] | None:
    """The module's function `name`, checked up front to accept the stepper's arguments."""
    found: object = getattr(module, name, None)
    wanted = f"{name}({', '.join(args)})"
    if found is None:
        if required:
            raise ModelError(f"{file} defines no {wanted} function; {CONTRACT}")
        return None
    if not callable(found):
        raise ModelError(f"{file}: {name} must be a function {wanted}, "
                         f"but it is {_describe(found)}")
    function: Callable[..., Any] = found
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
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


def load_model(path: str | PathLike[str]) -> UserModel:
    """Import the user's model file and check its functions, or raise ModelError.

    The file runs under a module name of its own (not "__main__", so a
    `if __name__ == "__main__":` block stays out), with its output captured into
    `import_output`. A SystemExit during the import (sys.exit, exit()) is a load failure,
    never the end of this process.
    """
    given = Path(path)
    file = given.name or str(given)
    try:
        source = read_user_file(given, "Python model file")
    except OSError as error:
        raise ModelError(str(error)) from None
    resolved = given.resolve()
    try:
        code = compile(source, str(resolved), "exec", dont_inherit=True)
    except SyntaxError as error:
        where = f", line {error.lineno}" if error.lineno else ""
        raise ModelError(f"{file}{where}: syntax error: {error.msg}") from None
    except ValueError as error:  # e.g. a null byte: not Python source at all
        raise ModelError(f"{file} is not Python source: {error}") from None

    module_name = f"backprop_stepper_model_{next(_module_ids)}"
    module = types.ModuleType(module_name)
    module.__file__ = str(resolved)
    # Registered while it runs, as an import would be: dataclasses and typing look it up.
    sys.modules[module_name] = module
    try:
        with _captured() as buffer:
            try:
                exec(code, module.__dict__)
            except SystemExit as error:
                raise ModelError(f"{file} called {_exit_words(error)} while being imported; a model "
                                 "file should only define functions (put demo code under "
                                 "if __name__ == '__main__':)", output=buffer.getvalue()) from None
            except Exception as error:
                message, user_traceback = _raised(f"{file} failed while being imported:", error,
                                                  resolved)
                raise ModelError(message, user_traceback, buffer.getvalue()) from None
    finally:
        del sys.modules[module_name]
    import_output = buffer.getvalue()

    forward = _function(module, "forward", FORWARD_ARGS, True, file)
    backward = _function(module, "backward", BACKWARD_ARGS, True, file)
    sgd_update = _function(module, "sgd_update", UPDATE_ARGS, False, file)
    assert forward is not None and backward is not None
    return UserModel(resolved, forward, backward, sgd_update, import_output)
