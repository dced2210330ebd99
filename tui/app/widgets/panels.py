"""The panels: one job each, all drawn from a View of the stepper (its state, frozen).

A panel belongs to the phase that fills it; when that phase is the one that just ran,
the panel is marked fresh so the eye goes where the numbers changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
from rich.cells import cell_len
from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.style import Style

from engine.check.verdicts import TensorCheck
from engine.explain.catalog import tensors as qualified_tensors
from engine.maths.names import parse as parse_name
from engine.maths.network import Params
from engine.maths.optimizers import READS, SYMBOLS, TITLES
from engine.run import deadnet, deadunits, picture
from engine.run.deadunits import Unmarked, layer_count
from engine.run.stepper import Phase, State, Update, View
from tui.app.widgets import quiet
from tui.app.widgets.bars import layer_function
from tui.app.widgets.formulas import for_view
from tui.app.widgets.tensor import (
    DEAD,
    FAIL,
    FRESH,
    MUTED,
    PASS,
    WARN,
    Cell,
    Marks,
    as_matrix,
    element_index,
    is_large,
    marking,
    matrix_position,
    pending,
    scalar_line,
    shape_label,
    side_by_side,
    tensor_block,
    valid_index,
)
from tui.keys import KEYS
from tui.text import number, printable, safe_repr, type_name


def is_numeric(value: object) -> bool:
    """Arrays and numbers (complex too) are drawn as tensors; anything else a user caches
    as its repr."""
    try:
        return np.asarray(value).dtype.kind in "biufc"
    except Exception:  # a user's object may raise anything from __array__
        return False


def unmarked_note(why: Unmarked) -> str:
    """Why a layer's dead units are not marked, as the panels say it under its z_l."""
    if not why.real:
        z = why.value
        what = f"an array of {why.array.dtype}" if isinstance(z, np.ndarray) else \
            "None" if z is None else f"a {type_name(z)}"
        return f"{why.name} is {printable(what, oneline=True)}; dead units not marked"
    return f"{why.name} has shape {shape_label(why.array)}, not ({why.units},); dead units not marked"


def dead_units(state: State, layer: int = 1) -> tuple[np.ndarray | None, str]:
    """engine.run.deadunits.dead_units, with its reason as the panels say it ("" for none)."""
    mask, why = deadunits.dead_units(state, layer)
    return mask, "" if why is None else unmarked_note(why)


def dead_layers(view: View) -> tuple[dict[int, np.ndarray], dict[int, str]]:
    """engine.run.deadunits.dead_layers, with the reasons as the panels say them."""
    dead, unmarked = deadunits.dead_layers(view)
    return dead, {l: unmarked_note(why) for l, why in unmarked.items()}


#: Columns of a matrix shown in full that still fit a panel beside another at 120 columns.
BESIDE_COLUMNS = 6


def broad(params: Params) -> bool:
    """Whether a weight matrix shown in full is too wide for a panel beside another: the
    panels then stand one above the other, so its rows stay whole instead of being cut in
    bands (an 8x8 W2 at 120 columns)."""
    return any(value.ndim == 2 and value.shape[1] > BESIDE_COLUMNS and not is_large(value)
               for value in map(np.asarray, params.values()))


def dead_note(dead: np.ndarray) -> str:
    return f"{int(dead.sum())} of {dead.size} units dead" if dead.any() else ""


def listed(names: list[str]) -> str:
    """Names for a one-line note: W1, b1, …, W7, b7 when there are many."""
    return ", ".join(names if len(names) <= 6 else [*names[:2], "…", *names[-2:]])


def layer_of(name: str) -> int | None:
    """The layer a tensor's name belongs to, as the panels group them: z3, a3, W3, dz3, dW3,
    db3 and da2 (= W3ᵀ·dz3, computed in layer 3's backward) all to layer 3."""
    parsed = parse_name(name)
    return None if parsed is None else parsed.panel_layer


