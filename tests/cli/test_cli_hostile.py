"""Hostile surroundings and hostile values: a stdout that cannot be written, an app that
crashes, a settings file that would run code, values thousands of digits long."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, assert_refused
from tests.helpers import run_cli as run
from tests.helpers import write_toml as write
from tests.processes import default_signals
from tui.cli.main import main
from tui.text import printable

ENV = os.environ | {"PYTHONPATH": str(ROOT)}
CLI = [sys.executable, "-m", "tui", "--headless"]


# ---- stdout that cannot be written ------------------------------------------------------

def test_a_full_disk_is_one_line_and_status_1() -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(CLI, stdout=full, stderr=subprocess.PIPE, text=True, env=ENV, timeout=60)
    assert done.returncode == 1
    assert done.stderr == "backprop-stepper: cannot write the report: No space left on device\n"


def test_a_closed_stdout_is_one_line_and_status_1() -> None:
    done = subprocess.run(["sh", "-c", 'exec "$0" -m tui --headless >&-', sys.executable],
                          capture_output=True, text=True, env=ENV, timeout=60)
    assert done.returncode == 1
    assert done.stderr == "backprop-stepper: cannot write the report: stdout is closed\n"


def test_a_reader_that_stops_early_gets_a_quiet_exit() -> None:
    # 2,000 steps of text are far more than a pipe buffers, so the writer is still writing.
    proc = subprocess.Popen([*CLI, "--steps", "2000", "--no-gradcheck"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=ENV)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == b"=== Step 1 ===\n"
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 1 and err == b""  # no "Exception ignored", no traceback


# ---- the app's own status -----------------------------------------------------------------

def test_an_app_that_crashed_exits_with_its_status(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real app, run headless, whose mount handler raises: Textual records status 1."""
    import textual.app

    import tui.app.app

    def broken_mount(app: tui.app.app.StepperApp) -> None:
        raise RuntimeError("a handler crashed")

    monkeypatch.setattr(tui.app.app.StepperApp, "on_mount", broken_mount)
    monkeypatch.setattr(tui.app.app.StepperApp, "run",
                        lambda app: textual.app.App.run(app, headless=True, size=(80, 24)))
    assert main([]) == 1


# ---- the settings file ---------------------------------------------------------------------

def test_a_config_file_cannot_name_a_model(tmp_path: Path, capsys) -> None:
    (tmp_path / "x.py").write_text("raise SystemExit('ran')\n")
    assert_refused(["--headless", "--config", write(tmp_path, 'model = "x.py"\n')], capsys,
                   "--config", "pass --model FILE on the command line")


