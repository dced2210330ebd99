"""The data layer: the Playground's shapes drawn from a seed, the train/test split, CSV
files (every malformed one refused with the line and the problem), standardisation."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from engine.data.sets import (
    MAX_SAMPLES,
    RADIUS,
    SHAPES,
    DataError,
    Dataset,
    make_dataset,
    parse_csv,
    read_csv,
    split,
    standardize,
)

# The shapes.


@pytest.mark.parametrize("name", list(SHAPES))
def test_each_shape_is_drawn_again_from_its_seed_and_differs_with_another(name: str) -> None:
    a, b, c = make_dataset(name, seed=7), make_dataset(name, seed=7), make_dataset(name, seed=8)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)


@pytest.mark.parametrize("name", list(SHAPES))
def test_each_shape_has_the_size_asked_and_exactly_balanced_classes(name: str) -> None:
    data = make_dataset(name, samples=201)
    assert data.X.shape == (201, 2) and data.X.dtype == np.float64
    assert data.y.shape == (201,) and data.y.dtype == np.int64
    assert np.bincount(data.y).tolist() == [101, 100]
    assert (data.classes, data.output_classes, data.name) == (2, 1, name)
    assert len(data.train) == 201 and len(data.test) == 0
    assert set(data.y[:20].tolist()) == {0, 1}  # shuffled: the first rows are not all one class


@pytest.mark.parametrize("name", list(SHAPES))
def test_each_shape_lies_in_the_playgrounds_frame(name: str) -> None:
    X = make_dataset(name, samples=1000, noise=0.0).X
    assert np.mean(np.abs(X) <= RADIUS + 0.3) > 0.99  # the gaussian blobs have tails
    assert np.ptp(X, axis=0).min() > 0.7 * RADIUS  # spread over the frame, not a dot


def test_xor_puts_class_1_where_x_times_y_is_positive_clear_of_the_axes() -> None:
    data = make_dataset("xor", samples=1000, noise=0.0)
    product = data.X[:, 0] * data.X[:, 1]
    assert np.all((product > 0) == (data.y == 1))
    assert np.abs(data.X).min() >= 0.3


def test_circle_is_a_disc_inside_a_ring_with_a_gap() -> None:
    data = make_dataset("circle", samples=1000, noise=0.0)
    r = np.hypot(*data.X.T)
    assert r[data.y == 1].max() <= 0.5 * RADIUS < 0.7 * RADIUS <= r[data.y == 0].min()


def test_gauss_is_two_blobs_at_plus_and_minus_two() -> None:
    data = make_dataset("gauss", samples=4000, noise=0.0)
    assert np.allclose(data.X[data.y == 1].mean(axis=0), [2, 2], atol=0.1)
    assert np.allclose(data.X[data.y == 0].mean(axis=0), [-2, -2], atol=0.1)
    assert np.allclose(data.X[data.y == 1].std(axis=0), 1.0, atol=0.1)


def test_spiral_arms_are_the_playgrounds_half_a_turn_apart() -> None:
    data = make_dataset("spiral", samples=400, noise=0.0)
    arm1 = data.X[data.y == 1]
    r = np.hypot(*arm1.T)
    t = 1.75 * 2 * np.pi * r / RADIUS  # the Playground's arm at deltaT = 0: (r sin t, r cos t)
    assert np.allclose(arm1, np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
    assert np.allclose(np.sort(np.hypot(*data.X[data.y == 0].T)), np.sort(r))
    assert np.allclose(np.sort(data.X[data.y == 0], axis=0), np.sort(-arm1, axis=0))


def test_moons_are_sklearns_make_moons_centred_and_scaled() -> None:
    data = make_dataset("moons", samples=100, noise=0.0)
    t = np.linspace(0, np.pi, 50)
    outer = np.stack([np.cos(t), np.sin(t)], axis=1)  # sklearn's class 0
    inner = np.stack([1 - np.cos(t), 1 - np.sin(t) - 0.5], axis=1)  # class 1
    for k, moon in enumerate([outer, inner]):
        expected = (moon - [0.5, 0.25]) * RADIUS / 2
        got = data.X[data.y == k]
        assert np.allclose(got[np.lexsort(got.T)], expected[np.lexsort(expected.T)])


@pytest.mark.parametrize("name", list(SHAPES))
def test_noise_is_gaussian_with_its_deviation_a_fraction_of_the_radius(name: str) -> None:
    clean = make_dataset(name, samples=4000, noise=0.0)
    noisy = make_dataset(name, samples=4000, noise=0.2)
    assert np.array_equal(clean.y, noisy.y)  # the noise moves points; it never relabels them
    shift = noisy.X - clean.X
    assert np.allclose(shift.mean(axis=0), 0.0, atol=0.05)
    assert np.allclose(shift.std(axis=0), 0.2 * RADIUS, rtol=0.05)


def test_noise_blurs_the_xor_boundary() -> None:
    clean, noisy = make_dataset("xor", noise=0.0), make_dataset("xor", noise=0.3)
    assert np.all((clean.X.prod(axis=1) > 0) == (clean.y == 1))
    assert np.any((noisy.X.prod(axis=1) > 0) != (noisy.y == 1))


@pytest.mark.parametrize("name", ["gauss", "spiral"])
def test_gauss_and_spiral_come_in_three_classes(name: str) -> None:
    data = make_dataset(name, samples=200, classes=3)
    assert (data.classes, data.output_classes) == (3, 3)
    assert np.bincount(data.y).tolist() == [67, 67, 66]


def test_three_blobs_sit_a_third_of_a_turn_apart() -> None:
    data = make_dataset("gauss", samples=6000, noise=0.0, classes=3)
    centres = np.array([data.X[data.y == k].mean(axis=0) for k in range(3)])
    assert np.allclose(np.hypot(*centres.T), 2 * np.sqrt(2), atol=0.1)
    angles = np.sort(np.degrees(np.arctan2(centres[:, 1], centres[:, 0])) % 360)
    assert np.allclose(np.diff(angles), 120, atol=3)


@pytest.mark.parametrize("name", ["xor", "circle", "moons"])
def test_a_third_class_is_refused_for_the_two_class_shapes(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name} has 2 classes; only gauss and spiral also come in 3"):
        make_dataset(name, classes=3)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"name": "swirl"}, "unknown data set 'swirl': choose from xor, circle, gauss, spiral, moons"),
    ({"classes": 4}, "only gauss and spiral also come in 3"),
    ({"classes": 1}, "got classes=1"),
    ({"samples": 0}, "samples must be a whole number from 1 to 100,000, got 0"),
    ({"samples": MAX_SAMPLES + 1}, "got 100001"),
    ({"samples": 2.5}, "got 2.5"),
    ({"samples": True}, "got True"),
    ({"samples": 1}, "samples must be at least the number of classes"),
    ({"noise": -0.1}, "noise must be from 0 to 1.0, got -0.1"),
    ({"noise": float("nan")}, "got nan"),
    ({"noise": 1.5}, "got 1.5"),
    ({"seed": -1}, "seed must be a whole number from 0 to"),
])
def test_bad_arguments_are_refused_with_what_is_allowed(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"name": "gauss"} | kwargs
    with pytest.raises(ValueError, match=re.escape(message)):
        make_dataset(**arguments)  # type: ignore[arg-type]


def test_the_largest_data_set_is_allowed() -> None:
    assert make_dataset("spiral", samples=MAX_SAMPLES, classes=3).samples == MAX_SAMPLES


def test_the_data_never_draws_from_the_global_generator() -> None:
    """The weights come from RandomState(seed); drawing data in between must not move them."""
    np.random.seed(0)
    before = np.random.get_state()[1].copy()  # type: ignore[index]
    split(make_dataset("spiral"), 0.5, 3)
    assert np.array_equal(np.random.get_state()[1], before)  # type: ignore[index]


# The split.


def test_split_holds_out_the_floor_of_the_fraction_disjoint_and_covering() -> None:
    data = split(make_dataset("circle", samples=200), 0.25, seed=1)
    assert (len(data.train), len(data.test)) == (150, 50)
    assert not set(data.train.tolist()) & set(data.test.tolist())
    assert sorted([*data.train.tolist(), *data.test.tolist()]) == list(range(200))
    assert np.array_equal(data.X_test, data.X[data.test]) and np.array_equal(data.y_train, data.y[data.train])


@pytest.mark.parametrize(("n", "fraction", "n_test"), [
    (200, 0.0, 0), (200, 0.9, 180), (100, 0.29, 29), (10, 0.15, 1), (9, 0.9, 8), (2, 0.9, 1)])
def test_split_sizes_floor_the_fraction_and_always_leave_a_row_to_train(n: int, fraction: float,
                                                                           n_test: int) -> None:
    data = split(Dataset(np.arange(n, dtype=float)[:, None], np.arange(n) % 2, "rows"), fraction, seed=0)
    assert (len(data.train), len(data.test)) == (n - n_test, n_test)


def test_split_is_reproducible_and_its_own_stream() -> None:
    data = make_dataset("moons")
    a, b, c = split(data, 0.3, seed=5), split(data, 0.3, seed=5), split(data, 0.3, seed=6)
    assert np.array_equal(a.test, b.test) and not np.array_equal(a.test, c.test)
    other = split(make_dataset("xor", seed=99), 0.3, seed=5)  # other rows, same n and seed
    assert np.array_equal(other.test, a.test)
    assert np.array_equal(split(a, 0.3, seed=5).test, a.test)  # re-splitting starts afresh
    assert np.array_equal(split(a, 0.0, seed=5).train, np.arange(200))
    held_out = np.random.default_rng([5, 1]).permutation(200)[:60]  # stream 1: not the shapes' 0
    assert np.array_equal(a.test, np.sort(held_out))


@pytest.mark.parametrize("fraction", [-0.1, 0.95, 1.0, float("nan")])
def test_split_refuses_a_fraction_outside_0_to_0_9(fraction: float) -> None:
    with pytest.raises(ValueError, match=r"test_fraction must be from 0 to 0\.9"):
        split(make_dataset("xor"), fraction, seed=0)


def test_a_dataset_is_read_only() -> None:
    data = split(make_dataset("xor"), 0.5, seed=0)
    for array in (data.X, data.y, data.train, data.test):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 1


def test_a_dataset_copies_what_it_is_given() -> None:
    X, y = np.zeros((2, 1)), np.array([0, 1])
    data = Dataset(X, y, "two")
    X[0, 0], y[0] = 5.0, 1
    assert data.X[0, 0] == 0.0 and data.y[0] == 0


@pytest.mark.parametrize(("X", "y", "message"), [
    (np.zeros((3, 1)), np.array([0, 2, 2]), "every class 0..K-1"),
    (np.zeros((2, 1)), np.array([1, 1]), "K >= 2"),
    (np.zeros((2, 1)), np.array([0, 1, 1]), "one label per row"),
    (np.array([[np.nan], [0]]), np.array([0, 1]), "NaN"),
    (np.zeros(2), np.array([0, 1]), "matrix"),
    (np.zeros((2, 1)), np.array([0.0, 1.0]), "class indices"),
])
def test_a_dataset_refuses_what_no_network_could_learn(X: np.ndarray, y: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Dataset(X, y, "bad")


def test_a_dataset_refuses_a_split_that_loses_or_repeats_rows() -> None:
    X, y = np.zeros((3, 1)), np.array([0, 1, 1])
    for train, test in [([0, 1], [1]), ([0], [1]), ([], [0, 1, 2])]:
        with pytest.raises(ValueError, match="must split the rows"):
            Dataset(X, y, "bad", np.array(train, dtype=np.intp), np.array(test, dtype=np.intp))


# CSV files: the good ones.


def write(tmp_path: Path, content: str | bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_bytes(content.encode())
    else:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize("content", [
    "x1,x2,label\n0.5,-1,0\n2,3e-1,1\n",  # a header
    "0.5,-1,0\n2,3e-1,1\n",  # none
    "0.5,-1,0\r\n2,3e-1,1\r\n",  # CRLF
    "0.5,-1,0\n2,3e-1,1",  # no trailing newline
    "0.5,-1,0\n2,3e-1,1\n\n\n",  # trailing blank lines
    "\ufeffx,y,k\n0.5,-1,0\n2,3e-1,1\n",  # a spreadsheet's byte-order mark
    "\ufeff0.5,-1,0\n2,3e-1,1\n",  # one before a number
    " 0.5 , -1 , 0.0 \n+2,.3,1.\n",  # spaces, signs, a label written as a float
    "0.5,-1,0\n\n  \n2,3e-1,1\n",  # blank lines in the middle
])
def test_a_two_class_csv_is_read_in_its_usual_spellings(tmp_path: Path, content: str) -> None:
    data = read_csv(write(tmp_path, content, "toy.csv"))
    assert np.array_equal(data.X, [[0.5, -1.0], [2.0, 0.3]])
    assert data.y.tolist() == [0, 1] and data.y.dtype == np.int64
    assert (data.classes, data.output_classes, data.name) == (2, 1, "toy")
    assert data.train.tolist() == [0, 1]


def test_a_multiclass_csv(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i / 2},{-i},{i % 4}\n" for i in range(12))
    data = read_csv(write(tmp_path, "a,b,c,class\n" + rows))
    assert data.X.shape == (12, 3) and np.bincount(data.y).tolist() == [3, 3, 3, 3]
    assert (data.classes, data.output_classes) == (4, 4)


@pytest.mark.slow
def test_a_csv_of_the_most_rows_allowed_is_read(tmp_path: Path) -> None:
    rows = np.arange(MAX_SAMPLES) % 2
    data = read_csv(write(tmp_path, "".join(f"{i}.5,{k}\n" for i, k in enumerate(rows))))
    assert data.samples == MAX_SAMPLES and data.X[-1, 0] == MAX_SAMPLES - 0.5


def test_a_written_data_set_reads_back(tmp_path: Path) -> None:
    data = make_dataset("spiral", classes=3, samples=50)
    text = "".join(f"{x[0]!r},{x[1]!r},{k}\n" for x, k in zip(data.X.tolist(), data.y.tolist(), strict=True))
    back = read_csv(write(tmp_path, text))
    assert np.array_equal(back.X, data.X) and np.array_equal(back.y, data.y)


# CSV files: each malformed kind, refused with the line and the problem.

MALFORMED = {
    "empty": ("", "the file is empty"),
    "only blank lines": ("\n \r\n\n", "the file is empty"),
    "header only": ("x,y,label\n", "line 1 is a header and no rows of numbers follow it"),
    "one column": ("label\n0\n1\n", "line 2 has 1 field: need at least one feature and a label"),
    "ragged row": ("1,2,0\n3,4,1\n5,1\n", "line 3 has 2 fields, but line 1 has 3"),
    "extra field": ("x,y,k\n1,2,0\n\n3,4,1,7\n", "line 4 has 4 fields, but line 2 has 3"),
    "header width": ("x,label\n1,2,0\n", "line 1: the header has 2 names but line 2 has 3 fields"),
    "text in a field": ("1,2,0\n3,abc,1\n", "line 2: field 2 is 'abc', not a number"),
    "empty field": ("1,2,0\n,4,1\n", "line 2: field 1 is '', not a number"),
    "a second header": ("x,y,k\n1,2,0\nx,y,k\n", "line 3: field 1 is 'x', not a number"),
    "python's underscores": ("1,2,0\n1_000,4,1\n", "line 2: field 1 is '1_000', not a number"),
    "NaN": ("1,2,0\nnan,4,1\n", "line 2: field 1 is nan, not a finite number"),
    "infinity": ("1,2,0\n3,-inf,1\n", "line 2: field 2 is -inf, not a finite number"),
    "NaN label": ("1,2,0\n3,4,NaN\n", "line 2: the label is NaN, not a finite number"),
    "overflow": ("1,2,0\n3,1e999,1\n", "line 2: field 2 '1e999' is too large (overflows to infinity)"),
    "fractional label": ("1,2,0\n3,4,0.5\n", "line 2: the label is 0.5, not a whole number"),
    "negative label": ("1,2,0\n3,4,1\n5,6,-1\n", "line 3: the label is -1: class indices start at 0"),
    "huge label": ("1,2,0\n3,4,1e4\n", "line 2: the label 1e4 is too large: at most 10,000 classes"),
    "another script's digits": ("1,2,0\n\u0663,4,1\n", "line 2: field 1 is '\u0663', not a number"),
    "skipped class": ("1,2,0\n3,4,2\n5,6,0\n",
                      "the labels skip class 1: line 2 has label 2 but no row has label 1"),
    "labels from 1": ("1,2,1\n3,4,2\n5,6,3\n",
                      "the labels are 1..3 but class indices start at 0: subtract 1"),
    "one class": ("x,y,k\n1,2,1\n3,4,1\n", "every label is 1: a classifier needs at least two classes"),
    "NUL byte": ("1,2,0\n3,\x004,1\n", "line 2: a NUL byte: this looks like a binary file"),
    "too many rows": ("1,0\n" * (MAX_SAMPLES + 1), "line 100001: more than 100,000 rows"),
}


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_a_malformed_csv_is_refused_naming_the_line_and_the_problem(tmp_path: Path, kind: str) -> None:
    content, message = MALFORMED[kind]
    with pytest.raises(DataError) as caught:
        read_csv(write(tmp_path, content))
    assert message in str(caught.value)


def test_line_numbers_count_crlf_lines_and_skipped_blank_lines_as_an_editor_does(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^line 5: field 1 is 'oops'"):
        read_csv(write(tmp_path, "x,y,k\r\n1,2,0\r\n\r\n3,4,1\r\noops,6,1\r\n"))


def test_a_long_bad_field_is_shortened_in_the_message(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        read_csv(write(tmp_path, "1,2,0\n" + "z" * 10_000 + ",4,1\n"))
    assert len(str(caught.value)) < 100 and "zzz…" in str(caught.value)


def test_a_binary_file_is_refused_naming_the_line_of_the_first_bad_byte(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^line 3: not UTF-8 text \(byte 0x89\); is this a binary file\?"):
        read_csv(write(tmp_path, b"1,2,0\n3,4,1\n\x89PNG\r\n"))


def test_a_data_error_is_a_value_error() -> None:
    assert issubclass(DataError, ValueError)


def test_parse_csv_reads_text_without_a_file() -> None:
    assert parse_csv("1,0\n2,1\n", name="inline").name == "inline"


# CSV files the file layer refuses, all as DataError for one except clause.


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no such CSV file: .*nowhere\.csv"):
        read_csv(tmp_path / "nowhere.csv")


def test_a_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a directory, not a CSV file"):
        read_csv(tmp_path)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(DataError, match=r"is not a regular file \(a FIFO\)"):
        read_csv(tmp_path / "pipe")


# Standardisation.


def test_standardized_training_rows_have_mean_0_and_variance_1() -> None:
    rng = np.random.default_rng(0)
    train = rng.normal([3.0, -40.0, 0.001], [2.0, 100.0, 0.0005], (500, 3))
    z = standardize(train, train)
    assert np.allclose(z.mean(axis=0), 0.0, atol=1e-12) and np.allclose(z.var(axis=0), 1.0)


def test_other_rows_are_moved_by_the_training_statistics_only() -> None:
    rng = np.random.default_rng(1)
    train, test = rng.normal(5.0, 2.0, (400, 2)), rng.normal(9.0, 1.0, (100, 2))
    z = standardize(train, test)
    assert np.allclose(z, (test - train.mean(axis=0)) / train.std(axis=0))
    assert np.all(z.mean(axis=0) > 1.0)  # the test set's own shift survives: nothing leaked


def test_a_constant_feature_is_centred_not_divided_by_zero() -> None:
    train = np.array([[1.0, 0.7, 2.0], [3.0, 0.7, 2.0], [5.0, 0.7, 2.0]])
    assert train[:, 1].std() > 0 == train[:, 2].std()  # 0.7's mean is off by an ulp: not exactly 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        z = standardize(train, np.array([[3.0, 0.7, 2.0], [3.0, 1.7, 3.0]]))
    assert np.allclose(z[:, 1:], [[0.0, 0.0], [1.0, 1.0]]) and np.all(np.isfinite(z))


def test_standardize_leaves_its_inputs_alone_and_checks_their_shapes() -> None:
    data = split(make_dataset("gauss"), 0.2, seed=0)
    z = standardize(data.X_train, data.X)
    assert z.shape == data.X.shape and z.flags.writeable
    with pytest.raises(ValueError, match="train_X's 2 features"):
        standardize(data.X_train, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="non-empty"):
        standardize(np.zeros((0, 2)), data.X)
