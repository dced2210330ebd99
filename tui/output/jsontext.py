"""JSON text written a piece at a time, with large arrays formatted a chunk at a time.

json.dumps needs the whole value as Python objects: an array becomes a list of Python
floats first (tolist), 32 bytes a number where the array holds 8, and the text is built
whole before a byte is written. At 1,000,000-9-1 that is gigabytes for one step. Here an
array is wrapped (Streamed) and written as json.dumps would write its tolist(), chunk by
chunk, so memory stays bounded by a chunk whatever the array's size; the text is the same,
byte for byte (tests/cli/test_json_stream.py holds them together).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Elements formatted at a time: about 1.5 MB of Python floats and of text.
CHUNK = 65_536


@dataclass(frozen=True, eq=False)
class Streamed:
    """An array (bool, integer or float64) written into the text as json.dumps writes its
    tolist(), a non-finite float as null (strict JSON has no NaN)."""

    array: np.ndarray


def chunks(value: Any) -> Iterator[str]:
    """json.dumps(value, allow_nan=False), in pieces: a dict or list holding a Streamed array
    is written an item at a time; anything else in one piece by json.dumps itself."""
    if isinstance(value, Streamed):
        yield from _array(value.array)
    elif isinstance(value, dict) and _streams(value.values()):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            yield f"{', ' if i else ''}{json.dumps(key)}: "
            yield from chunks(item)
        yield "}"
    elif isinstance(value, list | tuple) and _streams(value):
        yield from _listed(chunks(item) for item in value)
    else:
        yield json.dumps(value, allow_nan=False)


def _streams(items: Any) -> bool:
    """Whether any of `items` is or holds a Streamed array."""
    for item in items:
        if isinstance(item, Streamed):
            return True
        if isinstance(item, dict) and _streams(item.values()):
            return True
        if isinstance(item, list | tuple) and _streams(item):
            return True
    return False


def _array(array: np.ndarray) -> Iterator[str]:
    """An array as nested lists, each innermost row in chunks of CHUNK elements."""
    if array.ndim == 0:
        yield from _numbers(array.reshape(1))
        return
    if array.ndim > 1:
        yield from _listed(_array(row) for row in array)
    else:
        yield from _listed(_numbers(array[start:start + CHUNK]) for start in range(0, len(array), CHUNK))


def _listed(items: Iterable[Iterator[str]]) -> Iterator[str]:
    """A JSON list of items, each written by its own pieces, ", " between them."""
    yield "["
    for i, pieces in enumerate(items):
        if i:
            yield ", "
        yield from pieces
    yield "]"


def _numbers(flat: np.ndarray) -> Iterator[str]:
    """A 1-D chunk's numbers, ", "-separated, as json.dumps writes each: float.__repr__ (the
    shortest text that reads back the same float), int's digits, true or false, null for a
    non-finite float."""
    kind = flat.dtype.kind
    if kind == "b":
        yield ", ".join("true" if b else "false" for b in flat.tolist())
    elif kind in "iu":
        yield ", ".join(map(str, flat.tolist()))
    elif np.isfinite(flat).all():
        yield ", ".join(map(float.__repr__, flat.tolist()))
    else:
        yield ", ".join(float.__repr__(v) if math.isfinite(v) else "null" for v in flat.tolist())
