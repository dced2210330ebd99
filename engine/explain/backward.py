"""The backward pass's elements derived, each down to the numbers it came from:
dW_l[i,j] = dz_l[i]·a_(l-1)[j], db_l[i] = dz_l[i], da_l[i] = Σ_k W_(l+1)[k,i]·dz_(l+1)[k],
dz_l[i] = da_l[i]·f'(z_l[i]), and dz_L = dL/dz_L at the output. A fault drill's broken
line is read from the backward pass's own switches (Net.drill) and said in a note."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from engine.explain.explanation import Explanation, Source, Term
from engine.explain.net import Net
from engine.explain.written import SHOWN_TERMS, element_label, line, num, paren, shown_sum
from engine.maths import names


class DaTerm(NamedTuple):
    """One term W_(m+1)[k,i]·dz_(m+1)[k] of da_m[i]."""

    label: str  # "W2[0,1]·dz2[0]"
    numbers: str  # "-1.913 · -0.6907"
    value: float
    k: int
    weight: Source
    dz: Source


def da_terms(net: Net, m: int, i: int) -> list[DaTerm]:
    """da_m[i] = Σ_k W_(m+1)[k,i]·dz_(m+1)[k]; the transpose drill reads W[i,k]."""
    l = m + 1
    W = net.W(l)
    dz = np.asarray(net.grads[f"dz{l}"])
    out = []
    for k in range(dz.size):
        r, c = (i, k) if net.transposed(l) else (k, i)
        w, d = float(W[r, c]), float(dz[k])
        out.append(DaTerm(f"W{l}[{r},{c}]·dz{l}[{k}]", f"{num(w)} · {num(d)}", w * d, k,
                          Source(f"{net.used_name}.W{l}", (r, c)), Source(f"backward.dz{l}", (k,))))
    return out


# ---- the stages of dz_l[i], one level deeper each: symbols, then numbers

def dz_forms(net: Net, l: int, i: int) -> tuple[str, str, str]:
    """(one level back, symbolically; the level after, with the known factors as
    numbers; all numbers) for dz_l[i]."""
    if l == net.L:
        return delta_forms(net, i)
    terms = da_terms(net, l, i)
    fp = net.fprime_used(l, i)
    sym = f"(da{l}[{i}] · {net.fprime_label(l, i)})"
    values = [t.value for t in terms]
    inner_sym = shown_sum([t.label for t in terms], values)
    inner_num = shown_sum([t.numbers for t in terms], values)
    if len(terms) > SHOWN_TERMS:
        inner_sym = f"Σ_k W{l + 1}[k,{i}]·dz{l + 1}[k]"
    return sym, f"(({inner_sym}) · {paren(fp)})", f"(({inner_num}) · {paren(fp)})"


def delta_forms(net: Net, k: int) -> tuple[str, str, str]:
    """dz_forms for the output's dz_L[k] = dL/dz_L[k] (negated by the sign drill)."""
    a = float(net.cache[f"a{net.L}"][k])
    t = net.target(k)
    L, sign = net.L, net.drill.negates_delta
    diff_sym = f"y − a{L}[{k}]" if sign else f"a{L}[{k}] − {net.target_label(k)}"
    diff_num = f"{num(t)} − {num(a)}" if sign else f"{num(a)} − {num(t)}"
    if net.arch.loss == "mse":
        return (f"(({diff_sym}) · a{L}[{k}] · (1 − a{L}[{k}]))",
                f"(({diff_num}) · {num(a)} · (1 − {num(a)}))",
                f"(({diff_num}) · {num(a)} · {num(1 - a)})")
    return f"({diff_sym})", f"({diff_num})", f"({diff_num})"


def deeper(net: Net, l: int, i: int) -> tuple[str, ...]:
    """Chain lines below dz_l[i]: dz_(l+1) .. dz_L along the largest |term| of each sum
    (the path that contributes most), one layer deeper a line."""
    lines: list[str] = []
    m, unit = l, i
    while m < net.L:
        terms = da_terms(net, m, unit)
        k = max(range(len(terms)), key=lambda n: abs(terms[n].value))
        m, unit = m + 1, terms[k].k
        value = float(np.asarray(net.grads[f"dz{m}"])[unit])
        lines.append(_dz(net, f"backward.dz{m}", m, unit, value).substituted)
    return tuple(lines)


