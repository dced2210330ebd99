"""The .npz beside a JSON trace that holds its large arrays (--output with --json-arrays-max).

Exact float formatting costs about a microsecond a number: a trace of 1,000,000-9-1 holds
tens of millions of them, and its JSON would be gigabytes. An array of more than `limit`
elements is written here instead, in its own dtype, as np.savez would (one FILE.npy member
a key, stored uncompressed: np.load(path)[key] reads it back), a member at a time, so
memory stays bounded; the trace holds a reference to it in its place:

    {"npz": "trace.npz", "key": "step1.backward.dW1", "shape": [9, 1000000], "dtype": "float64"}

"npz" is the file's name, in the JSON file's folder; "key" names the array in it (where
it was in the trace: "initial_params.W1", "step2.gradcheck.W1.numerical"). Non-finite
values are kept as they are (the JSON's own arrays write them as null).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import IO, Any

import numpy as np


class Sidecar:
    """Arrays written into a file as an .npz, each under a key of its own. The file is opened
    (by `open_file`) when the first array comes: a trace with none makes no file."""

    def __init__(self, open_file: Callable[[], io.RawIOBase], name: str, limit: int) -> None:
        self.name = name  # the file's name as the trace refers to it
        self.limit = limit  # arrays of more elements than this are written here
        self.keys: set[str] = set()
        self._open_file = open_file
        self._zip: zipfile.ZipFile | None = None

    def takes(self, array: np.ndarray) -> bool:
        return array.ndim > 0 and array.size > self.limit

    def add(self, where: str, array: np.ndarray) -> dict[str, Any]:
        """Write `array` under a key made from `where` (numbered on if already used), and
        return the trace's reference to it."""
        key, n = where, 1
        while key in self.keys:
            n += 1
            key = f"{where}#{n}"
        self.keys.add(key)
        if self._zip is None:
            self._zip = zipfile.ZipFile(self._open_file(), "w", zipfile.ZIP_STORED, allowZip64=True)
        with self._zip.open(key + ".npy", "w", force_zip64=True) as member:
            _write_npy(member, np.ascontiguousarray(array))
        return {"npz": self.name, "key": key, "shape": list(array.shape), "dtype": str(array.dtype)}

    def abandon(self) -> None:
        """Leave the file unfinished (it is removed): the zip writes nothing more, even when
        the garbage collector closes it."""
        if self._zip is not None:
            self._zip.fp = None  # ZipFile.close writes its central directory only with a file

    def close(self) -> None:
        """The zip's central directory: the file is a readable .npz only after this."""
        if self._zip is not None:
            self._zip.close()


#: Bytes of an array's data written at a time, straight from its memory.
WRITTEN_AT_ONCE = 2**20


def _write_npy(member: IO[bytes], array: np.ndarray) -> None:
    """np.lib.format.write_array's bytes for a C-contiguous array that is not of objects (its
    header, format 1.0 as it chooses for any shape a network has, then the data), the data
    written a slice of its memory at a time: write_array copies a file object's data 16 MiB
    at a time (and NumPy's buffer another 16 MiB), a quarter of a 1,000,000-9-1 network."""
    np.lib.format.write_array_header_1_0(member, np.lib.format.header_data_from_array_1_0(array))
    data = array.reshape(-1).data.cast("B")
    for start in range(0, len(data), WRITTEN_AT_ONCE):
        member.write(data[start:start + WRITTEN_AT_ONCE])
