"""The charts' and the decision map's colours, chosen to stay distinguishable under the common
colour-vision deficiencies (protanopia, deuteranopia, tritanopia).

Okabe and Ito's palette ("Color Universal Design", 2008) was designed for exactly that, and
its blue and orange are the pair every deficiency tells apart best. TensorFlow Playground's own
orange and blue, which the map's two classes and the chart's train and test losses keep, are
within a few steps of Okabe–Ito's. What the red and green of before did not survive: the train
and test accuracies were 3 CIELAB units apart under deuteranopia (tests/app/test_palette.py
simulates each deficiency and measures).
"""

from __future__ import annotations

RGB = tuple[int, int, int]

#: Okabe–Ito's colours but black, by their names.
OKABE_ITO: dict[str, RGB] = {
    "orange": (230, 159, 0), "sky blue": (86, 180, 233), "bluish green": (0, 158, 115),
    "yellow": (240, 228, 66), "blue": (0, 114, 178), "vermillion": (213, 94, 0),
    "reddish purple": (204, 121, 167),
}
#: TensorFlow Playground's orange and blue.
PLAYGROUND_ORANGE: RGB = (245, 147, 34)
PLAYGROUND_BLUE: RGB = (8, 119, 189)

#: The chart: the training rows in blues, the test rows in oranges; a loss in the darker or
#: stronger of its pair, an accuracy (the right axis) in the other.
TRAIN_LOSS, TEST_LOSS = PLAYGROUND_BLUE, PLAYGROUND_ORANGE
TRAIN_ACCURACY, TEST_ACCURACY = OKABE_ITO["sky blue"], OKABE_ITO["vermillion"]
#: The batch losses' running mean, drawn between the whole sets' measurements.
BATCH_MEAN = OKABE_ITO["bluish green"]

#: The map's classes: Playground's two, then Okabe–Ito's in the order that keeps each first k
#: farthest apart under every deficiency (the 3-class spiral's third is reddish purple).
CLASSES: tuple[RGB, ...] = (PLAYGROUND_ORANGE, PLAYGROUND_BLUE, *(OKABE_ITO[name] for name in (
    "reddish purple", "sky blue", "yellow", "vermillion", "bluish green")))
