"""The forward pass's elements derived: an input, z_l[i] = Σ_j W_l[i,j]·a_(l-1)[j] + b_l[i],
a_l[i] = f(z_l[i]) (σ or softmax at the output) and the loss."""

from __future__ import annotations

import math

import numpy as np

from engine.data.batches import Data
from engine.explain.explanation import Explanation, Source, Term
from engine.explain.net import Net
from engine.explain.written import SHOWN_TERMS, element_label, num, paren, shown_sum
from engine.maths import names, network

#: Each hidden activation in words, beside its formula.
ACTIVATION_WORDS = {"relu": "relu(z) = max(0, z)", "leaky-relu": "lrelu(z) = z if z > 0 else 0.01·z",
                    "tanh": "tanh(z) = (e^z − e^−z) / (e^z + e^−z)",
                    "sigmoid": "σ(z) = 1 / (1 + e^−z)"}


def explain(net: Net, q: str, name: str, index: tuple[int, ...], value: float) -> Explanation:
    """forward.x, forward.z_l, forward.a_l or forward.loss."""
    if name == "x":
        return _input(net, q, index, value)
    if name == "loss":
        if not net.loss_penalised:
            return loss(net, q, value)
        z = np.asarray(net.cache[f"z{net.L}"])
        return with_penalty(net, q, value, loss(net, q, float(network.output_loss(net.arch.loss, z, net.y))))
    parsed = names.parse(name)
    assert parsed is not None and parsed.layer is not None, name
    l, i = parsed.layer, index[0]
    if parsed.kind == "z":
        return _z(net, q, l, i, value)
    if l < net.L:
        return _hidden(net, q, l, i, value)
    if net.arch.classes == 1:
        return _sigmoid(net, q, l, i, value)
    return _softmax(net, q, l, i, value)


def _input(net: Net, q: str, index: tuple[int, ...], value: float) -> Explanation:
    """x[j]: --x's, or a batch's data row's. Its formula says which input j is in words set off
    by commas, never "x[j] = ... j": an index written after "=" reads as the value."""
    label = element_label("x", index)
    sample, data = net.view.sample, net.view.data
    if sample is None or data is None:
        which = f"{label}, input {index[0]} of the sample"
        return Explanation(q, index, value, which, f"{which}, = {num(value)}", operation="constant",
                           operands=(Term(label, value),), notes=("set by --x (or its default)",))
    scaled = (" (standardized by the training rows' mean and standard deviation)"
              if data.standardized else "")
    where = (f"sample {sample.index + 1} of {sample.size} in the batch: row {sample.row} of the "
             f"{data.dataset.name} data{scaled}; [ and ] show another")
    if data.features:
        return _feature(q, index, value, data, sample.row, where)
    j = index[0]
    name = data.dataset.columns[j] if data.dataset.columns else ""  # a CSV header's name
    which = f"{label}, {name + ', ' if name else ''}feature {j} of data row {sample.row}"
    substituted = f"{label} = {name} = {num(value)}" if name else f"{which}, = {num(value)}"
    return Explanation(q, index, value, which, substituted, operation="constant",
                       operands=(Term(label, value),), notes=(where,))


def _feature(q: str, index: tuple[int, ...], value: float, data: Data, row: int, where: str) -> Explanation:
    """x[j] as a feature of the row's point (x1, x2): x[2] = x1² = 0.61² = 0.372."""
    label = element_label("x", index)
    feature = data.features[index[0]]
    x1_name, x2_name = data.axis_names
    x1, x2 = (float(v) for v in data.plane.X[row])
    symbol = feature.symbol((x1_name, x2_name))
    coordinates = ((x1_name, x1), (x2_name, x2))
    operands = tuple(Term(*coordinates[k]) for k in feature.of)
    # The arithmetic anyone can redo (explanation.redo): x1² is the product x1 · x1.
    operation = {"identity": "constant", "square": "product", "product": "product"}.get(
        feature.operation, "sin")
    if feature.operation == "square":
        operands = operands * 2
    substituted = "" if feature.operation == "identity" else f"{feature.of_values(x1, x2, num)} = "
    return Explanation(q, index, value, f"{label} = {symbol}, input feature {index[0]} of data row {row}",
                       f"{label} = {symbol} = {substituted}{num(value)}",
                       operation=operation, operands=operands,
                       notes=(where, f"{x1_name} = {num(x1)}, {x2_name} = {num(x2)}: the row's point of the "
                                     "plane the map draws"))


