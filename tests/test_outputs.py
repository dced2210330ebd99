"""The files a run writes (--save-session, --export-params, --export-notebook): written whole
or not at all, keeping what the user set on the file they replace (its mode, its links), and
never over a read-only file. Refusals come before anything runs: exit status 2, one line,
nothing on stdout, nothing touched.

A full disk is a write that fails with ENOSPC partway (tests/test_outputs.disk_full)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from engine.config import Config
from engine.session import params_to_bytes
from engine.stepper import Stepper
from tui.__main__ import main

#: Each output flag, and what else it needs (--save-session and --export-params are headless).
OUTPUTS = {"--save-session": ["--headless"], "--export-params": ["--headless"], "--export-notebook": []}


def output(flag: str, path: Path, *flags: str) -> list[str]:
    return [*OUTPUTS[flag], flag, str(path), *flags]


def disk_full(monkeypatch: pytest.MonkeyPatch, budget: int) -> None:
    """The disk fills after `budget` bytes of the files written (not stdout or stderr): one
    write gets what fits, the next fails with ENOSPC; later writes (putting back what was
    there) fit in the blocks they had."""
    real = os.write
    left = [budget]
    failed = [False]

    def write(fd: int, data: bytes) -> int:
        if fd > 2 and not failed[0]:
            if left[0] == 0:
                failed[0] = True
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            data = data[:left[0]]
            left[0] -= len(data)
        return real(fd, data)

    monkeypatch.setattr(os, "write", write)


def refused(argv: list[str], capsys: pytest.CaptureFixture[str], *words: str) -> str:
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("backprop-stepper: error: ") and all(word in err for word in words), err
    return err


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".part")]


# ---- written whole or not at all ------------------------------------------------------------

@pytest.mark.parametrize("flag", list(OUTPUTS))
def test_a_full_disk_leaves_the_old_file_as_it_was(flag: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """--export-notebook had truncated the old notebook before writing: a full disk left
    part of the new one in its place."""
    target = tmp_path / "out"
    target.write_bytes(b"the old contents")
    disk_full(monkeypatch, budget=100)
    assert main(output(flag, target)) == 1
    err = capsys.readouterr().err
    assert err == f"backprop-stepper: error: {flag}: cannot write {target}: No space left on device\n"
    assert target.read_bytes() == b"the old contents" and leftovers(tmp_path) == []


def test_a_fifo_is_refused_before_the_notebook_is_made(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a regression writes into it, not hangs
    try:
        refused(["--export-notebook", str(fifo)], capsys, f"--export-notebook: cannot write {fifo}: "
                "not a regular file")
        assert os.read(reader, 1) == b""
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


# ---- what the user set on the file: its mode, its links ---------------------------------------

@pytest.mark.parametrize("flag", list(OUTPUTS))
def test_a_replaced_file_keeps_its_mode(flag: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A private session (it holds the data rows) had become 0644."""
    target = tmp_path / "out"
    target.write_bytes(b"old")
    target.chmod(0o600)
    assert main(output(flag, target)) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and target.read_bytes() != b"old"
    umask = os.umask(0o022)
    os.umask(umask)
    new = tmp_path / "new"
    assert main(output(flag, new)) == 0
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~umask  # as open() makes a file


@pytest.mark.parametrize("flag", list(OUTPUTS))
def test_a_read_only_file_is_refused(flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It had been replaced by a writable file (as root too: the mode is what the user said)."""
    target = tmp_path / "out"
    target.write_bytes(b"old")
    target.chmod(0o444)
    refused(output(flag, target), capsys, f"{flag}: cannot write {target}: it is read-only (mode 0444); "
            "make it writable (chmod u+w)")
    assert target.read_bytes() == b"old" and stat.S_IMODE(target.stat().st_mode) == 0o444


def test_a_hard_link_is_written_through(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Replacing the file had left the other name holding the old contents."""
    target, other = tmp_path / "p.npz", tmp_path / "other.npz"
    target.write_bytes(b"old contents, longer than nothing")
    os.link(target, other)
    assert main(["--headless", "--export-params", str(target)]) == 0
    assert target.stat().st_ino == other.stat().st_ino and target.stat().st_nlink == 2
    stepper = Stepper(Config())
    stepper.run_steps(1)
    assert other.read_bytes() == params_to_bytes(stepper.state.params)


def test_a_hard_link_keeps_its_old_contents_when_the_disk_is_full(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    target, other = tmp_path / "s.npz", tmp_path / "other.npz"
    target.write_bytes(b"x" * 300)
    os.link(target, other)
    disk_full(monkeypatch, budget=500)  # more than the old file: the write failed past its end
    assert main(["--headless", "--save-session", str(target)]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert other.read_bytes() == b"x" * 300 and target.stat().st_nlink == 2 and leftovers(tmp_path) == []
