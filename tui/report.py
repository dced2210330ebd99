"""The headless report: the notebook's printout, and the JSON trace, of a run.

Imports no Textual, so a script or CI job pays only for NumPy.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from engine.config import Config
from engine.contract import keys_words
from engine.explain import SHOWN_TERMS, Explanation, element_label, num
from engine.gradcheck import ATOL, RTOL, GradCheck
from engine.stepper import State, Stepper
from tui.text import printable


def _shape(value: np.ndarray) -> str:
    """4x3, 4, (a 1-D array, as NumPy writes (4,)), or "scalar" for a 0-D one."""
    if value.ndim == 0:
        return "scalar"
    return "x".join(str(n) for n in value.shape) if value.ndim > 1 else f"{value.shape[0]},"


def _matrix(label: str, value: np.ndarray) -> str:
    # print(label + ":\n", array) in the notebook: a newline, a space, NumPy's str.
    return f"\n{label} ({_shape(value)}):\n {value}"


def _verdict_lines(check: GradCheck) -> list[str]:
    rule = f"{check.method} method, eps {check.eps:g}, atol {check.atol:g}, rtol {RTOL:g}"
    if check.passed:
        return [f"Gradient check passed ({rule})."]
    lines = []
    if check.failed_names:
        lines.append(f"Gradient check FAILED on {', '.join(check.failed_names)} ({rule}).")
    floor = [name for name in check.unresolved_names if check.tensors[name].unresolved.any()]
    kinked = [name for name in check.unresolved_names if name not in floor]
    if floor:
        lines.append(f"Gradient check could not resolve {', '.join(floor)}: "
                     f"gradients below the rounding floor ({rule}).")
    if kinked:
        lines.append(f"Gradient check could not judge {', '.join(kinked)}: every element straddles "
                     f"a kink ({rule}).")
    for name in check.failed_names:
        t = check.tensors[name]
        lines.append(f"  worst {name}{list(t.worst_index or ())}: analytic {t.worst_analytic!r}, "
                     f"numerical {t.worst_numerical!r} ({int(t.failing.sum())} failing element(s))")
    return lines


def notebook_order(names: Iterable[str]) -> list[str]:
    """The weights first, then the rest (the biases), each in layer order: the notebook
    prints dW1, dW2, then db1, db2."""
    return sorted(names, key=lambda name: not name.startswith("W"))


def gradient_keys_json(stepper: Stepper) -> str:
    """The trace's "gradient_keys": "d" ('d' + name, as dW1) or "name" (as grads['W1'])."""
    return stepper.model.gradient_keys


def model_line(stepper: Stepper) -> str:
    """The text report's first line for a user's model, e.g. "Model: net.py (its own
    init_params; gradients keyed by name, as grads['Wi'])". Needs the first backward
    done: only that shows how the file keys its gradients."""
    model = stepper.model
    first = next(iter(stepper.initial.params))
    init = "its own init_params; " if getattr(model, "own_init", False) else ""
    return (f"Model: {printable(model.name, oneline=True)} "
            f"({init}gradients keyed {keys_words(model.gradient_keys, first)})")


def text_report(config: Config, stepper: Stepper, finished: Iterable[State]) -> Iterator[str]:
    """The notebook's report, a step at a time, with the biases added and a verdict line.
    A user's model is named first, with its conventions (known after the first step)."""
    several = config.steps > 1
    for state in finished:
        if state.step == 1 and stepper.model.name != "built-in":
            yield model_line(stepper)
        assert state.forward is not None and state.backward is not None and state.update is not None
        lines: list[str] = []
        if several:
            lines.append(f"{'' if state.step == 1 else chr(10)}=== Step {state.step} ===")
        label = "Initial loss:" if state.step == 1 else f"Loss before step {state.step}:"
        lines.append(f"{label} {state.forward.loss!r}")
        for name in notebook_order(state.params):
            lines.append(_matrix(f"Analytic gradient d{name}", np.asarray(state.backward["d" + name])))
        if state.gradcheck is not None:
            lines.append("\nMax absolute difference between analytic and numerical gradients:")
            for name, t in state.gradcheck.tensors.items():
                kinks = f" ({t.kink_count} kink element(s) left out)" if t.kink_count else ""
                lines.append(f"{name}: {t.max_abs_diff!r}{kinks}")
            lines.extend(_verdict_lines(state.gradcheck))
            lines.extend(state.gradcheck.notes)
        for name in notebook_order(state.update.after):
            lines.append(_matrix(f"Updated {name}", np.asarray(state.update.after[name])))
        after = state.update.loss_after
        which = "one SGD step" if not several else f"SGD step {state.step}"
        lines.append(f"\nFinal loss after {which}: {after!r}")
        if state.nonfinite():
            lines.append(f"Diverged: non-finite values in {', '.join(state.nonfinite())}.")
        elif after < state.forward.loss:
            lines.append("Loss decreased after the SGD update.")
        else:
            lines.append("Loss did not decrease after the SGD update."
                         + ("" if several else " (Possible with a single step)"))
        yield "\n".join(lines)


