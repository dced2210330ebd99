"""What crosses the pipe between the stepper and a user's model process: plain data only.

A user's model runs in a process of its own (engine.usermodel.host), so what its functions
return must travel. Only plain values travel as themselves: numeric, string and bool
arrays, Python numbers, strings, None, and lists, tuples and dicts of those. Anything
else (a generator, a lock, an instance of the user's own class, a subclass of dict) stays
in the model's process and travels as an Opaque: its type name and repr for display, and
a reference the model's process resolves if the value is handed back (a backward that
reads an object forward cached gets that very object).

Unpickling runs code chosen by whoever wrote the bytes, so the receiving side accepts
only the few NumPy constructors that rebuild arrays and scalars, and Opaque itself: a
model's process cannot make the stepper run anything by what it sends.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Array kinds that travel as arrays: bool, integers, floats, complex, strings, bytes.
PLAIN_KINDS = frozenset("biufcUS")
REPR_LIMIT = 1000  # characters of an Opaque's repr kept for display


@dataclass(frozen=True)
class Opaque:
    """A value that stayed in the model's process: shown by its type and repr."""

    type_name: str
    text: str
    ref: int | None = None  # the model process's handle, or None if it was not kept

    def __repr__(self) -> str:
        return self.text

    def __reduce__(self) -> tuple[type[Opaque], tuple[str, str, int | None]]:
        return Opaque, (self.type_name, self.text, self.ref)


def _safe_repr(value: object) -> str:
    """repr() runs the user's code: it may raise, or return something enormous."""
    try:
        text = repr(value)
    except BaseException as error:  # whatever the user's __repr__ does
        text = f"<{type(value).__name__}: repr raised {type(error).__name__}>"
    return text if len(text) <= REPR_LIMIT else text[:REPR_LIMIT] + f"… ({len(text):,} characters)"


def plain(value: Any, keep: Callable[[object], int] | None = None) -> Any:
    """The value as plain data; anything else becomes an Opaque, kept by `keep` if given.

    Exact types are checked (not isinstance) so that a user's subclass of dict or float,
    whose pickling could run its own code, is never mistaken for plain data.
    """
    kind = type(value)
    if _plain_leaf(value, kind):
        # Not np.ascontiguousarray: it makes a 0-d array (a scalar parameter) 1-d.
        return value if kind is not np.ndarray or value.flags.c_contiguous else np.array(value, order="C")
    if kind in (list, tuple):
        return kind(plain(item, keep) for item in value)
    if kind is dict and all(type(key) is str for key in value):
        return {key: plain(item, keep) for key, item in value.items()}
    return Opaque(kind.__name__, _safe_repr(value), keep(value) if keep is not None else None)


def _plain_leaf(value: Any, kind: type) -> bool:
    """None, a bool, number, str or bytes of Python's own types, or a NumPy array or NumPy
    scalar of PLAIN_KINDS: what pickles without running anyone's code."""
    if value is None or kind in (bool, int, float, complex, str, bytes):
        return True
    if kind is np.ndarray:
        return bool(value.dtype.kind in PLAIN_KINDS)
    return isinstance(value, np.generic) and kind.__module__ == "numpy" and value.dtype.kind in PLAIN_KINDS


_ALLOWED = {
    ("numpy", "dtype"), ("numpy", "ndarray"),
    ("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
    ("engine.usermodel.transport", "Opaque"),
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}")
        return super().find_class(module, name)


def dumps(message: object) -> bytes:
    return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> Any:
    """A message from the other process, or pickle.UnpicklingError if it holds more than
    plain data (or is not a pickle at all)."""
    try:
        return _Unpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError:
        raise
    except Exception as error:  # truncated or garbled bytes
        raise pickle.UnpicklingError(f"a garbled message: {type(error).__name__}") from error