def dz_notes(net: Net, l: int, i: int) -> list[str]:
    """What the injected bug did to dz_l[i] (and the unit's derivative, said in words)."""
    notes: list[str] = []
    if l < net.L:
        fp, z = net.fprime(l, i), float(net.cache[f"z{l}"][i])
        if net.drill.unit_derivative:
            notes.append(f"{net.fprime_label(l, i)} taken as 1 by the injected bug 'activation-grad' "
                         f"(the true value at z{l}[{i}] = {num(z)} is {num(fp)})")
        elif net.arch.f.kinked:
            if net.arch.activation == "relu":
                side = "alive (z > 0)" if z > 0 else "dead (z ≤ 0)"
            else:
                side = "on the slope-1 side (z > 0)" if z > 0 else "on the leaky side (z ≤ 0)"
            notes.append(f"unit {i} of layer {l} is {side}: {net.fprime_label(l, i)} = {num(fp)}")
    if net.drill.negates_delta:
        notes.append(f"dz{net.L} negated (y − a) by the injected bug 'sign'")
    return notes


# ---- the elements

def _dW(net: Net, q: str, l: int, index: tuple[int, ...], value: float) -> Explanation:
    """dW_l[i,j] = dz_l[i]·a_(l-1)[j] (z_(l-1)[j] under the cache drill)."""
    i, j = index
    label, prev = element_label(f"dW{l}", index), net.a_name(l - 1)
    uses_z = net.drill.uses_z(net.arch, l)
    a_val = float(net.cache[f"z{l - 1}"][j]) if uses_z else net.a(l - 1, j)
    a_lab = f"z{l - 1}[{j}]" if uses_z else f"{prev}[{j}]"
    dz = float(net.grads[f"dz{l}"][i])
    s1, s2, s3 = dz_forms(net, l, i)
    formula = f"{label} = dz{l}[{i}] · {a_lab}"
    substituted = line(formula, f"{s1} · {a_lab}", f"{s2} · {paren(a_val)}", f"{s3} · {paren(a_val)}",
                       num(value))
    src = Source(f"forward.z{l - 1}", (j,)) if uses_z else net.a_source(l - 1, j)
    notes: list[str] = []
    if uses_z:
        notes.append(f"{a_lab} used instead of {prev}[{j}] by the injected bug 'cache': the "
                     f"true gradient is dz{l}[{i}] · {prev}[{j}] = {num(dz * net.a(l - 1, j))}")
    notes += dz_notes(net, l, i)
    return Explanation(q, index, value, formula, substituted, chain=deeper(net, l, i),
                       sources=(Source(f"backward.dz{l}", (i,)), src), notes=tuple(notes),
                       operation="product", operands=(Term(f"dz{l}[{i}]", dz), Term(a_lab, a_val)))


def _db(net: Net, q: str, l: int, index: tuple[int, ...], value: float) -> Explanation:
    """db_l[i] = dz_l[i] (0 under the bias-grad drill)."""
    i = index[0]
    label = element_label(f"db{l}", index)
    dz = float(net.grads[f"dz{l}"][i])
    if net.drill.zero_db:
        return Explanation(q, index, value, f"{label} = dz{l}[{i}]", f"{label} = 0",
                           operation="constant", operands=(Term("0", 0.0),),
                           notes=(f"returned as 0 by the injected bug 'bias-grad': the true "
                                  f"gradient is dz{l}[{i}] = {num(dz)}",))
    s1, s2, s3 = dz_forms(net, l, i)
    formula = f"{label} = dz{l}[{i}]"
    return Explanation(q, index, value, formula, line(formula, s1, s2, s3, num(value)),
                       chain=deeper(net, l, i), sources=(Source(f"backward.dz{l}", (i,)),),
                       notes=tuple(dz_notes(net, l, i)), operation="product",
                       operands=(Term(f"dz{l}[{i}]", dz),))


