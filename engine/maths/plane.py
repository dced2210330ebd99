"""The input plane of 2-input data: what the model predicts at every point of it.

A decision-boundary map is the model evaluated on a grid over the plane the data lives in.
The grid is one batch, so the whole map costs one forward pass (engine.maths.network.forward_chunks)
of cols x rows rows: at 120 x 80 points that is about a millisecond, and the map can be
redrawn after every update. Row 0 of a grid is the top of the picture (the largest x2), as
a screen draws it, and column 0 its left (the smallest x1).

Pure NumPy: the widget that colours the field (tui.app.widgets.boundary) is the only thing
that knows about a screen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engine.maths import network
from engine.maths.network import Architecture, Array, Params, Tensors

MARGIN = 0.08  # of each axis' span, either side: points on the edge stay inside the picture


@dataclass(frozen=True)
class Plane:
    """The rectangle shown: [x1_low, x1_high] by [x2_low, x2_high]. The two axes are scaled
    separately (cells are not square): the data fills the picture whatever its shape."""

    x1_low: float
    x1_high: float
    x2_low: float
    x2_high: float

    @classmethod
    def around(cls, X: Array, margin: float = MARGIN) -> Plane:
        """Bounds of every row of X (training and test alike, so the picture does not move
        when the split changes), widened by `margin` of the span on each side. A degenerate
        axis (every value equal) gets a span of 1, so a grid over it still has width."""
        low, high = np.min(X[:, :2], axis=0), np.max(X[:, :2], axis=0)
        span = np.where(high > low, high - low, 1.0)
        low, high = low - margin * span, high + margin * span
        return cls(float(low[0]), float(high[0]), float(low[1]), float(high[1]))

    def grid(self, cols: int, rows: int) -> Array:
        """The centres of cols x rows cells, one point a row of the result, row-major from
        the top left: shape (rows * cols, 2)."""
        x1 = self.x1_low + (np.arange(cols) + 0.5) * (self.x1_high - self.x1_low) / cols
        x2 = self.x2_high - (np.arange(rows) + 0.5) * (self.x2_high - self.x2_low) / rows
        points: Array = np.empty((rows, cols, 2))
        points[..., 0] = x1[None, :]
        points[..., 1] = x2[:, None]
        return points.reshape(-1, 2)

    def cell(self, X: Array, cols: int, rows: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """The (row, column) of the grid cell each row of X falls in, clipped to the grid."""
        col = np.floor((X[:, 0] - self.x1_low) / (self.x1_high - self.x1_low) * cols)
        row = np.floor((self.x2_high - X[:, 1]) / (self.x2_high - self.x2_low) * rows)
        return (np.clip(row, 0, rows - 1).astype(np.intp), np.clip(col, 0, cols - 1).astype(np.intp))


@dataclass(frozen=True, eq=False)
class Field:
    """The model over a grid, each array of shape (rows, cols).

    For the prediction: `classes` is the class predicted at each point and `value` the
    probability the model gives it (for one sigmoid unit, `value` is p(class 1) and
    `classes` is value > 0.5: the boundary is where value crosses 0.5). For a hidden unit,
    `classes` is None and `value` is the unit's activation a_l[i]."""

    value: Array
    classes: NDArray[np.int64] | None
    unit: tuple[int, int] | None = None