class Panel(quiet.QuietStatic, can_focus=True):
    """A bordered, focusable panel; subclasses build its content from the state.

    A focused panel has a cell cursor over the elements of its tensors (the arrows and
    h/j/k/l move it, a click places it); the app highlights the cells the element under it
    is computed from (`sources`) in whichever panels show them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(k.keys, k.action, k.footer or k.description, show=bool(k.footer), id=k.id)
        for k in KEYS if k.scope == "panel"
    ]
    phase: ClassVar[Phase | None] = None
    title: ClassVar[str] = ""
    #: The parts of the state the panel is drawn from, besides the view's settings (show).
    reads: ClassVar[tuple[str, ...]] = ("params",)
    #: Whether its numbers change colour when its phase has just run (else only its border).
    paints_fresh: ClassVar[bool] = True
    drawn_from: tuple[object, ...] | None = None  # what the content on screen was drawn from
    #: The prefix of the qualified names (engine.explain.elements) of the tensors the panel draws.
    prefix: ClassVar[str] = ""
    built_width = -1
    cursor: Cell | None = None
    active = False  # the cursor is drawn: the panel has the focus
    sources: frozenset[Cell] = frozenset()
    cursor_line: int | None = None  # the line of the content the cursor is on
    targets: list[tuple[str, np.ndarray]] = []  # noqa: RUF012 (replaced, never mutated: the tensors drawn, by qualified name)

    class CursorMoved(Message):
        """The cursor moved, appeared or went away: the explanation and highlights follow."""

        def __init__(self, panel: Panel) -> None:
            super().__init__()
            self.panel = panel

    def on_mount(self) -> None:
        self.border_title = self.title

    def show(self, view: View) -> None:
        self.view = view
        state = view.state
        fresh = self.phase is not None and state.last_phase is self.phase
        self.set_class(fresh, "-fresh")
        # Sized for the network: the blocks pending now take the room they will fill.
        network = (view.model_name, tuple((n, np.shape(v)) for n, v in state.params.items()))
        drawn_from = (*self.read(state), network, self.step_shown(state),
                      fresh and self.paints_fresh,
                      view.config, view.user_code, view.bug, view.model_name, view.gradient_keys,
                      view.gradcheck_enabled, view.convention, view.log,
                      self.content_size.width, self.active, self.cursor, self.sources)
        if quiet.same(drawn_from, self.drawn_from):
            return  # nothing it shows has changed: most keys change a panel or two
        self.built_width = self.content_size.width
        known = qualified_tensors(state)
        content = self.draw(view, known)
        if self.active and self.targets and not self.cursor_valid():
            name, value = self.targets[0]
            self.cursor = (name, element_index(value, 0, 0))
            content = self.draw(view, known)
        self.cursor_line = self.line_of_cursor(content) if self.active else None
        quiet.update(self, quiet.steady(self, content, network))
        self.drawn_from = (*drawn_from[:-2], self.cursor, self.sources)  # the cursor as settled

    def read(self, state: State) -> tuple[object, ...]:
        """The parts of the state the panel is drawn from (`reads`): the same parts, the
        same drawing."""
        return tuple(getattr(state, part) for part in self.reads)

    def step_shown(self, state: State) -> int | None:
        """The step number the panel says ("not computed yet in step 3"), None when it says
        none: a new step redraws only the panels that name it."""
        return state.step

    def draw(self, view: View, known: Mapping[str, Any], tagged: bool = False) -> Content:
        """The content with the marks; `tagged`: every cell carries cell_meta (which
        changes how a screenshot's text is cut up, so only a focused panel's does)."""
        marks = Marks(qualify=lambda name: self.qualified(name, known),
                      cursor=self.cursor if self.active else None, sources=self.sources,
                      tagged=tagged or self.active)
        with marking(marks):
            content = self.build(view, view.state)
        self.targets = list({name: value for name, value in marks.seen}.items())
        return content

    def qualified(self, name: str, known: Mapping[str, Any]) -> str | None:
        """The qualified name of the tensor a block of this panel shows, if it has one."""
        qualified = f"{self.prefix}.{name}"
        return qualified if self.prefix and qualified in known else None

    def cursor_valid(self) -> bool:
        if self.cursor is None:
            return False
        drawn = dict(self.targets)
        return self.cursor[0] in drawn and valid_index(drawn[self.cursor[0]], self.cursor[1])

    @staticmethod
    def line_of_cursor(content: Content) -> int | None:
        for span in content.spans:
            if isinstance(span.style, Style) and span.style.meta.get("cursor"):
                return content.plain[:span.start].count("\n")
        return None

    def move_cursor(self, direction: str) -> None:
        """Up and down through the rows, on into the tensor above or below; left and right
        through the columns. Summarised tensors are walked through their whole index space."""
        if not self.targets:
            return
        if not self.cursor_valid():
            name, value = self.targets[0]
            self.cursor = (name, element_index(value, 0, 0))
            return
        assert self.cursor is not None
        names = [name for name, _ in self.targets]
        t = names.index(self.cursor[0])
        value = self.targets[t][1]
        rows, cols = as_matrix(value).shape
        row, col = matrix_position(value, self.cursor[1])
        if direction == "left":
            col = max(0, col - 1)
        elif direction == "right":
            col = min(cols - 1, col + 1)
        elif direction == "up" and row > 0:
            row -= 1
        elif direction == "down" and row < rows - 1:
            row += 1
        elif direction in ("up", "down"):
            beyond = self.next_tensor(t + (-1 if direction == "up" else 1), direction, col)
            self.cursor = beyond or self.cursor
            return
        self.cursor = (self.targets[t][0], element_index(value, row, col))

    def next_tensor(self, t: int, direction: str, col: int) -> Cell | None:
        """Up from a tensor's first row into the last row of tensor t, or down from its last
        row into tensor t's first, the same column if it has it; None past the ends."""
        if not 0 <= t < len(self.targets):
            return None
        name, value = self.targets[t]
        rows, cols = as_matrix(value).shape
        return name, element_index(value, rows - 1 if direction == "up" else 0, min(col, cols - 1))

    def action_cursor(self, direction: str) -> None:
        self.move_cursor(direction)
        self.post_message(self.CursorMoved(self))

    def cells(self) -> Iterator[tuple[Cell, int, int, int]]:
        """Every value drawn, with where it is: (cell, line, first column, column past its end)
        of the content region. One drawing serves them all."""
        if not hasattr(self, "view"):
            return
        content = self.draw(self.view, qualified_tensors(self.view.state), tagged=True)
        for y, line in enumerate(content.split("\n")):
            for span in line.spans:
                meta = span.style.meta if isinstance(span.style, Style) else {}
                if "cell" in meta:
                    cell = str(meta["cell"]), tuple(int(i) for i in meta["index"])
                    yield cell, y, cell_len(line.plain[:span.start]), cell_len(line.plain[:span.end])

    def cell_at(self, x: int, y: int) -> Cell | None:
        """The cell drawn at (x, y) of the content region, if any."""
        return next((cell for cell, line, start, end in self.cells() if line == y and start <= x < end),
                    None)

    def on_click(self, event: events.Click) -> None:
        """A click on a value puts the cursor there."""
        offset = event.get_content_offset(self)
        cell = self.cell_at(offset.x, offset.y) if offset is not None else None
        if cell is not None:
            self.cursor = cell
            self.focus()
            self.post_message(self.CursorMoved(self))

    def on_focus(self) -> None:
        self.post_message(self.CursorMoved(self))

    def on_blur(self) -> None:
        self.post_message(self.CursorMoved(self))

    def on_resize(self) -> None:
        """Layouts that depend on the width (bands of columns, side-by-side grids) are
        rebuilt; a new height alone, which every new content brings, needs no rebuild."""
        if hasattr(self, "view") and self.content_size.width != self.built_width:
            self.show(self.view)

    def build(self, view: View, state: State) -> Content:
        raise NotImplementedError

    def formula(self) -> Content:
        """The phase's maths for the model on screen (tui.app.widgets.formulas.for_view): a
        file's own, never the built-in network's lines for tensors the file computes its way."""
        assert self.phase is not None
        return Content.styled(for_view(self.view)[self.phase], MUTED)

    def fresh(self, state: State) -> bool:
        return state.last_phase is self.phase

    def tensor(self, name: str, value: np.ndarray, **marks: object) -> Content:
        """A tensor block fitted to this panel's width."""
        return tensor_block(name, value, width=self.content_size.width, **marks)  # type: ignore[arg-type]

    def heading(self, l: int) -> Content:
        """layer 2 · 8 → 8 · tanh: what the blocks beneath it compute."""
        W = np.asarray(self.view.state.params[f"W{l}"])
        n_out, n_in = W.shape if W.ndim == 2 else ("?", "?")
        if W.ndim == 2 and self.view.convention == "cs231n":  # rows: W (n_in, n_out)
            n_in, n_out = W.shape
        text = f"── layer {l} · {n_in} → {n_out}"
        if not self.view.user_code:  # a user's file does not say its activation
            text += f" · {layer_function(self.view.config.architecture, l)}"
        rule = "─" * max(0, self.content_size.width - len(text) - 1)
        return Content.styled(f"{text} {rule}", "bold $text-primary")

    def grouped(self, blocks: dict[str, Content], layers: range, lead: tuple[str, ...] = ()) -> list[Content]:
        """The blocks under a heading per layer (layer_of), in the order of `layers`; the
        `lead` names before them and any other name after. Networks of one hidden layer
        (the notebook's) and models with names of their own are shown as they come."""
        L = layer_count(self.view.state.params)
        if L is None or L < HEADINGS_FROM:
            return list(blocks.values())
        by_layer: dict[int, list[Content]] = {}
        first, rest = [], []
        for name, block in blocks.items():
            l = layer_of(name)
            if name in lead:
                first.append(block)
            elif l is None or l > L:
                rest.append(block)
            else:
                by_layer.setdefault(l, []).append(block)
        for l in layers:
            if l in by_layer:
                head, *tail = by_layer[l]
                first += [Content.assemble(self.heading(l), "\n", head), *tail]
        return first + rest


