"""The decision-boundary map: what the network predicts over the input plane, with the data on top.

A person watching a network learn would rather look than read: the colour field shows
where each class is predicted and how sure the model is, and the training points (●) and
test points (○) show where it is right. Each character cell is two points of the field,
stacked: "▀" with the upper point's colour as foreground and the lower's as background.

Colours: one fixed hue a class (the Playground's orange and blue first), blended into the
panel's own background by the confidence, so the boundary itself (confidence 0) is the
background and the picture reads on a dark and a light theme alike. A hidden unit's
activation (show_unit) uses the same two hues as a diverging scale: orange below 0, blue
above, the strength |a| / max |a| over the plane.

For data with more than 2 inputs there is no plane to draw: the widget shows a confusion
table (true class by predicted class) of the training and the test rows instead. Without a
data set (the notebook's one sample) it hides itself.
"""

from __future__ import annotations

import colorsys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from rich.color import Color as RichColor
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.geometry import Size

from engine.data.batches import Data
from engine.data.confusion import Counts, confusion, split_sizes
from engine.data.sets import Dataset
from engine.maths.network import Architecture, Params
from engine.maths.plane import Field, Plane, field
from engine.run.stepper import View
from tui.app.compat import OneLayout
from tui.app.widgets import palette, quiet
from tui.text import class_key, printable

#: The Playground's class colours, then Okabe–Ito's: told apart under the common colour-vision
#: deficiencies too (tui.app.widgets.palette).
HUES = list(palette.CLASSES)
STRENGTH = 0.6  # the most a field cell is coloured: a point of the same class still shows on it
#: What the panel says for a user's model, whose prediction over the plane is not computed.
USER_MODEL_NOTE = "A user's model: its prediction over the data is not computed here."
LEVELS = 16  # shades of a colour: the styles are cached by level, not made per cell
TRAIN, TEST = "●", "○"
MIN_LINES, MAX_LINES = 6, 16  # of the map; two field rows a line
MAX_TABLE_CLASSES = 12  # a confusion table wider than this is summarised by its accuracy


def hue(k: int) -> tuple[int, int, int]:
    """Class k's colour: the fixed list, then hues spread by the golden angle."""
    if k < len(HUES):
        return HUES[k]
    r, g, b = colorsys.hls_to_rgb((k * 0.618034) % 1.0, 0.5, 0.65)
    return round(r * 255), round(g * 255), round(b * 255)


@lru_cache(maxsize=4096)
def shade(k: int, level: int, background: tuple[int, int, int]) -> Color:
    """Class k's hue blended into the background, `level` of LEVELS of STRENGTH."""
    return Color(*background).blend(Color(*hue(k)), STRENGTH * level / LEVELS)


@lru_cache(maxsize=8192)
def cell_style(upper: Color, lower: Color) -> Style:
    return Style(color=upper.rich_color, bgcolor=lower.rich_color)


@lru_cache(maxsize=1024)
def point_style(k: int, under: Color) -> Style:
    return Style(color=Color(*hue(k)).rich_color, bgcolor=under.rich_color, bold=True)


def levels(field: Field, classes: int) -> tuple[NDArray[np.int64], NDArray[np.intp]]:
    """Each field point's colour: (class or side, shade level 0..LEVELS). For a prediction
    the level is the confidence above chance (0 at the boundary); for a unit, |a| / max |a|
    with orange (0) below zero and blue (1) above."""
    value = np.nan_to_num(field.value, nan=0.0)
    if field.classes is None:
        top = float(np.max(np.abs(value))) or 1.0
        strength = np.abs(value) / top
        side = (value > 0).astype(np.int64)
    elif classes == 1:
        strength, side = np.abs(value - 0.5) * 2.0, field.classes
    else:
        chance = 1.0 / classes
        strength, side = (value - chance) / (1.0 - chance), field.classes
    level = np.clip(np.rint(strength * LEVELS), 0, LEVELS).astype(np.intp)
    return side, level


@dataclass(frozen=True, eq=False)
class Picture:
    """The rendered map: the half-block lines with the points drawn in, then text lines."""

    lines: list[list[Segment]]
    text: list[Text]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.lines:
            yield from line
            yield Segment.line()
        yield from self.text


Points = tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.int64], str]


