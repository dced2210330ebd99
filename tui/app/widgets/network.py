"""The network picture (key m): TensorFlow Playground's view of the whole network at once.

Every layer is a column of its units, inputs on the left and the output on the right. With
two inputs and data, a unit is a small map of its activation over the input plane, coloured
as the decision-boundary map colours a hidden unit (tui.app.widgets.boundary: orange below 0,
blue above, the shade |a| / max |a|), from one forward pass over a coarse grid of the plane
(engine.maths.plane.unit_maps). With more inputs there is no plane: a unit is a bar of the
sample's activation, with its value. Between two columns the weights are lines of braille
dots, orange for a negative weight and blue for a positive one, stronger and doubled the
larger |w| is beside the largest of that layer; a cell that two lines cross takes the
colour of the larger weight, and the selected unit's lines are drawn over the others.

A layer with more units than fit the height shows its first ones and says "+N more"; a
network with more layers than fit the width shows its first layers and says how many more.

The selected unit is the panels' cursor's (unit_of): a click on a unit posts Selected, and the
app moves the cursor there, which selects it in the panels, the map and Explain alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.color import Color
from textual.geometry import Size
from textual.message import Message

from engine.maths.names import parse as parse_name
from engine.maths.network import Architecture, Array, Params
from engine.maths.plane import Field, Plane, unit_maps
from engine.run.stepper import View
from tui.app.compat import OneLayout
from tui.app.widgets import quiet
from tui.app.widgets.boundary import LEVELS, hue, paint

MAP_COLS, MAP_LINES = 6, 2  # a unit's map: 6 x 4 points of the plane, about square on screen
SLOT = MAP_COLS + 2  # a unit's columns: its map and a mark either side when it is selected
SPACING = 1  # blank lines between two units of a column
HEAD = 1  # the line of layer names
MIN_GAP, MAX_GAP = 4, 16  # columns of edges between two layers
THICK = 0.5  # |w| of at least this share of the layer's largest draws as a doubled line
FAINTEST = 0.2  # the least an edge is blended into its hue: a small weight stays visible
WIDE = 120  # columns from which the picture is shown by default with data (m toggles it)
RESERVED = 14  # screen lines left to the bars, the footer and the other panels
MIN_LINES = 6
USER_MODEL_NOTE = "A user's model: its units are not drawn here."
#: Braille dot bits by (row 0..3, column 0..1) of a character cell (Unicode's numbering).
DOTS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]])
Unit = tuple[int, int]  # (layer l from 0 for the inputs to L for the output, unit i from 0)


def unit_of(cell: tuple[str, tuple[int, ...]] | None, depth: int) -> Unit | None:
    """The unit (l, i) of the network a panel's cursor cell belongs to: x[i] is input unit
    (0, i); z_l[i], a_l[i], their gradients, and row i of W_l and b_l are unit i of layer l
    (1 .. depth); None for anything else (the loss, a user's model's own names)."""
    if cell is None:
        return None
    name, index = cell[0].rpartition(".")[2], cell[1]
    parsed = parse_name(name)
    if parsed is None or not index:
        return None
    if parsed.kind == "x":
        return 0, index[-1]  # a batch's x is (rows, features): the feature is the unit
    l = parsed.layer
    return (l, index[0]) if l is not None and 1 <= l <= depth else None


def cell_of(unit: Unit, forward: bool) -> tuple[str, str, tuple[int, ...]] | None:
    """Where the panels' cursor goes to select a unit: (panel id, qualified tensor, index).
    A layer's unit i is row i of W_l in the parameters; an input is x[i] in the forward
    pass, shown once it ran (None before)."""
    l, i = unit
    if l >= 1:
        return "parameters", f"params.W{l}", (i, 0)
    return ("forward", "forward.x", (i,)) if forward else None


@dataclass(frozen=True)
class Geometry:
    """Where everything goes: `shown` units of each drawn layer (the first len(shown)
    layers), `gap` columns of edges between two layers, `lines` in all."""

    sizes: tuple[int, ...]
    shown: tuple[int, ...]
    gap: int
    lines: int

    def left(self, l: int) -> int:
        """The first column of layer l's units."""
        return l * (SLOT + self.gap)

    @staticmethod
    def top(i: int) -> int:
        """The first line of unit i of any layer."""
        return HEAD + i * (MAP_LINES + SPACING)

    def unit_at(self, x: int, y: int) -> Unit | None:
        """The unit drawn at (x, y) of the content, if any."""
        l, column = divmod(x, SLOT + self.gap)
        i, line = divmod(y - HEAD, MAP_LINES + SPACING)
        if y < HEAD or l >= len(self.shown) or column >= SLOT or line >= MAP_LINES or i >= self.shown[l]:
            return None
        return l, i


