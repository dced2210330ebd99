"""A user's model: the stepper knows only what it computes itself (the numerical gradient,
its verdict and the update), and says so for the rest."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from engine.explain import check, update
from engine.explain.check import ForwardFn
from engine.explain.explanation import Explanation, Source, Term
from engine.explain.net import Net
from engine.explain.written import element_label, num, paren
from engine.maths import network, optimizers
from engine.model.conventions import DLAI
from engine.run.stepper import Update, View

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


def _by_rule(view: View, q: str, name: str, index: tuple[int, ...], value: float) -> Explanation:
    """An element of an update by an optimizer's rule, or of the rule's state: the update
    reads only the gradients, so the stepper explains it as it explains the built-in
    network's, saying whose rule made the numbers (the file's own is held against the
    stepper's, engine.maths.optimizers.diagnose)."""
    phase = q.rpartition(".")[0]
    state_update = view.state.update
    param = update.slot(name)[1]
    faults = [] if state_update is None else \
        [entry.detail for entry in state_update.diagnosis if entry.tensor == param]
    if phase == "optimizer":
        return _said(update.optimizer_state(Net(view), q, name, index, value), state_update, faults)
    assert state_update is not None
    true = value  # the stepper's rule's number, which the substitution ends at
    if faults:
        c = view.config
        settings = optimizers.Settings(state_update.lr or c.lr, c.momentum, c.beta1, c.beta2, c.epsilon)
        made, _ = optimizers.step(c.optimizer, state_update.before, view.state.backward or {},
                                  state_update.optim_before, settings)
        true = float(made[name][index])
    found = update.updated(Net(view), q, name, index, true)
    if true != value:
        found = replace(found, value=value, notes=(*found.notes, f"the stepper's rule gives {num(true)}; "
                                                   f"the file's rule gave {num(value)}"))
    return _said(found, state_update, faults)


def _said(found: Explanation, state_update: Update | None, faults: list[str]) -> Explanation:
    """An optimizer's explanation with whose rule made the numbers, when a file's own did."""
    if state_update is None or not state_update.rule:
        return found
    verdict = f"which the file's differs from: {faults[0]}" if faults else "which it matches"
    said = (f"made by the file's own {state_update.rule}; the lines above are the stepper's rule "
            f"from the same numbers, {verdict}")
    return replace(found, notes=(*found.notes, said))


def explain(view: View, q: str, name: str, index: tuple[int, ...], value: float,
            forward: ForwardFn | None) -> Explanation:
    """Any element of a user's model's state."""
    phase = q.rpartition(".")[0]
    if phase == "gradcheck":
        return check.explain(view, q, name, index, value, forward)
    if view.config.optimizer != "sgd" and (phase == "optimizer" or (
            phase in ("update", "params") and view.state.update is not None)):
        return _by_rule(view, q, name, index, value)
    if phase in ("update", "params") and view.state.update is not None:
        return _updated(view, q, name, index, value)
    label = element_label(name, index)
    why = WHO.get(phase, "the file computed it")
    return Explanation(q, index, value, f"{label} = {num(value)}", f"{label} = {num(value)}",
                       operation="unknown",
                       notes=(f"cannot be derived: {why}, and the stepper does not know the file's maths "
                              f"({view.model_name}); only what the stepper computes itself is explained: "
                              "numerical gradients, verdicts and updates",))
