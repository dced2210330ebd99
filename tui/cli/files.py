"""The files the command line writes: --save-session, --export-params, --export-notebook and
--output (with a JSON trace's .npz beside it).

Each is checked before anything runs (check_outputs), so that a name that cannot be
written is refused with exit status 2 and nothing done, and written after the run by
write_whole (or, as the report is made, into whole_file), whole or not at all. What the
user set on a file that is replaced stays as it was: its mode (a private 0600 session
stays private), a symbolic link (written through: its target is replaced) and hard links
(written through in place). A read-only file is never replaced, and neither is a file the
run reads, nor one file for two outputs.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.files import shown_name
from tui.cli.options import PROG, UsageError

if TYPE_CHECKING:
    from tui.cli.options import Options

#: The flags that name a file the run writes, and their attributes of Options.
OUTPUTS = (("--save-session", "save_session"), ("--export-params", "export_params"),
           ("--export-notebook", "export_notebook"), ("--output", "output"))


def inputs(options: Options) -> list[tuple[str, Path]]:
    """The files the run reads, after the flag that names each."""
    named = (("--config", options.config_file), ("--model", options.model),
             ("--data", options.config.data or None), ("--session", options.session),
             ("--params", options.params))
    return [(flag, Path(path)) for flag, path in named if path is not None]


def check_outputs(options: Options) -> None:
    """Refuse, as a UsageError, an output the run could not write after it: an empty name,
    a directory, anything but a regular file (a device, a FIFO), a read-only file, a
    folder that does not exist or where no file can be made (a temporary file is made there
    and removed, which also catches what a permission check does not, such as root in
    /proc), and a file that is one of the run's inputs or another output's (compared as
    files: a symbolic or hard link to net.py is net.py)."""
    read = inputs(options)
    written: list[tuple[str, Path]] = []
    named = [(flag, getattr(options, attribute)) for flag, attribute in OUTPUTS]
    named.append(("--output (its arrays' .npz)", options.sidecar))
    for flag, name in named:
        if name is None:
            continue
        if str(name) == "":  # Path("") would be the current directory
            raise UsageError(f"{flag}: the file name is empty")
        path = Path(name)
        if path.is_dir():
            raise UsageError(f"{flag}: {shown_name(path)} is a directory; name a file")
        try:
            target = file_to_replace(path)
        except OSError as error:
            raise UsageError(f"{flag}: cannot write {shown_name(path)}: {error.strerror}") from None
        folder = target.parent
        if not folder.is_dir():
            raise UsageError(f"{flag}: cannot write {shown_name(path)}: no such folder {shown_name(folder)}")
        import tempfile  # here and in whole_file: its import (shutil's, bz2's) is start-up time

        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".backprop-", suffix=".part"):
                pass
        except OSError as error:
            raise UsageError(f"{flag}: cannot write {shown_name(path)}: {error.strerror or error}") from None
        for files, why in ((read, "an output never replaces a file the run reads"),
                           (written, "each output needs a file of its own")):
            for other, other_path in files:
                if _same_file(target, other_path):
                    raise UsageError(f"{flag}: {shown_name(path)} is the file {other} names: name another "
                                     f"file ({why})")
        written.append((flag, target))


def _same_file(a: Path, b: Path) -> bool:
    """One file under two names: the same path once links are resolved, or the same inode."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def file_to_replace(path: os.PathLike[str] | str) -> Path:
    """The file a whole write replaces: a symbolic link's target (the link stays a link).
    Anything there but a regular file is refused: renaming over a device, a FIFO or a
    socket would have replaced it with a regular file (as root, /dev/null itself). So is a
    file whose owner may not write it: the user made it read-only (as root, whose writes
    are always permitted, the mode still says so)."""
    target = Path(os.path.realpath(path))
    try:
        status = os.stat(target)
    except FileNotFoundError:
        return target
    if not stat.S_ISREG(status.st_mode):
        named = "" if target == Path(path).absolute() else f" (the link's target {shown_name(target)})"
        raise OSError(errno.EINVAL, f"not a regular file{named}", str(target))
    if not status.st_mode & stat.S_IWUSR or not os.access(target, os.W_OK):
        raise OSError(errno.EACCES, f"it is read-only (mode {stat.S_IMODE(status.st_mode):04o}); make it "
                      "writable (chmod u+w) to replace it", str(target))
    return target