#: Headings per layer from this many weight layers on: the notebook's two read well without.
HEADINGS_FROM = 3


def join(blocks: list[Content]) -> Content:
    return Content("\n\n").join(blocks)


def unit_style(dead: np.ndarray, axis: int, fresh: bool) -> Callable[[tuple[int, ...]], str]:
    """Dead units in red, along the axis that indexes the units."""
    plain = FRESH if fresh else ""
    return lambda i: DEAD if dead[i[axis]] else plain


class ParametersPanel(Panel):
    prefix = "params"
    phase = Phase.UPDATE
    title = "Parameters"

    def step_shown(self, state: State) -> int | None:
        return None

    def build(self, view: View, state: State) -> Content:
        fresh = self.fresh(state)
        note = "updated" if fresh else ""
        blocks = {n: self.tensor(n, state.params[n], fresh=fresh, note=note) for n in state.params}
        return join(self.grouped(blocks, range(1, len(state.params))))


class ForwardPanel(Panel):
    prefix = "forward"
    reads = ("forward",)  # the parameters' names and shapes only (show's network)
    phase = Phase.FORWARD
    title = "Forward cache"

    def step_shown(self, state: State) -> int | None:
        return state.step if state.forward is None else None

    def build(self, view: View, state: State) -> Content:
        blocks = [self.formula()]
        if state.forward is None:
            blocks.append(pending(listed(self.to_come(view)),
                                  f"not computed yet in step {state.step}: press n to run forward"))
            return join(blocks)
        fresh = self.fresh(state)
        dead, why_not = dead_layers(view)
        tensors = {name: self.cached(name, value, fresh, dead, why_not)
                   for name, value in state.forward.cache.items()}
        L = layer_count(state.params) or 0
        blocks += self.grouped(tensors, range(1, L + 1), lead=("x",))
        blocks.append(scalar_line("loss", Content.styled("loss", FRESH if fresh else "bold"),
                                  state.forward.loss))
        return join(blocks)

    def to_come(self, view: View) -> list[str]:
        """What the forward pass will cache, where that is known before it runs: the built-in
        network's x, z_l, a_l; a cs231n class's scores (all the stepper sees of it)."""
        seen = picture.of_view(view).kind
        L = layer_count(view.state.params)
        if seen == picture.BUILTIN and L:
            return ["x", *(f"{k}{l}" for l in range(1, L + 1) for k in "za"), "loss"]
        if seen == picture.CS231N:
            return ["scores", "loss"]
        return [f"the forward cache of {view.model_name}" if view.user_code else "the forward cache"]

    def cached(self, name: str, value: Any, fresh: bool, dead: dict[int, np.ndarray],
               why_not: dict[int, str]) -> Content:
        """A value of the forward cache: a tensor (a hidden layer's z and a with its dead
        units marked, and under its z why they cannot be), or the repr of what is not one."""
        parsed = parse_name(name)
        l = (parsed.layer or 0) if parsed is not None and parsed.symbol in ("z", "a") else 0
        if not is_numeric(value):
            block = Content.assemble((printable(name, oneline=True), "bold"),
                                     (f"  {type_name(value)}  ", MUTED), safe_repr(value))
        elif l in dead and np.shape(value) == dead[l].shape:
            block = self.tensor(name, np.asarray(value), fresh=fresh, note=dead_note(dead[l]),
                                style_of=unit_style(dead[l], -1, fresh))
        else:
            block = self.tensor(name, np.asarray(value), fresh=fresh,
                                style_of=(lambda _i: FRESH) if fresh else None)
        if name == f"z{l}" and l in why_not:
            block = Content.assemble(block, "\n", (why_not[l], MUTED))
        return block


