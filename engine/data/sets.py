"""Data sets to train on: the TensorFlow Playground's shapes, drawn from a seed, or a CSV file.

A data set is a matrix X of n samples by d features and a vector y of n class indices
0..K-1. With K = 2 the network needs one sigmoid unit (output_classes = 1); with K > 2 a
softmax of K units. The split into training and test rows is a pair of index arrays, so
the rows are stored once and a new split costs no copy.

Every random draw here comes from its own stream, np.random.default_rng([seed, stream]),
never from the RandomState(seed) that draws the weights: the same seed then gives the
notebook's weights whatever data set is chosen, and changing the data never moves the
initialisation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from os import PathLike
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from engine.data.errors import DataError as DataError
from engine.settings.bounds import (
    MAX_NOISE,
    MAX_SAMPLES,
    MAX_SEED,
    MAX_TEST_FRACTION,
    MULTICLASS,
)

Array = NDArray[np.float64]
Labels = NDArray[np.int64]
Indices = NDArray[np.intp]

#: Stream numbers after the seed, so the shapes, the split and the weights never share draws.
SHAPE_STREAM = 0
SPLIT_STREAM = 1

#: The Playground's frame: every shape spans about [-5, 5] on each axis.
RADIUS = 5.0


def _frozen(a: NDArray[np.generic]) -> NDArray[np.generic]:
    """A read-only copy: a Dataset is shared by the stepper and the screens, and a
    write through one view would silently change the other's numbers.

    An array already read-only whose memory no writable array shares (read-only down to the
    array that owns it) is kept as it is: nothing can write to it without undoing its flags
    first, and copying MNIST's 377 MB to guard it would double the peak of reading it (and
    again at each split)."""
    if _read_only_throughout(a):
        return a
    copy = np.array(a)
    copy.setflags(write=False)
    return copy


def _read_only_throughout(a: NDArray[np.generic]) -> bool:
    """Whether a and every array it views are read-only, down to one that owns its memory."""
    base: object = a
    while isinstance(base, np.ndarray):
        if base.flags.writeable:
            return False
        if base.flags.owndata:
            return True
        base = base.base
    return False  # memory from elsewhere (a bytearray, an array.array) may still change


@dataclass(frozen=True, eq=False)
class Dataset:
    """Rows and labels, with the split that says which rows train and which test.

    eq=False: equality of arrays is elementwise, so a generated __eq__ would be a trap."""

    X: Array
    y: Labels
    name: str
    # Left empty, every row trains: a split is made by split(), not by hand.
    train: Indices = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    test: Indices = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    #: Each column's name, as a CSV file's header gives them (the label's left out); (): none,
    #: and the columns are x1, x2, ... (column_names).
    columns: tuple[str, ...] = ()
    #: Each class's name, when a CSV file's labels are names (class k the k-th in sorted
    #: order); (): the classes are known by their indices alone.
    class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        X = np.asarray(self.X, dtype=np.float64)
        y = np.asarray(self.y)
        if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError(f"X must be a non-empty (samples, features) matrix, got shape {X.shape}")
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must hold one label per row of X ({X.shape[0]}), got shape {y.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("X holds NaN or infinity")
        if y.dtype.kind not in "iu" or y.min() < 0:
            raise ValueError("y must hold class indices 0, 1, ...")
        present = np.unique(y)
        if len(present) < 2 or present[-1] != len(present) - 1:
            raise ValueError(f"y must use every class 0..K-1 with K >= 2, got {present.tolist()[:10]}")
        n = X.shape[0]
        train = np.asarray(self.train, dtype=np.intp)
        test = np.asarray(self.test, dtype=np.intp)
        if len(train) == 0 and len(test) == 0:
            train = np.arange(n)
        both = np.concatenate([train, test])
        if len(train) < 1 or len(both) != n or not np.array_equal(np.sort(both), np.arange(n)):
            raise ValueError("train and test must split the rows: disjoint, together every row, "
                             "train non-empty")
        _check_columns(self.columns, X.shape[1])
        _check_class_names(self.class_names, len(present))
        object.__setattr__(self, "X", _frozen(X))
        object.__setattr__(self, "y", _frozen(y.astype(np.int64)))
        object.__setattr__(self, "train", _frozen(train))
        object.__setattr__(self, "test", _frozen(test))

    @property
    def samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def features(self) -> int:
        return int(self.X.shape[1])

    @property
    def column_names(self) -> tuple[str, ...]:
        """Each column's name: the header's, or x1, x2, ... as the maths writes them."""
        return self.columns or tuple(f"x{j + 1}" for j in range(self.features))

    @property
    def classes(self) -> int:
        """K: the labels are checked to be exactly 0..K-1, so the largest one says it."""
        return int(self.y.max()) + 1

    @property
    def output_classes(self) -> int:
        """The network's output units: two classes need only p(class 1), one sigmoid."""
        return 1 if self.classes == 2 else self.classes

    @property
    def X_train(self) -> Array:
        return self.X[self.train]

    @property
    def y_train(self) -> Labels:
        return self.y[self.train]

    @property
    def X_test(self) -> Array:
        return self.X[self.test]


