"""The Explain panel: why the element under the cell cursor is what it is.

It shows engine.explain's Explanation of that element: the formula, the same formula with
the numbers substituted, the chain one factor deeper a line, a sum's largest terms and its
total, a numerical gradient's verdict, and notes. `e` opens and closes it; it follows the
cursor. The cells the element is computed from are highlighted in the panels by the app.
"""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.widgets import Static

import engine.explain as engine_explain
from engine.explain import Explanation
from engine.stepper import View
from tui.text import printable
from tui.widgets.tensor import FAIL, MUTED, PASS, WARN, Cell, index_label

#: The terms of a sum shown, largest |term| first; the rest are counted.
SHOWN_TERMS = 8


def explain_cell(view: View, cell: Cell) -> Explanation:
    """engine.explain.explain for a cell of the cursor."""
    function: Any = getattr(engine_explain, "explain", None)
    if function is None:
        raise LookupError("this engine has no explain() yet")
    explanation: Explanation = function(view, cell[0], cell[1])
    return explanation


def verdict_style(verdict: str) -> str:
    lowered = verdict.lower()
    if "fail" in lowered:
        return FAIL
    if "kink" in lowered or "unresolved" in lowered:
        return WARN
    return PASS if "pass" in lowered else ""


def explanation_text(explanation: Explanation) -> Content:
    lines: list[Content] = [Content.styled(printable(explanation.formula, oneline=True), "bold"),
                            Content(printable(explanation.substituted, oneline=True))]
    lines += [Content(printable(line, oneline=True)) for line in explanation.chain]
    terms = explanation.terms
    if terms:
        largest = sorted(terms, key=lambda t: abs(t.value), reverse=True)[:SHOWN_TERMS]
        what = f"the {len(largest)} largest |term| of {len(terms)}" if len(terms) > SHOWN_TERMS else \
            f"{len(terms)} term{'s' if len(terms) != 1 else ''}"
        lines.append(Content.styled(f"terms: {what}", MUTED))
        width = max(len(printable(t.label, oneline=True)) for t in largest)
        lines += [Content(f"  {printable(t.label, oneline=True):<{width}}  {t.value: .6g}") for t in largest]
        if len(terms) > SHOWN_TERMS:
            lines.append(Content.styled(f"  + {len(terms) - SHOWN_TERMS} more terms", MUTED))
        total = sum(t.value for t in terms)
        lines.append(Content.assemble(("  total ", "bold"), f"{total: .6g}"))
    if explanation.verdict:
        lines.append(Content.styled(f"verdict: {printable(explanation.verdict, oneline=True)}",
                                    verdict_style(explanation.verdict)))
    lines += [Content.styled(printable(note, oneline=True), MUTED) for note in explanation.notes]
    return Content("\n").join(lines)


class ExplainPanel(Static):
    """Shown under the panels while open; its title names the element explained."""

    def on_mount(self) -> None:
        self.border_title = "Explain"

    def show(self, view: View, cell: Cell | None) -> Explanation | None:
        """Explain `cell` (None: say how to pick one); the explanation, if there is one."""
        if cell is None:
            self.border_title = "Explain"
            self.update(Content.styled("Focus a panel (tab) and move the cursor (arrows, h/j/k/l, or "
                                       "a click): the element under it is explained here. e closes.", MUTED))
            return None
        self.border_title = f"Explain {printable(index_label(cell[0], cell[1]), oneline=True)}"
        try:
            explanation = explain_cell(view, cell)
        except Exception as error:  # an element the engine cannot derive: say so, keep the app
            self.update(Content.styled(f"Cannot explain {index_label(cell[0], cell[1])}: "
                                       f"{printable(str(error), oneline=True)}", WARN))
            return None
        self.update(explanation_text(explanation))
        return explanation
