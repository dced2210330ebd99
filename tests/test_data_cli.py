"""Learning from data on the command line (issue 12).

The Done-when: with a data set and a batch of B rows, the JSON trace's loss, gradients,
numerical gradients and updates are the mean over the batch of the single-sample maths,
computed here row by row with engine.network.forward/backward and
engine.fastcheck.fast_numerical; and the batch order is reproducible from the seed. Then
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

from engine.config import DATASETS, MAX_NOISE, MAX_SAMPLES, MAX_TEST_FRACTION, MULTICLASS
from engine.data import make_dataset, split
from engine.fastcheck import fast_numerical
from engine.network import ACTIVATIONS, Architecture, backward, forward
from tui.__main__ import main


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
            np.testing.assert_allclose(check[name]["numerical"], mean_num, rtol=1e-7, atol=1e-11)
            np.testing.assert_allclose(record["update"][name], params[name] - 0.05 * mean_grad,
                                       rtol=1e-12, atol=1e-15)
        # The batch matrix is the cache's input: one row a sample.
        np.testing.assert_array_equal(record["forward"]["x"], X[rows])
        # The fit is over every training and test row, with the parameters before the update.
        _, train_loss = forward(arch, X[train], params, y[train])
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


def test_the_bounds_here_are_engine_datas() -> None:
    from engine import data

    assert (tuple(data.SHAPES), data.MULTICLASS) == (DATASETS, MULTICLASS)
    assert (MAX_SAMPLES, MAX_NOISE, MAX_TEST_FRACTION) == \
        (data.MAX_SAMPLES, data.MAX_NOISE, data.MAX_TEST_FRACTION)
