"""The gradient check's verdicts in bounded memory: the central rule judges a tensor a chunk
at a time (engine.check.verdicts.JUDGED_AT_ONCE), with the same verdicts as all at once."""

from __future__ import annotations

import numpy as np
import pytest

from engine.check import verdicts
from engine.check.verdicts import judge
from tests.helpers import peak_allocated


def _tensors() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    analytic = rng.standard_normal((9, 101))
    numerical = analytic + rng.standard_normal((9, 101)) * 1e-6  # some within the tolerance, some not
    numerical[0, :5] = [np.nan, np.inf, -np.inf, 0.0, 1e-300]
    analytic[1, :3] = [np.nan, 0.0, 1e-300]
    kinks = rng.random((9, 101)) < 0.05
    return analytic, numerical, kinks


@pytest.mark.parametrize("floor", [0.0, 1e-3])
def test_judged_a_chunk_at_a_time_the_verdicts_are_the_same(floor: float,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    analytic, numerical, kinks = _tensors()
    whole = judge("W1", analytic, numerical, kinks, floor=floor)
    monkeypatch.setattr(verdicts, "JUDGED_AT_ONCE", 7)
    parts = judge("W1", analytic, numerical, kinks, floor=floor)
    for field in ("failing", "unresolved", "kinks"):
        np.testing.assert_array_equal(getattr(parts, field), getattr(whole, field), strict=True)
    assert (parts.worst_index, parts.verdict) == (whole.worst_index, whole.verdict)
    assert np.array_equal([parts.max_abs_diff, parts.max_rel_error],
                          [whole.max_abs_diff, whole.max_rel_error], equal_nan=True)
    assert whole.failing.any() and whole.unresolved.any()  # both rules at work


def test_judging_a_large_tensor_holds_about_one_more_copy_of_it() -> None:
    """Each element's ranking (a float a number) and the verdict's five masks (a byte a number):
    1.63x, not the arrays of the tensor's size the rule's terms took at once (7.1x)."""
    rng = np.random.default_rng(0)
    analytic = rng.standard_normal((9, 100_000))
    numerical = analytic + 1e-9
    kinks = np.zeros(analytic.shape, dtype=bool)
    assert peak_allocated(lambda: judge("W1", analytic, numerical, kinks)) < 1.8 * analytic.nbytes