#: How a user's backward keys its gradients (Model.gradient_keys), as the panel says it.
GRADIENT_KEYS = {"d": "gradients keyed dW (the notebook's dW1)",
                 "name": "gradients keyed by name (cs231n's grads['W1']), shown as d + name"}


def backward_order(L: int, names: list[str]) -> list[str]:
    """The gradients in backward order, as the chain rule runs: each layer's dz, dW, db, then
    the da it passes down (the notebook's dz2, dW2, db2, da1, dz1, dW1, db1); names of a
    model's own after them, as it gave them."""
    order = [n for l in range(L, 0, -1) for n in (f"dz{l}", f"dW{l}", f"db{l}", f"da{l - 1}")]
    ordered = [n for n in order if n in names]
    return ordered + [n for n in names if n not in ordered]


class GradientsPanel(Panel):
    prefix = "backward"
    reads = ("forward", "backward")  # the forward pass: its dead units
    phase = Phase.BACKWARD
    title = "Gradients"

    def step_shown(self, state: State) -> int | None:
        return state.step if state.backward is None else None

    def build(self, view: View, state: State) -> Content:
        blocks = [self.formula()]
        if view.user_code or view.bug is not None:  # not the correct built-in backward
            blocks.append(Content.styled(f"model: {printable(view.model_name, oneline=True)}", FAIL))
        if view.user_code:
            blocks[-1] = Content.assemble(blocks[-1], "\n",
                                          (GRADIENT_KEYS.get(view.gradient_keys, ""), MUTED))
        if (stopped := deadnet.of_view(view)) is not None:
            blocks.append(Content.styled(f"dead network: {stopped.message}", FAIL))
        if state.backward is None:
            blocks.append(pending(listed([f"d{n}" for n in state.params]),
                                  f"not computed yet in step {state.step}: backward runs after forward"))
            return join(blocks)
        fresh = self.fresh(state)
        dead, why_not = dead_layers(view)
        blocks += [Content.styled(note, MUTED) for note in why_not.values()]
        L = layer_count(state.params) or 2
        tensors = {name: self._gradient(name, np.asarray(state.backward[name]), dead, fresh)
                   for name in backward_order(L, list(state.backward))}
        blocks += self.grouped(tensors, range(L, 0, -1))
        return join(blocks)

    def _gradient(self, name: str, value: np.ndarray, dead: dict[int, np.ndarray], fresh: bool) -> Content:
        """A dead unit zeroes its own dz and db, and its row of dW; its da is upstream of
        the ReLU and stays unmarked."""
        parsed = parse_name(name)
        kind, mask = (parsed.symbol, dead.get(parsed.layer or 0)) if parsed else ("", None)
        if mask is not None and kind in ("dz", "db") and value.shape == mask.shape:
            return self.tensor(name, value, fresh=fresh, note=dead_note(mask),
                               style_of=unit_style(mask, -1, fresh))
        if mask is not None and kind == "dW" and value.ndim == 2 and value.shape[0] == mask.size:
            def row_note(r: int) -> tuple[str, str] | None:
                if not mask[r]:
                    return None
                if np.any(value[r] != 0):  # a correct backward zeroes it: point at the bug
                    return "← dead: should be 0", FAIL
                return "← dead unit: row zeroed", DEAD

            return self.tensor(name, value, fresh=fresh, note=dead_note(mask),
                               style_of=unit_style(mask, 0, fresh), row_note=row_note)
        return self.tensor(name, value, fresh=fresh, style_of=(lambda _i: FRESH) if fresh else None)