def _check_columns(columns: tuple[str, ...], width: int) -> None:
    """No names, or one for each of X's columns."""
    if columns and len(columns) != width:
        raise ValueError(f"columns must name each of X's {width} columns, got {len(columns)}")


def _check_class_names(names: tuple[str, ...], classes: int) -> None:
    """No names, or one for each class."""
    if names and len(names) != classes:
        raise ValueError(f"class_names must name each of the {classes} classes, got {len(names)}")


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")


def split(dataset: Dataset, test_fraction: float, seed: int) -> Dataset:
    """The same rows with floor(n * test_fraction) of them, drawn at random, held out.

    Floor (not round) so that even one sample at the largest fraction keeps a training
    row; the permutation has its own stream, so the split does not depend on how the data
    were drawn, and re-splitting a data set with the same seed gives the same rows."""
    if not isinstance(test_fraction, int | float) or not 0.0 <= test_fraction <= MAX_TEST_FRACTION:
        raise ValueError(f"test_fraction must be from 0 to {MAX_TEST_FRACTION}, got {test_fraction!r}")
    _check_seed(seed)
    n = dataset.samples
    n_test = math.floor(n * test_fraction + 1e-9)  # 100 * 0.29 is 28.999...: still 29
    order = np.random.default_rng([seed, SPLIT_STREAM]).permutation(n)
    return replace(dataset, train=np.sort(order[n_test:]), test=np.sort(order[:n_test]))


# The shapes. Each draws the clean points of class k (counts[k] of them) in the
# Playground's frame; make_dataset adds the noise, so every shape's noise means the same.

Shape = Callable[[np.random.Generator, list[int]], list[Array]]


def _xor(rng: np.random.Generator, counts: list[int]) -> list[Array]:
    """Class 1 in the quadrants where x * y > 0, class 0 in the other two, each point
    pushed 0.3 away from the axes as the Playground does, so that without noise no point
    sits on the boundary."""
    points = []
    for k, m in enumerate(counts):
        magnitude = rng.uniform(0.0, RADIUS, (m, 2)) + 0.3
        sx = rng.choice([-1.0, 1.0], m)
        sy = sx if k == 1 else -sx
        points.append(magnitude * np.stack([sx, sy], axis=1))
    return points


def _circle(rng: np.random.Generator, counts: list[int]) -> list[Array]:
    """Class 1 in a disc of radius R/2, class 0 in the ring from 0.7 R to R: the gap
    between them is what noise eats into."""
    low, high = (0.7 * RADIUS, RADIUS), (0.0, 0.5 * RADIUS)
    points = []
    for k, m in enumerate(counts):
        r = rng.uniform(*(high if k == 1 else low), m)
        angle = rng.uniform(0.0, 2 * np.pi, m)
        points.append(np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1))
    return points


def _angle(k: int, K: int) -> float:
    """Where class k sits, as an angle: with two classes class 1 at 45° and class 0 at
    225°, the Playground's blobs at (2, 2) and (-2, -2) and its arms; more classes are
    spread evenly round the circle from there."""
    return 5 * np.pi / 4 + 2 * np.pi * k / K


