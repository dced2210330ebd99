"""Learning from data on the command line (issue 12).

The Done-when: with a data set and a batch of B rows, the JSON trace's loss, gradients,
numerical gradients and updates are the mean over the batch of the single-sample maths,
computed here row by row with engine.maths.network.forward/backward and
engine.maths.fastcheck.fast_numerical; and the batch order is reproducible from the seed. Then
the CSV file: every kind of malformed file refused with exit status 2 and the line or the
problem named, and a good file trains.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.data.sets import make_dataset, split
from engine.maths.fastcheck import fast_numerical
from engine.maths.network import ACTIVATIONS, Architecture, backward, forward
from engine.settings.config import DATASETS, MULTICLASS
from tests.helpers import FIXTURES
from tui.cli.main import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def trace(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    status, out, err = run(["--headless", "--format", "json", *argv], capsys)
    assert status == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def arrays(tensors: dict[str, Any]) -> dict[str, np.ndarray]:
    return {name: np.asarray(value, dtype=np.float64) for name, value in tensors.items()}


# ---- the Done-when: a batch's numbers are the mean of its samples' -------------------

def _case(rng: np.random.Generator) -> tuple[list[str], dict[str, Any]]:
    """A random data set, network and batch size, as flags, and what the test needs to redo
    the maths on its own."""
    name = str(rng.choice(DATASETS))
    classes = int(rng.choice([1, 2, 3])) if name in MULTICLASS else int(rng.choice([1, 2]))
    samples = int(rng.integers(max(3, classes), 60))
    noise = float(rng.choice([0.0, 0.1, 0.4]))
    fraction = float(rng.choice([0.0, 0.2, 0.5]))
    hidden = [int(w) for w in rng.integers(1, 6, size=int(rng.integers(1, 4)))]
    activation = str(rng.choice(list(ACTIVATIONS)))
    seed = int(rng.integers(0, 2**32 - 1))
    train = samples - int(np.floor(samples * fraction + 1e-9))
    batch = int(rng.integers(1, train + 1))
    standardized = bool(rng.integers(0, 2))
    argv = ["--dataset", name, "--samples", str(samples), "--noise", repr(noise),
            "--test-fraction", repr(fraction), "--hidden", ",".join(map(str, hidden)),
            "--activation", activation, "--seed", str(seed), "--batch", str(batch),
            "--lr", "0.05", "--init", "xavier"]
    if classes > 1:
        argv += ["--classes", str(classes)]
    if standardized:
        argv.append("--standardize")
    return argv, {"name": name, "classes": classes, "samples": samples, "noise": noise,
                  "fraction": fraction, "hidden": tuple(hidden), "activation": activation,
                  "seed": seed, "batch": batch, "standardized": standardized}


def _rows(case: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The data set's X and y as the network sees them, and the train and test rows."""
    dataset = split(make_dataset(case["name"], case["samples"], case["noise"], case["seed"],
                                 max(2, case["classes"])), case["fraction"], case["seed"])
    X = np.array(dataset.X)
    if case["standardized"]:  # by the training rows' statistics, a constant feature only centred
        mean, sd = X[dataset.train].mean(axis=0), X[dataset.train].std(axis=0)
        X = (X - mean) / np.where(sd <= 1e-12 * np.maximum(np.abs(mean), 1.0), 1.0, sd)
    return X, np.array(dataset.y), np.array(dataset.train), np.array(dataset.test)


