"""One sample of a mini-batch, as the screens show it.

A batch's forward cache and its intermediate gradients (dz, da) are matrices, one row a
sample; its parameter gradients are the means over the rows. A screen of 160-row matrices
reads as noise, so the panels draw one sample at a time (`[` and `]` step through the
batch): the state is sliced to that sample's rows, the parameter gradients stay the batch
means the update uses, and `Sample` carries what the slice leaves out (the sample's own
loss, label and prediction, and the whole batch for the explanations of a mean).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.maths import network
from engine.maths.network import Array, Tensors
from engine.model.conventions import COLUMNS
from engine.run.stepper import State, View


@dataclass(frozen=True, eq=False)
class Sample:
    """Sample `index` (from 0) of a batch of `size`: dataset row `row`, label `y`."""

    index: int
    size: int
    row: int
    x: Array
    y: int
    loss: float | None  # its own loss; None where the model's loss per sample is unknown
    batch: State  # the whole batch's state: the explanation of a mean reads every row
    X: Array  # the batch's inputs, one sample a row
    labels: NDArray[np.int64]  # the batch's labels


def per_sample(value: Any, size: int) -> bool:
    """Whether a cached value holds one row a sample of a batch of `size`."""
    return isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == size


def per_column(name: str, value: Any, size: int) -> bool:
    """Whether a deeplearning.ai cache leaf holds one column a sample (Z1 (n_h, m)); the
    parameters its linear caches keep (".W", ".b") never do, whatever their shape."""
    return isinstance(value, np.ndarray) and value.ndim == 2 and value.shape[1] == size \
        and not name.endswith((".W", ".b"))


def _slice(name: str, value: Any, size: int, index: int, columns: bool) -> Any:
    """Sample `index`'s part of a cached value: its row, or for the deeplearning.ai
    convention its column, kept a column (n, 1) as the course writes one sample."""
    if columns:
        return value[:, index:index + 1] if per_column(name, value, size) else value
    return value[index] if per_sample(value, size) else value


def sample_view(view: View, index: int) -> View:
    """The view with the batch sliced to sample `index` (clamped to the batch), or the view
    itself for the one sample. Parameter gradients stay the batch means."""
    state, data, rows = view.state, view.data, view.state.rows
    if data is None or rows is None or state.forward is None:
        return view
    size = len(rows)
    index = min(max(index, 0), size - 1)
    X, labels = data.inputs(rows)
    forward = state.forward
    columns = view.convention in COLUMNS
    cache = {name: _slice(name, value, size, index, columns) for name, value in forward.cache.items()}
    loss = _own_loss(view, cache, int(labels[index]))
    params = set(state.params)
    backward: Tensors | None = None
    if state.backward is not None:
        backward = {name: value if name[1:] in params else _slice(name, value, size, index, columns)
                    for name, value in state.backward.items()}
    sliced = replace(state, forward=replace(forward, cache=cache), backward=backward)
    sample = Sample(index, size, int(rows[index]), X[index], int(labels[index]), loss, state, X,
                    labels)
    config = replace(view.config, x=tuple(float(v) for v in X[index]), y=int(labels[index]))
    return replace(view, state=sliced, config=config, sample=sample)


def _own_loss(view: View, cache: Tensors, y: int) -> float | None:
    """The sample's own loss, from its output row (the built-in network's; a user's model
    caches what it likes)."""
    if view.user_code:
        return None
    arch = view.config.architecture
    z = cache.get(f"z{arch.depth}")
    if not isinstance(z, np.ndarray):
        return None
    with np.errstate(all="ignore"):
        return float(network.output_loss(arch.loss, z, y))
