"""A mini-batch's loss and parameter gradients: the mean over its samples, written out,
then the shown sample's own term derived as for one sample."""

from __future__ import annotations

import math

import numpy as np

from engine.explain import backward, forward
from engine.explain.explanation import Explanation, Term
from engine.explain.net import Net
from engine.explain.written import element_label, num, shown_sum
from engine.maths import names, network
from engine.maths.names import Name


def is_mean(net: Net, q: str) -> bool:
    """Whether the qualified tensor is a batch's mean: its loss and its dW, db."""
    if net.view.sample is None:
        return False
    phase, _, name = q.rpartition(".")
    parsed = names.parse(name)
    return q == "forward.loss" or (phase == "backward" and parsed is not None and parsed.grad
                                   and parsed.kind in ("W", "b"))


def _loss_terms(net: Net, q: str) -> tuple[list[str], list[float], str, Explanation]:
    """Each sample's loss, as the network computes a batch's, and the shown sample's derived."""
    sample = net.view.sample
    assert sample is not None and sample.batch.forward is not None
    z = np.asarray(sample.batch.forward.cache[f"z{net.L}"])
    with np.errstate(all="ignore"):
        values = [float(v) for v in network.output_loss(net.arch.loss, z, sample.labels)]
    B = sample.size
    formula = f"loss = (1/{B}) Σ_b loss[b], the mean of the batch's {B} samples' losses"
    return [f"loss[{b}]" for b in range(B)], values, formula, forward.loss(net, q, values[sample.index])


def _grad_terms(net: Net, name: Name, index: tuple[int, ...]) -> tuple[list[str], list[float], str]:
    """Each sample's dW_l[i,j] = dz_l[b,i]·a_(l-1)[b,j] or db_l[i] = dz_l[b,i]."""
    sample = net.view.sample
    assert sample is not None and sample.batch.forward is not None and sample.batch.backward is not None
    assert name.layer is not None
    l, i, B = name.layer, index[0], sample.size
    label = element_label(str(name), index)
    dz = np.asarray(sample.batch.backward[f"dz{l}"])[:, i]
    if name.kind == "b":
        return ([f"dz{l}[{b},{i}]" for b in range(B)], [float(v) for v in dz],
                f"{label} = (1/{B}) Σ_b dz{l}[b,{i}]")
    j = index[1]
    prev = f"z{l - 1}" if net.drill.uses_z(net.arch, l) else net.a_name(l - 1)
    a = np.asarray(sample.batch.forward.cache[prev])[:, j]
    return ([f"dz{l}[{b},{i}]·{prev}[{b},{j}]" for b in range(B)],
            [float(u * v) for u, v in zip(dz, a, strict=True)],
            f"{label} = (1/{B}) Σ_b dz{l}[b,{i}]·{prev}[b,{j}]")


def explain(net: Net, q: str, name: str, index: tuple[int, ...], value: float) -> Explanation:
    """The batch's mean loss, dW or db: the mean written out, then the shown sample's term."""
    sample = net.view.sample
    assert sample is not None
    label = element_label(name, index)
    parsed = names.parse(name)
    if name == "loss":
        labels, values, formula, own = _loss_terms(net, q)
        what = "loss"
    else:
        assert parsed is not None, name
        if net.drill.zero_db and parsed.kind == "b":
            return backward.explain(net, q, name, index, value)
        labels, values, formula = _grad_terms(net, parsed, index)
        own = backward.explain(net, q, name, index, values[sample.index], penalised=False)
        what = f"its {label}"
    penalised = net.loss_penalised if name == "loss" else \
        parsed is not None and parsed.kind == "W" and net.arch.penalised
    mean = math.fsum(values) / len(values) if penalised else value
    B, s = sample.size, sample.index
    substituted = f"{label} = ({shown_sum(labels, values)}) / {B} = {num(mean)}"
    operands = tuple(Term(t, v) for t, v in zip(labels, values, strict=True))
    chain = (f"sample {s + 1} (row {sample.row}, shown), {what}: {own.substituted}", *own.chain)
    notes = ("a batch's loss is the mean of its samples' losses, so each parameter's gradient is "
             "the mean of the samples' gradients: the update uses this mean; [ and ] show another "
             "sample's term", *own.notes)
    out = Explanation(q, index, mean, formula, substituted, chain=chain, terms=operands,
                      sources=own.sources, notes=notes, operation="mean", operands=operands)
    if not penalised:
        return out
    if name == "loss":  # the data losses' mean, then the penalty, once
        return forward.with_penalty(net, q, value, out)
    assert parsed is not None and parsed.layer is not None
    return backward.with_penalty(net, q, parsed.layer, index, value, out)
