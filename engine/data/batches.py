"""Training data for the stepper: the prepared data set, which rows each step trains on,
and how well the parameters fit the training and test rows.

A step's batch is a pure function of the seed and the step number (the rows of step s
are slice k of epoch e's permutation), never a generator advanced as the run goes: so
undo, a replayed session and a headless trace all see the same rows at the same step,
and the order is reproducible from the seed alone. Its draws come from their own stream
(np.random.default_rng([seed, BATCH_STREAM, epoch])), so the initial parameters are the
same with or without data.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache

import numpy as np
from numpy.typing import NDArray

from engine.data.sets import Dataset, Indices, make_dataset, read_csv, split, standardize
from engine.maths import network
from engine.maths.features import Feature, expand
from engine.maths.features import parse as parse_features
from engine.maths.network import Architecture, Array, Params
from engine.settings.config import Config, ConfigError, binary_size

BATCH_STREAM = 2  # after engine.data.sets's SHAPE_STREAM and SPLIT_STREAM
#: Bytes a step's batch tensors may take (activations(), 8 bytes a number): a step and the
#: phase before it, which the undo history keeps whatever its budget, stay within a few GiB.
#: Unbounded, 80,000 rows through 100,000 units asked NumPy for 59.6 GiB at the first forward.
STEP_BUDGET = 2**30


@dataclass(frozen=True)
class Metrics:
    """How the parameters of one step's forward pass fit the data: the mean loss and the
    fraction classified right, over every training row and every test row (None without
    test rows; for accuracy, also where a user's model gives no output to read, or where a
    row's outputs are not finite, which predicts nothing: network.decided)."""

    train_loss: float
    train_accuracy: float | None
    test_loss: float | None
    test_accuracy: float | None


@dataclass(frozen=True, eq=False)
class Data:
    """A split (and, if asked, standardized) data set and the mini-batch plan over it."""

    dataset: Dataset
    batch: int  # rows a step; the whole training split for full-batch descent
    seed: int
    standardized: bool = False
    #: The inputs as features of the plane's two columns (engine.maths.features), and those
    #: columns: the points, split and standardized as `dataset`, that the map draws and
    #: Explain substitutes. (), None: the dataset's own columns are the inputs and the plane.
    features: tuple[Feature, ...] = ()
    plane_data: Dataset | None = None

    @property
    def plane(self) -> Dataset:
        """The rows as points of the input plane: the map's axes and dots."""
        return self.plane_data if self.plane_data is not None else self.dataset

    @property
    def axis_names(self) -> tuple[str, ...]:
        """The plane's columns' names: a CSV file's header's, else x1, x2, ..."""
        return self.plane.column_names

    def inputs_at(self, points: Array) -> Array:
        """The network's inputs at points of the plane (N, 2): their features, or themselves."""
        return expand(points, self.features) if self.features else points

    @property
    def full_batch(self) -> bool:
        return self.batch >= len(self.dataset.train)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.dataset.train) / self.batch)

    def epoch(self, step: int) -> int:
        """The epoch (from 1) step (from 1) belongs to."""
        return (step - 1) // self.steps_per_epoch + 1

    def rows(self, step: int) -> Indices:
        """The dataset rows step trains on: the whole training split in order for full
        batches; otherwise slice k of the epoch's shuffle of it (the last slice of an epoch
        may be shorter, so every training row is seen once an epoch)."""
        train = self.dataset.train
        if self.full_batch:
            return train
        k = (step - 1) % self.steps_per_epoch
        order = _shuffle(self.seed, self.epoch(step), len(train))
        rows: Indices = train[order[k * self.batch:(k + 1) * self.batch]]
        return rows

    @cached_property
    def parts(self) -> tuple[Indices, NDArray[np.int64]]:
        """Each row's part, 0 training and 1 test, and the two parts' sizes."""
        part = np.zeros(self.dataset.samples, dtype=np.intp)
        part[self.dataset.test] = 1
        return part, np.array([len(self.dataset.train), len(self.dataset.test)])

    def inputs(self, rows: Indices) -> tuple[Array, NDArray[np.int64]]:
        """The batch matrix (one sample a row) and its labels."""
        return self.dataset.X[rows], self.dataset.y[rows]


@lru_cache(maxsize=4)
def _shuffle(seed: int, epoch: int, n: int) -> Indices:
    order: Indices = np.random.default_rng([seed, BATCH_STREAM, epoch]).permutation(n)
    order.setflags(write=False)
    return order


def prepare(dataset: Dataset, test_fraction: float, batch: int, seed: int,
            standardized: bool = False, features: tuple[Feature, ...] = ()) -> Data:
    """Split from the seed, standardize by the training rows' statistics if asked, compute
    the features of the (standardized) columns, and plan batches of `batch` rows (0: the
    whole training split).

    Standardizing comes before the features, so x1² is the square of the x1 the map's axis
    shows: the plane is one, whichever inputs the network takes of it."""
    dataset = split(dataset, test_fraction, seed)
    if standardized:
        X = standardize(dataset.X_train, dataset.X)
        dataset = replace(dataset, X=X)
    size = min(batch or len(dataset.train), len(dataset.train))
    if not features:
        return Data(dataset, size, seed, standardized)
    x1, x2 = dataset.column_names
    names = tuple(f.symbol((x1, x2)) for f in features)
    inputs = replace(dataset, X=expand(dataset.X, features), columns=names)
    return Data(inputs, size, seed, standardized, features, dataset)


