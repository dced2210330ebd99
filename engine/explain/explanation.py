"""An Explanation, the cells it reads, and its last step redone through engine.maths: the
tests hold every explanation to its number by redo()."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from engine.explain.written import total
from engine.maths import network, optimizers
from engine.maths.fastcheck import slope
from engine.maths.network import ACTIVATIONS, Array


@dataclass(frozen=True)
class Term:
    """One term of a sum, as written ("W2[0,1]·dz2[0]") and its value."""

    label: str
    value: float


@dataclass(frozen=True)
class Source:
    """A cell an element is computed from: a qualified tensor name and an index."""

    tensor: str
    index: tuple[int, ...]


@dataclass(frozen=True)
class Explanation:
    tensor: str  # the qualified name, e.g. "backward.dW1"
    index: tuple[int, ...]
    value: float  # the element as shown
    formula: str  # symbolic: "dW1[1,2] = dz1[1] · x[2]"
    substituted: str  # the numbers plugged in, ending with "= <value>"
    chain: tuple[str, ...] = ()  # further lines, one factor deeper each
    terms: tuple[Term, ...] = ()  # a sum's terms (all of them; a display shortens)
    sources: tuple[Source, ...] = ()  # the cells it is computed from (the app highlights them)
    verdict: str | None = None  # a numerical gradient's: pass, fail, kink: consistent, ...
    notes: tuple[str, ...] = ()  # e.g. why a user model's forward cannot be derived
    #: The last step's arithmetic, so anyone can redo it: `operation` applied to `operands`
    #: gives `value` (see OPERATIONS). "sum": the terms' sum; "product": the operands'
    #: product; an activation's name: f(operands[0]); "softmax": e^o0 / Σ e^o1..; "bce",
    #: "mse": the loss of logit o0 against y = o1; "cross-entropy": −log softmax(o1..)[o0];
    #: "difference": o0 − o1; "sgd": o0 − o1·o2; "central-difference": (o0 − o1) / o2 / 2;
    #: "mean": the terms' mean (a batch's); "constant": o0; "bias-correction": o0 / (1 − o1^o2);
    #: "sin": sin(o0), a feature input's;
    #: "optimizer.NAME" and "optimizer.NAME.MOMENT": that optimizer's new parameter or moment
    #: from w, the moments before, t before, dw, lr and its settings (_rule), "@DRILL" after
    #: either under one of the update's fault drills; "unknown": nothing
    #: the stepper can derive (a user's model).
    operation: str = "unknown"
    operands: tuple[Term, ...] = ()


def _softmax(o: Sequence[float]) -> float:
    """softmax(o1..) at the logit o0 (one of o1..; NaN when o0 is NaN, as its ratio is)."""
    z = np.array(o[1:])
    at = np.flatnonzero(z == o[0])
    return float(network.softmax(z)[at[0]]) if at.size else math.nan


def _loss(loss: str) -> Callable[[Sequence[float]], float]:
    """The loss of a sigmoid logit o0 against y = o1, as the forward pass computes it."""
    return lambda o: float(network.output_loss(loss, np.array([o[0]]), o[1]))  # type: ignore[arg-type]


def _activation(f: Callable[[Array], Array]) -> Callable[[Sequence[float]], float]:
    """The activation f of the one operand."""
    return lambda o: float(f(np.array(o[0])))


def _sgd(o: Sequence[float]) -> float:
    """The update of parameter o0 by lr = o1 and gradient o2."""
    return float(network.sgd_update({"θ": np.array(o[0])}, {"dθ": np.array(o[2])}, o[1])["θ"])


def _rule(optimizer: str, output: str, bug: str = "") -> Callable[[Sequence[float]], float]:
    """The optimizer's update of one element, redone by its own function on 0-d arrays (with
    the update's fault drill `bug`, if any): the operands are w, each moment before, Adam's t
    before, dw, lr and the settings the rule reads (engine.explain.update.Step.operands);
    `output` the parameter ("θ") or a moment's new value ("m", "v", "s")."""
    moments, reads = optimizers.MOMENTS[optimizer], optimizers.READS[optimizer]
    drill = optimizers.drill(bug)

    def redo(o: Sequence[float]) -> float:
        state: dict[str, object] = {f"{m}_θ": np.array(v) for m, v in zip(moments, o[1:], strict=False)}
        at = 1 + len(moments)
        if optimizer == "adam":
            state["t"], at = int(o[at]), at + 1
        numbers: dict[str, float] = dict(zip(reads, o[at + 2:], strict=True))
        settings = optimizers.Settings(o[at + 1], **numbers)  # type: ignore[arg-type]
        settings = replace(settings, drill=drill)
        params, after = optimizers.step(optimizer, {"θ": np.array(o[0])}, {"dθ": np.array(o[at])}, state,
                                        settings)
        return float(params["θ"] if output == "θ" else after[f"{output}_θ"])

    return redo


def rule_operation(optimizer: str, output: str = "θ", bug: str = "") -> str:
    """The operation that redoes an optimizer's parameter ("θ") or moment: "optimizer.adam",
    "optimizer.adam.m", and "@DRILL" after it under one of the update's drills."""
    return f"optimizer.{optimizer}{'' if output == 'θ' else '.' + output}{'@' + bug if bug else ''}"


#: Each optimizer's operations, with and without each of its drills.
_RULES: dict[str, Callable[[Sequence[float]], float]] = {
    rule_operation(name, output, bug): _rule(name, output, bug)
    for name, moments in optimizers.MOMENTS.items() if moments for output in ("θ", *moments)
    for bug in ("", *(b for b, d in optimizers.DRILLS.items() if name in d.optimizers))}


#: Each operation's arithmetic, through the functions the network and the check compute with.
_ARITHMETIC: dict[str, Callable[[Sequence[float]], float]] = {
    "sum": total,
    "mean": lambda o: total(o) / len(o),
    "product": math.prod,
    **{name: _activation(activation.f) for name, activation in ACTIVATIONS.items()},
    "softmax": _softmax,
    "bce": _loss("bce"),
    "mse": _loss("mse"),
    "cross-entropy": lambda o: float(network.output_loss(network.SOFTMAX_LOSS, np.array(o[1:]), int(o[0]))),
    "difference": lambda o: o[0] - o[1],
    "sgd": _sgd,
    "central-difference": lambda o: float(slope(o[0], o[1], o[2])),
    "bias-correction": lambda o: float(optimizers.corrected(np.array(o[0]), o[1], int(o[2]))),
    **_RULES,
    "constant": lambda o: o[0],
    "sin": lambda o: float(np.sin(o[0])),  # a feature input, sin(x1) (engine.maths.features)
}

OPERATIONS = (*_ARITHMETIC, "unknown")


def redo(explanation: Explanation) -> float:
    """The explanation's own arithmetic: its operation applied to its operands (ValueError
    for "unknown", which nothing can redo)."""
    arithmetic = _ARITHMETIC.get(explanation.operation)
    if arithmetic is None:
        raise ValueError(f"{explanation.operation!r} cannot be redone")
    return arithmetic([float(t.value) for t in explanation.operands])
