"""Confusion tables: how many rows of each true class the network predicts as each class,
over the training rows and over the test rows (what the decision-boundary panel shows in
place of a map when there is no plane to draw: more than 2 inputs)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from engine.data.batches import Data, every_row
from engine.maths.network import Architecture, Params

Counts = NDArray[np.int64]


def confusion(arch: Architecture, params: Params, data: Data) -> dict[str, Counts]:
    """counts[true, predicted] over the training rows ("train") and over the test rows
    ("test"), of the rows whose outputs are finite (network.decided): a row whose outputs
    are not finite predicts no class. One forward pass over every row (every_row)."""
    dataset = data.dataset
    _, predicted, decided = every_row(arch, params, dataset)
    k = dataset.classes
    tables = {}
    for name, rows in (("train", dataset.train), ("test", dataset.test)):
        rows = rows[decided[rows]]
        counts = np.zeros((k, k), dtype=np.int64)
        np.add.at(counts, (dataset.y[rows], np.clip(predicted[rows], 0, k - 1)), 1)
        tables[name] = counts
    return tables


def split_sizes(data: Data) -> dict[str, int]:
    """The rows of each split, decided or not: a table whose total falls short of its split
    has rows with outputs that are not finite."""
    return {"train": len(data.dataset.train), "test": len(data.dataset.test)}
