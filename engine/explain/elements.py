"""Why is this number what it is: any element of any tensor the stepper shows, derived.

An Explanation is the element's formula, the same formula with the actual numbers
substituted down to the values it came from, and the result, which equals the value shown.
Sums list their terms; a parameter says where it came from; a numerical gradient shows
L(θ+ε), L(θ−ε), the quotient and the verdict, with the finite-difference side labelled.
The cells an element is computed from are its `sources`, which the app highlights.

Tensors are named as the JSON trace names them, qualified by phase where a name is
ambiguous (engine.explain.catalog): "params.W1" (the current parameters; bare "W1" means
these), "forward.z1", "backward.dW1", "gradcheck.W1" (the numerical gradient), "update.W1"
(after the update) and "update.before.W1".

The entry points: explain(view, tensor, index, forward=None) and explain_text(view,
"dW1[1,2]"); parse_element reads an element as typed; tensors/shapes/resolve name
what exists; final_shapes says it for the built-in network before a run; redo(e) redoes an
explanation's last step from its operands, which is how the tests hold every explanation
to its number. Numbers in formulas have 4 significant digits; `value` is exact.

Each phase has its module, and PHASES says which explains what: forward, backward, batch
(a mini-batch's means), update (the parameters), check (a numerical gradient) and user (a
user's model, of which only the stepper's own computations are derived).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.explain import backward, batch, check, forward, update, user
from engine.explain.catalog import final_shapes, listing, parse_element, resolve, shapes, tensors
from engine.explain.check import ForwardFn
from engine.explain.explanation import OPERATIONS, Explanation, Source, Term, redo
from engine.explain.net import Net
from engine.explain.written import SHOWN_TERMS, element_label, num
from engine.run.stepper import View

__all__ = ["OPERATIONS", "PHASES", "SHOWN_TERMS", "Explanation", "ForwardFn", "Source", "Term",
           "element_label", "explain", "explain_text", "final_shapes", "listing", "num",
           "parse_element", "redo", "resolve", "shapes", "tensors"]

Explainer = Callable[[Net, str, str, tuple[int, ...], float], Explanation]

#: The built-in network's explainer of each phase's tensors (gradcheck's is check.explain,
#: which any model's numerical gradient shares).
PHASES: dict[str, Explainer] = {
    "forward": forward.explain,
    "backward": backward.explain,
    "params": update.params,
    "update": update.updated,
    "update.before": update.before,
    "optimizer": update.optimizer_state,
}


def explain(view: View, tensor: str, index: tuple[int, ...],
            forward: ForwardFn | None = None) -> Explanation:
    """Why element `index` of `tensor` (a qualified or bare name, see resolve) is what it is,
    in the state the view shows. `forward` (x, params, y) -> (cache, loss) recomputes a user
    model's nudged losses for a numerical gradient; the built-in network uses its own.
    ValueError (listing the tensors and shapes) for an unknown name or a bad index."""
    state = view.state
    index = tuple(int(i) for i in index)
    qualified = resolve(shapes(state), tensor, index)
    phase, _, name = qualified.rpartition(".")
    value = float(np.asarray(tensors(state)[qualified])[index])
    if view.user_code:
        return user.explain(view, qualified, name, index, value, forward)
    if phase == "gradcheck":
        return check.explain(view, qualified, name, index, value, forward)
    net = Net(view)
    if batch.is_mean(net, qualified):
        return net.before_update(batch.explain(net, qualified, name, index, value))
    explained = PHASES[phase](net, qualified, name, index, value)
    return net.before_update(explained) if phase in ("forward", "backward") else explained


def explain_text(view: View, text: str, forward: ForwardFn | None = None) -> Explanation:
    """explain() of an element as typed: "dW1[1,2]", "update.W1[0,0]", "loss"; ValueError
    (saying what is wrong, and what exists) for text that names no element."""
    name, index = parse_element(text)
    return explain(view, name, index, forward)
