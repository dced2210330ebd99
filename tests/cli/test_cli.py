"""The command line: every bad value gets exit 2, a short message naming it, nothing on
stdout and no traceback; every legal value, however extreme, runs."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import assert_refused
from tests.helpers import run_cli as run
from tests.helpers import write_toml as write

# (argv, words the message must contain); each rule also has a passing case below.
REFUSED = [
    (["--inputs", "0"], ["--inputs", "between 1 and"]),
    (["--inputs", "2.5"], ["--inputs", "whole number"]),
    (["--hidden", "-3"], ["--hidden", "from 1 to 100,000", "-3"]),
    (["--hidden", "100001"], ["--hidden", "100,000"]),
    (["--inputs", "1000000", "--hidden", "100"], ["--hidden", "parameters", "10,000,000"]),
    (["--seed", "-1"], ["--seed", "0 to 4294967295"]),
    (["--seed", "4294967296"], ["--seed"]),
    (["--x", "1,2"], ["--x", "exactly 3 values"]),
    (["--x", "1,nan,2"], ["--x", "finite"]),
    (["--x", "1,inf,2"], ["--x", "finite"]),
    (["--x", "1,two,3"], ["--x", "comma-separated numbers"]),
    (["--y", "2"], ["--y", "0 or 1"]),
    (["--lr", "0"], ["--lr", "finite and > 0"]),
    (["--lr", "-0.1"], ["--lr", "finite and > 0"]),
    (["--lr", "inf"], ["--lr", "finite and > 0"]),
    (["--eps", "nan"], ["--eps", "finite and > 0"]),
    (["--steps", "0"], ["--steps", "between 1 and"]),
    (["--format", "xml"], ["--format", "text, json"]),
    (["--gradcheck-method", "slow"], ["--gradcheck-method", "fast, loop"]),
    (["--inject-bug", "typo"], ["--inject-bug", "activation-grad", "transpose"]),
    (["--bogus"], ["unrecognized arguments: --bogus"]),
    (["--lr"], ["--lr", "expected one argument"]),
    (["--seed", "1_0"], ["--seed", "expected a whole number"]),  # Python's int() reads 10
    (["--hidden", "٣"], ["--hidden", "expected comma-separated whole numbers"]),  # and 3
    (["--lr", "０.５"], ["--lr", "expected a number"]),
    (["--x", "0.1,٣,2"], ["--x", "comma-separated numbers"]),
    # ---- the architecture (issue 10) ----
    (["--hidden", "0"], ["--hidden", "from 1 to 100,000"]),
    (["--hidden", "4,0"], ["--hidden", "from 1 to 100,000", "got 0 (layer 2)"]),
    (["--hidden", ""], ["--hidden", "1 to 8 hidden layers"]),
    (["--hidden", "8,8,8,8,8,8,8,8,8"], ["--hidden", "1 to 8 hidden layers"]),
    (["--hidden", "4,x"], ["--hidden", "expected comma-separated whole numbers", "'4,x'"]),
    (["--hidden", "4.5"], ["--hidden", "expected comma-separated whole numbers"]),
    (["--activation", "swish"], ["--activation", "relu, leaky-relu, tanh, sigmoid", "'swish'"]),
    (["--activation", "ReLU"], ["--activation", "relu, leaky-relu, tanh, sigmoid"]),
    (["--classes", "0"], ["--classes", "between 1 and 10,000"]),
    (["--classes", "10001"], ["--classes", "between 1 and 10,000"]),
    (["--classes", "3", "--loss", "mse"], ["--loss", "mse", "single sigmoid output", "softmax"]),
    (["--classes", "2", "--loss", "bce"], ["--loss", "bce", "single sigmoid output"]),
    (["--loss", "cross-entropy"], ["--loss", "softmax", "--classes 2 or more"]),
    (["--loss", "hinge"], ["--loss", "bce, mse", "'hinge'"]),
    (["--y", "3", "--classes", "3"], ["--y", "class index from 0 to 2", "got 3"]),
    (["--y", "-1", "--classes", "3"], ["--y", "class index from 0 to 2"]),
    (["--y", "2", "--classes", "1"], ["--y", "0 or 1"]),
    (["--inputs", "1000000", "--hidden", "20"], ["--hidden", "1000000-20-1", "20,000,041 parameters",
                                                 "10,000,000"]),
    (["--hidden", "4000,4000"], ["--hidden", "parameters", "10,000,000"]),
    (["--classes", "10000", "--hidden", "1000"], ["--hidden", "parameters", "10,000,000"]),
    (["--inject-bug", "transpose"], ["--inject-bug", "transpose", "equal width", "3-4-1"]),
]

ACCEPTED = [
    ["--inputs", "1", "--x", "0.5"], ["--hidden", "1"], ["--seed", "0"], ["--seed", "4294967295"],
    ["--x", "-0.5,1,2"], ["--x=-0.5,1,2"], ["--y", "0"], ["--lr", "1e-300"], ["--eps", "1e-3"],
    ["--steps", "2"], ["--format", "json"], ["--gradcheck-method", "loop"], ["--inject-bug", "sign"],
    ["--no-gradcheck"],
]


@pytest.mark.parametrize(("argv", "words"), REFUSED)
def test_bad_values_are_refused_clearly(argv: list[str], words: list[str], capsys) -> None:
    assert_refused(["--headless", *argv], capsys, *words)


@pytest.mark.parametrize("text", ["4,", ",4", "4,,4"])
def test_an_empty_layer_is_a_typo_not_out_of_range(text: str, capsys) -> None:
    err = assert_refused(["--headless", "--hidden", text], capsys, "--hidden",
                         "expected comma-separated whole numbers")
    assert "out of range" not in err


@pytest.mark.parametrize("argv", ACCEPTED)
def test_good_values_run(argv: list[str], capsys) -> None:
    status, out, err = run(["--headless", *argv], capsys)
    assert status == (1 if "--inject-bug" in argv else 0) and out and err == ""  # the drill fails


def test_bad_values_are_refused_before_the_app_opens(capsys) -> None:
    assert_refused(["--lr", "0"], capsys, "--lr")  # no --headless: would open the app


def test_negative_x_as_typed_in_a_real_shell() -> None:
    done = subprocess.run([sys.executable, "-m", "tui", "--headless", "--format", "json",
                           "--x", "-0.5,1,2"], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout)["config"]["x"] == [-0.5, 1.0, 2.0]


# ---- the TOML file ------------------------------------------------------------------

def test_config_file_sets_values_and_flags_override(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, 'inputs = 2\nhidden = 3\nx = [1, -2.5]\ny = 0\nlr = 0.5\n'
                           'steps = 2\nformat = "json"\ngradcheck-method = "loop"\n')
    status, out, _ = run(["--headless", "--config", path, "--lr", "0.25"], capsys)
    config = json.loads(out)["config"]
    assert status == 0 and len(json.loads(out)["steps"]) == 2
    assert (config["inputs"], config["hidden"], config["x"], config["y"], config["lr"]) == \
        (2, [3], [1.0, -2.5], 0, 0.25)
    assert json.loads(out)["steps"][0]["gradcheck"]["method"] == "loop"


@pytest.mark.parametrize(("text", "words"), [
    ("colour = 3\n", ["unknown key 'colour'", "run.toml"]),
    ('hidden = "four"\n', ["'hidden'", "whole number"]),
    ("hidden = 4.0\n", ["'hidden'", "whole number"]),
    ("lr = true\n", ["'lr'", "a number"]),
    ('x = [1, "b", 3]\n', ["'x'", "array of numbers"]),
    ("x = 0.5\n", ["'x'", "array of numbers"]),
    ("hidden = 4\nhidden = 5\n", ["not valid TOML"]),
    ("inputs = = 3\n", ["not valid TOML", "line 1"]),
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", ["not a text file"]),
    ("y = 3\n", ["y", "0 or 1"]),
])
def test_bad_config_files_are_refused(tmp_path: Path, capsys, text: str | bytes, words: list[str]) -> None:
    assert_refused(["--headless", "--config", write(tmp_path, text)], capsys, "--config" if
                   "0 or 1" not in words else "--y", *words)


@pytest.mark.parametrize(("text", "words"), [
    ("hidden = []\n", ["--hidden", "1 to 8 hidden layers"]),
    ("hidden = [8, 8.5]\n", ["--config", "'hidden'", "a whole number or an array of them", "[8, 8.5]"]),
    ('hidden = "8,8"\n', ["--config", "'hidden'", "a whole number or an array of them", "'8,8'"]),
    ("hidden = [8, true]\n", ["--config", "'hidden'", "a whole number or an array of them"]),
    ("hidden = [[8]]\n", ["--config", "'hidden'", "a whole number or an array of them"]),
    ("hidden = [8, 0]\n", ["--hidden", "from 1 to 100,000", "layer 2"]),
    ("hidden = [1, 1, 1, 1, 1, 1, 1, 1, 1]\n", ["--hidden", "1 to 8 hidden layers"]),
    ('activation = "swish"\n', ["--activation", "relu, leaky-relu"]),
    ("activation = 1\n", ["--config", "'activation'", "a string"]),
    ("classes = 3\nloss = \"mse\"\n", ["--loss", "single sigmoid output"]),
    ("classes = 3\ny = 3\n", ["--y", "class index from 0 to 2"]),
    ('classes = "3"\n', ["--config", "'classes'", "a whole number"]),
])
def test_bad_architectures_in_config_files_are_refused(tmp_path: Path, capsys, text: str,
                                                       words: list[str]) -> None:
    assert_refused(["--headless", "--config", write(tmp_path, text)], capsys, *words)


def test_config_file_sets_the_architecture(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, 'hidden = [8, 8]\nactivation = "tanh"\nclasses = 3\ny = 2\ninit = "xavier"\n')
    status, out, _ = run(["--headless", "--format", "json", "--config", path], capsys)
    config = json.loads(out)["config"]
    assert status == 0
    assert (config["hidden"], config["activation"], config["classes"], config["loss"], config["y"],
            config["init"]) == ([8, 8], "tanh", 3, "cross-entropy", 2, "xavier")
    status, out, _ = run(["--headless", "--format", "json", "--config", path, "--hidden", "5"], capsys)
    assert status == 0 and json.loads(out)["config"]["hidden"] == [5]  # the flag overrides


def test_missing_file_and_directory(tmp_path: Path, capsys) -> None:
    assert_refused(["--config", str(tmp_path / "nope.toml")], capsys, "--config", "no such TOML file")
    assert_refused(["--config", str(tmp_path)], capsys, "--config", "is a directory")


# ---- extreme but legal values ---------------------------------------------------------

@pytest.mark.parametrize(("argv", "expected"), [
    (["--lr", "1e6", "--steps", "50"], 0),
    (["--x", "1e150,1e150,-1e150"], 0),
    (["--eps", "1e-12"], 0),
    (["--lr", "1e300", "--steps", "3"], 1),  # diverges at step 1: the run did not pass
    (["--x", "1e-300,0,-1e-300", "--y", "0"], 0),
])
def test_extreme_values_run_without_warnings_and_give_strict_json(argv: list[str], expected: int,
                                                                  capsys) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            status, out, err = run(["--headless", "--format", "json", *argv], capsys)
    assert status == expected and err == ""
    trace = json.loads(out, parse_constant=lambda name: pytest.fail(f"non-strict JSON: {name}"))
    assert trace["steps"]


@pytest.mark.parametrize("argv", [
    ["--hidden", "1,1,1,1,1,1,1,1"],
    ["--hidden", "8,8,8,8,8,8,8,8", "--activation", "tanh", "--steps", "3"],
    ["--classes", "10000", "--hidden", "1", "--y", "9999", "--no-gradcheck"],
    ["--classes", "2", "--y", "1", "--loss", "cross-entropy"],
    ["--inputs", "1", "--hidden", "1", "--classes", "2", "--x", "0", "--y", "0"],
    ["--hidden", "100000", "--no-gradcheck", "--format", "text"],
    ["--hidden", "5,5", "--activation", "leaky-relu", "--inject-bug", "transpose"],
    ["--hidden", "3,3", "--inject-bug", "relu-grad", "--activation", "sigmoid", "--loss", "mse"],
])
def test_extreme_architectures_run(argv: list[str], capsys) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        status, out, err = run(["--headless", "--format", "json", *argv], capsys)
    assert status == (1 if "--inject-bug" in argv else 0) and err == "" and out  # a drill fails its check
    if "text" not in argv:
        trace = json.loads(out, parse_constant=lambda name: pytest.fail(f"non-strict JSON: {name}"))
        assert trace["steps"] and trace["warnings"] == []


def test_divergence_is_reported_as_null_with_warnings(capsys) -> None:
    status, out, _ = run(["--headless", "--format", "json", "--lr", "1e300", "--steps", "2"], capsys)
    trace = json.loads(out)
    assert status == 1 and trace["steps"][1]["forward"]["z2"] == [None]  # a diverged run did not pass
    assert any("diverged" in w and "z2" in w for w in trace["warnings"])


def test_the_form_reads_numbers_as_the_command_line_does() -> None:
    from engine.settings.config import Config
    from tui.app.screens.config import FIELDS, _shown, parse_fields

    values = {key: _shown(Config().resolved(), key) for key in FIELDS}
    for key, text in (("seed", "1_0"), ("hidden", "٣"), ("hidden", "8,٣"), ("lr", "０.５"),
                      ("x", "0.1,٣,2")):
        config, errors = parse_fields(values | {key: text}, Config().resolved())
        assert config is None and key in errors, (key, text)
    config, errors = parse_fields(values | {"seed": "10", "hidden": " 8,8 "}, Config().resolved())
    assert config is not None and (config.seed, config.hidden) == (10, (8, 8)) and not errors


def test_the_form_draws_a_new_default_x_for_a_new_seed_but_keeps_a_typed_one() -> None:
    from engine.settings.config import Config, default_x
    from tui.app.screens.config import FIELDS, _shown, parse_fields

    base = Config(inputs=5).resolved()  # x drawn from seed 42
    values = {key: _shown(base, key) for key in FIELDS}
    config, _ = parse_fields(values | {"seed": "7"}, base)
    assert config is not None and config.x == default_x(5, 7) != base.x
    typed = Config(inputs=5, x=(1.0, 2.0, 3.0, 4.0, 5.0)).resolved()
    values = {key: _shown(typed, key) for key in FIELDS}
    config, _ = parse_fields(values | {"seed": "7"}, typed)
    assert config is not None and config.x == (1.0, 2.0, 3.0, 4.0, 5.0)
    notebook = Config().resolved()  # 3 inputs: the notebook's x whatever the seed
    config, _ = parse_fields({key: _shown(notebook, key) for key in FIELDS} | {"seed": "7"}, notebook)
    assert config is not None and config.x == (0.2, -0.4, 0.1)
