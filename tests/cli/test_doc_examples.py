"""Every code block in the docs that shows an output is run here and its output checked, and
every such block is accounted for (issue 29: "every example runs").

- A transcript, a block whose lines begin `$ backprop-stepper`, runs each command in this
  process: the lines under it are printed in order ("..." and "…" for what is left out), a
  `| tail -N` prints exactly its last N lines, and `$ echo $?` gives the exit status.
- An output shown without its command (an error message, a note on stderr) is named below
  (OUTPUTS) with the command line that prints it, and run.
- The TOML and CSV examples are read as the program reads them; a block that shows a fixture's
  code is that fixture's code.
- test_every_block_is_accounted_for fails on a new block that shows an output nothing checks.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from tests.docs import assert_printed, block_after, code_blocks, fenced_blocks, python_blocks, text
from tests.helpers import FIXTURES, ROOT, run_main

pytestmark = pytest.mark.slow  # model files run in processes of their own

PROGRAM = "backprop-stepper"
#: The words before the docs' three-layer file (tests/fixtures/three_layer.py, written shorter).
THREE_LAYER = "cs231n-style three-layer network:"
#: The first lines of the blocks whose command begins `$`, each a transcript run below.
TRANSCRIPT = "$ backprop-stepper "


def transcripts() -> list[list[str]]:
    return [lines for _, _, lines in fenced_blocks() if lines and lines[0].startswith(TRANSCRIPT)]


def commands(block: list[str]) -> list[tuple[str, list[str]]]:
    """A transcript's commands, each with the lines printed under it."""
    found: list[tuple[str, list[str]]] = []
    for line in block:
        if line.startswith("$ "):
            found.append((line[2:], []))
        else:
            found[-1][1].append(line)
    return found


@pytest.mark.parametrize("block", transcripts(), ids=lambda block: block[0][2:60])
def test_each_transcript_prints_what_it_shows(block, capsys, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)  # the transcripts name files as seen from the repository's root
    status = None
    for command, printed in commands(block):
        if command == "echo $?":
            assert [str(status)] == [line for line in printed if line], "the exit status shown"
            continue
        line, _, tail = command.partition(" | tail -")
        argv = shlex.split(line)
        assert argv[0] == PROGRAM
        status, out, err = run_main(capsys, *argv[1:])
        assert status in (0, 1), err
        if tail:
            assert out.splitlines()[-int(tail):] == printed
        else:
            assert_printed(printed, out)


#: An output the docs show without its command: the block's first line, and the command line
#: (after the program's name) that prints it, in a folder where FILES' files are written.
OUTPUTS: dict[str, list[str]] = {
    "backprop-stepper: error: --hidden: a step on 80,000 rows":
        ["--headless", "--dataset", "moons", "--samples", "100000", "--hidden", "100000"],
    "backprop-stepper: planar.ipynb printed while being imported:":
        ["--headless", "--model", str(FIXTURES / "dlai" / "planar.ipynb"), "--dataset", "moons",
         "--batch", "16"],
    "backprop-stepper: error: --model-option use_batchnorm:":
        ["--model", str(FIXTURES / "cs231n_package" / "cs231n" / "classifiers" / "fc_net.py"), "--dataset",
         "moons", "--batch", "16", "--hidden", "8,8", "--model-option", "use_batchnorm=True"],
    "backprop-stepper: error: net.py: initialize_parameters returned b1 of shape (4,)":
        ["--headless", "--model", "net.py"],
    "backprop-stepper: error: network.py, line 64: syntax error":
        ["--headless", "--model", "network.py"],
    "Gradient check FAILED on Wi, bi, Wh, bh":
        ["--headless", "--model", "three_layer.py"],
}


def _files(first: str, folder: Path) -> None:
    """The file a block's command loads, made from the docs' own minimal files or a fixture."""
    minimal = {code.splitlines()[0]: code for code in python_blocks()}
    if first.startswith("backprop-stepper: error: net.py: initialize_parameters"):
        (folder / "net.py").write_text(minimal["# convention: deeplearning-ai"] + (
            "\ndef initialize_parameters(n_x, n_h, n_y):\n"
            "    return {'W1': np.random.randn(n_h, n_x), 'b1': np.zeros(n_h),\n"
            "            'W2': np.random.randn(n_y, n_h), 'b2': np.zeros((n_y, 1))}\n"))
    elif first.startswith("backprop-stepper: error: network.py, line 64"):
        (folder / "network.py").write_text("import numpy as np\n" + "\n" * 62 + 'print "Epoch complete"\n')
    elif first.startswith("Gradient check FAILED on Wi"):  # the docs' three-layer file, one line wrong
        source = "\n".join(block_after(THREE_LAYER)) + "\n"
        right = "dzh = (params['Wo'].T @ dzo) * (cache['zh'] > 0)"
        assert right in source and "(`dzh = params['Wo'].T @ dzo`)" in text()
        (folder / "three_layer.py").write_text(source.replace(right, "dzh = params['Wo'].T @ dzo"))


def output_blocks() -> list[list[str]]:
    """Each run of lines the docs show as printed without a `$` command before it."""
    found = []
    for _, _, lines in fenced_blocks():
        for k, line in enumerate(lines):
            if any(line.startswith(first) for first in OUTPUTS):
                after = [n for n in range(k + 1, len(lines)) if lines[n].startswith(PROGRAM)]
                found.append(lines[k:after[0] if after else len(lines)])
    return found


