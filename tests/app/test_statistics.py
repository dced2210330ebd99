"""The statistics the summaries and zoom show (tui.app.widgets.statistics): the same figures
as the plain formulas, without overflow, of the finite values only."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tui.app.widgets.statistics import real_values, statistics


def test_the_figures_are_the_plain_formulas() -> None:
    value = np.random.default_rng(7).standard_normal((256, 784))
    found = statistics(value)
    assert (found.size, found.finite, found.nonfinite, found.what) == (value.size, value.size, 0, "")
    assert found.low == value.min() and found.high == value.max()
    assert found.mean == pytest.approx(value.mean(), rel=1e-12)
    assert found.norm == pytest.approx(float(np.linalg.norm(value)), rel=1e-12)


def test_only_the_finite_values_count() -> None:
    found = statistics(np.array([[1.0, np.nan], [-3.0, np.inf]]))
    assert (found.finite, found.nonfinite) == (2, 2)
    assert (found.low, found.high, found.mean) == (-3.0, 1.0, -1.0)
    assert found.norm == pytest.approx(math.sqrt(10))


def test_no_finite_value_has_no_figures() -> None:
    found = statistics(np.array([np.nan, -np.inf]))
    assert (found.finite, found.nonfinite, found.low, found.mean, found.norm) == (0, 2, None, None, None)


def test_huge_values_neither_overflow_the_mean_nor_the_norm() -> None:
    found = statistics(np.full(200, 1.7e308))
    assert found.mean == pytest.approx(1.7e308) and math.isfinite(found.mean)
    assert found.norm is not None and math.isinf(found.norm)  # the true norm is past float64
    found = statistics(np.array([1e300, -1e300]))
    assert found.norm == pytest.approx(math.sqrt(2) * 1e300)


def test_zeros_have_a_norm_and_mean_of_zero() -> None:
    found = statistics(np.zeros((3, 40)))
    assert (found.low, found.high, found.mean, found.norm) == (0.0, 0.0, 0.0, 0.0)


def test_complex_numbers_by_their_magnitudes_and_integers_as_floats() -> None:
    found = statistics(np.array([3 + 4j, 0j]))
    assert (found.what, found.low, found.high, found.mean, found.norm) == ("|v| ", 0.0, 5.0, 2.5, 5.0)
    found = statistics(np.array([True, False, True]))
    assert (found.low, found.high, found.norm) == (0.0, 1.0, pytest.approx(math.sqrt(2)))
    assert statistics(np.array(["a"], dtype=object)).size == 0


def test_float64_values_are_read_in_place() -> None:
    value = np.arange(12.0).reshape(3, 4)
    assert np.shares_memory(real_values(value)[0], value)
    assert not np.shares_memory(real_values(value.astype(np.float32))[0], value)
