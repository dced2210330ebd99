"""The test-suite entry point (tui.verify): check_model agrees with the command line's exit
status, leaves no process behind, and the docs' pytest example runs here and fails on a
model with a one-line bug; check_functions checks functions in this process."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.docs import assert_printed, block_after
from tests.helpers import BATCHED, DEFINITIONS, edit, misbehaving, write_model
from tests.helpers import run_cli as run
from tui.verify import ModelError, check_functions, check_model

pytestmark = pytest.mark.slow  # check_model starts the model's process, as the command line does

RELU_DERIVATIVE = "    return (z > 0).astype(float)\n"
#: The notebook's code with one line wrong: dead ReLU units pass gradient.
BROKEN = edit(DEFINITIONS, RELU_DERIVATIVE, "    return np.ones_like(z)\n")
TEST_NAME = "test_backprop_matches_the_numerical_gradient"


def docs_example() -> str:
    return "\n".join(block_after("<!-- pytest-example -->")) + "\n"


def run_example(folder: Path, model: str) -> None:
    """The docs' test module beside a model.py, its test function called as pytest would."""
    folder.mkdir()
    write_model(folder, model, "model.py")
    path = folder / "test_backprop.py"
    path.write_text(docs_example())
    namespace: dict[str, object] = {"__file__": str(path), "__name__": "test_backprop"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    test = namespace[TEST_NAME]
    assert callable(test)
    test()


def test_the_docs_example_passes_the_notebooks_code_and_fails_a_one_line_bug(tmp_path: Path) -> None:
    run_example(tmp_path / "good", DEFINITIONS)
    with pytest.raises(AssertionError) as failed:
        run_example(tmp_path / "bad", BROKEN)
    message = str(failed.value)
    assert "model.py: FAILED: gradient check failed on W1, b1 at 10 of 10 checked steps" in message
    assert "step 1: W1 FAILED" in message and "W1: dead-units — " in message
    assert_printed(block_after("failing tensor and the diagnosis, e.g."), message)  # as the docs print it


def test_the_docs_example_is_a_test_module_pytest_runs(tmp_path: Path) -> None:
    """Run by pytest itself, in a process of its own, over a good and a broken model."""
    for name, model in (("good", DEFINITIONS), ("bad", BROKEN)):
        (tmp_path / name).mkdir()
        write_model(tmp_path / name, model, "model.py")
        (tmp_path / name / "test_backprop.py").write_text(docs_example())
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--import-mode=importlib", "good", "bad"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"FAILED bad/test_backprop.py::{TEST_NAME}" in done.stdout
    assert "1 failed, 1 passed" in done.stdout


@pytest.mark.parametrize(("model", "expected"), [(DEFINITIONS, 0), (BROKEN, 1)])
def test_check_model_says_what_the_command_line_says(model: str, expected: int, tmp_path: Path,
                                                     capsys) -> None:
    path = write_model(tmp_path, model)
    result = check_model(path, steps=3, hidden=(5,), seed=7)
    status, out, _ = run(["--headless", "--model", str(path), "--dataset", "moons", "--batch", "16",
                          "--steps", "3", "--hidden", "5", "--seed", "7", "--quiet"], capsys)
    assert result.status == status == expected and result.passed is (expected == 0)
    assert out.splitlines() == [f.line() for f in result.failures] + [result.summary]
    assert [s.step for s in result.steps] == [1, 2, 3] and all(s.checked for s in result.steps)


def test_check_model_takes_any_flag_and_the_one_sample(tmp_path: Path) -> None:
    path = write_model(tmp_path, BROKEN)
    result = check_model(path, steps=2, dataset=None, flags=["--lr", "0.05", "--x", "0.2,-0.4,0.1"])
    assert not result.passed
    assert [(f.step, f.tensor, f.kind, f.enters) for f in result.failures[:2]] == \
        [(1, "W1", "dead-units", "dz1"), (1, "b1", "dead-units", "dz1")]
    assert [d.tensor for d in result.diagnosis] == ["W1", "b1"]


def _ended(pid: int) -> bool:
    """Whether the process has ended (gone, or a zombie no one has reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in "ZX"
    except FileNotFoundError:
        return True


def test_check_model_leaves_no_process_behind_passing_or_raising(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    record = f"open({str(pidfile)!r}, 'w').write(str(os.getpid()))"
    check_model(misbehaving(tmp_path, record), steps=1, dataset=None)
    pid = int(pidfile.read_text())
    assert pid != 0 and _ended(pid)
    raising = misbehaving(tmp_path, f"{record}\nif _calls[0] > 3:\n    raise ValueError('boom')")
    with pytest.raises(ModelError, match="forward raised ValueError: boom"):
        check_model(raising, steps=2, dataset=None)
    assert int(pidfile.read_text()) != pid and _ended(int(pidfile.read_text()))


def test_what_the_command_line_refuses_is_a_value_error(tmp_path: Path) -> None:
    path = write_model(tmp_path, DEFINITIONS)
    with pytest.raises(ValueError, match=r"--lr: must be finite and > 0"):
        check_model(path, flags=["--lr", "0"])
    with pytest.raises(ValueError, match="--save-session: a check writes no files and no report"):
        check_model(path, flags=["--save-session", str(tmp_path / "s.npz")])
    with pytest.raises(ValueError, match="--batch"):
        check_functions(*_functions(tmp_path, DEFINITIONS)[:2], dataset=None, flags=["--batch", "8"])
    with pytest.raises(ModelError, match="no such"):
        check_model(tmp_path / "missing.py")


# ---- functions in this process -----------------------------------------------------------------

def _functions(tmp_path: Path, text: str, name: str = "net.py") -> tuple[Callable[..., Any], ...]:
    """forward, backward and sgd_update of a module imported from this text."""
    path = write_model(tmp_path, text, name)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = types.ModuleType(path.stem)
    module.__file__ = str(path)
    spec.loader.exec_module(module)
    return module.forward, module.backward, module.sgd_update


def test_check_functions_agrees_with_check_model_on_the_same_code(tmp_path: Path) -> None:
    forward, backward, update = _functions(tmp_path, BROKEN)
    theirs = check_functions(forward, backward, sgd_update=update, steps=3)
    file = check_model(tmp_path / "net.py", steps=3)
    assert not theirs.passed and theirs.summary == file.summary
    assert [(f.step, f.tensor, f.kind, f.enters) for f in theirs.failures] == \
        [(f.step, f.tensor, f.kind, f.enters) for f in file.failures]
    assert [f.rel_error for f in theirs.failures] == pytest.approx([f.rel_error for f in file.failures])
    assert theirs.model == "net.py"
    good = check_functions(*_functions(tmp_path, DEFINITIONS, "good_net.py")[:2], steps=2)
    assert good.passed and good.status == 0


def test_check_functions_takes_a_batch_whole_and_names_a_broken_contract(tmp_path: Path) -> None:
    forward, backward, update = _functions(tmp_path, BATCHED, "batched_net.py")
    assert check_functions(forward, backward, sgd_update=update, batched=True, steps=2).passed
    empty = edit(DEFINITIONS, "    return grads\n", "    return {}\n")
    forward, backward, _ = _functions(tmp_path, empty, "empty.py")
    with pytest.raises(ModelError, match=r"empty\.py: backward returned an empty dict"):
        check_functions(forward, backward)
    with pytest.raises(ValueError, match="leave --model and --inject-bug out"):
        check_functions(forward, backward, flags=["--inject-bug", "sign"])
