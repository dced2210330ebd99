"""Where a NaN or inf came from: the first element of a state to become non-finite, in the
order the stepper computed them, and what overflowed, with its numbers.

A state holding inf or NaN (State.nonfinite) is searched as its phases ran: the parameters
the step started from, the forward pass (x, z1, a1, ..., z_L, a_L, loss), the backward pass
in the order the chain rule computes it (dz_L, dW_L, db_L, da_(L-1), dz_(L-1), ...), and
the update (each parameter, then the forward pass that gives the loss after it). Within a
tensor the first element in row-major order is taken; every tensor before it is finite,
so that element was computed from finite numbers. Listing the non-finite tensors is not
enough: one overflow spreads to everything computed after it, and the list says nothing
about which came first, or from what.

The built-in network's element is derived by engine.explain.elements, as `e` and --explain
derive any element, and the last step of that derivation is read for what overflowed: a
product of two finite factors (W2[0,3]·a1[3]), a sum of finite terms, the loss's
log-sum-exp, or lr·dθ. A user's model's maths is its own: the first non-finite tensor it
returned, in the order it returned them, is named with its element, and said to come from
its code.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from engine.explain.catalog import parse_element, resolve, shapes, tensors
from engine.explain.elements import explain
from engine.explain.explanation import Explanation, Term, redo
from engine.explain.written import element_label, num, paren
from engine.maths import network
from engine.run.sample import per_sample, sample_view
from engine.run.stepper import Forward, Phase, State, Stepper, View

#: Each phase as a sentence names it.
PHASE_WORDS = {"params": "the parameters the step started from", "forward": "the forward pass",
               "backward": "the backward pass", "update": "the update"}


@dataclass(frozen=True)
class Origin:
    """The first non-finite element: its phase ("params", "forward", "backward", "update"),
    its tensor as the state names it (z2, dW1, W1, loss) and index (None: not known, a
    user's forward after the update, which the state does not keep), its value, what
    overflowed in a few words (`cause`) and with its numbers (`why`)."""

    phase: str
    tensor: str
    index: tuple[int, ...] | None
    value: float | None
    cause: str  # "W2[0,3]·a1[3] overflowed"
    why: str  # "W2[0,3]·a1[3] = 3.1e+200 · 4.2e+150 overflowed"
    after_update: bool = False  # in the forward pass after the update (the loss after it)
    explanation: Explanation | None = None  # the built-in network's derivation of the element
    sample: int | None = None  # the batch's sample (from 0) the element belongs to
    user_code: bool = False

    @property
    def element(self) -> str:
        """"z2[0]", "loss", "z2[0] after the update"."""
        label = self.tensor if self.index is None else element_label(self.tensor, self.index)
        return label + (" after the update" if self.after_update else "")

    @property
    def shown_value(self) -> str:
        return "non-finite" if self.value is None else num(self.value)

    def line(self) -> str:
        """One line: "first non-finite: z2[0] = inf (W2[0,3]·a1[3] overflowed)"."""
        return f"first non-finite: {self.element} = {self.shown_value} ({self.cause})"

    def sentences(self) -> list[str]:
        """The report's lines: the element, its phase and what overflowed, then its
        derivation with the numbers substituted."""
        where = PHASE_WORDS[self.phase] + (" (the forward pass after it)" if self.after_update else "")
        lines = [f"First non-finite value: {self.element} = {self.shown_value}, in {where}: {self.why}."]
        if self.explanation is not None:
            own = "" if self.sample is None else f"sample {self.sample + 1} of the batch: "
            lines.append(f"  {own}{self.explanation.substituted}")
        return lines

    def lit_in(self, view: View) -> bool:
        """Whether the cells the explanation reads are those the view shows: not for the
        forward pass after the update (not on screen), nor another sample of the batch."""
        shown = view.sample.index if view.sample is not None else None
        return self.explanation is not None and not self.after_update and self.sample in (None, shown)

    def as_dict(self) -> dict[str, Any]:
        """The JSON trace's "origin": strings for the value (JSON has no inf or NaN)."""
        return {"tensor": self.tensor, "index": None if self.index is None else list(self.index),
                "value": None if self.value is None else num(self.value), "phase": self.phase,
                "after_update": self.after_update, "cause": self.cause, "why": self.why,
                "sample": self.sample, "user_code": self.user_code,
                "formula": None if self.explanation is None else self.explanation.formula,
                "substituted": None if self.explanation is None else self.explanation.substituted}


def origin_of(stepper: Stepper, state: State) -> Origin | None:
    """origin() of one of the stepper's states (a report's step, as it goes by). For a state
    known to hold inf or NaN (State.nonfinite): a finite one is searched to its end."""
    return origin(replace(stepper.view(), state=state))


def first_nonfinite(value: object) -> tuple[int, ...] | None:
    """The index of the first inf or NaN of a number or array in row-major order (() for a
    scalar), None when it has none; anything else a model returns is not a number."""
    if isinstance(value, float | np.floating | np.complexfloating | complex):
        return () if not np.isfinite(value) else None
    if isinstance(value, np.ndarray) and value.dtype.kind in "fc":
        bad = np.flatnonzero(~np.isfinite(value))
        if bad.size:
            return tuple(int(i) for i in np.unravel_index(int(bad[0]), value.shape))
    return None


def _real(value: Any) -> float:
    """A non-finite element as one float: a complex one by its non-finite part."""
    number = complex(value)
    return number.real if not math.isfinite(number.real) else number.imag


def backward_order(view: View) -> list[str]:
    """The gradients in the order they were computed: the built-in network's chain rule
    (dz_L, dW_L, db_L, da_(L-1), dz_(L-1), ...), a user's in the order its backward
    returned them."""
    grads = view.state.backward or {}
    if view.user_code:
        return list(grads)
    L = view.config.architecture.depth
    order = [name for l in range(L, 0, -1) for name in (f"dz{l}", f"dW{l}", f"db{l}", f"da{l - 1}")]
    return [name for name in order if name in grads] + [name for name in grads if name not in order]


def searched(view: View) -> Iterator[tuple[str, str, Any]]:
    """(phase, qualified name, value) of each tensor in the order the phases computed them."""
    state = view.state
    used = "update.before" if state.update is not None else "params"
    start = state.update.before if state.update is not None else state.params
    yield from (("params", f"{used}.{name}", value) for name, value in start.items())
    if state.forward is not None:
        yield from (("forward", f"forward.{name}", value) for name, value in state.forward.cache.items())
        yield "forward", "forward.loss", state.forward.loss
    if state.backward is not None:
        yield from (("backward", f"backward.{name}", state.backward[name]) for name in backward_order(view))
    if state.update is not None:
        yield from (("update", f"update.{name}", value) for name, value in state.update.after.items())


def origin(view: View) -> Origin | None:
    """The first non-finite element of the view's state, and why; None when all is finite."""
    for phase, qualified, value in searched(view):
        index = first_nonfinite(value)
        if index is not None:
            return _found(view, phase, qualified, index, _real(np.asarray(value)[index]))
    update = view.state.update
    if update is not None and (update.overflow or not math.isfinite(update.loss_after)):
        return _after_update(view)
    return None


def _found(view: View, phase: str, qualified: str, index: tuple[int, ...], value: float) -> Origin:
    """The origin at this element: explained for the built-in network, named for a user's."""
    name = qualified.rpartition(".")[2]
    if phase == "params":
        return _started(view, name, index, value)
    if view.user_code and phase != "update":
        return _returned(view, phase, name, index, value)
    explanation, sample, derived = _explained(view, qualified, index)
    cause, why = causes(derived, explanation, sample)
    return Origin(phase, name, index, value, cause, why, explanation=explanation, sample=sample,
                  user_code=view.user_code)


def _started(view: View, name: str, index: tuple[int, ...], value: float) -> Origin:
    """A parameter that was already non-finite when the step began."""
    step = view.state.step
    if step > 1:
        cause = f"set by step {step - 1}'s update"
        why = (f"the step started from it: step {step - 1}'s update made it (the run diverged "
               "there; that step's origin says from what)")
    else:
        cause = "the run started from it"
        why = "the run's first parameters hold it (--params, a session, or the file's init_params)"
    return Origin("params", name, index, value, cause, why, user_code=view.user_code)


def _returned(view: View, phase: str, name: str, index: tuple[int, ...], value: float) -> Origin:
    """A user's model's tensor: named, and said to be the file's own."""
    what = "forward" if phase == "forward" else "backward"
    them = "its cache and loss" if phase == "forward" else "its gradients"
    why = (f"the user's code: {view.model_name}'s {what} returned it, the first non-finite of "
           f"{them} in the order it returned them (the stepper does not know the file's maths)")
    return Origin(phase, name, index, value, f"from {view.model_name}'s {what}", why, user_code=True)


def _explained(view: View, qualified: str, index: tuple[int, ...]) -> tuple[Explanation, int | None, View]:
    """The element's explanation, the batch's sample it was derived for and the view it was
    derived in. A batch's per-sample tensors (z, a, dz, da: one row a sample) are derived
    in their sample's view; a mean (the loss, dW, db) in the view of the first sample whose
    own term is non-finite."""
    state, rows = view.state, view.state.rows
    if view.user_code or view.data is None or rows is None:
        return explain(view, qualified, index), None, view
    phase, _, name = qualified.rpartition(".")
    value = tensors(state)[qualified]
    if phase in ("forward", "backward") and name[1:] not in state.params and per_sample(value, len(rows)):
        sliced = sample_view(view, index[0])
        return explain(sliced, qualified, index[1:]), index[0], sliced
    sliced = sample_view(view, 0)
    mean = explain(sliced, qualified, index)
    if phase == "update" or mean.operation != "mean":
        return mean, None, sliced
    sample = next((k for k, t in enumerate(mean.operands) if not math.isfinite(t.value)), 0)
    if sample:
        sliced = sample_view(view, sample)
        mean = explain(sliced, qualified, index)
    return mean, sample, sliced


# ---- what overflowed, read from the explanation's last step --------------------------------

def causes(view: View, explanation: Explanation, sample: int | None = None) -> tuple[str, str]:
    """(what overflowed in a few words, the same with its numbers), from the explanation's
    operation and operands, as read in `view` (the one it was derived in): the first
    non-finite term of a sum, a product of finite factors, a sum of finite terms, lr·dθ or
    θ − lr·dθ, the loss's log-sum-exp. A user's update whose result θ − lr·dθ does not give
    is said to be the file's own."""
    operands, operation = explanation.operands, explanation.operation
    if view.user_code:
        with np.errstate(all="ignore"):
            redone = _redone(explanation)
        if redone is not None and math.isfinite(redone):
            return (f"from {view.model_name}'s update",
                    f"the user's code: θ − lr·dθ gives {num(redone)} from these numbers, so "
                    f"{view.model_name}'s own update computed it ({explanation.substituted})")
    if operation == "sgd":
        return _sgd(operands)
    if operation in ("sum", "mean"):
        return _sum(view, operands, operation == "mean", sample)
    if operation == "product" and all(math.isfinite(t.value) for t in operands):
        labels = "·".join(t.label for t in operands)
        return (f"{labels} overflowed",
                f"{' · '.join(t.label for t in operands)} = {' · '.join(paren(t.value) for t in operands)} "
                "overflowed")
    if operation == "cross-entropy":
        return _log_sum_exp(operands)
    return "from finite inputs", explanation.substituted


def _redone(explanation: Explanation) -> float | None:
    """The explanation's arithmetic redone, None where it cannot be."""
    try:
        return redo(explanation)
    except (ValueError, OverflowError, ZeroDivisionError):
        return None


def _sgd(operands: tuple[Term, ...]) -> tuple[str, str]:
    """θ ← θ − lr·dθ: the product lr·dθ, or the difference of two finite numbers."""
    theta, lr, grad = operands
    step = lr.value * grad.value
    if not math.isfinite(step):
        return (f"lr·{grad.label} overflowed", f"lr · {grad.label} = {num(lr.value)} · {paren(grad.value)} "
                "overflowed")
    return (f"{theta.label.removesuffix(' before')} − lr·{grad.label} overflowed",
            f"{theta.label} − lr·{grad.label} = {num(theta.value)} − {paren(step)} overflowed")


def _sum(view: View, operands: tuple[Term, ...], mean: bool, sample: int | None) -> tuple[str, str]:
    """A sum (a batch's mean): its first non-finite term, the product of two finite factors;
    else the sum of finite terms overflowed."""
    bad = next((t for t in operands if not math.isfinite(t.value)), None)
    if bad is None:
        largest = max(operands, key=lambda t: abs(t.value))
        what = "the batch's" if mean else "its"
        return ("the sum overflowed", f"the sum of {what} {len(operands)} finite terms overflowed "
                f"(the largest, {largest.label} = {num(largest.value)})")
    factors = [(label.strip(), _lookup(view, label.strip())) for label in bad.label.split("·")]
    where = f"sample {sample + 1}'s term " if mean and sample is not None else ""
    values = [v for _, v in factors if v is not None and math.isfinite(v)]
    if len(factors) > 1 and len(values) == len(factors):
        return (f"{bad.label} overflowed",
                f"{where}{bad.label} = {' · '.join(map(paren, values))} overflowed")
    return f"{bad.label} = {num(bad.value)}", f"{where}{bad.label} = {num(bad.value)}"


def _log_sum_exp(operands: tuple[Term, ...]) -> tuple[str, str]:
    """−log softmax(z)[y] = max z + log Σ e^(z − max z) − z[y]: with finite logits only the
    gap max z − z[y] can overflow."""
    y, logits = int(operands[0].value), operands[1:]
    top = max(logits, key=lambda t: t.value)
    picked = logits[y]
    return (f"{top.label} − {picked.label} overflowed",
            f"the loss is max z − z[y] + log Σ e^(z − max z), and {top.label} − {picked.label} = "
            f"{num(top.value)} − {paren(picked.value)} overflowed")


def _lookup(view: View, label: str) -> float | None:
    """An element as a term writes it ("W2[0,3]", "a1[3]", "dz2[3,0]"), read from the state
    the explanation read: its parameters as the step's passes used them, its cache and
    gradients (a sample's, or the whole batch's for a mean's terms)."""
    try:
        name, index = parse_element(label)
    except ValueError:
        return None
    states = [view.state] + ([view.sample.batch] if view.sample is not None else [])
    for state in states:
        if state.update is not None and name in state.update.before:
            qualified = f"update.before.{name}"
        else:
            try:
                qualified = resolve(shapes(state), name, index)
            except ValueError:
                continue
        return float(np.asarray(tensors(state)[qualified])[index])
    return None


# ---- the forward pass after the update ------------------------------------------------------

def _after_update(view: View) -> Origin:
    """The update's parameters are finite, but the forward pass that gives the loss after it
    overflowed: for the built-in network that pass is run again on them and searched; a
    user's model's is not kept, so its tensor is named without an element."""
    state = view.state
    update = state.update
    assert update is not None and state.forward is not None
    if view.user_code:
        name, value = (update.overflow[0], None) if update.overflow else ("loss", update.loss_after)
        return Origin("update", name, None, value, f"from {view.model_name}'s forward",
                      f"the user's code: {view.model_name}'s forward, run on the updated (finite) "
                      "parameters, returned it", after_update=True, user_code=True)
    x, y = state.forward.batch if state.forward.batch is not None else \
        (np.asarray(view.config.x, dtype=np.float64), view.config.y)
    with np.errstate(all="ignore"):
        cache, loss = network.forward(view.config.architecture, x, update.after, y)
    again = State(state.step, update.after, Phase.FORWARD,
                  Forward(cache, loss, state.forward.rows, state.forward.batch))
    found = origin(replace(view, state=again))
    assert found is not None and found.phase == "forward", found
    return replace(found, phase="update", after_update=True)