@pytest.mark.parametrize("first", OUTPUTS, ids=lambda first: first[:50])
def test_each_output_shown_without_its_command_is_printed(first, capsys, monkeypatch, tmp_path) -> None:
    [shown] = [lines for lines in output_blocks() if lines[0].startswith(first)]
    monkeypatch.chdir(tmp_path)
    _files(first, tmp_path)
    status, out, err = run_main(capsys, *OUTPUTS[first])
    assert_printed(shown, err if first.startswith(PROGRAM) else out)
    assert status == (2 if ": error: " in first else 1 if "FAILED" in first else 0), err


def test_the_toml_example_runs(capsys, tmp_path) -> None:
    config = tmp_path / "settings.toml"
    [example] = code_blocks("toml")
    config.write_text(example)
    status, out, err = run_main(capsys, "--headless", "--config", config)
    assert status == 0, err
    trace = json.loads(out)  # format = "json" in the file
    assert (trace["config"]["hidden"], len(trace["steps"])) == ([8, 8], 10)


def test_the_csv_example_is_a_data_file(capsys, tmp_path) -> None:
    csv = tmp_path / "points.csv"
    csv.write_text("\n".join(block_after("a UTF-8 byte-order mark and CRLF line ends are fine.")) + "\n")
    status, out, err = run_main(capsys, "--headless", "--no-gradcheck", "--data", csv, "--test-fraction", "0")
    assert status == 0, err
    assert "2 samples (2 train, 0 test), 2 feature(s), 2 classes" in out


@pytest.mark.parametrize(("shown", "fixture", "data"), [
    (THREE_LAYER, "three_layer.py", []),
    ("here it is written shorter, with the same numbers:", "batched.py",
     ["--dataset", "moons", "--batch", "16"]),
])
def test_a_fixture_shown_computes_what_the_fixture_does(shown, fixture, data, capsys, tmp_path) -> None:
    """The docs' shorter writing of a fixture, saved as a file, traces the fixture's numbers
    exactly (two steps, every tensor)."""
    mine = tmp_path / fixture
    mine.write_text("\n".join(block_after(shown)) + "\n")
    argv = ["--headless", "--format", "json", "--steps", "2", *data, "--model"]
    traces = [run_main(capsys, *argv, model) for model in (mine, FIXTURES / fixture)]
    assert [status for status, _, _ in traces] == [0, 0]
    assert json.loads(traces[0][1]) == json.loads(traces[1][1])


#: How a block that shows no output begins: commands to type, a layout.
NOT_OUTPUT = ("backprop-stepper ", "python", ".venv/bin/", "/work/corpus/", "sed ", "jupyter ",
              "BACKPROP_HYPOTHESIS=", "engine/ ", "width,height,kind")
#: Benchmarks' printouts: measured figures, re-measured by the scripts, not by tests (tests
#: never time anything).
MEASURED = ("3-4-1 ", "2-8-8-1 ", "load average ")
#: The first lines of the python blocks, each a file a test loads and steps: the minimal files
#: of each convention (tests/engine/test_conventions.py, test_nielsen.py, test_nnfs.py), the
#: pytest example (tests/cli/test_verify.py), the shorter fixtures (above).
PYTHON = ("# convention: ", "# family: ", "# test_backprop.py", "# x -> Wi,bi", "import numpy as np")
#: Outputs checked by a test elsewhere, and where.
ELSEWHERE = {
    "Data: raw.csv": "tests/cli/test_doc_claims.py",
    "Model: broken.py": "tests/cli/test_doc_claims.py",
    "backprop-stepper: broken.py printed": "tests/cli/test_doc_claims.py",
    "model.py: FAILED": "tests/cli/test_verify.py",
    "| 1 import(s) of a course helper": "tests/engine/test_standins.py",
    "backprop-stepper: error: net.py: backward returned db1": "tests/engine/test_conventions.py",
    "backprop-stepper: error: net.py fits": "tests/engine/test_conventions.py",
    "backprop-stepper: error: net.py does not fit": "tests/engine/test_conventions.py",
    "backprop-stepper: error: nn.py defines none": "tests/engine/test_cs231n_releases.py",
    "backprop-stepper: error: --session: s.npz: member": "tests/cli/test_sessions.py",
    "backprop-stepper: error: network.py: Network.backprop uses xrange": "tests/engine/test_nielsen.py",
    '{"npz": "trace.npz", "key": "step1.backward.dW1"': "tests/cli/test_json_stream.py",
}


def _accounted(line: str) -> bool:
    return line.startswith((*OUTPUTS, *ELSEWHERE))


def test_every_block_is_accounted_for() -> None:
    """A block that shows an output is a transcript, or its first line is in OUTPUTS, or a test
    elsewhere checks it (ELSEWHERE); every line the program prints about itself
    ("backprop-stepper: ...") is one of those; every python block is a file a test steps. A new
    block fails here until a test checks it."""
    unchecked = []
    for page, language, lines in fenced_blocks():
        body = [line for line in lines if line.strip()]
        if not body or language == "toml":  # the TOML example: test_the_toml_example_runs
            continue
        first = body[0]
        if language == "python":
            ok = first.startswith(PYTHON)
        else:
            ok = first.startswith((TRANSCRIPT, *MEASURED, *NOT_OUTPUT)) or _accounted(first)
        said = [line for line in body if line.startswith(PROGRAM + ": ") and not _accounted(line)]
        unchecked += [f"{page}: {line[:80]}" for line in ([] if ok else [first]) + said]
    assert unchecked == []
    assert all((ROOT / test).is_file() for test in ELSEWHERE.values())
