"""engine.data.batches: which rows each step trains on, the plan from the settings, the
memory refusal before anything is allocated, and the fit over every row.

Small hand-made data sets, so every expected row and number can be read off the test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.data import batches
from engine.data.batches import Data, prepare
from engine.data.sets import Dataset
from engine.maths import network
from engine.maths.network import Architecture
from engine.settings.config import Config, ConfigError

#: Ten rows on a line, labelled by sign: row i is (i - 4.5, 1), class 1 when i >= 5.
LINE = Dataset(np.column_stack([np.arange(10) - 4.5, np.ones(10)]), (np.arange(10) >= 5).astype(np.int64),
               "line")


def plan(batch: int, seed: int = 3, test_fraction: float = 0.0) -> Data:
    return prepare(LINE, test_fraction, batch, seed)


def test_a_full_batch_is_the_training_split_in_order_every_step() -> None:
    data = plan(0, test_fraction=0.3)
    assert data.full_batch and data.batch == 7 and data.steps_per_epoch == 1
    for step in (1, 2, 50):
        np.testing.assert_array_equal(data.rows(step), data.dataset.train)
        assert data.epoch(step) == step


def test_a_batch_larger_than_the_training_split_is_the_split() -> None:
    data = plan(25)
    assert data.batch == 10 and data.full_batch


def test_each_epoch_sees_every_training_row_once_in_slices_of_the_batch() -> None:
    data = plan(4)
    assert not data.full_batch and data.steps_per_epoch == 3  # 4 + 4 + 2
    assert [data.epoch(step) for step in range(1, 8)] == [1, 1, 1, 2, 2, 2, 3]
    for first in (1, 4):
        slices = [data.rows(step) for step in range(first, first + 3)]
        assert [len(rows) for rows in slices] == [4, 4, 2]
        assert sorted(np.concatenate(slices).tolist()) == list(range(10))
    assert data.rows(1).tolist() != data.rows(4).tolist()  # each epoch its own order


def test_a_steps_rows_are_a_function_of_the_seed_and_the_step_alone() -> None:
    data = plan(4)
    later_first = [data.rows(step).tolist() for step in (6, 2, 5, 1)]
    again = plan(4)
    assert later_first == [again.rows(step).tolist() for step in (6, 2, 5, 1)]
    epoch = np.random.default_rng([3, batches.BATCH_STREAM, 2]).permutation(10)
    np.testing.assert_array_equal(data.rows(5), data.dataset.train[epoch[4:8]])
    assert plan(4, seed=4).rows(1).tolist() != data.rows(1).tolist()


def test_the_rows_come_from_the_training_split_only() -> None:
    data = plan(3, test_fraction=0.4)
    test = set(data.dataset.test.tolist())
    assert len(test) == 4
    for step in range(1, 7):
        assert not test & set(data.rows(step).tolist())
    part, counts = data.parts
    assert counts.tolist() == [6, 4] and sorted(np.flatnonzero(part).tolist()) == sorted(test)


def test_inputs_are_the_rows_and_their_labels() -> None:
    data = plan(0)
    X, y = data.inputs(np.array([0, 9]))
    np.testing.assert_array_equal(X, [[-4.5, 1.0], [4.5, 1.0]])
    np.testing.assert_array_equal(y, [0, 1])


def test_standardizing_uses_the_training_rows() -> None:
    data = prepare(LINE, 0.0, 0, 3, standardized=True)
    assert data.standardized
    np.testing.assert_allclose(data.dataset.X[:, 0].mean(), 0.0, atol=1e-15)
    np.testing.assert_allclose(data.dataset.X[:, 0].std(), 1.0, rtol=1e-14)


def test_the_numbers_a_step_holds() -> None:
    assert batches.activations(Architecture(3, (4,)), 10) == 10 * (3 + 4 + 1) * 4


def big(batch: int) -> tuple[Config, Data]:
    """400 rows through a 100,000-unit layer: 8 · 400 · 100,003 · 4 bytes, over a GiB."""
    rows = Dataset(np.arange(800.0).reshape(400, 2), np.arange(400) % 2, "big")
    return Config(hidden=(100_000,), inputs=2, dataset="moons"), prepare(rows, 0.0, batch, 1)


def test_a_step_over_the_budget_is_refused_naming_the_batch_that_fits() -> None:
    config, data = big(0)
    with pytest.raises(ConfigError) as error:
        batches.check_step(config, data, given=("batch",))
    assert error.value.key == "batch"
    assert error.value.message.startswith("a step on 400 rows (the whole training split) through "
                                          "100,000 units")
    assert error.value.message.endswith("give --batch 335 or less, or narrower layers")
    with pytest.raises(ConfigError) as error:
        batches.check_step(config, data, given=("hidden",))
    assert error.value.key == "hidden"
    with pytest.raises(ConfigError) as error:
        batches.check_step(config, data)
    assert error.value.key == "dataset"


def test_a_step_within_the_budget_passes() -> None:
    config, data = big(335)
    batches.check_step(config, data, given=("batch",))  # 335 · 100,003 · 32 bytes < 1 GiB


def test_every_row_is_each_rows_loss_and_class() -> None:
    arch = Architecture(2, (3,), "tanh")
    params = network.init_params(arch, 5)
    losses, predicted, decided = batches.every_row(arch, params, LINE)
    cache, each = network.forward_each(arch, LINE.X, params, LINE.y)
    np.testing.assert_allclose(losses, each, rtol=1e-15)
    np.testing.assert_array_equal(predicted, (cache["z2"][:, 0] > 0).astype(int))
    assert decided.all()


def test_evaluate_splits_the_fit_between_training_and_test_rows() -> None:
    """z1 = x0 + 5 > 0 on every row, so the logit is 2 (x0 + 5) - 10 = 2 x0: right on every
    row, with the loss log(1 + e^(-2 |x0|))."""
    arch = Architecture(2, (1,), "relu")
    params = {"W1": np.array([[1.0, 0.0]]), "b1": np.array([5.0]), "W2": np.array([[2.0]]),
              "b2": np.array([-10.0])}
    data = plan(0, test_fraction=0.3)
    metrics = batches.evaluate(arch, params, data)
    loss = np.log1p(np.exp(-2.0 * np.abs(LINE.X[:, 0])))
    train, test = data.dataset.train, data.dataset.test
    assert metrics.train_loss == pytest.approx(loss[train].mean(), rel=1e-12)
    assert metrics.test_loss == pytest.approx(loss[test].mean(), rel=1e-12)
    assert metrics.train_accuracy == metrics.test_accuracy == 1.0
    wrong = dict(params, W2=np.array([[-2.0]]), b2=np.array([10.0]))  # every row wrong
    assert batches.evaluate(arch, wrong, data).train_accuracy == 0.0


def test_without_test_rows_there_is_no_test_fit_and_nan_decides_nothing() -> None:
    arch = Architecture(2, (3,), "relu")
    params = network.init_params(arch, 5)
    metrics = batches.evaluate(arch, params, plan(0))
    assert metrics.test_loss is None and metrics.test_accuracy is None
    assert metrics.train_accuracy is not None
    broken = dict(params, b2=np.array([np.nan]))
    assert batches.evaluate(arch, broken, plan(0)).train_accuracy is None


def test_from_config_and_fitted() -> None:
    assert batches.from_config(Config()) is None
    config = Config(dataset="spiral", classes=3, samples=60, batch=16, test_fraction=0.25, seed=9)
    data = batches.from_config(config)
    assert data is not None and data.batch == 16 and len(data.dataset.test) == 15
    fitted = batches.fitted(config, data)
    assert (fitted.inputs, fitted.classes, fitted.x, fitted.y) == (2, 3, (), 1)
    moons = batches.from_config(Config(dataset="moons", samples=40))
    assert moons is not None and batches.fitted(Config(dataset="moons"), moons).classes == 1
    assert batches.fitted(Config(dataset="moons", classes=2), moons).classes == 2


def test_load_reads_a_csv_file(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n1,2,0\n3,4,1\n5,6,1\n")
    dataset = batches.load("", str(path), 200, 0.1, 1, 42)
    np.testing.assert_array_equal(dataset.X, [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(dataset.y, [0, 1, 1])
    assert batches.load("xor", "", 30, 0.0, 1, 42).samples == 30