def field(arch: Architecture, params: Params, plane: Plane, cols: int, rows: int,
          unit: tuple[int, int] | None = None, inputs: Callable[[Array], Array] | None = None) -> Field:
    """The model's prediction at every cell centre, or hidden unit i of layer l's activation
    (unit = (l, i), l from 1) there. The labels fed to the forward pass are zeros: the loss
    it also computes is not read. Raises ValueError for a unit the network does not have.

    Inputs:
    - arch, params: the network, W_l of shape (n_l, n_(l-1)) and b_l of shape (n_l,)
    - plane: the rectangle of the two coordinates (arch.inputs is 2, or the features' count)
    - cols, rows: the grid's size
    - unit: (l, i) for hidden unit i of layer l, or None for the prediction
    - inputs: the network's inputs at points of the plane (its features, engine.maths.features,
      as Playground's map draws over x1, x2 whatever the inputs are); None: the points themselves

    Returns a Field whose arrays have shape (rows, cols).
    """
    if unit is not None:
        layer, index = unit
        if not 1 <= layer < arch.depth or not 0 <= index < arch.sizes[layer]:
            raise ValueError(f"no hidden unit a{layer}[{index}] in {arch.sizes}")
    points = plane.grid(cols, rows) if inputs is None else inputs(plane.grid(cols, rows))
    if unit is not None:
        value = over_grid(arch, params, points, lambda cache: cache[f"a{layer}"][:, [index]])[:, 0]
        return Field(value.reshape(rows, cols), None, unit)
    # Each chunk's likeliest class is taken at once: a softmax's K columns are never all kept.
    both = over_grid(arch, params, points,
                     lambda cache: np.column_stack(_likeliest(arch, cache[f"a{arch.depth}"])))
    return Field(both[:, 0].reshape(rows, cols), both[:, 1].astype(np.int64).reshape(rows, cols))


def over_grid(arch: Architecture, params: Params, points: Array,
              read: Callable[[Tensors], Array]) -> Array:
    """`read` of each chunk's forward pass over the points, stacked: the one loop the maps
    share. The labels fed to the pass are zeros (the loss it also computes is not read), and
    a diverged network reads as NaN without warning.

    Inputs:
    - points: shape (N, 2), rows of the plane (Plane.grid)
    - read: from a chunk's cache to an array of shape (rows of the chunk, k)

    Returns an array of shape (N, k).
    """
    labels = np.zeros(len(points), dtype=np.int64)
    parts: list[Array] = []
    with np.errstate(all="ignore"):
        for _, cache, _ in network.forward_chunks(arch, points, params, labels):
            parts.append(np.asarray(read(cache), dtype=np.float64))
    return np.concatenate(parts)


def unit_maps(arch: Architecture, params: Params, plane: Plane, cols: int, rows: int,
              shown: tuple[int, ...], inputs: Callable[[Array], Array] | None = None) -> list[Array]:
    """Every layer's first units over the plane, as the network picture draws them: for
    layer l = 0 .. L, the activations a_l[0 .. shown[l]) at each cell centre (a_0 is the
    input x itself, a_L the output's sigmoid or softmax). One forward pass serves them all.

    Inputs:
    - shown: how many units of each layer, shape (L + 1,), each at most arch.sizes[l]
    - inputs: the network's inputs at points of the plane (its features), as field() takes them

    Returns for each layer an array of shape (shown[l], rows, cols).
    """
    names = ["x", *(f"a{l}" for l in range(1, arch.depth + 1))]
    points = plane.grid(cols, rows) if inputs is None else inputs(plane.grid(cols, rows))
    values = over_grid(arch, params, points,
                       lambda cache: np.concatenate([cache[name][:, :k] for name, k
                                                     in zip(names, shown, strict=True)], axis=1))
    ends = np.cumsum(shown)[:-1]
    return [part.T.reshape(len(part.T), rows, cols) for part in np.split(values, ends, axis=1)]


def _likeliest(arch: Architecture, aL: Array) -> tuple[Array, NDArray[np.int64]]:
    """Each point's likeliest class and its probability (one sigmoid unit: p itself).

    Inputs:
    - aL: the output's activations, shape (N, n_L)

    Returns (probability, class), each of shape (N,).
    """
    if arch.classes == 1:
        p: Array = aL[:, 0]
        return p, (p > 0.5).astype(np.int64)
    classes = np.argmax(aL, axis=1)
    return aL[np.arange(len(aL)), classes], classes.astype(np.int64)