@pytest.mark.parametrize("flag", [["--steps", "3"], ["--format", "json"]])
def test_headless_only_flags_without_headless_are_refused(flag: list[str], capsys,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import tui.app.app

    monkeypatch.setattr(tui.app.app.StepperApp, "run", lambda app: pytest.fail("the app opened"))
    assert_refused(flag, capsys, flag[0], "--headless")


def test_a_config_files_steps_are_fine_for_the_app_too(tmp_path: Path, capsys,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import tui.app.app

    monkeypatch.setattr(tui.app.app.StepperApp, "run", lambda app: None)
    assert main(["--config", write(tmp_path, 'steps = 3\nformat = "json"\n')]) == 0


def test_a_byte_order_mark_is_not_content(tmp_path: Path, capsys) -> None:
    status, out, err = run(["--headless", "--format", "json", "--config",
                            write(tmp_path, b"\xef\xbb\xbfhidden = 3\n")], capsys)
    assert status == 0 and '"hidden": [3]' in out, err


@pytest.mark.parametrize(("text", "words"), [
    ("lr = true\n", ["'lr'", "must be a number, got True"]),
    ("eps = 'small'\n", ["'eps'", "must be a number, got"]),
    ('[keymap]\nnext = "j,,k"\n', ["[keymap] next", "none of them empty", "'j,,k'"]),
    # A key two bindings share: Textual kept one and dropped the other without a word.
    ('[keymap]\nnext = "n"\nback = "n"\n', ["'n' bound to both next and back"]),
    ('[keymap]\nnext = "q"\n', ["'q' bound to both next and quit"]),
    ('[keymap]\ncursor-up = "j"\n', ["'j' bound to both cursor-up and cursor-down"]),
    ("inputs = 1" + "0" * 5000 + "\n", ["too long"]),
    # A shared file's key names had reached the help screen and footer: the title, the clipboard.
    ('[keymap]\nnext = "j\\u001b]52;c;aGk=\\u0007"\n',
     ["[keymap] next", "control character or escape sequence", r"'j\x1b]52;c;aGk=\x07'"]),
])
def test_file_values_get_precise_words(tmp_path: Path, capsys, text: str, words: list[str]) -> None:
    err = assert_refused(["--headless", "--config", write(tmp_path, text)], capsys, *words)
    assert "whole number or" not in err and printable(err) == err


def test_an_empty_x_is_refused_alike_from_a_file_and_a_flag(tmp_path: Path, capsys) -> None:
    words = ["--x", "needs exactly 3 values (one per input), got 0"]
    assert_refused(["--headless", "--config", write(tmp_path, "x = []\n")], capsys, *words)
    assert_refused(["--headless", "--x", ""], capsys, *words)


# ---- values thousands of characters long ----------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["--lr", "1" + "0" * 5000 + "x"],
    ["--inputs", "1" + "0" * 5000],  # past Python's 4,300-digit int() limit
    ["--inputs", "1" + "0" * 4000],  # within it: refused by range, and echoed
    ["--format", "x" * 5000],
    ["--gradcheck-method", "x" * 5000],
    ["--x", "1,2," + "9" * 5000 + "z"],
    ["--bogus" + "x" * 5000],
])
def test_a_huge_value_is_echoed_cut_short_with_its_length(argv: list[str], capsys) -> None:
    err = assert_refused(["--headless", *argv], capsys, "characters)")
    assert len(err) < 300 and "Exceeds the limit" not in err


@pytest.mark.parametrize("element", ["A" * 5000, "A" * 5000 + "[]", "A" * 5000 + "[0]",
                                     "W1[" + "9" * 5000 + ",0]", "W1[" + "9" * 4000 + ",0]",
                                     "W1[0,x" + "9" * 5000 + "]"],
                         ids=["name", "empty-brackets", "name-index", "past-int-limit", "huge-index",
                              "bad-index"])
def test_a_huge_explain_element_is_echoed_cut_short(element: str, capsys) -> None:
    """Echoed cut short; the message goes on to list the tensors there are."""
    err = assert_refused(["--headless", "--explain", element], capsys, "characters)")
    assert "A" * 50 not in err and "9" * 50 not in err and "Exceeds the limit" not in err


# ---- ctrl+c, wherever it comes ----------------------------------------------------------------

def test_ctrl_c_while_a_csv_loads_is_one_line_and_status_130(tmp_path: Path) -> None:
    """It was a traceback: only the run itself was guarded. The CSV's loading is held (until
    the signal) by a read_csv that says it has started."""
    (tmp_path / "d.csv").write_text("a,b,y\n1,2,0\n2,1,1\n")
    held = ("import sys\nimport engine.data.batches\n"
            "def held(path):\n    print('loading', file=sys.stderr, flush=True)\n    sys.stdin.read()\n"
            "engine.data.batches.read_csv = held\nfrom tui.cli.main import main\nsys.exit(main())\n")
    process = subprocess.Popen([sys.executable, "-c", held, "--headless", "--data", "d.csv"], cwd=tmp_path,
                               env=ENV, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, preexec_fn=default_signals)
    assert process.stderr is not None and process.stderr.readline() == "loading\n"  # a wait, not a timing
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert (process.returncode, out, err) == (130, "", "backprop-stepper: interrupted\n")


def test_ctrl_c_while_a_notebook_is_written_leaves_the_old_one(tmp_path: Path, capsys,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The interrupt arrives as the notebook's text is made, after the run."""
    import nbformat

    def interrupted(*args: object, **kwargs: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(nbformat, "writes", interrupted)
    (tmp_path / "run.ipynb").write_text("the old notebook")
    assert main(["--export-notebook", str(tmp_path / "run.ipynb")]) == 130
    assert capsys.readouterr() == ("", "backprop-stepper: interrupted\n")
    assert (tmp_path / "run.ipynb").read_text() == "the old notebook"