@pytest.mark.parametrize("case_seed", range(12))
def test_a_batchs_loss_gradients_numerical_gradients_and_update_are_its_samples_mean(
        case_seed: int, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng([12, case_seed])
    argv, case = _case(rng)
    steps = 3
    result = trace([*argv, "--steps", str(steps)], capsys)
    X, y, train, test = _rows(case)
    head = result["data"]
    assert (head["samples"], head["train"], head["test"], head["batch"]) == \
        (case["samples"], len(train), len(test), case["batch"])
    assert (result["trace"], len(result["steps"])) == ("full", steps)
    outputs = case["classes"]  # 1: one sigmoid unit for two classes; 2 or 3: a softmax
    arch = Architecture(2, case["hidden"], case["activation"], outputs,
                        "bce" if outputs == 1 else "cross-entropy")
    params = arrays(result["initial_params"])
    for record in result["steps"]:
        rows = np.array(record["batch"])
        B = case["batch"]
        k = (record["step"] - 1) % -(-len(train) // B)  # the epoch's k-th slice; the last may be short
        assert len(rows) == min(B, len(train) - k * B) and set(rows.tolist()) <= set(train.tolist())
        losses, grads, numerical = [], [], []
        for r in rows:
            label = np.int64(y[r])
            cache, loss = forward(arch, X[r], params, label)
            losses.append(loss)
            grads.append(backward(arch, X[r], label, params, cache))
            numerical.append(fast_numerical(arch, params, X[r], label, 1e-5))
        assert record["loss"] == record["forward"]["loss"]
        assert np.isclose(record["loss"], np.mean(losses), rtol=1e-12, atol=1e-15)
        check = record["gradcheck"]
        for name in params:
            mean_grad = np.mean([g["d" + name] for g in grads], axis=0)
            np.testing.assert_allclose(record["backward"]["d" + name], mean_grad, rtol=1e-10, atol=1e-14)
            mean_num = np.mean([n[name][0] for n in numerical], axis=0)
            # Central differences agree to their rounding, about 8 ulps of |L| / eps (2e-10 here):
            # the check may take them of the batch's mean loss at once (engine.model.builtin).
            np.testing.assert_allclose(check[name]["numerical"], mean_num, rtol=1e-7, atol=2e-10)
            np.testing.assert_allclose(record["update"][name], params[name] - 0.05 * mean_grad,
                                       rtol=1e-12, atol=1e-15)
        # The batch matrix is the cache's input: one row a sample.
        np.testing.assert_array_equal(record["forward"]["x"], X[rows])
        # The fit is over every training and test row, with the parameters before the update.
        # Measured once an epoch and at the run's end; between, the batch losses' running mean.
        _, train_loss = forward(arch, X[train], params, y[train])
        if record["metrics"] is None:
            assert record["running_loss"]["label"].startswith("batch loss, mean of last")
        else:
            assert np.isclose(record["metrics"]["train_loss"], train_loss, rtol=1e-10)
        params = arrays({name: record["update"][name] for name in params})


# ---- the batch order ---------------------------------------------------------------

def _batches(capsys: pytest.CaptureFixture[str], *argv: str) -> list[list[int]]:
    result = trace(["--dataset", "moons", "--trace", "summary", *argv], capsys)
    return [record["batch"] for record in result["steps"]]


def test_the_batch_order_is_the_seeds_and_every_training_row_comes_once_an_epoch(
        capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--samples", "50", "--batch", "7", "--steps", "24", "--no-gradcheck"]
    first = _batches(capsys, *argv, "--seed", "5")
    assert first == _batches(capsys, *argv, "--seed", "5")
    other = _batches(capsys, *argv, "--seed", "6")
    train = split(make_dataset("moons", 50, 0.1, 5), 0.2, 5).train.tolist()  # 40 rows: 6 steps an epoch
    train_other = split(make_dataset("moons", 50, 0.1, 6), 0.2, 6).train.tolist()
    # Another seed shuffles differently, not only splits differently: the order of the
    # training rows (by their place in the split) differs.
    assert [[train.index(r) for r in rows] for rows in first] != \
        [[train_other.index(r) for r in rows] for rows in other]
    per_epoch = 6
    assert [len(b) for b in first[:per_epoch]] == [7, 7, 7, 7, 7, 5]
    epochs = [[r for rows in first[e * per_epoch:(e + 1) * per_epoch] for r in rows] for e in range(4)]
    for rows in epochs:
        assert sorted(rows) == sorted(train)  # each training row exactly once
    assert epochs[0] != epochs[1]  # reshuffled each epoch
    assert len({tuple(rows) for rows in epochs}) == 4


def test_the_full_batch_is_every_training_row_each_step(capsys: pytest.CaptureFixture[str]) -> None:
    batches = _batches(capsys, "--samples", "30", "--steps", "3", "--no-gradcheck")
    train = split(make_dataset("moons", 30, 0.1, 42), 0.2, 42).train.tolist()
    assert batches == [train] * 3


def test_the_initial_parameters_are_the_same_with_or_without_data(capsys: pytest.CaptureFixture[str]) -> None:
    plain = trace(["--inputs", "2", "--hidden", "8,8", "--seed", "9"], capsys)
    with_data = trace(["--dataset", "spiral", "--hidden", "8,8", "--seed", "9"], capsys)
    assert plain["initial_params"] == with_data["initial_params"]


# ---- CSV files ---------------------------------------------------------------------------

MALFORMED: list[tuple[str, bytes | None, list[str]]] = [
    ("ragged", b"x1,x2,y\n1,2,0\n3,4\n5,6,1\n", ["line 3 has 2 fields", "line 2 has 3"]),
    ("text", b"1,2,0\n3,abc,1\n", ["line 2", "field 2", "'abc'", "not a number"]),
    ("nan", b"1,2,0\nnan,4,1\n", ["line 2", "field 1 is nan", "not a finite number"]),
    ("inf", b"1,2,0\n3,-inf,1\n", ["line 2", "field 2 is -inf"]),
    ("overflow", b"1,2,0\n3,1e999,1\n", ["line 2", "overflows"]),
    ("negative label", b"1,2,0\n3,4,-1\n", ["line 2", "the label is -1", "start at 0"]),
    ("fractional label", b"1,2,0\n3,4,0.5\n", ["line 2", "the label is 0.5", "not a whole number"]),
    ("skipped class", b"1,2,0\n3,4,2\n", ["skip class 1", "line 2 has label 2"]),
    ("labels from 1", b"1,2,1\n3,4,2\n", ["labels are 1..2", "subtract 1"]),
    ("one class", b"1,2,1\n3,4,1\n", ["every label is 1", "two classes"]),
    ("empty", b"", ["the file is empty"]),
    ("header only", b"a,b,label\n", ["line 1 is a header", "no rows"]),
    ("one column", b"0\n1\n", ["line 1 has 1 field", "a label"]),
    ("header width", b"a,b\n1,2,0\n3,4,1\n", ["line 1: the header has 2 names", "line 2 has 3"]),
    ("NUL", b"1,2,0\n3,\x004,1\n", ["line 2", "NUL byte", "binary"]),
    ("not UTF-8", b"1,2,0\n\xff\xfe,4,1\n", ["line 2", "not UTF-8"]),
    ("directory", None, ["is a directory"]),
    ("missing", None, ["no such CSV file"]),
]


@pytest.mark.parametrize(("kind", "content", "words"), MALFORMED, ids=[m[0] for m in MALFORMED])
@pytest.mark.parametrize("headless", [True, False], ids=["headless", "app"])
def test_a_malformed_csv_is_refused_naming_the_line_or_problem(
        kind: str, content: bytes | None, words: list[str], headless: bool, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"{kind.replace(' ', '_')}.csv"
    if kind == "directory":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    status, out, err = run([*(["--headless"] if headless else []), "--data", str(path)], capsys)
    assert status == 2, err
    assert out == ""  # nothing run: no report, no app
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith("backprop-stepper: error: --data: ")
    assert path.name in err
    for word in words:
        assert word in err, (word, err)


def _blobs(path: Path, classes: int = 2, header: bool = True, rows: int = 120) -> None:
    rng = np.random.default_rng(3)
    lines = ["width,height,kind"] if header else []
    for i in range(rows):
        k = i % classes
        x = rng.normal([3.0 * k, -2.0 * k], 0.5)
        lines.append(f"{x[0]:.4f},{x[1]:.4f},{k}")
    path.write_text("\n".join(lines) + "\n")


def test_a_good_csv_trains_and_the_text_report_shows_the_loss_falling(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "good.csv"
    _blobs(path)
    status, out, err = run(["--headless", "--data", str(path), "--steps", "50", "--lr", "0.5",
                            "--no-gradcheck"], capsys)
    assert status == 0, err
    assert out.startswith("Data: good.csv, 120 samples (96 train, 24 test), 2 feature(s), 2 classes; "
                          "full batch: all 96 training rows a step\n")
    assert "=== Step 50 ===" in out and "Batch (epoch 50): all 96 training rows" in out
    train = [float(v) for v in re.findall(r"train loss (\S+),", out)]
    accuracy = [float(v) for v in re.findall(r"test loss \S+, accuracy (\S+)%", out)]
    assert len(train) == 50 and train[-1] < 0.5 * train[0]
    assert all(b <= a for a, b in itertools.pairwise(train))  # full-batch descent, a falling loss
    assert accuracy[-1] >= 95.0


def test_a_csv_with_three_classes_gets_a_softmax_and_its_features_decide_the_inputs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "three.csv"
    _blobs(path, classes=3, header=False, rows=30)
    result = trace(["--data", str(path), "--steps", "2", "--batch", "10"], capsys)
    assert (result["config"]["inputs"], result["config"]["classes"], result["config"]["loss"]) == \
        (2, 3, "cross-entropy")
    assert result["data"] == {"name": "three.csv", "path": str(path), "samples": 30, "features": 2,
                              "classes": 3, "train": 24, "test": 6, "batch": 10,
                              "steps_per_epoch": 3, "standardized": False, "test_fraction": 0.2}


@pytest.mark.parametrize(("argv", "words"), [
    (["--inputs", "3"], ["--inputs: the data decide the inputs", "good.csv has 2 feature(s)", "got 3"]),
    (["--classes", "3"], ["--classes: the data decide the classes", "labels 0..1", "got 3"]),
    (["--samples", "50"], ["--samples", "a CSV file's rows are its samples"]),
    (["--noise", "0.2"], ["--noise", "a CSV file's rows"]),
    (["--y", "0"], ["--y", "the data give the samples"]),
    (["--dataset", "moons"], ["--data: cannot be used with --dataset"]),
])
def test_settings_the_csv_contradicts_are_refused(argv: list[str], words: list[str], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "good.csv"
    _blobs(path, rows=20)
    status, out, err = run(["--headless", "--data", str(path), *argv], capsys)
    assert (status, out) == (2, "") and "Traceback" not in err
    for word in words:
        assert word in err, (word, err)


def test_every_data_set_the_settings_name_is_drawn() -> None:
    from engine.data import sets as data

    assert tuple(data.SHAPES) == DATASETS


# ---- flags, TOML and the form: the same rules ---------------------------------------------

def assert_refused(argv: list[str], capsys: pytest.CaptureFixture[str], *words: str) -> None:
    status, out, err = run(argv, capsys)
    assert (status, out) == (2, ""), err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2
    for word in words:
        assert word in err, (word, err)


DATA_REFUSED = [
    (["--dataset", "blobs"], ["--dataset: must be one of xor, circle, gauss, spiral, moons", "'blobs'"]),
    (["--dataset", "moons", "--data", "a.csv"], ["--data: cannot be used with --dataset"]),
    (["--dataset", "moons", "--samples", "0"], ["--samples: must be between 1 and 100,000"]),
    (["--dataset", "moons", "--samples", "100001"], ["--samples", "100,000"]),
    (["--dataset", "moons", "--samples", "2.5"], ["--samples", "expected a whole number"]),
    (["--dataset", "gauss", "--classes", "3", "--samples", "2"],
     ["--samples", "at least the number of classes (3)"]),
    (["--dataset", "moons", "--noise", "-0.1"], ["--noise: must be a number from 0 to 1", "-0.1"]),
    (["--dataset", "moons", "--noise", "nan"], ["--noise: must be a number from 0 to 1"]),
    (["--dataset", "moons", "--test-fraction", "0.95"], ["--test-fraction: must be a number from 0 to 0.9"]),
    (["--dataset", "moons", "--batch", "-1"], ["--batch: must be a whole number from 1 to 100,000"]),
    (["--dataset", "moons", "--train-steps", "0"], ["--train-steps: must be between 1 and 1,000,000"]),
    (["--dataset", "moons", "--check-every", "-2"], ["--check-every: must be a whole number from 0"]),
    (["--headless", "--dataset", "moons", "--trace", "tensors"], ["--trace: must be one of summary, full"]),
    (["--dataset", "xor", "--classes", "3"], ["--classes: xor comes in 2 classes", "only gauss and spiral"]),
    (["--dataset", "circle", "--classes", "3"], ["--classes: circle comes in 2 classes"]),
    (["--dataset", "moons", "--classes", "3"], ["--classes: moons comes in 2 classes"]),
    (["--dataset", "spiral", "--classes", "4"], ["--classes: spiral comes in 2 or 3 classes", "got 4"]),
    (["--dataset", "moons", "--inputs", "3"], ["--inputs: the data decide the inputs", "moons has 2",
                                               "leave --inputs out"]),
    (["--dataset", "moons", "--x", "1,2"], ["--x: the data give the samples"]),
    (["--dataset", "moons", "--y", "0"], ["--y: the data give the samples"]),
    # Settings that mean nothing without data are refused, not ignored.
    (["--batch", "8"], ["--batch: the single sample is a batch of 1", "--dataset NAME or --data FILE.csv"]),
    (["--samples", "50"], ["--samples: only applies to a generated data set: add --dataset NAME"]),
    (["--noise", "0.3"], ["--noise: only applies to a generated data set"]),
    (["--test-fraction", "0.3"], ["--test-fraction: only applies to learning from data"]),
    (["--standardize"], ["--standardize: only applies to learning from data"]),
    (["--headless", "--trace", "full"], ["--trace: only applies to learning from data"]),
    (["--dataset", "moons", "--trace", "full"], ["--trace only applies to a report: add --headless"]),
    (["--headless", "--dataset", "moons", "--check-every", "2", "--no-gradcheck"],
     ["--check-every and --no-gradcheck contradict each other"]),
    (["--data", ""], ["--data: the file name is empty"]),
    (["--headless", "--dataset", "moons", "--train-steps", "5"],
     ["--train-steps only applies to the app's training runs", "--steps N"]),
    (["--headless", "--dataset", "moons", "--explain", "dW1[0,0]"], ["--explain", "a batch"]),
]


@pytest.mark.parametrize(("argv", "words"), DATA_REFUSED, ids=[" ".join(a) for a, _ in DATA_REFUSED])
def test_bad_data_settings_are_refused_with_the_flag_named(argv: list[str], words: list[str],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert_refused(argv, capsys, *words)


@pytest.mark.parametrize("argv", [
    ["--batch", "1"],  # the single sample is a batch of 1
    ["--batch", "0"],
    ["--check-every", "3"],  # the app's training runs check every 3rd step, with or without data
    ["--dataset", "moons", "--samples", "2", "--test-fraction", "0.9"],  # one row trains, one tests
    ["--dataset", "gauss", "--classes", "3", "--samples", "3", "--batch", "100000"],
    ["--dataset", "spiral", "--classes", "2", "--noise", "0", "--inputs", "2", "--standardize"],
    ["--dataset", "xor", "--test-fraction", "0", "--noise", "1"],
])
def test_legal_data_settings_run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["--headless", *argv, "--steps", "2"], capsys)
    assert status == 0, err
    assert "Loss before step 2:" in out


def test_the_app_takes_train_steps_and_check_every_from_the_command_line() -> None:
    from tui.cli.options import parse

    options = parse(["--dataset", "moons", "--train-steps", "500", "--check-every", "10"])
    assert (options.headless, options.config.train_steps, options.config.check_every) == (False, 500, 10)
    assert parse(["--train-steps", "7"]).config.train_steps == 7  # a run on the single sample too


def test_a_toml_file_sets_the_data_and_the_flags_override_it(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    settings = tmp_path / "run.toml"
    settings.write_text('dataset = "circle"\nsamples = 40\nnoise = 0\ntest-fraction = 0.25\n'
                        'standardize = true\nbatch = 10\ntrain-steps = 7\ncheck-every = 2\n'
                        'trace = "summary"\nsteps = 4\nformat = "json"\n')
    result = trace(["--config", str(settings), "--batch", "5"], capsys)
    config = result["config"]
    assert (config["dataset"], config["samples"], config["noise"], config["test_fraction"],
            config["standardize"], config["batch"], config["train_steps"], config["check_every"]) == \
        ("circle", 40, 0, 0.25, True, 5, 7, 2)
    assert result["data"]["train"] == 30 and result["data"]["standardized"] is True
    assert result["trace"] == "summary" and [len(s["batch"]) for s in result["steps"]] == [5, 5, 5, 5]
    # --check-every 2 headless: only the even steps are checked.
    assert [s["gradcheck_passed"] for s in result["steps"]] == [None, True, None, True]


@pytest.mark.parametrize(("line", "words"), [
    ('standardize = "yes"', ["key 'standardize'", "must be true or false"]),
    ('samples = 1.5', ["key 'samples'", "must be a whole number"]),
    ('noise = "0.1"', ["key 'noise'", "must be a number"]),
    ('dataset = 3', ["key 'dataset'", "must be a string"]),
    ('data = ""', ["--data: the file name is empty"]),
    ('batch = 4', ["--batch: the single sample is a batch of 1"]),
])
def test_a_toml_files_bad_data_settings_are_refused(line: str, words: list[str], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    settings = tmp_path / "run.toml"
    settings.write_text(line + "\n")
    assert_refused(["--headless", "--config", str(settings)], capsys, *words)


@pytest.mark.parametrize(("argv", "checked"), [
    ([], [True, True, True, True]),  # as without data: every step
    (["--check-every", "3"], [False, False, True, False]),
    (["--check-every", "0"], [False] * 4),  # 0 is never, as in the app's training runs
    (["--no-gradcheck"], [False] * 4),
    (["--check-every", "0", "--no-gradcheck"], [False] * 4),  # no contradiction: both say none
])
def test_headless_check_every(argv: list[str], checked: list[bool],
                              capsys: pytest.CaptureFixture[str]) -> None:
    result = trace(["--dataset", "moons", "--steps", "4", *argv], capsys)
    assert [s["gradcheck"] is not None for s in result["steps"]] == checked


def test_the_help_lists_every_data_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for flag in ("--dataset", "--data FILE.csv", "--samples", "--noise", "--test-fraction", "--standardize",
                 "--batch", "--train-steps", "--check-every", "--trace"):
        assert flag in out, flag


def _form(base: Any) -> dict[str, str]:
    from tui.app.screens.config import FIELDS, _shown

    return {key: _shown(base, key) for key in FIELDS}


@pytest.mark.parametrize(("argv", "words"), [(a, w) for a, w in DATA_REFUSED
                                             if "--headless" not in a and "--trace" not in a
                                             and "--data" not in a and "--standardize" not in a
                                             and "--inputs" not in a])
def test_the_form_refuses_what_the_command_line_refuses(argv: list[str], words: list[str]) -> None:
    """The same settings typed into the form's fields: refused, the same message under the
    same field, its flags named as the form's fields. (A field left as shown counts as not
    given, so --inputs 3, the form's default, is not a case here: typed as 5 it is, below.)"""
    from engine.settings.config import Config
    from tui.app.screens.config import parse_fields

    base = Config().resolved()
    values = _form(base)
    for flag, value in zip(argv[::2], argv[1::2], strict=True):
        values[flag[2:]] = value
    config, errors = parse_fields(values, base)
    assert config is None
    ((key, message),) = errors.items()
    flag, _, rest = words[0].partition(": ")
    if rest:  # "--samples: must be ..." is errors["samples"] == "must be ..."
        in_form = re.sub(r"--([a-z][a-z-]*)", r"\1", rest)
        assert (f"--{key}", message[:len(in_form)]) == (flag, in_form)
    else:  # a parser's complaint: expected ...
        assert f"--{key}" == flag.split()[0]


def test_the_form_refuses_inputs_the_data_contradict() -> None:
    from engine.settings.config import Config
    from tui.app.screens.config import parse_fields

    base = Config().resolved()
    config, errors = parse_fields(_form(base) | {"dataset": "moons", "inputs": "5"}, base)
    # In the form's words: its fields, not the command line's flags.
    assert config is None and errors == {"inputs": "the data decide the inputs: moons has 2 features, "
                                                   "got 5 (leave inputs out)"}


def test_the_form_applies_a_dataset_fitted_to_its_data_and_hands_it_to_the_app() -> None:
    from engine.settings.config import Config
    from tui.app.screens.config import read_fields

    base = Config().resolved()  # 3 inputs and the notebook's x: the data decide instead
    values = _form(base) | {"dataset": "gauss", "classes": "3", "batch": "16", "samples": "60"}
    config, data, errors = read_fields(values, base)
    assert errors == {} and config is not None
    assert (config.inputs, config.classes, config.loss, config.batch) == (2, 3, "cross-entropy", 16)
    assert data is not None and data.batch == 16 and data.dataset.samples == 60
    # And back to the single sample: the data's fields left as shown, batch back to 0.
    values = _form(config) | {"dataset": "", "batch": "0", "classes": "1"}
    config, data, errors = read_fields(values, config)
    assert errors == {} and config is not None and not config.learns_from_data and data is None


def test_the_form_shows_a_bad_csv_under_its_field(tmp_path: Path) -> None:
    from engine.settings.config import Config
    from tui.app.screens.config import parse_fields

    path = tmp_path / "bad.csv"
    path.write_text("1,2,0\n3,x,1\n")
    base = Config().resolved()
    config, errors = parse_fields(_form(base) | {"data": str(path)}, base)
    assert config is None and errors == {"data": "line 2: field 2 is 'x', not a number"}
    _, errors = parse_fields(_form(base) | {"data": str(path)}, base, load=False)
    assert errors == {}  # a keystroke does not read the file; applying does


@pytest.mark.slow
async def test_the_app_rebuilds_its_stepper_on_the_data_the_form_names() -> None:
    from engine.run.stepper import Stepper
    from engine.settings.config import Config
    from tests.waits import until
    from tui.app.app import StepperApp
    from tui.app.screens.config import ConfigScreen
    from tui.app.screens.confirm import ConfirmScreen

    app = StepperApp(Stepper(Config()))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        form = app.screen
        assert isinstance(form, ConfigScreen)
        form.query_one("#field-dataset").value = "moons"
        form.query_one("#field-batch").value = "8"
        await pilot.pause()
        form.apply()
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question: new weights")
        await pilot.press("y")  # new data need new weights: the form asks first
        await until(pilot, lambda: app.stepper.data is not None, "the data applied")
        stepper = app.stepper
        assert stepper.data is not None and stepper.data.batch == 8
        assert stepper.config.inputs == 2 and stepper.state.params["W1"].shape == (4, 2)
        await pilot.press("n")
        assert stepper.state.rows is not None and len(stepper.state.rows) == 8


# ---- the report on data ----------------------------------------------------------------

def test_a_long_run_is_a_summary_and_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--dataset", "moons", "--samples", "40", "--batch", "8", "--steps", "101", "--no-gradcheck"]
    result = trace(argv, capsys)
    assert (result["trace"], result["trace_reason"]) == \
        ("summary", "over 100 steps; --trace full for every tensor")
    first = result["steps"][0]
    assert set(first) == {"step", "batch", "loss", "loss_after", "accuracy", "metrics", "gradcheck_passed",
                          "health"}
    assert len(result["steps"]) == 101 and first["accuracy"] == first["metrics"]["train_accuracy"]
    status, out, _ = run(["--headless", *argv], capsys)
    lines = out.splitlines()
    assert status == 0 and lines[1] == "trace: summary (over 100 steps; --trace full for every tensor)"
    assert "Analytic gradient" not in out
    rows = [line for line in lines if re.match(r"\s+\d+\s", line)]
    assert [int(r.split()[0]) for r in rows] == list(range(1, 102))  # a line a step up to 200 steps
    status, out, _ = run(["--headless", *argv[:-3], "--steps", "401", "--no-gradcheck"], capsys)
    rows = [line for line in out.splitlines() if re.match(r"\s+\d+\s", line)]
    assert [int(r.split()[0]) for r in rows] == [1, *range(3, 401, 3), 401]  # then every k steps
    assert "One line every 3 steps (and the last)." in out
    full = trace([*argv, "--trace", "full"], capsys)
    assert full["trace"] == "full" and "forward" in full["steps"][100]
    hundred = trace([*argv[:-3], "--steps", "100", "--no-gradcheck"], capsys)
    assert (hundred["trace"], len(hundred["steps"])) == ("full", 100) and "forward" in hundred["steps"][99]
    short = trace(["--dataset", "moons", "--steps", "2", "--trace", "summary"], capsys)
    assert short["trace"] == "summary" and "backward" not in short["steps"][0]


def test_the_text_report_names_each_batch_and_the_fit(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["--headless", "--dataset", "xor", "--samples", "30", "--batch", "10",
                          "--steps", "2", "--seed", "1"], capsys)
    result = trace(["--dataset", "xor", "--samples", "30", "--batch", "10", "--steps", "2", "--seed", "1"],
                   capsys)
    assert status == 0
    assert out.startswith("Data: xor, 30 samples (24 train, 6 test), 2 feature(s), 2 classes; batch 10 "
                          "(3 steps an epoch, shuffled each epoch from the seed)\n=== Step 1 ===\n")
    batch = result["steps"][0]["batch"]
    assert f"Batch (epoch 1): 10 row(s): {', '.join(map(str, batch[:8]))}, … (2 more)" in out
    m = result["steps"][1]["metrics"]
    assert (f"Before this update: train loss {m['train_loss']:.6g}, accuracy "
            f"{100 * m['train_accuracy']:.1f}%; test loss {m['test_loss']:.6g}") in out
    assert f"Loss before step 2: {result['steps'][1]['loss']!r} (the batch's mean)" in out


def test_without_test_rows_the_fit_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    result = trace(["--dataset", "moons", "--test-fraction", "0"], capsys)
    assert result["steps"][0]["metrics"]["test_loss"] is None
    status, out, _ = run(["--headless", "--dataset", "moons", "--test-fraction", "0"], capsys)
    assert status == 0 and "; no test rows" in out


def test_a_users_model_on_data_is_named_above_its_summary(capsys: pytest.CaptureFixture[str]) -> None:
    notebook = FIXTURES / "notebook.py"
    status, out, _ = run(["--headless", "--model", str(notebook), "--dataset", "moons", "--batch", "4",
                          "--steps", "3", "--trace", "summary"], capsys)
    lines = out.split("\nTraining health", 1)[0].splitlines()
    assert status == 0 and lines[0].startswith("Model: notebook.py") and lines[2].startswith("Data: moons")
    assert lines[1] == "  accuracy: not measured for a model file (shown as —), only its loss"
    assert len([line for line in lines if re.match(r"\s+\d+\s", line)]) == 3
    assert "—" in lines[-1]  # a user's model gives its loss only: no accuracy
