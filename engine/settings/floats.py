"""A drawn sample's inputs (engine.settings.config.default_x): read as a tuple of floats, held
as one read-only float64 array. A tuple of a million Python floats takes 31 MiB, more than a
third of a 1,000,000-9-1 network's parameters, where the array takes 7.6 MiB, and the
stepper computes on the array itself (np.asarray gives it without a copy)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

import numpy as np
from numpy.typing import NDArray

#: Values made into Python floats at a time when iterated (a list of them is 32 bytes a value).
CHUNK = 65_536


class Floats(Sequence[float]):
    """An immutable sequence of float64 values that behaves as the tuple of them does: equal
    to it (and to another Floats of the same values), hashed as it, printed as it, iterated
    and indexed as Python floats, a slice a tuple."""

    __slots__ = ("_array",)

    def __init__(self, values: Iterable[float] | NDArray[np.float64]) -> None:
        array = np.array(values, dtype=np.float64)
        if array.ndim != 1:
            raise ValueError("Floats holds a flat sequence of numbers")
        array.setflags(write=False)
        self._array = array

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> NDArray[Any]:
        if copy or (dtype is not None and np.dtype(dtype) != self._array.dtype):
            return np.array(self._array, dtype=dtype)
        return self._array

    def __len__(self) -> int:
        return int(self._array.size)

    @overload
    def __getitem__(self, index: int) -> float: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[float, ...]: ...

    def __getitem__(self, index: int | slice) -> float | tuple[float, ...]:
        if isinstance(index, slice):
            return tuple(self._array[index].tolist())
        return float(self._array[index])

    def __iter__(self) -> Iterator[float]:
        for start in range(0, self._array.size, CHUNK):
            yield from self._array[start:start + CHUNK].tolist()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Floats):
            return bool(np.array_equal(self._array, other._array))
        if isinstance(other, tuple):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))
