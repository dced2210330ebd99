"""The files a run writes (--save-session, --export-params, --export-notebook): written whole
or not at all, keeping what the user set on the file they replace (its mode, its links), and
never over a read-only file, a file the run reads, or another output's file. Refusals come
before anything runs: exit status 2, one line, nothing on stdout, nothing touched.

A full disk is a write that fails with ENOSPC partway (tests/cli/test_outputs.disk_full)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from engine.run.session import from_bytes, params_to_bytes, read_params, record, to_bytes
from engine.run.stepper import Stepper
from engine.settings.config import Config
from tui.cli.main import main

#: Each output flag, and what else it needs (--save-session and --export-params are headless).
OUTPUTS = {"--save-session": ["--headless"], "--export-params": ["--headless"], "--export-notebook": [],
           "--output": ["--headless"]}


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


# ---- never over an input, nor one file twice ----------------------------------------------

@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """A file for each input flag, each good enough to pass the command line's parsing."""
    files = {"--model": tmp_path / "net.py", "--data": tmp_path / "d.csv", "--config": tmp_path / "c.toml",
             "--session": tmp_path / "s.npz", "--params": tmp_path / "p.npz"}
    files["--model"].write_text("raise SystemExit('the model ran')\n")
    files["--data"].write_text("a,b,y\n1,2,0\n2,1,1\n3,3,0\n0,1,1\n")
    files["--config"].write_text("hidden = 3\n")
    files["--session"].write_bytes(to_bytes(record(Stepper(Config()))))
    files["--params"].write_bytes(params_to_bytes(Stepper(Config()).initial.params))
    return files


@pytest.mark.parametrize("given", ["--model", "--data", "--config", "--session", "--params"])
@pytest.mark.parametrize("flag", list(OUTPUTS))
@pytest.mark.parametrize("named", ["as-is", "symlink", "hard-link"])
def test_an_output_that_is_an_input_is_refused(given: str, flag: str, named: str, inputs: dict[str, Path],
                                               tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--model net.py --export-params net.py had replaced the model's source with parameters."""
    source = inputs[given]
    before = source.read_bytes()
    out = {"as-is": source, "symlink": tmp_path / "link", "hard-link": tmp_path / "hard"}[named]
    if named == "symlink":
        out.symlink_to(source)
    elif named == "hard-link":
        os.link(source, out)
    refused(output(flag, out, given, str(source)), capsys,
            f"{flag}: {out} is the file {given} names: name another file (an output never replaces a file "
            "the run reads)")
    assert source.read_bytes() == before and leftovers(tmp_path) == []


def test_two_outputs_cannot_share_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "link.npz").symlink_to(tmp_path / "out.npz")  # not there yet: the same name resolved
    refused(["--headless", "--save-session", str(tmp_path / "out.npz"), "--export-params",
             str(tmp_path / "link.npz")], capsys, "--export-params", "is the file --save-session names",
            "each output needs a file of its own")
    assert not (tmp_path / "out.npz").exists()


def test_a_session_saved_and_its_params_exported_side_by_side(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Outputs with names of their own are written, each whole."""
    assert main(["--headless", "--save-session", str(tmp_path / "s.npz"), "--export-params",
                 str(tmp_path / "p.npz")]) == 0
    session = from_bytes((tmp_path / "s.npz").read_bytes())
    assert set(read_params(tmp_path / "p.npz", session.params)) == set(session.params)