class _Json:
    """Turns arrays and floats into strict JSON values, and records every non-finite or
    non-numeric value once per place (not once per step, so a long diverged run stays small)."""

    def __init__(self) -> None:
        self.problems: dict[str, list[int]] = {}  # message -> [count, first step]
        self.step = 0

    def warn(self, message: str) -> None:
        seen = self.problems.setdefault(message, [0, self.step])
        seen[0] += 1

    @property
    def warnings(self) -> list[str]:
        return [message if not first else
                f"{message} in {count} step(s), first in step {first}"
                for message, (count, first) in self.problems.items()]

    def value(self, value: Any, where: str) -> Any:
        if isinstance(value, np.ndarray | np.generic | float) and np.asarray(value).dtype.kind in "biuf":
            array = np.asarray(value)
            if array.dtype.kind in "biu":  # tolist gives plain ints and bools, at any width
                return array.tolist()
            if array.dtype.itemsize > 8:  # long double: tolist would keep it, and JSON has no such type
                with np.errstate(over="ignore"):
                    wide, array = array, array.astype(np.float64)
                if (np.isinf(array) & np.isfinite(wide)).any():
                    self.warn(f"{where}: long double values beyond float64's range written as null")
            finite = np.isfinite(array)
            if not finite.all():
                self.warn(f"{where}: non-finite values written as null (an overflow, or a diverging run)")
                return np.where(finite, array, None).tolist() if array.ndim else None  # type: ignore[call-overload]
            return array.tolist()
        if value is None or isinstance(value, str | int | bool):
            return value
        if isinstance(value, list | tuple):
            return [self.value(v, where) for v in value]
        try:  # a user model's cache may hold anything; the trace must stay valid JSON
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            self.warn(f"{where}: not a number or array; written as its repr")
            return repr(value)
        return value

    def tensors(self, tensors: dict[str, Any], where: str) -> dict[str, Any]:
        return {name: self.value(v, f"{where}.{name}") for name, v in tensors.items()}


def _gradcheck_json(check: GradCheck, out: _Json) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, t in check.tensors.items():
        here = f"gradcheck.{name}"
        result[name] = {
            "numerical": out.value(t.numerical, f"{here}.numerical"),
            "max_abs_diff": out.value(t.max_abs_diff, f"{here}.max_abs_diff"),
            "max_rel_error": out.value(t.max_rel_error, f"{here}.max_rel_error"),
            "passed": t.passed,
            "verdict": t.verdict,
            "worst_index": list(t.worst_index) if t.worst_index is not None else None,
            "worst_analytic": out.value(t.worst_analytic, f"{here}.worst_analytic"),
            "worst_numerical": out.value(t.worst_numerical, f"{here}.worst_numerical"),
            "kinks": t.kink_count,
            "failing": int(t.failing.sum()),
            "unresolved": int(t.unresolved.sum()),
        }
    return result | {"method": check.method, "eps": out.value(check.eps, "gradcheck.eps"),
                     "atol": out.value(check.atol, "gradcheck.atol"),
                     "passed": check.passed, "notes": list(check.notes)}


def _step_json(state: State, out: _Json) -> dict[str, Any]:
    assert state.forward is not None and state.backward is not None and state.update is not None
    out.step = state.step
    if state.nonfinite():
        out.warn(f"the run diverged: non-finite values in {', '.join(state.nonfinite())}")
    return {
        "step": state.step,
        "forward": out.tensors(state.forward.cache, "forward")
        | {"loss": out.value(state.forward.loss, "forward.loss")},
        "backward": out.tensors(state.backward, "backward"),
        "gradcheck": None if state.gradcheck is None else _gradcheck_json(state.gradcheck, out),
        "update": out.tensors(dict(state.update.after), "update")
        | {"loss_after": out.value(state.update.loss_after, "update.loss_after")},
    }


