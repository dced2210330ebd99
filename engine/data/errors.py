"""The one exception the data layer raises for data that cannot be used, in a module of its own
so the data set and each CSV reader can raise it without importing one another."""

from __future__ import annotations

from engine.settings.errors import NamedError


class DataError(NamedError):
    """A data set that cannot be used, with a message naming the line and the problem."""


class LabelError(DataError):
    """A label that cannot be used: the reader adds, when the header names another column
    as a label (MNIST's `label` first), that the label must be the last column."""
