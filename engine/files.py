"""Reading a file the user named, with one clear sentence for each way it can fail."""

from __future__ import annotations

from pathlib import Path


def read_user_file(path: Path, kind: str) -> bytes:
    """The file's bytes, or OSError whose message says what is wrong in plain words:
    missing, a directory, unreadable, or a name the file system refuses (too long)."""
    try:
        if not path.exists():
            raise OSError(f"no such {kind}: {path}")
        if path.is_dir():
            raise OSError(f"{path} is a directory, not a {kind}")
        return path.read_bytes()
    except OSError as error:
        if error.strerror is None:  # one of ours, above
            raise
        raise OSError(f"cannot read {kind} {path}: {error.strerror}") from None