def write_output(flag: str, path: os.PathLike[str] | str, data: bytes) -> int:
    """Write an output after the run: exit status 0, or 1 with one line on stderr (a full
    disk), the file as it was."""
    try:
        write_whole(path, data)
    except OSError as error:
        print(f"{PROG}: error: {flag}: cannot write {shown_name(path)}: {error.strerror or error}",
              file=sys.stderr)
        return 1
    return 0


def write_whole(path: os.PathLike[str] | str, data: bytes) -> None:
    """Write the file whole or not at all (whole_file). A file with other hard links is
    written in place instead (renaming would leave the other names holding the old
    contents), with no temporary file."""
    target = file_to_replace(path)
    if _links(target) > 1:
        _write_in_place(target, data)
        return
    with whole_file(target) as file:
        file.write(data)


def _links(target: Path) -> int:
    """The file's hard links; 0 when there is no file yet."""
    try:
        return os.stat(target).st_nlink
    except FileNotFoundError:
        return 0


@contextlib.contextmanager
def whole_file(path: os.PathLike[str] | str) -> Iterator[Whole]:
    """A file to write a piece at a time that appears whole or not at all: a temporary file
    beside it, given the mode of the file it replaces (a new file's: as open() makes it),
    renamed into place when the block ends; removed, the old file as it was, if the block
    raises. A file with other hard links is written through them, in place, from the
    temporary file (whose contents are then read whole: such a file is rare)."""
    target = file_to_replace(path)
    try:
        replaced: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        replaced = None
    if replaced is None:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    else:
        mode = stat.S_IMODE(replaced.st_mode)
    import tempfile  # only when writing: see check_outputs

    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".backprop-", suffix=".part")
    try:
        file = Whole(fd)
        try:
            yield file
            file.flush()
            os.fchmod(fd, mode)  # not mkstemp's 0600
            if replaced is not None:  # its owner and group, where we may (as root)
                with contextlib.suppress(OSError):
                    os.fchown(fd, replaced.st_uid, replaced.st_gid)
        finally:
            file.abandon()
            os.close(fd)
        if replaced is not None and replaced.st_nlink > 1:
            _write_in_place(target, Path(temporary).read_bytes())
            os.unlink(temporary)
        else:
            os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


class Whole(io.RawIOBase):
    """What whole_file gives to write into: writes gathered a megabyte at a time and written
    by os.write (as _write_all's). Once its file is abandoned it writes nothing more, so a
    writer left to the garbage collector (a zip's) cannot write into a descriptor that may
    by then be another file's."""

    BUFFER = 1 << 20

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd
        self.pending = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.fd < 0:
            raise ValueError("write to an abandoned file")
        if not self.pending and len(data) >= self.BUFFER:  # a large piece (an array's): as it is
            _write_all(self.fd, data)
            return len(data)
        self.pending += data
        if len(self.pending) >= self.BUFFER:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self.fd >= 0 and self.pending:
            # A new buffer, not clear(): a failed write's traceback may still hold a view of it.
            pending, self.pending = self.pending, bytearray()
            _write_all(self.fd, pending)

    def abandon(self) -> None:
        self.fd = -1
        self.pending = bytearray()


def _write_in_place(target: Path, data: bytes) -> None:
    """A file with several hard links, written through them. Still whole or not at all: its
    old contents are kept and written back if the write fails (which needs no new space: they
    fill the blocks they had)."""
    fd = os.open(target, os.O_RDWR)
    try:
        with open(fd, "rb", buffering=0, closefd=False) as file:
            old = file.read()
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            _write_all(fd, data)
            os.ftruncate(fd, len(data))
        except BaseException:
            with contextlib.suppress(OSError):
                os.lseek(fd, 0, os.SEEK_SET)
                _write_all(fd, old)
                os.ftruncate(fd, len(old))
            raise
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """All of `data` to `fd` (os.write may write less than it is given)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