def _gauss(rng: np.random.Generator, counts: list[int]) -> list[Array]:
    """One round blob of standard deviation 1 per class, centred 2√2 from the origin."""
    centre = 2 * math.sqrt(2)
    K = len(counts)
    points = []
    for k, m in enumerate(counts):
        c = centre * np.array([math.cos(_angle(k, K)), math.sin(_angle(k, K))])
        points.append(c + rng.standard_normal((m, 2)))
    return points


def _spiral(rng: np.random.Generator, counts: list[int]) -> list[Array]:
    """One arm per class, r growing from 0 to R over 1.75 turns, the arms rotated
    2π/K apart so they interleave. The points are evenly spaced along the arm, as in the
    Playground; the noise alone is random."""
    K = len(counts)
    points = []
    for k, m in enumerate(counts):
        s = np.arange(m) / m
        t = 1.75 * 2 * np.pi * s + _angle(k, K) - np.pi / 4
        points.append(np.stack([RADIUS * s * np.sin(t), RADIUS * s * np.cos(t)], axis=1))
    return points


def _moons(rng: np.random.Generator, counts: list[int]) -> list[Array]:
    """sklearn's make_moons, scaled from radius 1 to the Playground's frame: class 0 the
    upper half circle, class 1 the lower one shifted right and up so they interleave,
    points evenly spaced along each."""
    upper = np.linspace(0.0, np.pi, counts[0])
    lower = np.linspace(0.0, np.pi, counts[1])
    scale = RADIUS / 2  # the moons span x in [-1, 2]: centred on 0.5 they fit [-R, R]
    return [scale * np.stack([np.cos(upper) - 0.5, np.sin(upper) - 0.25], axis=1),
            scale * np.stack([0.5 - np.cos(lower), 0.25 - np.sin(lower)], axis=1)]


SHAPES: dict[str, Shape] = {"xor": _xor, "circle": _circle, "gauss": _gauss, "spiral": _spiral,
                            "moons": _moons}