def load(name: str, csv: str, samples: int, noise: float, classes: int, seed: int) -> Dataset:
    """A generated shape, or a CSV file (engine.data.sets.DataError when it is malformed)."""
    if csv:
        return read_csv(csv)
    return make_dataset(name, samples, noise, seed, max(2, classes))


def activations(arch: Architecture, rows: int) -> int:
    """Numbers a step on `rows` rows holds for its batch: x, z and a of every layer and their
    gradients, four a unit, a row a sample (engine.run.stepper.step_bytes adds the parameters')."""
    return rows * sum(arch.sizes) * 4


def check_step(config: Config, data: Data, given: Collection[str] = ()) -> None:
    """ConfigError when one step on the batch would take more than STEP_BUDGET, refused
    before anything is allocated. `config` is fitted to the data; `given` (the settings the
    user gave, as the flags spell them) decides which one the message is about."""
    arch, rows = config.architecture, data.batch
    need = 8 * activations(arch, rows)
    if need <= STEP_BUDGET:
        return
    widest, fits = max(arch.sizes), STEP_BUDGET // (8 * activations(arch, 1))
    whole = " (the whole training split)" if data.full_batch else ""
    # About a setting the user gave that changes it, or else where the rows came from.
    key = next((k for k in ("batch", "hidden", "samples") if k in given),
               "data" if config.data else "dataset")
    raise ConfigError(key, lambda n: f"a step on {rows:,} rows{whole} through {widest:,} units (the widest "
                           f"layer) makes {binary_size(8 * rows * widest)} matrices, {binary_size(need)} "
                           f"in all with their gradients; a step may take {binary_size(STEP_BUDGET)}: give "
                           f"{n('batch')} {fits:,} or less, or narrower layers")


def every_row(arch: Architecture, params: Params, dataset: Dataset
              ) -> tuple[Array, NDArray[np.int64], NDArray[np.bool_]]:
    """Each row's loss, predicted class and whether its outputs are finite (network.decided):
    one forward pass of all rows, in chunks of rows so that its memory is bounded
    (network.forward_chunks). The fit (evaluate) and the confusion tables read it."""
    losses = np.empty(dataset.samples)
    predicted = np.empty(dataset.samples, dtype=np.int64)
    decided = np.empty(dataset.samples, dtype=bool)
    with np.errstate(all="ignore"):  # a diverged network's rows: NaN, not a warning
        for rows, cache, each in network.forward_chunks(arch, dataset.X, params, dataset.y, output=False):
            zL = cache[f"z{arch.depth}"]
            losses[rows], predicted[rows], decided[rows] = each, network.predictions(zL), network.decided(zL)
    return losses, predicted, decided


def evaluate(arch: Architecture, params: Params, data: Data) -> Metrics:
    """Loss and accuracy on every training and test row (every_row)."""
    dataset = data.dataset
    losses, predicted, decided = every_row(arch, params, dataset)
    right = predicted == dataset.y
    # Sums over the training rows (part 0) and the test rows (part 1), one call each.
    part, counts = data.parts
    loss = np.bincount(part, weights=losses, minlength=2) / np.maximum(counts, 1)
    accuracy = np.bincount(part, weights=right, minlength=2) / np.maximum(counts, 1)
    undecided = np.bincount(part, weights=~decided, minlength=2)
    fraction = [None if undecided[p] else float(accuracy[p]) for p in (0, 1)]
    tested = bool(counts[1])
    return Metrics(float(loss[0]), fraction[0], float(loss[1]) if tested else None,
                   fraction[1] if tested else None)


def from_config(config: Config) -> Data | None:
    """The data a configuration names, split and planned; None for the notebook's one
    sample. Raises engine.data.sets.DataError for a malformed CSV file."""
    if not config.learns_from_data:
        return None
    return drawn(config, config.seed)


def drawn(config: Config, seed: int) -> Data:
    """The data a configuration names, drawn from `seed` rather than the config's own: a
    shape's points, the split and the batches' order (a CSV file's rows are the file's).
    The app's d draws them again from a new seed, as Playground's "Regenerate"."""
    dataset = load(config.dataset, config.data, config.samples, config.noise, config.classes, seed)
    if config.features and dataset.features != 2:
        raise ConfigError("features", f"are features of a point of the plane, x1 and x2: "
                                      f"{dataset.name} has {dataset.features} column(s) of features")
    return prepare(dataset, config.test_fraction, config.batch, seed, config.standardize,
                   parse_features(config.features) if config.features else ())


def fitted(config: Config, data: Data) -> Config:
    """The configuration with the network's input and output sizes the data's: a feature an
    input; one sigmoid unit for two classes (a softmax of two when --classes 2 asks for it),
    else a softmax unit a class."""
    dataset = data.dataset
    classes = 2 if config.classes == 2 and dataset.classes == 2 else dataset.output_classes
    return replace(config, inputs=dataset.features, classes=classes, x=(),
                   y=min(config.y, max(1, classes - 1)))
