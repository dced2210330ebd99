"""Reading a file the user named, with one clear sentence for each way it can fail."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

#: Far above any real settings file or model, far below what would hurt to read.
MAX_CONFIG_BYTES = 2**20
MAX_MODEL_BYTES = 32 * 2**20
NAME_SHOWN = 120  # characters of a file name a message repeats: a 5,000-character name would bury it


def _not_regular(mode: int) -> str | None:
    """Why a file of this mode cannot be read as a document: a FIFO blocks until a writer
    comes, a device (/dev/zero) never ends."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory"
    kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"is not a regular file ({kind})"


def shown_name(path: object) -> str:
    """A file's name as a message repeats it: cut to NAME_SHOWN characters."""
    text = str(path)
    return text if len(text) <= NAME_SHOWN else f"{text[:NAME_SHOWN - 1]}…"


@contextmanager
def open_user_file(path: Path, kind: str) -> Iterator[BinaryIO]:
    """The file opened for reading bytes, or OSError whose message says what is wrong in plain
    words: missing, a directory or other non-regular file, unreadable, a symlink loop, or a name
    the file system refuses (too long). Errors while the caller reads are worded the same way.

    The type is checked before opening (a FIFO would block the open) and again on the open
    file, which is opened non-blocking, in case the name was swapped in between."""
    name = shown_name(path)
    try:
        why = _not_regular(os.stat(path).st_mode)
        if why is None:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            with open(fd, "rb") as file:
                why = _not_regular(os.fstat(fd).st_mode)
                if why is None:
                    yield file
        if why is not None:
            raise OSError(f"{name} {why}, not a {kind}")
    except FileNotFoundError:
        raise OSError(f"no such {kind}: {name}") from None
    except OSError as error:
        if error.strerror is None:  # one of ours, above
            raise
        raise OSError(f"cannot read {kind} {name}: {error.strerror}") from None


def read_user_file(path: Path, kind: str, limit: int = MAX_MODEL_BYTES) -> bytes:
    """The file's bytes, or OSError saying what is wrong (open_user_file's reasons, or larger
    than `limit`). At most limit + 1 bytes are read, so a file that grows meanwhile is still
    refused."""
    with open_user_file(path, kind) as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"{shown_name(path)} is larger than {limit // 2**20} MiB: too large for a {kind}")
    return data