def _z(net: Net, q: str, l: int, i: int, value: float) -> Explanation:
    """z_l[i] = Σ_j W_l[i,j]·a_(l-1)[j] + b_l[i], every term written out."""
    label = f"z{l}[{i}]"
    W, prev = net.W(l), net.a_name(l - 1)
    n_in = W.shape[1]
    b = float(net.used[f"b{l}"][i])
    labels = [f"W{l}[{i},{j}]·{prev}[{j}]" for j in range(n_in)] + [f"b{l}[{i}]"]
    values = [float(W[i, j]) * net.a(l - 1, j) for j in range(n_in)] + [b]
    numbers = [f"{num(float(W[i, j]))} · {num(net.a(l - 1, j))}" for j in range(n_in)] + [num(b)]
    formula = f"{label} = Σ_j W{l}[{i},j]·{prev}[j] + b{l}[{i}]"
    sources = [Source(f"{net.used_name}.W{l}", (i, j)) for j in range(n_in)] \
        + [net.a_source(l - 1, j) for j in range(n_in)] + [Source(f"{net.used_name}.b{l}", (i,))]
    written = " + ".join(labels) if n_in + 1 <= SHOWN_TERMS else formula.split(" = ")[1]
    substituted = f"{label} = {written} = {shown_sum(numbers, values)} = {num(value)}"
    terms = tuple(Term(a, v) for a, v in zip(labels, values, strict=True))
    return Explanation(q, (i,), value, formula, substituted, terms=terms, sources=tuple(sources),
                       operation="sum", operands=terms)


def _hidden(net: Net, q: str, l: int, i: int, value: float) -> Explanation:
    """a_l[i] = f(z_l[i]) in a hidden layer."""
    zi = float(net.cache[f"z{l}"][i])
    f = net.arch.f.symbol
    formula = f"a{l}[{i}] = {f}(z{l}[{i}])"
    return Explanation(q, (i,), value, formula, f"{formula} = {f}({num(zi)}) = {num(value)}",
                       sources=(Source(f"forward.z{l}", (i,)),), operation=net.arch.activation,
                       operands=(Term(f"z{l}[{i}]", zi),),
                       notes=(ACTIVATION_WORDS[net.arch.activation],))


def _sigmoid(net: Net, q: str, l: int, i: int, value: float) -> Explanation:
    """The one output unit: a_L[0] = σ(z_L[0])."""
    zi = float(net.cache[f"z{l}"][i])
    formula = f"a{l}[{i}] = σ(z{l}[{i}]) = 1 / (1 + e^(−z{l}[{i}]))"
    return Explanation(q, (i,), value, formula,
                       f"{formula} = 1 / (1 + e^({num(-zi)})) = {num(value)}",
                       sources=(Source(f"forward.z{l}", (i,)),), operation="sigmoid",
                       operands=(Term(f"z{l}[{i}]", zi),))


def _exps(z: np.ndarray) -> str:
    """Σ_j e^z[j] as written: every term, or their count past SHOWN_TERMS."""
    return " + ".join(f"e^{num(float(v))}" for v in z) if z.size <= SHOWN_TERMS else f"Σ of {z.size} terms"


def _softmax(net: Net, q: str, l: int, i: int, value: float) -> Explanation:
    """A softmax output: a_L[i] = e^z_L[i] / Σ_j e^z_L[j]."""
    z = np.asarray(net.cache[f"z{l}"])
    zi = float(z[i])
    formula = f"a{l}[{i}] = e^z{l}[{i}] / Σ_j e^z{l}[j]"
    substituted = f"{formula} = e^{num(zi)} / ({_exps(z)}) = {num(value)}"
    operands = (Term(f"z{l}[{i}]", zi), *(Term(f"z{l}[{j}]", float(v)) for j, v in enumerate(z)))
    return Explanation(q, (i,), value, formula, substituted,
                       sources=tuple(Source(f"forward.z{l}", (j,)) for j in range(z.size)),
                       operation="softmax", operands=operands,
                       notes=("computed as e^(z − max z) / Σ e^(z − max z), the same ratio without "
                              "overflow",))