def _check_line(check: TensorCheck) -> Content:
    """A tensor's verdict, its largest differences, its worst element and its kinks."""
    verdict = {"pass": ("✓ pass", PASS), "fail": (f"✗ FAIL ×{int(check.failing.sum())}", FAIL),
               "unresolved": (f"? unresolved ×{int(check.unresolved.sum())}", WARN)}[check.verdict]
    parts: list[str | tuple[str, str]] = [
        (f"{check.name:<3}", "bold"), " ", verdict,
        (f"  max|a−n| {check.max_abs_diff:.1e}  rel {check.max_rel_error:.1e}", MUTED),
    ]
    if check.worst_index is not None:
        parts.append(_worst_line(check, check.worst_index))
    if check.kink_count:
        parts += _kink_lines(check)
    if any(r.cleared for r in check.rechecked):
        parts += _rechecked_lines(check)
    return Content.assemble(*parts)


def _rechecked_lines(check: TensorCheck) -> list[tuple[str, str]]:
    """The elements that failed at eps and were judged again: how many were a kink, the step,
    unresolved, or still fail, and the first three with the numbers that decided them."""
    counts = ", ".join(f"{check.rechecked_count(status)} {status}"
                       for status in ("kink", "step", "unresolved", "fail")
                       if check.rechecked_count(status))
    lines = [(f"\n     ↻ {len(check.rechecked)} rechecked: {counts}", WARN)]
    for r in check.rechecked[:3]:
        value = float(check.analytic[r.index])
        why = (f"one-sided {number(r.left, '.6g')} … {number(r.right, '.6g')}" if r.status == "kink"
               else f"n {number(r.slope_at_step, '.6g')} at step {r.step:.2g}")
        lines.append((f"\n       ↻ {list(r.index)} {r.label}: a {number(value, '.6g')}  {why}",
                      FAIL if r.status == "fail" else WARN))
    return lines