def make_dataset(name: str, samples: int = 200, noise: float = 0.1, seed: int = 42,
                 classes: int = 2) -> Dataset:
    """A Playground shape with 0/1 (or 0..K-1) labels, every row training.

    The classes get samples // K rows each (the first few one more), so the balance is
    exact rather than left to chance; the rows are then shuffled, so a mini-batch of the
    first rows is not all one class. Noise is Gaussian with standard deviation
    noise * R added to both coordinates after the label is fixed, as sklearn does: the
    label says where the point came from, and noise makes the classes overlap."""
    if name not in SHAPES:
        raise ValueError(f"unknown data set {name!r}: choose from {', '.join(SHAPES)}")
    if (isinstance(samples, bool) or not isinstance(samples, int | np.integer)
            or not 1 <= samples <= MAX_SAMPLES):
        raise ValueError(f"samples must be a whole number from 1 to {MAX_SAMPLES:,}, got {samples!r}")
    if isinstance(noise, bool) or not isinstance(noise, int | float) or not 0.0 <= noise <= MAX_NOISE:
        raise ValueError(f"noise must be from 0 to {MAX_NOISE}, got {noise!r}")
    if classes != 2 and not (classes == 3 and name in MULTICLASS):
        raise ValueError(f"{name} has 2 classes; only {' and '.join(MULTICLASS)} also come in 3, "
                         f"got classes={classes!r}")
    if samples < classes:
        raise ValueError(f"samples must be at least the number of classes ({classes}), got {samples}")
    _check_seed(seed)
    rng = np.random.default_rng([seed, SHAPE_STREAM])
    counts = [samples // classes + (k < samples % classes) for k in range(classes)]
    X = np.concatenate(SHAPES[name](rng, counts))
    y = np.repeat(np.arange(classes, dtype=np.int64), counts)
    X = X + noise * RADIUS * rng.standard_normal(X.shape)
    order = rng.permutation(samples)
    return Dataset(X[order], y[order], name)


def standardize(train_X: Array, X: Array) -> Array:
    """X with each feature shifted and scaled by the training rows' mean and standard
    deviation, so the test rows are transformed exactly as the network saw the training
    ones (their own statistics would leak the test set into the model).

    A constant feature is only centred: dividing by its zero deviation would make NaN,
    and a column of zeros is the honest value of a feature that says nothing.

    Each feature is first divided by a power of two near its largest training value: exact,
    so every number is what the plain formula gives, but a sum or a square of values near
    1e308 does not overflow (which would make the mean infinite, or the deviation, dividing
    the feature to zeros). A row that still standardizes past the largest float (a test row
    far out from training rows that barely vary) is refused with its feature named."""
    train_X = np.asarray(train_X, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    if train_X.ndim != 2 or train_X.shape[0] < 1:
        raise ValueError(f"train_X must be a non-empty (samples, features) matrix, got shape {train_X.shape}")
    if X.ndim != 2 or X.shape[1] != train_X.shape[1]:
        raise ValueError(f"X must have train_X's {train_X.shape[1]} features, got shape {X.shape}")
    # 2**(e-1) for a largest magnitude m * 2**e (0.5 <= m < 1): scaled, it is in [1, 2), and
    # 2**1023 is still finite. A column of zeros keeps the scale 2**-1, exact all the same.
    scale = np.ldexp(1.0, np.frexp(np.max(np.abs(train_X), axis=0))[1] - 1)
    scaled_train = train_X / scale
    mean = scaled_train.mean(axis=0)
    sd = scaled_train.std(axis=0)
    # A feature constant up to rounding has a deviation of a few ulps of its mean: also constant.
    # (The plain rule, sd <= 1e-12 * max(|mean|, 1), with both sides divided by the scale.)
    with np.errstate(over="ignore", divide="ignore"):
        constant = sd <= 1e-12 * np.maximum(np.abs(mean), 1.0 / scale)
        centred = X / scale - mean
        # A constant feature is centred in its own units (times the scale, exact again).
        standardized: Array = np.where(constant, centred * scale, centred / np.where(constant, 1.0, sd))
    _check_finite(standardized, X)
    return standardized


def _check_finite(standardized: Array, X: Array) -> None:
    bad = np.argwhere(~np.isfinite(standardized))
    if len(bad):
        row, column = (int(i) for i in bad[0])
        raise DataError(lambda n: f"feature {column + 1}: row {row + 1} of the data ({X[row, column]:.6g}) "
                                  "is too far from the training rows' values to standardize (it scales past "
                                  f"the largest number): rescale that column or leave {n('standardize')} out")


# CSV.


def parse_csv(text: str, name: str = "csv") -> Dataset:
    """The Dataset the CSV text describes, or DataError naming the first bad line (the rules,
    and how lines are counted, in engine.data.csv_rows; the reading in engine.data.csv_table)."""
    # Here, not at the top: a run without a CSV does not pay for the reader's import.
    from engine.data.csv_rows import nul_refusal, numbered_lines
    from engine.data.csv_table import read_table

    nul_refusal(text)
    table = read_table(partial(numbered_lines, text), text.count("\n") + 1, MAX_SAMPLES)
    return Dataset(table.X, table.y, name, columns=table.columns, class_names=table.class_names)


def read_csv(path: str | PathLike[str]) -> Dataset:
    """The CSV file at path as a Dataset named after the file, or DataError saying what
    is wrong, whether with the file (missing, a directory, a FIFO, too large, not text)
    or with a line of it: one exception for the caller to catch and show. The file is read as
    a stream (engine.data.csv_file), never whole into memory."""
    # Here, not at the top: a run without a CSV does not pay for the reader's import.
    from engine.data.csv_file import file_lines, survey
    from engine.data.csv_table import read_table
    from engine.files import open_user_file

    given = Path(path)
    try:
        with open_user_file(given, "CSV file") as file:
            table = read_table(partial(file_lines, file), survey(file), MAX_SAMPLES)
    except OSError as error:
        raise DataError(str(error)) from None
    return Dataset(table.X, table.y, given.stem or "csv", columns=table.columns,
                   class_names=table.class_names)
