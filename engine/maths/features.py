"""Feature inputs as TensorFlow Playground's: the network's inputs as functions of the two
coordinates of a point of the plane, x1 and x2.

Playground offers seven: x1, x2, x1², x2², x1·x2, sin(x1) and sin(x2). Here they are named
as a person types them (x1^2, x1*x2, sin(x1)) and read by a small grammar of their own:

    feature := var | var "^2" | var "*" var | "sin(" var ")"        var := "x1" | "x2"

with spaces allowed around each part. Nothing is ever evaluated: a name is matched, turned
into a Feature (what to compute and of which coordinates) and kept only if it is one of the
seven, so nothing a config or a session file holds runs as code.

Pure NumPy: the data (engine.data) compute the columns, the decision-boundary map
(engine.maths.plane) the same features of every grid point, Explain writes them out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

#: Playground's seven, in its order: what a feature may be, as typed.
FEATURES = ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)")
#: Playground's default, and the data's own two columns: the plane itself.
PLANE = ("x1", "x2")

_VAR = r"\s*(x[12])\s*"
#: Each form of the grammar, as (operation, pattern of the whole feature).
_FORMS = (("identity", re.compile(_VAR)),
          ("square", re.compile(_VAR + r"\^\s*2\s*")),
          ("product", re.compile(_VAR + r"\*" + _VAR)),
          ("sin", re.compile(r"\s*sin\s*\(" + _VAR + r"\)\s*")))


class FeatureError(ValueError):
    """A feature list that names something that is not one of the seven."""


@dataclass(frozen=True)
class Feature:
    """One input of the network: `operation` of the coordinates `of` (0 for x1, 1 for x2)."""

    operation: str  # identity, square, product or sin
    of: tuple[int, ...]

    @property
    def name(self) -> str:
        """As typed and as a config or a session keeps it: x1^2."""
        return self._written("x1", "x2", square="^2", times="*")

    def symbol(self, names: tuple[str, str] = PLANE) -> str:
        """As Explain and the panels write it, in the coordinates' names: x1², x1·x2."""
        return self._written(*names, square="²", times="·")

    def _written(self, first: str, second: str, square: str, times: str) -> str:
        v = [(first, second)[i] for i in self.of]
        if self.operation == "square":
            return f"{v[0]}{square}"
        if self.operation == "product":
            return f"{v[0]}{times}{v[1]}"
        if self.operation == "sin":
            return f"sin({v[0]})"
        return v[0]

    def of_values(self, x1: float, x2: float, written: Callable[[float], str] = "{:.4g}".format) -> str:
        """The feature with the coordinates' values (each as `written` writes a number) in
        place of their names: 0.61², sin(-0.2)."""
        values = [written((x1, x2)[i]) for i in self.of]
        if self.operation == "square":
            return f"{_paren(values[0])}²"
        if self.operation == "product":
            return f"{values[0]} · {values[1]}"
        if self.operation == "sin":
            return f"sin({values[0]})"
        return values[0]

    def numpy(self, points: str) -> str:
        """The feature as a NumPy expression of the named (N, 2) matrix, for a notebook: the
        same operations compute does, so its numbers are the same bits."""
        x = [f"{points}[:, {i}]" for i in self.of]
        if self.operation == "square":
            return f"{x[0]} * {x[0]}"
        if self.operation == "product":
            return f"{x[0]} * {x[1]}"
        if self.operation == "sin":
            return f"np.sin({x[0]})"
        return x[0]

    def compute(self, points: Array) -> Array:
        """The feature of each point: points has shape (N, 2), the result (N,)."""
        x = [points[:, i] for i in self.of]
        if self.operation == "square":
            return x[0] * x[0]
        if self.operation == "product":
            return x[0] * x[1]
        if self.operation == "sin":
            result: Array = np.sin(x[0])
            return result
        return np.array(x[0], dtype=np.float64)


def _paren(text: str) -> str:
    return f"({text})" if text.startswith("-") else text


def parse_one(text: str) -> Feature:
    """A feature as typed, or FeatureError naming it and the seven allowed."""
    for operation, pattern in _FORMS:
        match = pattern.fullmatch(text)
        if match:
            feature = Feature(operation, tuple(int(v[1]) - 1 for v in match.groups()))
            if feature.name in FEATURES:
                return feature
            break
    raise FeatureError(f"{text.strip()!r} is not a feature: choose from {', '.join(FEATURES)}")


def parse(names: tuple[str, ...]) -> tuple[Feature, ...]:
    """Features as a config holds them (one name each), checked: each one of the seven and
    none twice (a repeated column would only make two weights share one input's work)."""
    if not names:
        raise FeatureError(f"needs at least one feature: choose from {', '.join(FEATURES)}")
    features = tuple(parse_one(name) for name in names)
    seen = [f.name for f in features]
    twice = next((name for i, name in enumerate(seen) if name in seen[:i]), None)
    if twice is not None:
        raise FeatureError(f"{twice!r} is given twice: each feature is one input")
    return features


def split(text: str) -> tuple[str, ...]:
    """A comma-separated list as a flag or a form field holds it; empty text: none."""
    return tuple(part.strip() for part in text.split(",")) if text.strip() else ()


def canonical(names: tuple[str, ...]) -> tuple[str, ...]:
    """The names as a config keeps them (x1^2, not ' x1 ^ 2'); the plane's two when they are
    the plane's own columns, which a config keeps as () (no features: the data as read)."""
    kept = tuple(f.name for f in parse(names))
    return () if kept == PLANE else kept


def expand(points: Array, features: tuple[Feature, ...]) -> Array:
    """The network's inputs: each feature of each point, shape (N, len(features))."""
    points = np.asarray(points, dtype=np.float64)
    out: Array = np.empty((len(points), len(features)))
    for j, feature in enumerate(features):
        out[:, j] = feature.compute(points)
    return out