def json_report(config: Config, stepper: Stepper, finished: Iterable[State],
                explain: Callable[[], list[Explanation]] | None = None) -> Iterator[str]:
    """One strict JSON object (RFC 8259), written a step at a time: NaN and infinity
    become null, explained in "warnings", which comes last because it is known last.
    With `explain` (--explain), its explanations of the final state come before it."""
    out = _Json()
    steps = iter(finished)
    first = next(steps, None)  # the head says how backward keys its gradients: one backward shows it
    initial = stepper.initial.params
    head = {
        "config": config.as_dict(),
        "model": stepper.model.name,
        "gradient_keys": gradient_keys_json(stepper),
        "own_init_params": bool(getattr(stepper.model, "own_init", False)),
        "gradcheck_rule": {"atol": ATOL, "rtol": RTOL,
                           "rule": "|a - n| <= atol + rtol * max(|a|, |n|)"},
        "param_shapes": {name: list(np.shape(value)) for name, value in initial.items()},
        "initial_params": out.tensors(dict(initial), "initial_params"),
    }
    yield json.dumps(head, allow_nan=False)[:-1] + ', "steps": ['
    for i, state in enumerate(() if first is None else itertools.chain([first], steps)):
        yield ("" if i == 0 else ", ") + json.dumps(_step_json(state, out), allow_nan=False)
    tail: dict[str, Any] = {}
    if explain is not None:
        tail["explanations"] = [explanation_json(e, out) for e in explain()]
    tail["warnings"] = out.warnings
    yield "], " + json.dumps(tail, allow_nan=False)[1:]


# ---- --explain: why an element of the final state is what it is ------------------------

EXPLAIN_HEADING = "Why is this number what it is?"


def explanation_lines(e: Explanation) -> list[str]:
    """One explanation as the text report prints it: the element and its exact value, then
    formula, substituted numbers, chain, terms (the largest first past SHOWN_TERMS),
    notes and verdict, each under its label."""
    lines = [f"{element_label(e.tensor, e.index)} = {e.value!r}",
             f"  formula:      {e.formula}",
             f"  substituted:  {e.substituted}"]
    lines += [f"  {'chain:' if k == 0 else '':<13} {line}" for k, line in enumerate(e.chain)]
    terms = sorted(e.terms, key=lambda t: -abs(t.value)) if len(e.terms) > SHOWN_TERMS else list(e.terms)
    for k, term in enumerate(terms[:SHOWN_TERMS]):
        lines.append(f"  {'terms:' if k == 0 else '':<13} {term.label} = {num(term.value)}")
    if len(terms) > SHOWN_TERMS:
        lines.append(f"  {'':<13} + {len(terms) - SHOWN_TERMS} more terms")
    lines += [f"  {'notes:' if k == 0 else '':<13} {note}" for k, note in enumerate(e.notes)]
    if e.verdict is not None:
        lines.append(f"  verdict:      {e.verdict}")
    return lines


def explanations_text(explanations: list[Explanation]) -> str:
    """The block the text report ends with."""
    lines = [f"\n{EXPLAIN_HEADING}"]
    for e in explanations:
        lines += ["", *explanation_lines(e)]
    return "\n".join(lines)


def explanation_json(e: Explanation, out: _Json) -> dict[str, Any]:
    where = f"explanations.{element_label(e.tensor, e.index)}"
    result: dict[str, Any] = {
        "tensor": e.tensor, "index": list(e.index), "value": out.value(e.value, where),
        "formula": e.formula, "substituted": e.substituted,
        "terms": [{"label": t.label, "value": out.value(t.value, where)} for t in e.terms],
        "sources": [{"tensor": s.tensor, "index": list(s.index)} for s in e.sources],
    }
    if e.chain:
        result["chain"] = list(e.chain)
    if e.notes:
        result["notes"] = list(e.notes)
    if e.verdict is not None:
        result["verdict"] = e.verdict
    return result
