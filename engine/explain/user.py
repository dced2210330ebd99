"""A user's model: the stepper knows only what it computes itself (the numerical gradient,
its verdict and the update), and says so for the rest."""

from __future__ import annotations

import math

import numpy as np

from engine.explain import check
from engine.explain.check import ForwardFn
from engine.explain.explanation import Explanation, Source, Term
from engine.explain.written import element_label, num, paren
from engine.maths import network
from engine.model.conventions import DLAI
from engine.run.stepper import View

#: Who set a tensor the stepper cannot derive, by phase.
WHO = {"forward": "the file's forward computed it",
       "backward": "the file's backward computed it",
       "params": "the file's init_params (or the built-in draw) set it",
       "update.before": "the file's init_params (or the built-in draw) or an earlier step's "
                        "update set it"}


def _updated(view: View, q: str, name: str, index: tuple[int, ...], value: float) -> Explanation:
    """θ − lr·dθ, and a note when the file's own update made something else of it."""
    state = view.state
    assert state.update is not None
    label = element_label(name, index)
    before = float(state.update.before[name][index])
    grad = float(state.backward[f"d{name}"][index]) if state.backward is not None else math.nan
    lr = float(view.config.lr)
    formula = f"{label} ← {label} − lr·d{label}"
    update = "update_parameters" if view.convention == DLAI else "sgd_update"
    notes = [f"step {state.step}'s update: the file's {update} if it defines one, else the "
             "stepper's W − lr·dW"]
    stepper = float(network.sgd_update({name: np.array(before)}, {f"d{name}": np.array(grad)}, lr)[name])
    if stepper != value:
        notes.append(f"W − lr·dW gives {num(stepper)}, not {num(value)}: the file's "
                     f"{update} does something else")
    return Explanation(q, index, value, formula,
                       f"{formula} = {num(before)} − {num(lr)} · {paren(grad)} = {num(value)}",
                       sources=(Source(f"update.before.{name}", index), Source(f"backward.d{name}", index)),
                       notes=tuple(notes), operation="sgd",
                       operands=(Term(f"{label} before", before), Term("lr", lr), Term(f"d{label}", grad)))


def explain(view: View, q: str, name: str, index: tuple[int, ...], value: float,
            forward: ForwardFn | None) -> Explanation:
    """Any element of a user's model's state."""
    phase = q.rpartition(".")[0]
    if phase == "gradcheck":
        return check.explain(view, q, name, index, value, forward)
    if phase in ("update", "params") and view.state.update is not None:
        return _updated(view, q, name, index, value)
    label = element_label(name, index)
    why = WHO.get(phase, "the file computed it")
    return Explanation(q, index, value, f"{label} = {num(value)}", f"{label} = {num(value)}",
                       operation="unknown",
                       notes=(f"cannot be derived: {why}, and the stepper does not know the file's maths "
                              f"({view.model_name}); only what the stepper computes itself is explained: "
                              "numerical gradients, verdicts and updates",))