def geometry(sizes: tuple[int, ...], width: int, max_lines: int) -> Geometry:
    """The layers and units that fit in width x max_lines: every unit of a layer when they
    fit, else the first ones and a line for "+N more"; every layer when the edges between
    them get MIN_GAP columns, else the first ones."""
    layers = len(sizes)
    while layers > 2 and layers * SLOT + (layers - 1) * MIN_GAP + len(more_layers(sizes, layers)) > width:
        layers -= 1
    room = width - layers * SLOT - len(more_layers(sizes, layers))
    gap = max(1, min(MAX_GAP, room // max(1, layers - 1)))
    step = MAP_LINES + SPACING
    whole = [HEAD + n * step - SPACING <= max_lines for n in sizes[:layers]]
    fit = max(1, (max_lines - HEAD - 1 + SPACING) // step)  # room for the "+N more" line too
    shown = tuple(n if ok else min(n, fit) for n, ok in zip(sizes, whole, strict=False))
    more = any(k < n for k, n in zip(shown, sizes, strict=False))
    lines = HEAD + max(shown) * step - SPACING + more
    return Geometry(sizes, shown, gap, lines)


def more_layers(sizes: tuple[int, ...], layers: int) -> str:
    """What the picture says, after its last layer, of the layers past the width ("" for none)."""
    return f" +{len(sizes) - layers} layers" if layers < len(sizes) else ""


def edge_style(w: float, top: float) -> tuple[int, int, bool]:
    """A weight's line: (hue 0 orange for w < 0, 1 blue for w > 0; shade 0..LEVELS by |w| /
    top; doubled when |w| is at least THICK of top). A weight of 0 or not finite draws
    nothing (shade 0): no line joins units that do not act on each other."""
    if not np.isfinite(w) or w == 0 or not top > 0:
        return 0, 0, False
    share = min(1.0, abs(w) / top)
    return int(w > 0), max(1, round(share * LEVELS)), share >= THICK


@lru_cache(maxsize=512)
def edge_colour(side: int, level: int, background: tuple[int, int, int]) -> Style:
    blend = 0.0 if level == 0 else FAINTEST + (1 - FAINTEST) * level / LEVELS
    return Style(color=Color(*background).blend(Color(*hue(side)), blend).rich_color)


class Canvas:
    """A grid of character cells, each a text and a style, filled in layers and written out
    as lines of segments."""

    def __init__(self, width: int, lines: int) -> None:
        self.width = width
        self.text = [[" "] * width for _ in range(lines)]
        self.style: list[list[Style | None]] = [[None] * width for _ in range(lines)]

    def put(self, x: int, y: int, text: str, style: Style | None = None) -> None:
        for k, char in enumerate(text):
            if 0 <= x + k < self.width and 0 <= y < len(self.text):
                self.text[y][x + k], self.style[y][x + k] = char, style

    def segments(self, y: int, x: int, row: list[Segment]) -> None:
        for k, segment in enumerate(row):
            self.put(x + k, y, segment.text, segment.style)

    def lines(self) -> list[list[Segment]]:
        """Each line as segments: a run of blank cells is one, a drawn cell one of its own
        (a run of block or braille characters as one text would be laid out by the font's
        advance, not the cell grid, where a screenshot's SVG draws it)."""
        out = []
        for text, style in zip(self.text, self.style, strict=True):
            line: list[Segment] = []
            start = 0
            for k in range(1, self.width + 1):
                if k == self.width or style[k] is not None or style[start] is not None:
                    line.append(Segment("".join(text[start:k]), style[start]))
                    start = k
            out.append(line)
        return out


def edges(canvas: Canvas, W: Array, geo: Geometry, l: int, selected: Unit | None,
          background: tuple[int, int, int]) -> None:
    """The weights W_l between the shown units of layers l - 1 and l, as braille lines in the
    gap's columns; each cell coloured by the largest weight through it, the selected unit's
    lines over the rest. All the lines at once: a picture is redrawn as a run trains."""
    x0, width = geo.left(l - 1) + SLOT, geo.gap
    shown = W[:geo.shown[l], :geo.shown[l - 1]]
    finite = np.abs(shown[np.isfinite(shown)])
    top = float(finite.max()) if finite.size else 0.0
    styles = [(i, j, *edge_style(float(w), top)) for (i, j), w in np.ndenumerate(shown)]
    drawn = [style for style in styles if style[3] > 0]
    if not drawn:
        return
    i, j, side, level, thick = (np.array(column) for column in zip(*drawn, strict=True))
    centre = 2 * MAP_LINES - 1  # the dot row at the middle of a unit's lines
    tops = 4 * np.array([Geometry.top(k) for k in range(max(geo.shown))]) + centre
    y0, y1 = tops[j], tops[i]
    steps = 2 * width
    px = np.tile(np.arange(steps), len(drawn))
    edge = np.repeat(np.arange(len(drawn)), steps)
    py = np.rint(y0[edge] + (y1 - y0)[edge] * px / max(1, steps - 1)).astype(np.int64)
    double = thick[edge].astype(bool)  # a doubled line: the dots under it too
    px, py, edge = (np.concatenate([v, v[double]]) for v in (px, py, edge))
    py[len(double):] += 1
    cy, cx = py // 4, px // 2
    bits = np.zeros((geo.lines, width), dtype=np.int64)
    np.bitwise_or.at(bits, (cy, cx), DOTS[py % 4, px % 2])
    near = np.array([selected in ((l - 1, b), (l, a)) for a, b in zip(i.tolist(), j.tolist(), strict=True)])
    rank = level + LEVELS * near
    cell = cy * width + cx
    order = np.lexsort((rank[edge], cell))  # by cell, then rank: each cell's last is its winner
    cell, edge = cell[order], edge[order]
    last = np.r_[cell[1:] != cell[:-1], True]
    for c, e in zip(cell[last].tolist(), edge[last].tolist(), strict=True):
        y, x = divmod(c, width)
        style = edge_colour(int(side[e]), int(level[e]), background)
        canvas.put(x0 + x, y, chr(0x2800 + int(bits[y, x])), style)


@dataclass(frozen=True, eq=False)
class Drawing:
    """The rendered picture: its lines of segments."""

    lines: list[list[Segment]]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.lines:
            yield from line
            yield Segment.line()


def unit_field(arch: Architecture, l: int, i: int, value: Array) -> tuple[Field, int]:
    """A unit's map as the boundary map colours it: an input or hidden unit on the diverging
    scale; the output as the prediction (one sigmoid unit: its confidence in either class;
    softmax unit i: its probability of class i above chance)."""
    if l < arch.depth:
        return Field(value, None), 1
    if arch.classes == 1:
        return Field(value, (value > 0.5).astype(np.int64)), 1
    return Field(value, np.full(value.shape, i, dtype=np.int64)), arch.classes


def bar(a: float, top: float) -> str:
    """|a| / top of MAP_COLS columns in eighths of a block."""
    eighths = 0 if not (np.isfinite(a) and top > 0) else round(min(1.0, abs(a) / top) * MAP_COLS * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")).ljust(MAP_COLS)


def value_text(a: float) -> str:
    text = f"{a:.2g}"
    return "0" if text in ("-0", "0") else text


@dataclass(frozen=True)
class Look:
    """What the picture is drawn in: the panel's background, the muted text's and the
    accent's colours."""

    background: tuple[int, int, int]
    muted: Style
    accent: Style


def draw(arch: Architecture, params: Params, activations: list[Array] | None, geo: Geometry,
         selected: Unit | None, look: Look, maps: list[Array] | None = None) -> Drawing:
    """The whole picture: layer names, the edges, then each unit's map (`maps`, per layer
    (shown, rows, cols)) or bar (`activations`, per layer the sample's a_l; None before the
    forward pass), with "+N more" under a layer cut short."""
    width = geo.left(len(geo.shown) - 1) + SLOT
    extra = more_layers(arch.sizes, len(geo.shown))
    canvas = Canvas(width + len(extra), geo.lines)
    for l in range(1, len(geo.shown)):
        edges(canvas, params[f"W{l}"], geo, l, selected, look.background)
    for l, k in enumerate(geo.shown):
        name = "x" if l == 0 else f"a{l}"
        canvas.put(geo.left(l) + (SLOT - len(name)) // 2, 0, name, look.muted)
        for i in range(k):
            unit(canvas, arch, geo, (l, i), selected, look, activations, maps)
        if k < arch.sizes[l]:
            more = f"+{arch.sizes[l] - k} more"
            more = more if len(more) <= SLOT else f"+{arch.sizes[l] - k}"
            canvas.put(geo.left(l), geo.lines - 1, more, look.muted)
    canvas.put(width, 0, extra, look.muted)
    return Drawing(canvas.lines())


def unit(canvas: Canvas, arch: Architecture, geo: Geometry, at: Unit, selected: Unit | None,
         look: Look, activations: list[Array] | None, maps: list[Array] | None) -> None:
    """One unit: its map or its bar and value, with marks either side when selected."""
    l, i = at
    x, y = geo.left(l), Geometry.top(i)
    if maps is not None:
        field, classes = unit_field(arch, l, i, maps[l][i])
        for k, row in enumerate(paint(field, classes, look.background, [])):
            canvas.segments(y + k, x + 1, row)
    elif activations is None:
        canvas.put(x + 1, y, "·", look.muted)
    else:
        layer = activations[l]
        shown = layer[:geo.shown[l]]
        finite = np.abs(shown[np.isfinite(shown)])
        a = float(layer[i])
        colour = edge_colour(int(a > 0), LEVELS, look.background)
        canvas.put(x + 1, y, bar(a, float(finite.max()) if finite.size else 0.0), colour)
        canvas.put(x + 1, y + 1, value_text(a)[:MAP_COLS], look.muted)
    if at == selected:
        for k in range(MAP_LINES):
            canvas.put(x, y + k, "▐", look.accent)
            canvas.put(x + SLOT - 1, y + k, "▌", look.accent)


def sample_activations(view: View) -> list[Array] | None:
    """The sample's activations a_0 (x) .. a_L as the forward pass cached them (a batch's
    first row where the view is not sliced to a sample), or None before it ran."""
    forward = view.state.forward
    if forward is None:
        return None
    names = ["x", *(f"a{l}" for l in range(1, view.config.architecture.depth + 1))]
    if not all(name in forward.cache for name in names):
        return None
    return [np.atleast_2d(np.asarray(forward.cache[name], dtype=np.float64))[0] for name in names]


#: What a picture is drawn from (NetworkPicture.drawn_from): values and objects compared as
#: quiet.same compares them (the parameters and the data by identity) and the sample's
#: activations, compared by value (the panels' slice of a state is new at every key), or None
#: where the units are maps.
Source = tuple[tuple[object, ...], list[Array] | None]


def same_source(now: Source, before: Source | None) -> bool:
    if before is None or not quiet.same(now[0], before[0]):
        return False
    if now[1] is None or before[1] is None:
        return now[1] is before[1]
    return len(now[1]) == len(before[1]) and all(
        np.array_equal(a, b, equal_nan=True) for a, b in zip(now[1], before[1], strict=True))


class NetworkPicture(OneLayout):
    """Every unit of the network and every weight between them (see the module's docstring)."""

    DEFAULT_CSS = """
    NetworkPicture {
        height: auto;
    }
    """

    class Selected(Message):
        """A unit was clicked: the app moves the panels' cursor to it."""

        def __init__(self, unit: Unit) -> None:
            super().__init__()
            self.unit = unit

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view: View | None = None
        self.selected: Unit | None = None
        #: m's choice; None: shown where the width allows, when there are data.
        self.wanted: bool | None = None
        self._cache: tuple[Source, tuple[object, ...], Drawing | Text] | None = None
        self._shape: tuple[object, ...] | None = None  # what its height depends on, as last laid out
        self._shown: Source | None = None  # what it was last drawn from (drawn_from)

    def on_mount(self) -> None:
        self.border_title = "Network (m)"

    def show(self, view: View) -> None:
        """Drawn from this view, when shown (m, or by default with data at WIDE columns):
        repainted when what it draws changes, laid out again when its height may have."""
        wide = self.app.size.width >= WIDE
        self.display = self.wanted if self.wanted is not None else view.data is not None and wide
        self.view = view
        if self.display:  # its height depends on the network alone: a new state only repaints it
            shape = (view.config.architecture.sizes, view.user_code)
            drawn_from = self.drawn_from(view)
            if shape != self._shape or not same_source(drawn_from, self._shown):
                self.refresh(layout=shape != self._shape)
            self._shape, self._shown = shape, drawn_from

    @staticmethod
    def drawn_from(view: View) -> Source:
        """What the picture is drawn from, besides its size, colours and selected unit: the
        network's parameters (a new network has new ones) and the data, and the sample's
        activations where the units are bars (with a plane of two inputs they are maps, of
        the parameters alone)."""
        data = view.data
        maps = data is not None and data.plane.features == 2
        return ((view.user_code, view.state.params, data),
                None if maps else sample_activations(view))

    def select(self, unit: Unit | None) -> None:
        """The unit under the panels' cursor, highlighted (None: no unit)."""
        if unit != self.selected:
            self.selected = unit
            self.refresh()

    def max_lines(self) -> int:
        return max(MIN_LINES, self.screen.size.height - RESERVED)

    def geometry(self, width: int) -> Geometry | None:
        if self.view is None or self.view.user_code:
            return None
        return geometry(self.view.config.architecture.sizes, max(1, width), self.max_lines())

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        geo = self.geometry(width)
        return 1 if geo is None else geo.lines

    def render(self) -> Drawing | Text:
        view, geo = self.view, self.geometry(self.content_size.width)
        if view is None or geo is None:
            return Text(USER_MODEL_NOTE if view is not None else "", no_wrap=True, overflow="ellipsis")
        _, _, back, fore = self.colors
        source, seen = self.drawn_from(view), (self.selected, geo, back.rgb, fore.rgb)
        if self._cache is not None and same_source(source, self._cache[0]) and seen == self._cache[1]:
            return self._cache[2]
        look = Look(back.rgb, Style(color=back.blend(fore, 0.6).rich_color),
                    Style(color=self.app.current_theme.accent or "yellow", bold=True))
        arch, data = view.config.architecture, view.data
        maps = None
        if data is not None and data.plane.features == 2:  # the plane's two columns, whatever the inputs
            shown = geo.shown + (0,) * (len(arch.sizes) - len(geo.shown))  # none of a layer cut off
            maps = unit_maps(arch, view.state.params, Plane.around(data.plane.X), MAP_COLS,
                             2 * MAP_LINES, shown, data.inputs_at if data.features else None)
        picture = draw(arch, view.state.params, sample_activations(view), geo, self.selected, look, maps)
        self._cache = (source, seen, picture)
        return picture

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        geo = self.geometry(self.content_size.width)
        unit = None if offset is None or geo is None else geo.unit_at(offset.x, offset.y)
        if unit is not None:
            self.post_message(self.Selected(unit))


def lines_of(drawing: Drawing) -> list[str]:
    """The characters of the picture, a line each (for tests)."""
    return ["".join(segment.text for segment in line) for line in drawing.lines]