def _worst_line(check: TensorCheck, worst: tuple[int, ...]) -> tuple[str, str]:
    """The worst element: analytic against numerical, or at a kink against the one-sided slopes."""
    style = "" if check.passed else FAIL
    if check.worst_is_kink and check.one_sided is not None:
        left, right = (float(side[worst]) for side in check.one_sided)
        return (f"\n     worst {list(worst)} ⚡: a {number(check.worst_analytic, '.6g')}  "
                f"one-sided {number(left, '.6g')} … {number(right, '.6g')}", style)
    return (f"\n     worst {list(worst)}: a {number(check.worst_analytic, '.6g')}  "
            f"n {number(check.worst_numerical, '.6g')}", style)


def _kink_lines(check: TensorCheck) -> list[tuple[str, str]]:
    """The kink elements' count and judgement, and the first three inconsistent ones."""
    bad = check.inconsistent_count
    judged = check.one_sided is not None
    words = (f"{check.kink_count - bad} consistent, {bad} inconsistent" if judged else "excluded")
    lines = [(f"\n     ⚡ {check.kink_count} kink element(s): {words}", FAIL if bad else WARN)]
    if bad and check.inconsistent is not None and check.one_sided is not None:
        for index in list(zip(*np.nonzero(check.inconsistent), strict=True))[:3]:
            idx = tuple(int(i) for i in index)
            left, right = (float(side[idx]) for side in check.one_sided)
            value = float(check.analytic[idx])
            lines.append((f"\n       ⚡ {list(idx)} kink: inconsistent: a {number(value, '.6g')} "
                          f"outside {number(left, '.6g')} … {number(right, '.6g')}", FAIL))
    return lines


