"""The panels: one job each, all drawn from the stepper's current State.

A panel belongs to the phase that fills it; when that phase is the one that just ran,
the panel is marked fresh so the eye goes where the numbers changed.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from textual.content import Content
from textual.widgets import Static

from engine.gradcheck import ATOL, RTOL, TensorCheck
from engine.stepper import Phase, State, Stepper
from tui.text import printable, safe_repr, type_name
from tui.widgets.tensor import (
    DEAD,
    FAIL,
    FRESH,
    MUTED,
    PASS,
    WARN,
    pending,
    shape_label,
    side_by_side,
    tensor_block,
)

FORMULAS = {
    Phase.FORWARD: "z1 = W1·x + b1        a1 = relu(z1)\n"
                   "z2 = W2·a1 + b2       a2 = σ(z2)\n"
                   "L  = −[y·log a2 + (1−y)·log(1−a2)]",
    Phase.BACKWARD: "dz2 = a2 − y          dW2 = dz2·a1ᵀ    db2 = dz2\n"
                    "da1 = W2ᵀ·dz2         dz1 = da1 ⊙ relu′(z1)\n"
                    "dW1 = dz1·xᵀ          db1 = dz1",
    Phase.GRADCHECK: "n = (L(θ+ε) − L(θ−ε)) / 2ε, element by element\n"
                     f"pass: |a − n| ≤ {ATOL:g} + {RTOL:g}·max(|a|, |n|)\n"
                     "⚡ kink: the nudge flips a ReLU; shown, not judged",
    Phase.UPDATE: "W ← W − lr·dW          for W1, b1, W2, b2",
}


def is_numeric(value: object) -> bool:
    """Arrays and numbers (complex too) are drawn as tensors; anything else a user caches
    as its repr."""
    try:
        return np.asarray(value).dtype.kind in "biufc"
    except Exception:  # a user's object may raise anything from __array__
        return False


def dead_units(state: State) -> tuple[np.ndarray | None, str]:
    """Hidden units whose ReLU is off (z1 <= 0) in this step's forward pass, and a note
    when a user's z1 cannot say: units are marked only when z1 holds real numbers, one
    per hidden unit, in shape (hidden,)."""
    if state.forward is None or "z1" not in state.forward.cache:
        return None, ""
    z1 = state.forward.cache["z1"]
    hidden = state.params["W1"].shape[0]
    try:
        array = np.asarray(z1)
    except Exception:  # as in is_numeric
        array = np.asarray(None)
    if array.dtype.kind not in "biuf":
        what = f"an array of {array.dtype}" if isinstance(z1, np.ndarray) else \
            "None" if z1 is None else f"a {type_name(z1)}"
        return None, f"z1 is {printable(what, oneline=True)}; dead units not marked"
    if array.shape != (hidden,):
        return None, f"z1 has shape {shape_label(array)}, not ({hidden},); dead units not marked"
    with np.errstate(invalid="ignore"):
        return array <= 0, ""


def dead_note(dead: np.ndarray) -> str:
    return f"{int(dead.sum())} of {dead.size} units dead" if dead.any() else ""


class Panel(Static, can_focus=True):
    """A bordered, focusable panel; subclasses build its content from the state."""

    phase: ClassVar[Phase | None] = None
    title: ClassVar[str] = ""

    def on_mount(self) -> None:
        self.border_title = self.title

    def show(self, stepper: Stepper) -> None:
        self.stepper = stepper
        state = stepper.state
        self.set_class(self.phase is not None and state.last_phase is self.phase, "-fresh")
        self.update(self.build(stepper, state))

    def on_resize(self) -> None:
        """Layouts that depend on the width (side-by-side columns) are rebuilt."""
        if hasattr(self, "stepper"):
            self.update(self.build(self.stepper, self.stepper.state))

    def build(self, stepper: Stepper, state: State) -> Content:
        raise NotImplementedError

    def formula(self) -> Content:
        assert self.phase is not None
        return Content.styled(FORMULAS[self.phase], MUTED)

    def fresh(self, state: State) -> bool:
        return state.last_phase is self.phase


def join(blocks: list[Content]) -> Content:
    return Content("\n\n").join(blocks)


class ParametersPanel(Panel):
    phase = Phase.UPDATE
    title = "Parameters"

    def build(self, stepper: Stepper, state: State) -> Content:
        fresh = self.fresh(state)
        note = "updated" if fresh else ""
        return join([tensor_block(n, state.params[n], fresh=fresh, note=note) for n in state.params])


class ForwardPanel(Panel):
    phase = Phase.FORWARD
    title = "Forward cache"

    def build(self, stepper: Stepper, state: State) -> Content:
        blocks = [self.formula()]
        if state.forward is None:
            blocks.append(pending("x, z1, a1, z2, a2, loss",
                                  f"not computed yet in step {state.step}: press n to run forward"))
            return join(blocks)
        fresh = self.fresh(state)
        dead, why_not = dead_units(state)
        plain = FRESH if fresh else ""
        for name, value in state.forward.cache.items():
            if not is_numeric(value):
                blocks.append(Content.assemble((printable(name, oneline=True), "bold"),
                                               (f"  {type_name(value)}  ", MUTED),
                                               safe_repr(value)))
            elif dead is not None and name in ("z1", "a1") and np.shape(value) == dead.shape:
                blocks.append(tensor_block(name, np.asarray(value), fresh=fresh, note=dead_note(dead),
                                           style_of=lambda i: DEAD if dead[i[-1]] else plain))
            else:
                blocks.append(tensor_block(name, np.asarray(value), fresh=fresh,
                                           style_of=(lambda _i: plain) if fresh else None))
            if name == "z1" and why_not:
                blocks[-1] = Content.assemble(blocks[-1], "\n", (why_not, MUTED))
        blocks.append(Content.assemble(("loss", FRESH if fresh else "bold"),
                                       f"  {state.forward.loss!r}"))
        return join(blocks)


class GradientsPanel(Panel):
    phase = Phase.BACKWARD
    title = "Gradients"
    ORDER = ("dz2", "dW2", "db2", "da1", "dz1", "dW1", "db1")
    #: Gradients a dead unit zeroes: per unit (dz1, db1) and per row (dW1).
    PER_UNIT = ("dz1", "db1")

    def build(self, stepper: Stepper, state: State) -> Content:
        blocks = [self.formula()]
        if stepper.model.user_code or stepper.model.bug is not None:  # not the correct built-in backward
            blocks.append(Content.styled(f"model: {printable(stepper.model.name, oneline=True)}", FAIL))
        if state.backward is None:
            blocks.append(pending("dW1, db1, dW2, db2",
                                  f"not computed yet in step {state.step}: backward runs after forward"))
            return join(blocks)
        fresh = self.fresh(state)
        dead, why_not = dead_units(state)
        if why_not:
            blocks.append(Content.styled(why_not, MUTED))
        names = [n for n in self.ORDER if n in state.backward]
        names += [n for n in state.backward if n not in names]
        for name in names:
            value = np.asarray(state.backward[name])
            blocks.append(self._gradient(name, value, dead, fresh))
        return join(blocks)

    def _gradient(self, name: str, value: np.ndarray, dead: np.ndarray | None, fresh: bool) -> Content:
        plain = FRESH if fresh else ""
        if dead is not None and name in self.PER_UNIT and value.shape == dead.shape:
            return tensor_block(name, value, fresh=fresh, note=dead_note(dead),
                                style_of=lambda i: DEAD if dead[i[-1]] else plain)
        if dead is not None and name == "dW1" and value.ndim == 2 and value.shape[0] == dead.size:
            def row_note(r: int) -> tuple[str, str] | None:
                if not dead[r]:
                    return None
                if np.any(value[r] != 0):  # a correct backward zeroes it: point at the bug
                    return "← dead: should be 0", FAIL
                return "← dead unit: row zeroed", DEAD

            return tensor_block(name, value, fresh=fresh, note=dead_note(dead),
                                style_of=lambda i: DEAD if dead[i[0]] else plain, row_note=row_note)
        return tensor_block(name, value, fresh=fresh, style_of=(lambda _i: plain) if fresh else None)


def _check_line(check: TensorCheck) -> Content:
    verdict = {"pass": ("✓ pass", PASS), "fail": (f"✗ FAIL ×{int(check.failing.sum())}", FAIL),
               "unresolved": (f"? unresolved ×{int(check.unresolved.sum())}", WARN)}[check.verdict]
    parts: list[str | tuple[str, str]] = [
        (f"{check.name:<3}", "bold"), " ", verdict,
        (f"  max|a−n| {check.max_abs_diff:.1e}  rel {check.max_rel_error:.1e}", MUTED),
    ]
    if check.worst_index is not None:
        parts.append((f"\n     worst {list(check.worst_index)}: a {check.worst_analytic:.6g}  "
                      f"n {check.worst_numerical:.6g}", "" if check.passed else FAIL))
    if check.kink_count:
        parts.append((f"\n     ⚡ {check.kink_count} kink element(s), excluded", WARN))
    return Content.assemble(*parts)


def _check_grids(check: TensorCheck, width: int) -> Content:
    def style_of(index: tuple[int, ...]) -> str:
        index = index[-check.analytic.ndim:] if check.analytic.ndim else index
        if check.kinks[index] or check.unresolved[index]:
            return WARN
        return FAIL if check.failing[index] else ""

    analytic = tensor_block(f"{check.name} analytic", check.analytic, style_of=style_of)
    numerical = tensor_block(f"{check.name} numerical", check.numerical, style_of=style_of)
    return side_by_side(analytic, numerical, width)


class GradcheckPanel(Panel):
    phase = Phase.GRADCHECK
    title = "Gradient check"

    def build(self, stepper: Stepper, state: State) -> Content:
        blocks = [self.formula()]
        bug = stepper.model.bug
        if bug:
            blocks.append(Content.styled(f"fault drill: injected bug {bug!r}", FAIL))
        if not stepper.gradcheck_enabled:
            blocks.append(Content.styled("gradient check is off (press g to turn it on)", MUTED))
        check = state.gradcheck
        if check is None:
            blocks.append(pending("numerical gradients", f"not computed yet in step {state.step}"))
            return join(blocks)
        summary: list[str | tuple[str, str]] = [(f"{check.method} method, eps {check.eps:g}: ", "bold")]
        if check.passed:
            summary.append(("all four tensors pass", PASS))
        if check.failed_names:
            summary.append((f"FAILED: {', '.join(check.failed_names)} ", FAIL))
        if check.unresolved_names:
            summary.append((f"unresolved: {', '.join(check.unresolved_names)}", WARN))
        blocks.append(Content.assemble(*summary))
        blocks.append(Content("\n").join([_check_line(t) for t in check.tensors.values()]))
        for note in check.notes:
            blocks.append(Content.styled(note, WARN))
        blocks.extend(_check_grids(t, self.content_size.width) for t in check.tensors.values())
        return join(blocks)


class UpdatePanel(Panel):
    phase = Phase.UPDATE
    title = "Update"

    def build(self, stepper: Stepper, state: State) -> Content:
        blocks = [self.formula(), Content.styled(f"lr = {stepper.config.lr:g}", MUTED)]
        if state.update is None:
            blocks.append(pending("W1, b1, W2, b2", f"not updated yet in step {state.step}"))
            return join(blocks)
        fresh = self.fresh(state)
        before = state.forward.loss if state.forward else float("nan")
        after = state.update.loss_after
        change = after - before
        blocks.append(Content.assemble(("loss ", "bold"), f"{before:.6g} → ",
                                       (f"{after:.6g}", FRESH if fresh else "bold"),
                                       (f"  ({change:+.4g})", PASS if change < 0 else FAIL)))
        for name in state.update.after:
            old, new = state.update.before[name], state.update.after[name]
            with np.errstate(all="ignore"):
                delta = new - old
            blocks.append(Content.assemble(
                tensor_block(f"{name} before", old), "\n",
                tensor_block(f"{name} after", new, fresh=fresh), "\n",
                tensor_block(f"Δ{name} = −lr·d{name}", delta)))
        return join(blocks)
