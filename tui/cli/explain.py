"""--explain in the headless run: each element checked against the tensors of the final
state, and explained once the last step has run (engine.explain.elements).

The built-in network's final shapes follow from the architecture, so its elements are
checked before the run; a user's model's tensors are known only after it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from engine.explain.elements import Explanation, final_shapes, parse_element, resolve, shapes
from engine.explain.elements import explain as explain_element
from engine.run.stepper import Stepper
from tui.cli.options import PROG, Options
from tui.cli.stderr import BadElement
from tui.text import printable

#: The elements --explain names: a tensor's name and an index into it.
Elements = list[tuple[str, tuple[int, ...]]]


def elements_of(options: Options) -> Elements:
    """--explain's elements, their syntax already checked by tui.cli.options.parse."""
    return [parse_element(text) for text in options.explain]


def bad_before_run(options: Options, elements: Elements) -> int | None:
    """Exit status 2, its message printed, for an element the built-in network's final
    state will not have: refused before the run, so the report can still be streamed with
    nothing half-done. None when all are there."""
    return _bad_element(final_shapes(options.config.architecture, options.config.gradcheck,
                                     options.config.optimizer), elements)


def explainer(stepper: Stepper, elements: Elements) -> Callable[[], list[Explanation]]:
    """The explanations of the final state (after the last update), made when called: after
    the run. BadElement for an element a user's model's tensors do not have (its report is
    buffered, so stdout stays empty)."""
    def explain() -> list[Explanation]:
        view = stepper.view()  # the final state: after the last update
        known = shapes(view.state)
        problem = _bad_element(known, elements)
        if problem is not None:
            raise BadElement(problem)
        forward = stepper.model.forward if view.user_code else None
        return [explain_element(view, resolve(known, name, index), index, forward)
                for name, index in elements]

    return explain


def _bad_element(known: dict[str, tuple[int, ...]], elements: Elements) -> int | None:
    """Exit status 2, with the message (naming the tensors and shapes) on stderr, for the
    first element that is not in `known`; None when all are."""
    for name, index in elements:
        try:
            resolve(known, name, index)
        except ValueError as error:
            print(f"{PROG}: error: --explain: {printable(str(error), oneline=True)}", file=sys.stderr)
            return 2
    return None