def paint(field: Field, classes: int, background: tuple[int, int, int],
          points: list[Points]) -> list[list[Segment]]:
    """The field as half-block lines (two field rows a line), then each set of points
    (rows, columns in the field, true classes, marker) drawn over its cell."""
    side, level = levels(field, classes)
    rows, cols = side.shape
    colour = [[shade(int(k), int(v), background) for k, v in zip(s, lv, strict=True)]
              for s, lv in zip(side.tolist(), level.tolist(), strict=True)]
    lines: list[list[Segment]] = []
    marks: dict[tuple[int, int], tuple[str, int]] = {}
    for r, c, y, marker in points:
        for row, col, k in zip(r.tolist(), c.tolist(), y.tolist(), strict=True):
            marks[row // 2, col] = (marker, k)
    for line in range(rows // 2):
        upper, lower = colour[2 * line], colour[2 * line + 1]
        segments = []
        for col in range(cols):
            mark = marks.get((line, col))
            if mark is None:
                segments.append(Segment("▀", cell_style(upper[col], lower[col])))
            else:
                segments.append(Segment(mark[0], point_style(mark[1], lower[col])))
        lines.append(segments)
    return lines


def map_lines(width: int) -> int:
    """Lines of the map for a width: about half as many as columns make two field rows a
    line nearly square cells; bounded so the panel leaves room for the others."""
    return max(MIN_LINES, min(MAX_LINES, width // 4))


def number(v: float) -> str:
    return f"{v:.3g}"


class BoundaryMap(OneLayout):
    """The model over the input plane (2 inputs), or a confusion table (more inputs)."""

    DEFAULT_CSS = """
    BoundaryMap {
        height: auto;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view: View | None = None
        self.unit: tuple[int, int] | None = None
        #: Whether the test rows are drawn (o), as Playground's "Show test data".
        self.test_points = True
        self._cache: tuple[tuple[object, ...], Picture | Text] | None = None
        self._shape: tuple[object, ...] | None = None  # what its height depends on, as last laid out
        self._shown: tuple[object, ...] | None = None  # what the map was last drawn from (drawn_from)

    def on_mount(self) -> None:
        self.border_title = "Decision boundary"

    def show(self, view: View) -> None:
        self.show_unit(view, self.unit)

    def show_unit(self, view: View, unit: tuple[int, int] | None) -> None:
        """Draw the prediction, or with unit = (l, i) hidden unit a_l[i]'s activation (layer
        l from 1, unit i from 0), as the cursor selects it. A unit the network does not
        have (the architecture changed) falls back to the prediction."""
        data = view.data
        self.display = data is not None
        arch = view.config.architecture
        if unit is not None and not (1 <= unit[0] < arch.depth and 0 <= unit[1] < arch.sizes[unit[0]]):
            unit = None
        self.view, self.unit = view, unit
        if data is None:
            return
        title = "Confusion (true class by predicted)" if data.plane.features != 2 else \
            "Decision boundary" if unit is None else f"a{unit[0]}[{unit[1]}] over the input plane"
        if title != self.border_title:  # setting it, even to the same title, repaints the map
            self.border_title = title
        # Its height depends on the data and the width alone: a new state only repaints it,
        # and only when the picture changes (the parameters, at an update).
        shape = (id(data), data.plane.features, view.user_code)
        drawn_from = self.drawn_from(view)
        if shape != self._shape or not quiet.same(drawn_from, self._shown):
            self.refresh(layout=shape != self._shape)
        self._shape, self._shown = shape, drawn_from

    def drawn_from(self, view: View) -> tuple[object, ...]:
        """What the map is drawn from, besides its width and colours: the network's
        parameters (a new network has new ones) and the data, not the rest of the state: a
        key that runs a forward pass or a gradient check leaves the map as it was."""
        return (view.state.params, view.data, self.unit, view.user_code, self.test_points)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if self.view is None or self.view.data is None:
            return 1
        if self.view.data.plane.features != 2 or self.view.user_code:
            return len(self._table(self.view, self.view.data, width).split("\n"))
        return map_lines(width) + 2

    def render(self) -> Picture | Text:
        view, data = self.view, None if self.view is None else self.view.data
        if view is None or data is None:
            return Text("")
        width = self.content_size.width
        _, _, back, fore = self.colors
        background = back.rgb
        key = (*self.drawn_from(view), width, background)
        if self._cache is not None and quiet.same(key, self._cache[0]):
            return self._cache[1]
        picture: Picture | Text
        if data.plane.features != 2 or view.user_code:
            picture = Text(self._table(view, data, self.content_size.width), no_wrap=True, overflow="crop")
        else:
            picture = draw(view.config.architecture, view.state.params, data, self.unit,
                           max(1, width), map_lines(width), background, back.blend(fore, 0.6).rich_color,
                           self.test_points)
        self._cache = (key, picture)
        return picture

    def _table(self, view: View, data: Data, width: int) -> str:
        """The text the panel shows in place of a map: the confusion table, or for a user's
        model a note, wrapped to the width (the text is cropped, not wrapped, when drawn:
        the note would lose its end in the two-column layout)."""
        if view.user_code:
            return textwrap.fill(USER_MODEL_NOTE, max(1, width))
        return confusion_text(view.config.architecture, view.state.params, data, width)


def draw(arch: Architecture, params: Params, data: Data, unit: tuple[int, int] | None, cols: int,
         lines: int, background: tuple[int, int, int], muted: RichColor, test_points: bool = True) -> Picture:
    """The whole map at cols x (2 * lines) points: the field, the points (the test rows'
    only when `test_points`), the axes' ranges and a legend.

    It is drawn over the plane of the data's two columns, named as the data name them; with
    feature inputs the network is given each grid point's features (Data.inputs_at)."""
    dataset = data.plane
    plane = Plane.around(dataset.X)
    rows = 2 * lines
    grid = field(arch, params, plane, cols, rows, unit, data.inputs_at if data.features else None)
    points: list[Points] = []
    for rows_of, marker in ((dataset.train, TRAIN), *(((dataset.test, TEST),) if test_points else ())):
        r, c = plane.cell(dataset.X[rows_of], cols, rows)
        points.append((r, c, dataset.y[rows_of], marker))
    dim = Style(color=muted)
    scaled = " (standardized)" if data.standardized else ""
    x1, x2 = (printable(name, oneline=True) for name in data.axis_names)
    axes = Text.assemble((f"{x1} {number(plane.x1_low)} … {number(plane.x1_high)} →", dim),
                         (f"   {x2} {number(plane.x2_low)} … {number(plane.x2_high)} ↑{scaled}", dim),
                         no_wrap=True, overflow="ellipsis")
    legend = Text(no_wrap=True, overflow="ellipsis")
    shown = f"{TEST} test" if test_points else "test hidden (o)"
    legend.append(f"{TRAIN} train  {shown}   ", dim)
    if unit is None:
        for k in range(dataset.classes):
            legend.append("■", Style(color=Color(*hue(k)).rich_color))
            legend.append(f" {k}{_name_of(dataset, k)}  ", dim)
        legend.append("shade: confidence", dim)
    else:
        top = float(np.nanmax(np.abs(grid.value))) if np.isfinite(grid.value).any() else 0.0
        legend.append("■", Style(color=Color(*hue(0)).rich_color))
        legend.append(f" {number(-top)} … 0 … ", dim)
        legend.append("■", Style(color=Color(*hue(1)).rich_color))
        legend.append(f" {number(top)}", dim)
    classes = 1 if unit is None and arch.classes == 1 else max(2, arch.classes)
    return Picture(paint(grid, classes, background, points), [axes, legend])


def _name_of(dataset: Dataset, k: int) -> str:
    """Class k's name after its index in the legend, when a CSV file named its classes."""
    return f" {printable(dataset.class_names[k], oneline=True)}" if dataset.class_names else ""


def confusion_text(arch: Architecture, params: Params, data: Data, width: int = 0) -> str:
    """The confusion tables (engine.data.confusion) side by side (one above the other when
    they do not fit in `width`; 0: any width): true class a row, predicted class a column,
    with each split's accuracy (the diagonal over the total)."""
    sizes = split_sizes(data)  # a split with no rows (no test rows) has no table
    blocks = [table_lines(name, counts, sizes[name])
              for name, counts in confusion(arch, params, data).items() if sizes[name]]
    names = data.dataset.class_names
    key = f"\n\nclasses: {class_key(names)}" if names else ""  # the tables number them
    return beside(blocks, width) + key


def table_lines(name: str, counts: Counts, size: int) -> list[str]:
    """A split's accuracy over its `size` rows, then its table (for at most MAX_TABLE_CLASSES)."""
    total, right = int(counts.sum()), int(np.trace(counts))
    accuracy = (f"{name} accuracy {100.0 * right / total:.1f}% ({right}/{total})" if total == size
                else f"{name}: outputs not finite for {size - total}/{size} rows: no accuracy")
    k = len(counts)
    if k > MAX_TABLE_CLASSES:
        return [accuracy, f"({k} classes: too many for a table)"]
    cell = max(4, len(str(int(counts.max()))) + 1)
    head = "true\\pred" + "".join(f"{p:>{cell}}" for p in range(k))
    rows = [f"{t:<9}" + "".join(f"{v:>{cell}}" for v in counts[t]) for t in range(k)]
    return [accuracy, head, *rows]


def beside(blocks: list[list[str]], width: int) -> str:
    """Blocks of lines side by side, 4 spaces apart; one above the other, a blank line
    apart, when that is wider than `width` (0: any width)."""
    widths = [max(len(line) for line in block) for block in blocks]
    if width and sum(widths) + 4 * (len(blocks) - 1) > width:
        return "\n\n".join("\n".join(block) for block in blocks)
    height = max(len(block) for block in blocks)
    out = []
    for i in range(height):
        parts = [(block[i] if i < len(block) else "").ljust(w)
                 for block, w in zip(blocks, widths, strict=True)]
        out.append("    ".join(parts).rstrip())
    return "\n".join(out)


def lines_of(picture: Picture) -> Iterator[str]:
    """The characters of the map, a line each (for tests and the benchmark's check)."""
    for line in picture.lines:
        yield "".join(segment.text for segment in line)
