"""The charts' and the map's colours told apart under the common colour-vision deficiencies:
each simulated by Machado, Oliveira and Fernandes's matrices (2009, severity 1, on linear
sRGB), the difference measured in CIELAB (ΔE*76, D65). About 2.3 is the least a person can
see; lines and areas on a terminal want a good deal more."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tui.app.screens.health import COLOURS
from tui.app.widgets import palette
from tui.app.widgets.boundary import HUES, hue
from tui.app.widgets.chart import TEST, TEST_ACCURACY, TRAIN, TRAIN_ACCURACY

DEFICIENCIES = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
    "typical vision": np.eye(3),
}
SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
WHITE = np.array([0.95047, 1.0, 1.08883])
#: The least ΔE between two of the colours, under any deficiency: every pair of Okabe–Ito's 7
#: colours but black is at least 15.8 apart.
LEAST = 15.0
#: Train against test of the same curve: the pair a reader must never confuse.
TRAIN_AGAINST_TEST = 40.0


def lab(rgb: tuple[int, int, int], seen_by: np.ndarray) -> np.ndarray:
    c = np.asarray(rgb) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = SRGB_TO_XYZ @ np.clip(seen_by @ linear, 0.0, 1.0) / WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def difference(a: tuple[int, int, int], b: tuple[int, int, int], deficiency: str) -> float:
    seen_by = DEFICIENCIES[deficiency]
    return float(np.linalg.norm(lab(a, seen_by) - lab(b, seen_by)))


def test_the_simulation_tells_the_old_red_and_green_apart_only_with_typical_vision() -> None:
    """The accuracies' red and green of before: the simulation sees what the issue saw."""
    green, red = (46, 160, 67), (214, 55, 70)
    assert difference(green, red, "typical vision") > 100
    assert difference(green, red, "deuteranopia") < 5


@pytest.mark.parametrize("deficiency", list(DEFICIENCIES))
def test_the_charts_train_and_test_curves_are_told_apart(deficiency: str) -> None:
    for train, test in ((TRAIN, TEST), (TRAIN_ACCURACY, TEST_ACCURACY)):
        assert difference(train, test, deficiency) >= TRAIN_AGAINST_TEST, (train, test)
    assert COLOURS == (TRAIN, TEST, TRAIN_ACCURACY, TEST_ACCURACY)
    for a, b in itertools.combinations(COLOURS, 2):
        assert difference(a, b, deficiency) >= LEAST, (a, b)


@pytest.mark.parametrize("deficiency", list(DEFICIENCIES))
def test_the_maps_classes_are_told_apart(deficiency: str) -> None:
    assert HUES[:2] == [palette.PLAYGROUND_ORANGE, palette.PLAYGROUND_BLUE]
    assert [hue(k) for k in range(len(HUES))] == HUES
    for a, b in itertools.combinations(HUES, 2):
        assert difference(a, b, deficiency) >= LEAST, (a, b)