def _check_grids(check: TensorCheck, width: int) -> Content:
    excused = check.cleared
    def style_of(index: tuple[int, ...]) -> str:
        index = index[-check.analytic.ndim:] if check.analytic.ndim else index
        if check.kinks[index] or check.unresolved[index] or excused[index]:
            return WARN
        return FAIL if check.failing[index] else ""

    analytic = tensor_block(f"{check.name} analytic", check.analytic, style_of=style_of, width=width)
    numerical = tensor_block(f"{check.name} numerical", check.numerical, style_of=style_of, width=width)
    return side_by_side(analytic, numerical, width)


class GradcheckPanel(Panel):
    phase = Phase.GRADCHECK
    paints_fresh = False  # its grids are coloured by verdict: the next key need not redraw them
    title = "Gradient check"

    def read(self, state: State) -> tuple[object, ...]:
        """Without a check, whether one is still to come (the last phase): with one, the
        grids do not change as the step goes on, and are not drawn again."""
        return (state.gradcheck, state.last_phase if state.gradcheck is None else None)

    def step_shown(self, state: State) -> int | None:
        return state.step if state.gradcheck is None else None

    def qualified(self, name: str, known: Mapping[str, Any]) -> str | None:
        """"W1 analytic" is backward's dW1, "W1 numerical" the check's own."""
        base, _, side = name.rpartition(" ")
        candidates = [f"backward.d{base}", f"backward.{base}"] if side == "analytic" else \
            [f"gradcheck.{base}"] if side == "numerical" else []
        return next((c for c in candidates if c in known), None)

    def build(self, view: View, state: State) -> Content:
        blocks = [self.formula()]
        if view.bug:
            blocks.append(Content.styled(f"fault drill: injected bug {view.bug!r}", FAIL))
        if not view.gradcheck_enabled:
            blocks.append(Content.styled("gradient check is off (press g to turn it on)", MUTED))
        check = state.gradcheck
        if check is None:
            # Updated without a check: this step has none (it was off, or not this step's with
            # a check every N steps); "yet" would promise one.
            later = "" if state.last_phase is Phase.UPDATE else " yet"
            blocks.append(pending("numerical gradients", f"not computed{later} in step {state.step}"))
            return join(blocks)
        summary: list[str | tuple[str, str]] = [(f"{check.method} method, eps {check.eps:g}: ", "bold")]
        if check.passed:
            count = len(check.tensors)
            summary.append((f"all {'four' if count == 4 else count} tensors pass", PASS))
        if check.failed_names:
            summary.append((f"FAILED: {', '.join(check.failed_names)} ", FAIL))
        if check.unresolved_names:
            summary.append((f"unresolved: {', '.join(check.unresolved_names)}", WARN))
        blocks.append(Content.assemble(*summary))
        if (stopped := deadnet.of_view(view)) is not None:  # before any one tensor's diagnosis
            blocks.append(Content.styled(f"dead network: {stopped.message}", FAIL))
        if check.diagnosis:
            blocks.append(Content.styled("\n".join(f"{d.tensor}: {d.kind} — {d.detail}"
                                                   for d in check.diagnosis), FAIL))
        blocks.append(Content("\n").join([_check_line(t) for t in check.tensors.values()]))
        for note in check.notes:
            blocks.append(Content.styled(note, WARN))
        blocks.extend(_check_grids(t, self.content_size.width) for t in check.tensors.values())
        return join(blocks)


