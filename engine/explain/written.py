"""Numbers and sums as an explanation writes them: 4 significant digits, a negative operand
in parentheses, equal stages written once, and a long sum cut to its largest terms."""

from __future__ import annotations

import math
from collections.abc import Sequence

#: Terms a sum shows before "+ N more terms".
SHOWN_TERMS = 8


def element_label(name: str, index: tuple[int, ...]) -> str:
    """"dW1[1,2]" for an element, the bare name for a scalar ("loss")."""
    return f"{name}[{','.join(map(str, index))}]" if index else name


def num(value: float) -> str:
    """4 significant digits: -0.5286, 1, 1.913e-05."""
    text = f"{value:.4g}"
    return "0" if text == "-0" else text


def paren(value: float) -> str:
    """num(value), in parentheses when negative: an operand after "·" or "−" reads unambiguously."""
    text = num(value)
    return f"({text})" if text.startswith("-") else text


def line(*stages: str) -> str:
    """Stages joined by " = ", a stage equal to the one before it left out."""
    out: list[str] = []
    for stage in stages:
        if not out or stage != out[-1]:
            out.append(stage)
    return " = ".join(out)


def total(values: Sequence[float]) -> float:
    """The exact sum (fsum) of finite terms; an overflowing sum is inf, and terms that are
    +inf and -inf give NaN, as the network's own sum does (fsum raises for both)."""
    try:
        return math.fsum(values)
    except (OverflowError, ValueError):
        return sum(values, 0.0)


def shown_sum(labels: Sequence[str], values: Sequence[float]) -> str:
    """The terms joined by +, or past SHOWN_TERMS the largest |term| first and the rest
    counted with their sum."""
    if len(labels) <= SHOWN_TERMS:
        return " + ".join(labels)
    order = sorted(range(len(values)), key=lambda k: -abs(values[k]))
    head, rest = order[:SHOWN_TERMS], order[SHOWN_TERMS:]
    tail = total([values[k] for k in rest])
    return " + ".join(labels[k] for k in head) + f" + {len(rest)} more terms ({num(tail)})"
