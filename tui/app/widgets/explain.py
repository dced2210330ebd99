"""The Explain panel: why the element under the cell cursor is what it is.

It shows engine.explain.elements's Explanation of that element: the formula, the same formula with
the numbers substituted, the chain one factor deeper a line, a sum's largest terms and its
total, a numerical gradient's verdict, and notes. `e` opens and closes it; it follows the
cursor. The cells the element is computed from are highlighted in the panels by the app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from textual.content import Content
from textual.widgets import Static

from engine.explain.catalog import tensors
from engine.explain.written import SHOWN_TERMS
from engine.run.stepper import View
from tui.app.widgets.tensor import FAIL, MUTED, PASS, SOURCE, WARN, Cell, index_label
from tui.text import number, printable

if TYPE_CHECKING:
    from engine.explain.explanation import Explanation, Source
    from engine.explain.origin import Origin

#: The panel that shows each qualifier's tensors, for the sources line.
PANEL_OF = {"params": "Parameters", "forward": "Forward cache", "backward": "Gradients",
            "gradcheck": "Gradient check", "update": "Update", "update.before": "Update"}
#: Sources named in the Explain panel; the rest are counted (all are highlighted).
SHOWN_SOURCES = 6


def sources_line(view: View, sources: tuple[Source, ...]) -> Content:
    """The cells lit in the panels, named with their values and panels, in the same style:
    a source scrolled out of sight is still said."""
    known = tensors(view.state)
    parts: list[str | tuple[str, str]] = [("from ", MUTED)]
    for n, source in enumerate(sources[:SHOWN_SOURCES]):
        phase, _, name = source.tensor.rpartition(".")
        try:
            value = f" = {number(np.asarray(known[source.tensor])[source.index], '.4g')}"
        except Exception:  # a source the state lacks (a user's model): named without a value
            value = ""
        if n:
            parts.append(("  ", ""))
        parts += [(printable(f"{index_label(name, source.index)}{value}", oneline=True), SOURCE),
                  (f" (in {PANEL_OF.get(phase, phase)})", MUTED)]
    if len(sources) > SHOWN_SOURCES:
        parts.append((f"  + {len(sources) - SHOWN_SOURCES} more", MUTED))
    return Content.assemble(*parts)


def verdict_style(verdict: str) -> str:
    lowered = verdict.lower()
    if "fail" in lowered:
        return FAIL
    if "kink" in lowered or "unresolved" in lowered:
        return WARN
    return PASS if "pass" in lowered else ""


def stages(formula: str, substituted: str) -> list[str]:
    """The substituted line's stages, one a line ("= ..."), without the ones that repeat
    the formula: "dW1[1,2] = dz1[1] · x[2] = (...) · x[2] = ... = 0.1321" under its formula
    reads down, one step of the chain a line, at any width."""
    if substituted == formula:  # nothing substituted (a value the stepper cannot derive)
        return []
    said, steps = formula.split(" = "), substituted.split(" = ")
    shared = 0
    while shared < min(len(said), len(steps) - 1) and said[shared] == steps[shared]:
        shared += 1
    return [f"  = {step}" for step in steps[max(shared, 1):]] if len(steps) > 1 else [substituted]


def explanation_text(explanation: Explanation, sources: Content | None = None) -> Content:
    """The formula, the substituted chain a stage a line, `sources` (sources_line), the
    further chain, the largest terms and their total, the verdict and the notes."""
    lines: list[Content] = [Content.styled(printable(explanation.formula, oneline=True), "bold")]
    lines += [Content(line) for line in stages(printable(explanation.formula, oneline=True),
                                                 printable(explanation.substituted, oneline=True))]
    if sources is not None:
        lines.append(sources)
    lines += [Content(printable(line, oneline=True)) for line in explanation.chain]
    terms = explanation.terms
    if terms:
        largest = sorted(terms, key=lambda t: abs(t.value), reverse=True)[:SHOWN_TERMS]
        what = f"the {len(largest)} largest |term| of {len(terms)}" if len(terms) > SHOWN_TERMS else \
            f"{len(terms)} term{'s' if len(terms) != 1 else ''}"
        lines.append(Content.styled(f"terms: {what}", MUTED))
        width = max(len(printable(t.label, oneline=True)) for t in largest)
        lines += [Content(f"  {printable(t.label, oneline=True):<{width}}  {number(t.value, ' .6g')}")
                  for t in largest]
        if len(terms) > SHOWN_TERMS:
            lines.append(Content.styled(f"  + {len(terms) - SHOWN_TERMS} more terms", MUTED))
        total = sum(t.value for t in terms)
        lines.append(Content.assemble(("  total ", "bold"), number(total, " .6g")))
    if explanation.verdict:
        lines.append(Content.styled(f"verdict: {printable(explanation.verdict, oneline=True)}",
                                    verdict_style(explanation.verdict)))
    lines += [Content.styled(printable(note, oneline=True), MUTED) for note in explanation.notes]
    return Content("\n").join(lines)


class ExplainPanel(Static):
    """Shown under the panels while open; its title names the element explained."""

    def on_mount(self) -> None:
        self.border_title = "Explain"

    def show(self, view: View, cell: Cell | None, first: Origin | None = None) -> Explanation | None:
        """Explain `cell`; with none, the first non-finite element of a diverged state
        (`first`), or say how to pick one. The explanation, if there is one."""
        if cell is None and first is not None and first.explanation is not None:
            element = printable(first.element, oneline=True)
            self.border_title = f"Explain {element}: the first non-finite value"
            lead = Content.styled(printable(first.sentences()[0], oneline=True), WARN)
            lit = first.lit_in(view) and first.explanation.sources
            sources = sources_line(view, first.explanation.sources) if lit else None
            self.update(Content("\n").join([lead, explanation_text(first.explanation, sources)]))
            return first.explanation
        if cell is None:
            self.border_title = "Explain"
            self.update(Content.styled("No element under a cursor: focus a panel with numbers (tab) and "
                                       "move its cursor (arrows, h/j/k/l, or a click); the element under "
                                       "it is explained here. e closes.", MUTED))
            return None
        self.border_title = f"Explain {printable(index_label(cell[0], cell[1]), oneline=True)}"
        # Here, when an element is first explained: engine.explain's derivations (every phase's,
        # a course's conventions) are start-up time the app's first screen does not need.
        from engine.explain.elements import explain

        try:
            explanation = explain(view, cell[0], cell[1])
        except Exception as error:  # an element the engine cannot derive: say so, keep the app
            self.update(Content.styled(f"Cannot explain {index_label(cell[0], cell[1])}: "
                                       f"{printable(str(error), oneline=True)}", WARN))
            return None
        sources = sources_line(view, explanation.sources) if explanation.sources else None
        self.update(explanation_text(explanation, sources))
        return explanation