class UpdatePanel(Panel):
    phase = Phase.UPDATE
    reads = ("forward", "update")  # the forward pass: the loss before
    title = "Update"

    def step_shown(self, state: State) -> int | None:
        return state.step if state.update is None else None

    def qualified(self, name: str, known: Mapping[str, Any]) -> str | None:
        base, _, side = name.rpartition(" ")
        qualified = {"before": f"update.before.{base}", "after": f"update.{base}"}.get(side)
        return qualified if qualified in known else None

    def __init__(self, **kwargs: str) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.deltas: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def delta(self, name: str, old: np.ndarray, new: np.ndarray) -> np.ndarray:
        """new − old, read-only and kept while the update is on screen, so its summary is
        taken once, not at every redraw."""
        kept = self.deltas.get(name)
        if kept is not None and kept[0] is old and kept[1] is new:
            return kept[2]
        with np.errstate(all="ignore"):
            delta = np.asarray(new - old)
        delta.setflags(write=False)
        self.deltas[name] = (old, new, delta)
        return delta

    def build(self, view: View, state: State) -> Content:
        blocks = [self.formula(), Content.styled(_rate_words(view, state), MUTED)]
        if state.update is None:
            blocks.append(pending(listed(list(state.params)), f"not updated yet in step {state.step}"))
            return join(blocks)
        fresh = self.fresh(state)
        before = state.forward.loss if state.forward else float("nan")
        after = state.update.loss_after
        change = after - before
        blocks.append(Content.assemble(("loss ", "bold"), f"{before:.6g} → ",
                                       (f"{after:.6g}", FRESH if fresh else "bold"),
                                       (f"  ({change:+.4g})", PASS if change < 0 else FAIL)))
        update = state.update
        if update.diagnosis:
            blocks.append(Content.styled("the update differs from its rule:\n" + "\n".join(
                f"{d.tensor}: {d.kind} — {d.detail}" for d in update.diagnosis), FAIL))
        if "t" in update.optim_after:
            blocks.append(Content.assemble(("t ", "bold"), f"{update.optim_before['t']} → ",
                                           (f"{update.optim_after['t']}", FRESH if fresh else "bold")))
        plain = not update.optim_after
        tensors = {}
        for name in update.after:
            old, new = update.before[name], update.after[name]
            delta = self.delta(name, old, new)
            tensors[name] = Content.assemble(
                self.tensor(f"{name} before", old), "\n",
                self.tensor(f"{name} after", new, fresh=fresh), "\n",
                self.tensor(f"Δ{name} = −lr·d{name}" if plain else f"Δ{name}", delta),
                *self.state_blocks(update, name, fresh))
        blocks += self.grouped(tensors, range(1, len(tensors) + 1))
        return join(blocks)

    def state_blocks(self, update: Update, name: str, fresh: bool) -> list[Content | str]:
        """The optimizer's state of one parameter after the update (its moments, Adam's m̂ and
        v̂), each a tensor the cursor can explain."""
        blocks: list[Content | str] = []
        for key, value in (update.optim_after | update.cached).items():
            if key.partition("_")[2] == name:
                blocks += ["\n", self.tensor(f"{key} after", value, fresh=fresh)]
        return blocks


def _rate_words(view: View, state: State) -> str:
    """"lr = 0.1", or the optimizer's name, the rate its last update used and its settings,
    and whose rule made the update when a model file brought its own."""
    config = view.config
    rule = state.update.rule if state.update is not None else ""
    if not rule and config.optimizer == "sgd" and config.decay == 1:
        return f"lr = {config.lr:g}"
    used = state.update.lr if state.update is not None and state.update.lr is not None else config.lr
    settings = "".join(f"  {SYMBOLS[key]} = {getattr(config, key):g}" for key in READS[config.optimizer])
    decay = f"  decay = {config.decay:g} an epoch" if config.decay != 1 else ""
    by = f"  by the file's {rule}" if rule else ""
    return f"{TITLES[config.optimizer]}  lr = {used:g}{settings}{decay}{by}"
