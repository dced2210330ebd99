"""What a phase's reader looks at first: the line of the panel it filled that the app scrolls
to the top of the screen after the phase (StepperApp.follow).

The seed notebook prints, after each phase, the first of what that phase computed: forward's
cache (z1, a1, … after the input x), backward's dW1 (then dW2), the gradient check's verdicts,
the update's new W1 (then W2). The panels draw each phase's work in the order the maths
runs it (backward: dz2, dW2, db2, da1, dz1, dW1, db1), so the notebook's first tensor can be
below the fold: the headline brings it to the top, with what follows it beneath.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.content import Content

from engine.run.stepper import State
from tui.app.widgets import quiet
from tui.app.widgets.panels import ForwardPanel, GradcheckPanel, GradientsPanel, Panel, ParametersPanel


def forward_headline(state: State) -> str | None:
    """The first of the cache after the input: z1 (the loss without a cache)."""
    if state.forward is None:
        return None
    cached = [name for name in state.forward.cache if name != "x"]
    return f"{cached[0]}  " if cached else "loss  "


def backward_headline(state: State) -> str | None:
    """The first parameter's gradient, dW1 (else the first gradient)."""
    names = list(state.backward or ())
    wanted = f"d{next(iter(state.params), '')}"
    return f"{wanted if wanted in names else names[0]}  " if names else None


def gradcheck_headline(state: State) -> str | None:
    """The verdicts: the summary line over them."""
    return None if state.gradcheck is None else f"{state.gradcheck.method} method"


def update_headline(state: State) -> str | None:
    """The new parameters: the first, W1."""
    return next((f"{name}  " for name in state.params), None)


#: The panel each phase fills and the start of its headline in a state.
HEADLINES: tuple[tuple[type[Panel], Callable[[State], str | None]], ...] = (
    (ForwardPanel, forward_headline), (GradientsPanel, backward_headline),
    (GradcheckPanel, gradcheck_headline), (ParametersPanel, update_headline))


def headline(panel: Panel, state: State) -> str | None:
    """The start of the line the panel's phase is read from, when `panel` is the panel that
    phase filled (None: it is not, or it has no such line). A tensor's line starts with its
    name and two spaces (tui.app.widgets.tensor.header)."""
    if state.last_phase is None or state.last_phase is not panel.phase:
        return None
    return next((find(state) for kind, find in HEADLINES if isinstance(panel, kind)), None)


def headline_line(panel: Panel, state: State) -> int | None:
    """The line of the panel's content (from 0, as drawn: a line too long for the panel
    wraps) to bring to the top of the screen: its headline's, or the layer heading's just
    above it (a deep network's "── layer 1 · …")."""
    start = headline(panel, state)
    content = quiet.shown(panel)
    if start is None or content is None:
        return None
    lines = content.plain.split("\n")
    found = next((i for i, line in enumerate(lines) if line.startswith(start)), None)
    if found is not None and found > 0 and lines[found - 1].startswith("── layer"):
        found -= 1
    if not found:
        return found
    return quiet.height(panel, Content("\n".join(lines[:found])))