def with_penalty(net: Net, q: str, value: float, data: Explanation) -> Explanation:
    """The loss as the objective: the data loss (`data` derives it, a sample's or a batch's
    mean) plus the weights' penalty l1·Σ|W| + (l2/2)·ΣW² over W1 .. WL (engine.maths.penalty),
    the rates' terms only."""
    arch = net.arch
    weights = [net.W(l) for l in range(1, net.L + 1)]
    total_abs = math.fsum(float(np.abs(W).sum()) for W in weights)
    total_square = math.fsum(float(np.square(W).sum()) for W in weights)
    rated = [("l1·Σ|W|", f"{arch.l1:g} · {num(total_abs)}", arch.l1 * total_abs, arch.l1),
             ("(l2/2)·ΣW²", f"{arch.l2:g}/2 · {num(total_square)}", 0.5 * arch.l2 * total_square, arch.l2)]
    rated = [term for term in rated if term[3]]
    operands = (Term("data loss", data.value), *(Term(t[0], t[2]) for t in rated))
    formula = f"loss = data loss + {' + '.join(t[0] for t in rated)}"
    substituted = f"{formula} = {' + '.join([num(data.value), *(t[1] for t in rated)])} = {num(value)}"
    notes = (*data.notes,
             f"the weights' penalty (l1 = {arch.l1:g}, l2 = {arch.l2:g}) over W1 … W{net.L}, never the "
             "biases, added once to the loss the gradients are of; the train and test losses are data "
             "losses")
    return Explanation(q, (), value, formula, substituted,
                       chain=(f"data loss: {data.substituted}", *data.chain), terms=operands,
                       sources=data.sources, notes=notes, operation="sum", operands=operands)


def loss(net: Net, q: str, value: float) -> Explanation:
    """The loss of the output logits z_L against y, as the network's loss computes it."""
    L, y = net.L, net.y
    z = np.asarray(net.cache[f"z{L}"])
    if net.arch.loss == "bce":
        z0 = float(z[0])
        formula = (f"loss = −[y·log a{L}[0] + (1 − y)·log(1 − a{L}[0])] "
                   f"= log(1 + e^((1 − 2y)·z{L}[0]))")
        substituted = f"{formula} = log(1 + e^({num(1 - 2 * y)} · {paren(z0)})) = {num(value)}"
        return Explanation(q, (), value, formula, substituted, sources=(Source(f"forward.z{L}", (0,)),),
                           operation="bce", operands=(Term(f"z{L}[0]", z0), Term("y", float(y))),
                           notes=("computed from the logit (logaddexp), so it stays finite where "
                                  "log a would overflow",))
    if net.arch.loss == "mse":
        z0, a0 = float(z[0]), float(net.cache[f"a{L}"][0])
        formula = f"loss = ½·(a{L}[0] − y)² = ½·(σ(z{L}[0]) − y)²"
        substituted = f"{formula} = ½·({num(a0)} − {y})² = {num(value)}"
        return Explanation(q, (), value, formula, substituted,
                           sources=(Source(f"forward.z{L}", (0,)), Source(f"forward.a{L}", (0,))),
                           operation="mse", operands=(Term(f"z{L}[0]", z0), Term("y", float(y))))
    formula = f"loss = −log softmax(z{L})[y] = log Σ_j e^z{L}[j] − z{L}[y]"
    substituted = f"{formula} = log({_exps(z)}) − {paren(float(z[y]))} (y = {y}) = {num(value)}"
    return Explanation(q, (), value, formula, substituted,
                       sources=tuple(Source(f"forward.z{L}", (j,)) for j in range(z.size)),
                       operation="cross-entropy",
                       operands=(Term("y", float(y)),
                                 *(Term(f"z{L}[{j}]", float(v)) for j, v in enumerate(z))),
                       notes=("computed as log-sum-exp shifted by max z, finite for any logits",))