def _da(net: Net, q: str, l: int, index: tuple[int, ...], value: float) -> Explanation:
    """da_l[i] = Σ_k W_(l+1)[k,i]·dz_(l+1)[k] (W_(l+1)[i,k] under the transpose drill)."""
    i = index[0]
    label = element_label(f"da{l}", index)
    terms = da_terms(net, l, i)
    transposed = net.transposed(l + 1)
    w = "W{0}[{1},k]" if transposed else "W{0}[k,{1}]"
    formula = f"{label} = Σ_k {w.format(l + 1, i)}·dz{l + 1}[k]"
    written = " + ".join(t.label for t in terms) if len(terms) <= SHOWN_TERMS else formula.split(" = ")[1]
    numbers = shown_sum([t.numbers for t in terms], [t.value for t in terms])
    substituted = f"{label} = {written} = {numbers} = {num(value)}"
    notes = (f"W{l + 1} used where W{l + 1}ᵀ belongs (row {i} of W{l + 1}, not column {i}) "
             "by the injected bug 'transpose'",) if transposed else ()
    operands = tuple(Term(t.label, t.value) for t in terms)
    sources = tuple(s for t in terms for s in (t.weight, t.dz))
    return Explanation(q, index, value, formula, substituted, chain=deeper(net, l, i),
                       terms=operands, sources=sources, notes=notes, operation="sum",
                       operands=operands)


def _dz(net: Net, q: str, l: int, i: int, value: float) -> Explanation:
    """dz_l[i] = da_l[i]·f'(z_l[i]) in a hidden layer; dL/dz_L[i] at the output."""
    if l == net.L:
        return _delta(net, q, i, value)
    label = f"dz{l}[{i}]"
    da = float(net.grads[f"da{l}"][i])
    fp = net.fprime_used(l, i)
    _, s2, s3 = dz_forms(net, l, i)
    formula = f"{label} = da{l}[{i}] · {net.fprime_label(l, i)}"
    substituted = line(formula, s2[1:-1], s3[1:-1], num(value))
    return Explanation(q, (i,), value, formula, substituted, chain=deeper(net, l, i),
                       sources=(Source(f"backward.da{l}", (i,)), Source(f"forward.z{l}", (i,))),
                       notes=tuple(dz_notes(net, l, i)), operation="product",
                       operands=(Term(f"da{l}[{i}]", da), Term(net.fprime_label(l, i), fp)))


#: Why dL/dz_L is what it is, for each output and loss.
DELTA_WORDS = {"bce": "σ with binary cross-entropy: dL/dz = a − y",
               "mse": "σ with ½(a − y)²: dL/dz = (a − y)·σ'(z) = (a − y)·a·(1 − a)",
               "cross-entropy": "softmax with cross-entropy: dL/dz = softmax(z) − onehot(y)"}


def _delta(net: Net, q: str, k: int, value: float) -> Explanation:
    """dz_L[k] = a_L[k] − y (y − a_L[k] under the sign drill), times a(1 − a) for mse."""
    L = net.L
    a, t = float(net.cache[f"a{L}"][k]), net.target(k)
    s1, s2, s3 = delta_forms(net, k)
    sign = net.drill.negates_delta
    first, second = (Term("y", t), Term(f"a{L}[{k}]", a)) if sign else (Term(f"a{L}[{k}]", a),
                                                                          Term(net.target_label(k), t))
    sources = (Source(f"forward.a{L}", (k,)),)
    notes = [f"dz{L} negated (y − a) by the injected bug 'sign'"] if sign else []
    notes.append(DELTA_WORDS[net.arch.loss])
    formula = f"dz{L}[{k}] = {s1[1:-1]}"
    substituted = line(formula, s2[1:-1], s3[1:-1], num(value))
    if net.arch.loss == "mse":
        d = first.value - second.value
        return Explanation(q, (k,), value, formula, substituted, sources=sources, notes=tuple(notes),
                           operation="product",
                           operands=(Term(f"{first.label} − {second.label}", d),
                                     Term(f"a{L}[{k}]", a), Term(f"1 − a{L}[{k}]", 1 - a)))
    return Explanation(q, (k,), value, formula, substituted, sources=sources, notes=tuple(notes),
                       operation="difference", operands=(first, second))


