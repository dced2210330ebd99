"""Files the user names: only regular files are read, and only up to a size limit, so a
FIFO, a device or a huge file is refused at once instead of hanging or filling memory.

Each case runs in a child process with a timeout, only as a safety net: a regression that
blocks on a FIFO fails the test instead of hanging the suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.files import MAX_MODEL_BYTES, read_user_file
from tests.helpers import ROOT


def refused(*argv: str, cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "tui", "--headless", *argv], capture_output=True,
                          text=True, timeout=30, cwd=cwd,
                          env=os.environ | {"PYTHONPATH": str(ROOT)})
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr, done
    return done.stderr


@pytest.mark.parametrize("flag", ["--config", "--model"])
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path, flag: str) -> None:
    os.mkfifo(tmp_path / "pipe")
    assert "is not a regular file (a FIFO)" in refused(flag, "pipe", cwd=tmp_path)


@pytest.mark.parametrize("flag", ["--config", "--model"])
def test_an_endless_device_is_refused(tmp_path: Path, flag: str) -> None:
    assert "/dev/zero is not a regular file (a device)" in refused(flag, "/dev/zero", cwd=tmp_path)


def test_a_config_file_over_1_mib_is_refused(tmp_path: Path) -> None:
    (tmp_path / "big.toml").write_text("# padding\n" * 200_000 + "hidden = 3\n")  # 2 MB, valid TOML
    assert "big.toml is larger than 1 MiB" in refused("--config", "big.toml", cwd=tmp_path)


def test_a_model_file_over_32_mib_is_refused(tmp_path: Path) -> None:
    with open(tmp_path / "big.py", "wb") as file:
        file.truncate(MAX_MODEL_BYTES + 1)  # sparse: no disk, no time
    assert "big.py is larger than 32 MiB" in refused("--model", "big.py", cwd=tmp_path)


def test_the_size_limit_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "f.toml"
    path.write_bytes(b"x" * 11)
    assert read_user_file(path, "TOML file", limit=11) == b"x" * 11
    with pytest.raises(OSError, match="larger than"):
        read_user_file(path, "TOML file", limit=10)


def test_a_symlink_loop_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "loop.toml").symlink_to("loop.toml")
    err = refused("--config", "loop.toml", cwd=tmp_path)
    assert "Too many levels of symbolic links" in err and "no such" not in err


@pytest.mark.parametrize("flag", ["--config", "--model"])
def test_an_empty_file_name_is_named_as_such(tmp_path: Path, flag: str) -> None:
    err = refused(flag, "", cwd=tmp_path)
    assert f"{flag}: the file name is empty" in err and "directory" not in err


def test_a_very_long_name_is_cut_in_the_message(tmp_path: Path) -> None:
    name = tmp_path / ("a" * 5000)
    with pytest.raises(OSError) as raised:
        read_user_file(name, "TOML file")
    assert len(str(raised.value)) < 200 and str(raised.value).endswith("File name too long")