#: The explainer of each gradient, by the kind of tensor it is the gradient of.
_BY_KIND: dict[str, Callable[[Net, str, int, tuple[int, ...], float], Explanation]] = {
    "W": _dW,
    "b": _db,
    "a": _da,
    "z": lambda net, q, l, index, value: _dz(net, q, l, index[0], value),
}


def explain(net: Net, q: str, name: str, index: tuple[int, ...], value: float,
            penalised: bool = True) -> Explanation:
    """backward.dW_l, db_l, da_l or dz_l; a dW_l of a network with rates as its data term plus
    the penalty's gradient (with_penalty), unless `penalised` is False (a batch's sample's term,
    which has none)."""
    parsed = names.parse(name)
    assert parsed is not None and parsed.grad and parsed.layer is not None, name
    l = parsed.layer
    if parsed.kind == "W" and penalised and net.arch.penalised:
        return with_penalty(net, q, l, index, value, _dW(net, q, l, index, data_term(net, l, index)))
    return _BY_KIND[parsed.kind](net, q, l, index, value)


def data_term(net: Net, l: int, index: tuple[int, ...]) -> float:
    """One sample's dW_l[i,j] of the data loss, dz_l[i]·a_(l-1)[j] (z_(l-1)[j] under the cache
    drill), as the backward pass's outer product computes it."""
    i, j = index
    source = float(net.cache[f"z{l - 1}"][j]) if net.drill.uses_z(net.arch, l) else net.a(l - 1, j)
    return float(np.asarray(net.grads[f"dz{l}"])[i]) * source


def with_penalty(net: Net, q: str, l: int, index: tuple[int, ...], value: float,
                 data: Explanation) -> Explanation:
    """dW_l[i,j] = its data term + l1·sign(W_l[i,j]) + l2·W_l[i,j] (engine.maths.penalty), the
    rates' terms only; `data` derives the data term (one sample's, or a batch's mean)."""
    arch, (i, j) = net.arch, index
    label, w = element_label(f"dW{l}", index), float(net.W(l)[index])
    sign = float(np.sign(w))
    data_label = data.formula.split(" = ", 1)[1]
    rated = [(f"l1·sign(W{l}[{i},{j}])", f"{arch.l1:g} · {paren(sign)}", arch.l1 * sign, arch.l1),
             (f"l2·W{l}[{i},{j}]", f"{arch.l2:g} · {paren(w)}", arch.l2 * w, arch.l2)]
    rated = [term for term in rated if term[3]]
    operands = (Term(data_label, data.value), *(Term(t[0], t[2]) for t in rated))
    formula = f"{label} = {data_label} + {' + '.join(t[0] for t in rated)}"
    numbers = " + ".join([paren(data.value), *(t[1] for t in rated)])
    substituted = f"{formula} = {numbers} = {num(value)}"
    notes = [f"the weights' penalty l1·Σ|W| + (l2/2)·ΣW² (l1 = {arch.l1:g}, l2 = {arch.l2:g}) adds "
             "its gradient l1·sign(W) + l2·W to every dW once a step, never to db"
             + (" (sign(0) = 0, a subgradient of |w| at its kink)" if arch.l1 and w == 0 else "")]
    if net.drill.unpenalised_loss:
        notes.append("the injected bug 'penalty-loss' left the penalty out of the loss, not out of "
                     f"this gradient: the loss's true d{label} is the data term {num(data.value)} alone")
    return Explanation(q, index, value, formula, substituted,
                       chain=(f"the data term: {data.substituted}", *data.chain),
                       terms=operands, sources=(*data.sources, Source(f"{net.used_name}.W{l}", index)),
                       notes=(*data.notes, *notes), operation="sum", operands=operands)
