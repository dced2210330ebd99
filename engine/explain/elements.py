"""Why is this number what it is: any element of any tensor the stepper shows, derived.

An Explanation is the element's formula, the same formula with the actual numbers
substituted down to the values it came from, and the result, which equals the value shown.
Sums list their terms; a parameter says where it came from; a numerical gradient shows
L(θ+ε), L(θ−ε), the quotient and the verdict, with the finite-difference side labelled.
The cells an element is computed from are its `sources`, which the app highlights.

Tensors are named as the JSON trace names them, qualified by phase where a name is
ambiguous: "params.W1" (the current parameters; bare "W1" means these), "forward.z1",
"backward.dW1", "gradcheck.W1" (the numerical gradient), "update.W1" (after the update)
and "update.before.W1".

The entry points: explain(view, tensor, index, forward=None) and explain_text(view,
"dW1[1,2]"); parse_element reads an element as typed; tensors/shapes/resolve name
what exists; final_shapes says it for the built-in network before a run; redo(e) redoes an
explanation's last step from its operands, which is how the tests hold every explanation
to its number. Numbers in formulas have 4 significant digits; `value` is exact.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.check.verdicts import RTOL, TensorCheck
from engine.maths import network
from engine.maths.network import ACTIVATIONS, INITS, Architecture, Array, Labels, Params, Tensors
from engine.maths.network import forward as network_forward
from engine.model.conventions import DLAI
from engine.run.stepper import State, View
from engine.settings.config import shown as echoed


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
    #: "mean": the terms' mean (a batch's); "constant": o0; "unknown": nothing the stepper can
    #: derive (a user's model).
    operation: str = "unknown"
    operands: tuple[Term, ...] = ()


def tensors(state: State) -> dict[str, Any]:
    """Every tensor of the state, by qualified name, in the order the stepper made them."""
    out: dict[str, Any] = {f"params.{name}": value for name, value in state.params.items()}
    if state.forward is not None:
        out |= {f"forward.{name}": value for name, value in state.forward.cache.items()}
        out["forward.loss"] = np.float64(state.forward.loss)
    if state.backward is not None:
        out |= {f"backward.{name}": value for name, value in state.backward.items()}
    if state.gradcheck is not None:
        out |= {f"gradcheck.{name}": t.numerical for name, t in state.gradcheck.tensors.items()}
    if state.update is not None:
        out |= {f"update.{name}": value for name, value in state.update.after.items()}
        out |= {f"update.before.{name}": value for name, value in state.update.before.items()}
    return out


# ---- names and elements -------------------------------------------------------------

_ELEMENT = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(?:\[([^\]]*)\])?\s*")


def parse_element(text: str) -> tuple[str, tuple[int, ...]]:
    """`dW1[1,2]` -> ("dW1", (1, 2)); `update.W1[0,0]`; `b2[0]`; `loss` -> ("loss", ()).
    ValueError, saying what is wrong, for anything else."""
    match = _ELEMENT.fullmatch(text)
    if match is None:
        raise ValueError(f"{echoed(text)} is not an element: write a tensor's name and an index, "
                         "e.g. dW1[1,2], update.W1[0,0], b2[0], or loss for a scalar")
    name, inside = match[1], match[2]
    if name.endswith(".") or ".." in name:
        raise ValueError(f"{echoed(text)}: {echoed(name)} is not a tensor's name (e.g. backward.dW1)")
    if inside is None:
        return name, ()
    parts = [part.strip() for part in inside.split(",")]
    if parts == [""]:
        short = len(name) <= 40  # a long name is echoed once, cut short
        raise ValueError(f"{echoed(text)}: the brackets are empty; give an index such as "
                         f"{name if short else 'dW1'}[0] (a scalar takes no brackets: "
                         f"{name if short else 'loss'})")
    index = []
    for part in parts:
        if not part.isascii() or not part.isdigit():
            raise ValueError(f"{echoed(text)}: index {echoed(part)} is not a whole number from 0")
        if len(part) > 18:  # past any array's length (and int()'s 4,300-digit limit)
            raise ValueError(f"{echoed(text)}: index {echoed(part)} is out of any tensor's range")
        index.append(int(part))
    return name, tuple(index)


def listing(known: dict[str, tuple[int, ...]]) -> str:
    """"params.W1 (4, 3), ..., forward.loss (scalar)": what exists, for an error message."""
    return ", ".join(f"{q} {shape if shape else '(scalar)'}" for q, shape in known.items())


def resolve(known: dict[str, tuple[int, ...]], name: str, index: tuple[int, ...]) -> str:
    """The qualified name `name` stands for among tensors of these shapes: itself if
    qualified, the current parameter for a parameter's bare name, else the one tensor of
    that name; the index checked against its shape; ValueError listing what exists otherwise."""
    if name in known:
        qualified = name
    elif f"params.{name}" in known:
        qualified = f"params.{name}"
    else:
        matches = [q for q in known if q.rsplit(".", 1)[-1] == name]
        if len(matches) != 1:
            why = (f"{echoed(name)} is ambiguous ({', '.join(matches)})" if matches
                   else f"no tensor {echoed(name)}")
            raise ValueError(f"{why}; the tensors are {listing(known)}")
        qualified = matches[0]
    shape = known[qualified]
    shown = f"{qualified}[{','.join(map(str, index))}]" if index else qualified
    if len(index) != len(shape):
        want = "no index (a scalar)" if not shape else f"{len(shape)} index(es), shape {shape}"
        raise ValueError(f"{shown}: {qualified} takes {want}; the tensors are {listing(known)}")
    if any(i >= n for i, n in zip(index, shape, strict=True)):
        raise ValueError(f"{shown} is out of range: {qualified} has shape {shape}; "
                         f"the tensors are {listing(known)}")
    return qualified


def shapes(state: State) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor of the state, by qualified name."""
    return {q: tuple(np.shape(v)) for q, v in tensors(state).items()}


def final_shapes(arch: Architecture, gradcheck: bool) -> dict[str, tuple[int, ...]]:
    """The shapes tensors() gives the built-in network's state after an update, known from
    the architecture alone: a headless run checks --explain against them before it runs."""
    sizes = arch.sizes
    params: dict[str, tuple[int, ...]] = {}
    for l in range(1, arch.depth + 1):
        params[f"W{l}"], params[f"b{l}"] = (sizes[l], sizes[l - 1]), (sizes[l],)
    out = {f"params.{n}": s for n, s in params.items()}
    out["forward.x"] = (sizes[0],)
    for l in range(1, arch.depth + 1):
        out[f"forward.z{l}"] = out[f"forward.a{l}"] = (sizes[l],)
    out["forward.loss"] = ()
    out |= {f"backward.d{n}": s for n, s in params.items()}
    for l in range(arch.depth, 0, -1):
        out[f"backward.dz{l}"] = (sizes[l],)
        if l > 1:
            out[f"backward.da{l - 1}"] = (sizes[l - 1],)
    if gradcheck:
        out |= {f"gradcheck.{n}": s for n, s in params.items()}
    out |= {f"update.{n}": s for n, s in params.items()}
    out |= {f"update.before.{n}": s for n, s in params.items()}
    return out


def element_label(name: str, index: tuple[int, ...]) -> str:
    return f"{name}[{','.join(map(str, index))}]" if index else name


# ---- numbers as the display writes them -----------------------------------------------

#: Terms a sum shows before "+ N more terms".
SHOWN_TERMS = 8


def num(value: float) -> str:
    """4 significant digits: -0.5286, 1, 1.913e-05."""
    text = f"{value:.4g}"
    return "0" if text == "-0" else text


def _paren(value: float) -> str:
    text = num(value)
    return f"({text})" if text.startswith("-") else text


def _line(*stages: str) -> str:
    """Stages joined by " = ", a stage equal to the one before it left out."""
    out: list[str] = []
    for stage in stages:
        if not out or stage != out[-1]:
            out.append(stage)
    return " = ".join(out)


def _shown_sum(labels: Sequence[str], values: Sequence[float]) -> str:
    """The terms joined by +, or past SHOWN_TERMS the largest |term| first and the rest
    counted with their sum."""
    if len(labels) <= SHOWN_TERMS:
        return " + ".join(labels)
    order = sorted(range(len(values)), key=lambda k: -abs(values[k]))
    head, rest = order[:SHOWN_TERMS], order[SHOWN_TERMS:]
    tail = math.fsum(values[k] for k in rest)
    return " + ".join(labels[k] for k in head) + f" + {len(rest)} more terms ({num(tail)})"


def _evaluate(operation: str, operands: Sequence[float]) -> float:
    """Redo an explanation's last step from its operands (OPERATIONS)."""
    o = [float(v) for v in operands]
    if operation == "sum":
        return math.fsum(o)
    if operation == "mean":
        return math.fsum(o) / len(o)
    if operation == "product":
        return math.prod(o)
    if operation in ACTIVATIONS:
        return float(ACTIVATIONS[operation].f(np.array(o[0])))
    z = np.array(o[1:])
    if operation == "softmax":
        e = np.exp(z - z.max())
        return float(np.exp(o[0] - z.max()) / e.sum())
    if operation == "bce":
        return float(np.logaddexp(0.0, (1 - 2 * o[1]) * o[0]))
    if operation == "mse":
        return float(0.5 * (ACTIVATIONS["sigmoid"].f(np.array(o[0])) - o[1]) ** 2)
    if operation == "cross-entropy":
        m = z.max()
        return float(m + np.log(np.sum(np.exp(z - m))) - z[int(o[0])])
    if operation == "difference":
        return o[0] - o[1]
    if operation == "sgd":
        return o[0] - o[1] * o[2]
    if operation == "central-difference":
        return (o[0] - o[1]) / o[2] / 2.0
    if operation == "constant":
        return o[0]
    raise ValueError(f"{operation!r} cannot be redone")


def redo(explanation: Explanation) -> float:
    """The explanation's own arithmetic: its operation applied to its operands."""
    return _evaluate(explanation.operation, [t.value for t in explanation.operands])


OPERATIONS = ("sum", "mean", "product", *ACTIVATIONS, "softmax", "bce", "mse", "cross-entropy",
              "difference", "sgd", "central-difference", "constant", "unknown")


# ---- the built-in network ---------------------------------------------------------

ForwardFn = Callable[[Array, Params, Labels], tuple[Tensors, float]]


class _Net:
    """What the explanations of one state of the built-in network read."""

    def __init__(self, view: View) -> None:
        self.view = view
        self.state = state = view.state
        self.config = view.config
        self.arch = view.config.architecture
        self.L = self.arch.depth
        self.x = np.asarray(view.config.x, dtype=np.float64)
        self.y = int(view.config.y)
        self.bug = view.bug
        #: The parameters this step's forward and backward used.
        self.used: Params = state.update.before if state.update is not None else state.params
        self.used_name = "update.before" if state.update is not None else "params"
        self.cache = state.forward.cache if state.forward is not None else {}
        self.grads = state.backward if state.backward is not None else {}
        self.fsym = self.arch.f.symbol

    # -- cells
    def a_name(self, l: int) -> str:
        return "x" if l == 0 else f"a{l}"

    def a(self, l: int, j: int) -> float:
        return float(self.x[j]) if l == 0 else float(self.cache[f"a{l}"][j])

    def a_source(self, l: int, j: int) -> Source:
        return Source(f"forward.{self.a_name(l)}", (j,))

    def W(self, l: int) -> Array:
        return np.asarray(self.used[f"W{l}"])

    def fprime(self, l: int, i: int) -> float:
        return float(self.arch.f.derivative(np.array(self.cache[f"z{l}"][i])))

    def fprime_label(self, l: int, i: int) -> str:
        return f"{self.fsym}'(z{l}[{i}])"

    def broken_fprime(self) -> bool:
        return self.bug == "activation-grad"

    def transposed(self, l: int) -> bool:
        """Whether da_(l-1) was computed with W_l instead of W_lᵀ (the transpose drill)."""
        return self.bug == "transpose" and l in self.arch.square_layers()

    # -- the sums
    def da_terms(self, m: int, i: int) -> list[tuple[str, str, float, int, Source, Source]]:
        """da_m[i] = Σ_k W_(m+1)[k,i]·dz_(m+1)[k]; the transpose drill reads W[i,k]."""
        l = m + 1
        W = self.W(l)
        dz = np.asarray(self.grads[f"dz{l}"])
        out = []
        for k in range(dz.size):
            r, c = (i, k) if self.transposed(l) else (k, i)
            w, d = float(W[r, c]), float(dz[k])
            out.append((f"W{l}[{r},{c}]·dz{l}[{k}]", f"{num(w)} · {num(d)}", w * d, k,
                        Source(f"{self.used_name}.W{l}", (r, c)), Source(f"backward.dz{l}", (k,))))
        return out

    # -- the stages of dz_l[i], one level deeper each: symbols, then numbers
    def dz_forms(self, l: int, i: int) -> tuple[str, str, str]:
        """(one level back, symbolically; the level after, with the known factors as
        numbers; all numbers) for dz_l[i]."""
        if l == self.L:
            return self.delta_forms(i)
        m = l
        terms = self.da_terms(m, i)
        fp = 1.0 if self.broken_fprime() else self.fprime(m, i)
        sym = f"(da{m}[{i}] · {self.fprime_label(m, i)})"
        inner_sym = _shown_sum([t[0] for t in terms], [t[2] for t in terms])
        inner_num = _shown_sum([t[1] for t in terms], [t[2] for t in terms])
        if len(terms) > SHOWN_TERMS:
            inner_sym = f"Σ_k W{m + 1}[k,{i}]·dz{m + 1}[k]"
        return sym, f"(({inner_sym}) · {_paren(fp)})", f"(({inner_num}) · {_paren(fp)})"

    def delta_forms(self, k: int) -> tuple[str, str, str]:
        a = float(self.cache[f"a{self.L}"][k])
        t = self.target(k)
        L, sign = self.L, self.bug == "sign"
        diff_sym = f"y − a{L}[{k}]" if sign else f"a{L}[{k}] − {self.target_label(k)}"
        diff_num = f"{num(t)} − {num(a)}" if sign else f"{num(a)} − {num(t)}"
        if self.arch.loss == "mse":
            return (f"(({diff_sym}) · a{L}[{k}] · (1 − a{L}[{k}]))",
                    f"(({diff_num}) · {num(a)} · (1 − {num(a)}))",
                    f"(({diff_num}) · {num(a)} · {num(1 - a)})")
        return f"({diff_sym})", f"({diff_num})", f"({diff_num})"

    def target(self, k: int) -> float:
        if self.arch.classes == 1:
            return float(self.y)
        return 1.0 if k == self.y else 0.0

    def target_label(self, k: int) -> str:
        return "y" if self.arch.classes == 1 else f"onehot(y)[{k}]"

    def deeper(self, l: int, i: int) -> list[str]:
        """Chain lines below dz_l[i]: dz_(l+1) .. dz_L along the largest |term| of each sum
        (the path that contributes most), one layer deeper a line."""
        lines: list[str] = []
        m, unit = l, i
        while m < self.L:
            terms = self.da_terms(m, unit)
            k = max(range(len(terms)), key=lambda n: abs(terms[n][2]))
            m, unit = m + 1, terms[k][3]
            lines.append(self.explain(f"backward.dz{m}", (unit,)).substituted)
        return lines

    # -- explanations
    def explain(self, qualified: str, index: tuple[int, ...]) -> Explanation:
        phase, _, name = qualified.rpartition(".")
        value = float(np.asarray(tensors(self.state)[qualified])[index])
        if self.view.sample is not None and (qualified == "forward.loss"
                                             or (phase == "backward" and name[:2] in ("dW", "db"))):
            return self.batch_mean(qualified, name, index, value)
        if phase == "forward":
            return self.forward(qualified, name, index, value)
        if phase == "backward":
            return self.backward(qualified, name, index, value)
        if phase == "params":
            return self.params(qualified, name, index, value)
        if phase == "update":
            return self.updated(qualified, name, index, value)
        if phase == "update.before":
            return self.before(qualified, name, index, value)
        raise KeyError(qualified)  # gradcheck is explained by _gradcheck

    def batch_mean(self, q: str, name: str, index: tuple[int, ...], value: float) -> Explanation:
        """The loss and the parameter gradients of a batch are means over its samples: the
        mean written out, then the shown sample's own term derived as for one sample."""
        sample = self.view.sample
        assert sample is not None and sample.batch.forward is not None
        batch, B, s = sample.batch, sample.size, sample.index
        cache = sample.batch.forward.cache
        label = element_label(name, index)
        if name == "loss":
            z = np.asarray(cache[f"z{self.L}"])
            with np.errstate(all="ignore"):
                values = [float(v) for v in network.output_loss(self.arch.loss, z, sample.labels)]
            labels = [f"loss[{b}]" for b in range(B)]
            formula = f"loss = (1/{B}) Σ_b loss[b], the mean of the batch's {B} samples' losses"
            own = self.loss(q, values[s])
            what = "loss"
        else:
            assert batch.backward is not None
            l, i = int(name[2:]), index[0]
            dz = np.asarray(batch.backward[f"dz{l}"])[:, i]
            if name.startswith("db"):
                if self.bug == "bias-grad":
                    return self.backward(q, name, index, value)
                values = [float(v) for v in dz]
                labels = [f"dz{l}[{b},{i}]" for b in range(B)]
                formula = f"{label} = (1/{B}) Σ_b dz{l}[b,{i}]"
            else:
                j = index[1]
                prev = f"z{l - 1}" if self.bug == "cache" and l == self.L else self.a_name(l - 1)
                a = np.asarray(cache[prev])[:, j]
                values = [float(u * v) for u, v in zip(dz, a, strict=True)]
                labels = [f"dz{l}[{b},{i}]·{prev}[{b},{j}]" for b in range(B)]
                formula = f"{label} = (1/{B}) Σ_b dz{l}[b,{i}]·{prev}[b,{j}]"
            own = self.backward(q, name, index, values[s])
            what = f"its {label}"
        substituted = f"{label} = ({_shown_sum(labels, values)}) / {B} = {num(value)}"
        operands = tuple(Term(t, v) for t, v in zip(labels, values, strict=True))
        chain = (f"sample {s + 1} (row {sample.row}, shown), {what}: {own.substituted}", *own.chain)
        notes = ("a batch's loss is the mean of its samples' losses, so each parameter's gradient is "
                 "the mean of the samples' gradients: the update uses this mean; [ and ] show another "
                 "sample's term", *own.notes)
        return Explanation(q, index, value, formula, substituted, chain=chain, terms=operands,
                           sources=own.sources, notes=notes, operation="mean", operands=operands)

    def forward(self, q: str, name: str, index: tuple[int, ...], value: float) -> Explanation:
        L, arch = self.L, self.arch
        label = element_label(name, index)
        if name == "x":
            sample, data = self.view.sample, self.view.data
            if sample is None or data is None:
                return Explanation(q, index, value, f"{label} = the input sample's value {index[0]}",
                                   f"{label} = {num(value)}", operation="constant",
                                   operands=(Term(label, value),), notes=("set by --x (or its default)",))
            scaled = (" (standardized by the training rows' mean and standard deviation)"
                      if data.standardized else "")
            where = (f"sample {sample.index + 1} of {sample.size} in the batch: row {sample.row} of the "
                     f"{data.dataset.name} data{scaled}; [ and ] show another")
            return Explanation(q, index, value, f"{label} = feature {index[0]} of data row {sample.row}",
                               f"{label} = {num(value)}", operation="constant",
                               operands=(Term(label, value),), notes=(where,))
        if name == "loss":
            return self.loss(q, value)
        l, i = int(name[1:]), index[0]
        if name.startswith("z"):
            W, prev = self.W(l), self.a_name(l - 1)
            n_in = W.shape[1]
            b = float(self.used[f"b{l}"][i])
            labels = [f"W{l}[{i},{j}]·{prev}[{j}]" for j in range(n_in)] + [f"b{l}[{i}]"]
            values = [float(W[i, j]) * self.a(l - 1, j) for j in range(n_in)] + [b]
            numbers = [f"{num(float(W[i, j]))} · {num(self.a(l - 1, j))}" for j in range(n_in)] + [num(b)]
            formula = f"{label} = Σ_j W{l}[{i},j]·{prev}[j] + b{l}[{i}]"
            sources = [Source(f"{self.used_name}.W{l}", (i, j)) for j in range(n_in)] \
                + [self.a_source(l - 1, j) for j in range(n_in)] + [Source(f"{self.used_name}.b{l}", (i,))]
            written = " + ".join(labels) if n_in + 1 <= SHOWN_TERMS else formula.split(" = ")[1]
            substituted = f"{label} = {written} = {_shown_sum(numbers, values)} = {num(value)}"
            return Explanation(q, index, value, formula, substituted,
                               terms=tuple(Term(a, v) for a, v in zip(labels, values, strict=True)),
                               sources=tuple(sources), operation="sum",
                               operands=tuple(Term(a, v) for a, v in zip(labels, values, strict=True)))
        z = np.asarray(self.cache[f"z{l}"])
        zi = float(z[i])
        if l < L:
            f = arch.f.symbol
            formula = f"{label} = {f}(z{l}[{i}])"
            return Explanation(q, index, value, formula, f"{formula} = {f}({num(zi)}) = {num(value)}",
                               sources=(Source(f"forward.z{l}", (i,)),), operation=arch.activation,
                               operands=(Term(f"z{l}[{i}]", zi),),
                               notes=(_activation_words(arch.activation),))
        if arch.classes == 1:
            formula = f"{label} = σ(z{l}[{i}]) = 1 / (1 + e^(−z{l}[{i}]))"
            return Explanation(q, index, value, formula,
                               f"{formula} = 1 / (1 + e^({num(-zi)})) = {num(value)}",
                               sources=(Source(f"forward.z{l}", (i,)),), operation="sigmoid",
                               operands=(Term(f"z{l}[{i}]", zi),))
        exps = [f"e^{num(float(v))}" for v in z]
        formula = f"{label} = e^z{l}[{i}] / Σ_j e^z{l}[j]"
        den = " + ".join(exps) if z.size <= SHOWN_TERMS else f"Σ of {z.size} terms"
        substituted = f"{formula} = e^{num(zi)} / ({den}) = {num(value)}"
        operands = (Term(f"z{l}[{i}]", zi), *(Term(f"z{l}[{j}]", float(v)) for j, v in enumerate(z)))
        return Explanation(q, index, value, formula, substituted,
                           sources=tuple(Source(f"forward.z{l}", (j,)) for j in range(z.size)),
                           operation="softmax", operands=operands,
                           notes=("computed as e^(z − max z) / Σ e^(z − max z), the same ratio without "
                                  "overflow",))

    def loss(self, q: str, value: float) -> Explanation:
        L, arch, y = self.L, self.arch, self.y
        z = np.asarray(self.cache[f"z{L}"])
        if arch.loss == "bce":
            z0 = float(z[0])
            formula = (f"loss = −[y·log a{L}[0] + (1 − y)·log(1 − a{L}[0])] "
                       f"= log(1 + e^((1 − 2y)·z{L}[0]))")
            substituted = f"{formula} = log(1 + e^({num(1 - 2 * y)} · {_paren(z0)})) = {num(value)}"
            return Explanation(q, (), value, formula, substituted, sources=(Source(f"forward.z{L}", (0,)),),
                               operation="bce", operands=(Term(f"z{L}[0]", z0), Term("y", float(y))),
                               notes=("computed from the logit (logaddexp), so it stays finite where "
                                      "log a would overflow",))
        if arch.loss == "mse":
            z0, a0 = float(z[0]), float(self.cache[f"a{L}"][0])
            formula = f"loss = ½·(a{L}[0] − y)² = ½·(σ(z{L}[0]) − y)²"
            substituted = f"{formula} = ½·({num(a0)} − {y})² = {num(value)}"
            return Explanation(q, (), value, formula, substituted,
                               sources=(Source(f"forward.z{L}", (0,)), Source(f"forward.a{L}", (0,))),
                               operation="mse", operands=(Term(f"z{L}[0]", z0), Term("y", float(y))))
        formula = f"loss = −log softmax(z{L})[y] = log Σ_j e^z{L}[j] − z{L}[y]"
        den = " + ".join(f"e^{num(float(v))}" for v in z) if z.size <= SHOWN_TERMS else f"Σ of {z.size} terms"
        substituted = f"{formula} = log({den}) − {_paren(float(z[y]))} (y = {y}) = {num(value)}"
        return Explanation(q, (), value, formula, substituted,
                           sources=tuple(Source(f"forward.z{L}", (j,)) for j in range(z.size)),
                           operation="cross-entropy",
                           operands=(Term("y", float(y)),
                                     *(Term(f"z{L}[{j}]", float(v)) for j, v in enumerate(z))),
                           notes=("computed as log-sum-exp shifted by max z, finite for any logits",))

    def backward(self, q: str, name: str, index: tuple[int, ...], value: float) -> Explanation:
        L, label = self.L, element_label(name, index)
        kind = name[:2]
        l = int(name[2:])
        notes: list[str] = []
        if kind == "dW":
            i, j = index
            prev = self.a_name(l - 1)
            cache_bug = self.bug == "cache" and l == L
            a_val = float(self.cache[f"z{l - 1}"][j]) if cache_bug else self.a(l - 1, j)
            a_lab = f"z{l - 1}[{j}]" if cache_bug else f"{prev}[{j}]"
            dz = float(self.grads[f"dz{l}"][i])
            s1, s2, s3 = self.dz_forms(l, i)
            formula = f"{label} = dz{l}[{i}] · {a_lab}"
            substituted = _line(formula, f"{s1} · {a_lab}", f"{s2} · {_paren(a_val)}",
                                f"{s3} · {_paren(a_val)}", num(value))
            src = Source(f"forward.z{l - 1}", (j,)) if cache_bug else self.a_source(l - 1, j)
            if cache_bug:
                notes.append(f"{a_lab} used instead of {prev}[{j}] by the injected bug 'cache': the "
                             f"true gradient is dz{l}[{i}] · {prev}[{j}] = {num(dz * self.a(l - 1, j))}")
            notes += self.dz_notes(l, i)
            return Explanation(q, index, value, formula, substituted, chain=tuple(self.deeper(l, i)),
                               sources=(Source(f"backward.dz{l}", (i,)), src), notes=tuple(notes),
                               operation="product", operands=(Term(f"dz{l}[{i}]", dz), Term(a_lab, a_val)))
        if kind == "db":
            i = index[0]
            if self.bug == "bias-grad":
                return Explanation(q, index, value, f"{label} = dz{l}[{i}]", f"{label} = 0",
                                   operation="constant", operands=(Term("0", 0.0),),
                                   notes=(f"returned as 0 by the injected bug 'bias-grad': the true "
                                          f"gradient is dz{l}[{i}] = {num(float(self.grads[f'dz{l}'][i]))}",))
            dz = float(self.grads[f"dz{l}"][i])
            s1, s2, s3 = self.dz_forms(l, i)
            formula = f"{label} = dz{l}[{i}]"
            substituted = _line(formula, s1, s2, s3, num(value))
            return Explanation(q, index, value, formula, substituted, chain=tuple(self.deeper(l, i)),
                               sources=(Source(f"backward.dz{l}", (i,)),), notes=tuple(self.dz_notes(l, i)),
                               operation="product", operands=(Term(f"dz{l}[{i}]", dz),))
        i = index[0]
        if kind == "da":
            terms = self.da_terms(l, i)
            w = "W{0}[{1},k]" if self.transposed(l + 1) else "W{0}[k,{1}]"
            formula = f"{label} = Σ_k {w.format(l + 1, i)}·dz{l + 1}[k]"
            written = " + ".join(t[0] for t in terms) if len(terms) <= SHOWN_TERMS \
                else formula.split(" = ")[1]
            numbers = _shown_sum([t[1] for t in terms], [t[2] for t in terms])
            substituted = f"{label} = {written} = {numbers} = {num(value)}"
            if self.transposed(l + 1):
                notes.append(f"W{l + 1} used where W{l + 1}ᵀ belongs (row {i} of W{l + 1}, not column {i}) "
                             "by the injected bug 'transpose'")
            operands = tuple(Term(t[0], t[2]) for t in terms)
            sources = tuple(s for t in terms for s in (t[4], t[5]))
            return Explanation(q, index, value, formula, substituted, chain=tuple(self.deeper(l, i)),
                               terms=operands, sources=sources, notes=tuple(notes), operation="sum",
                               operands=operands)
        # dz
        if l == L:
            return self.delta(q, label, i, value)
        da = float(self.grads[f"da{l}"][i])
        fp = 1.0 if self.broken_fprime() else self.fprime(l, i)
        _, s2, s3 = self.dz_forms(l, i)
        formula = f"{label} = da{l}[{i}] · {self.fprime_label(l, i)}"
        substituted = _line(formula, s2[1:-1], s3[1:-1], num(value))
        return Explanation(q, index, value, formula, substituted, chain=tuple(self.deeper(l, i)),
                           sources=(Source(f"backward.da{l}", (i,)), Source(f"forward.z{l}", (i,))),
                           notes=tuple(self.dz_notes(l, i)), operation="product",
                           operands=(Term(f"da{l}[{i}]", da), Term(self.fprime_label(l, i), fp)))

    def dz_notes(self, l: int, i: int) -> list[str]:
        """What the injected bug did to dz_l[i] (and the unit's derivative, said in words)."""
        notes: list[str] = []
        if l < self.L:
            fp, z = self.fprime(l, i), float(self.cache[f"z{l}"][i])
            if self.broken_fprime():
                notes.append(f"{self.fprime_label(l, i)} taken as 1 by the injected bug 'activation-grad' "
                             f"(the true value at z{l}[{i}] = {num(z)} is {num(fp)})")
            elif self.arch.f.kinked:
                if self.arch.activation == "relu":
                    side = "alive (z > 0)" if z > 0 else "dead (z ≤ 0)"
                else:
                    side = "on the slope-1 side (z > 0)" if z > 0 else "on the leaky side (z ≤ 0)"
                notes.append(f"unit {i} of layer {l} is {side}: {self.fprime_label(l, i)} = {num(fp)}")
        if self.bug == "sign":
            notes.append(f"dz{self.L} negated (y − a) by the injected bug 'sign'")
        return notes

    def delta(self, q: str, label: str, k: int, value: float) -> Explanation:
        L = self.L
        a, t = float(self.cache[f"a{L}"][k]), self.target(k)
        s1, s2, s3 = self.delta_forms(k)
        sign = self.bug == "sign"
        first, second = (Term("y", t), Term(f"a{L}[{k}]", a)) if sign else (Term(f"a{L}[{k}]", a),
                                                                              Term(self.target_label(k), t))
        sources = (Source(f"forward.a{L}", (k,)),)
        notes = [f"dz{L} negated (y − a) by the injected bug 'sign'"] if sign else []
        why = {"bce": "σ with binary cross-entropy: dL/dz = a − y",
               "mse": "σ with ½(a − y)²: dL/dz = (a − y)·σ'(z) = (a − y)·a·(1 − a)",
               "cross-entropy": "softmax with cross-entropy: dL/dz = softmax(z) − onehot(y)"}[self.arch.loss]
        notes.append(why)
        formula = f"{label} = {s1[1:-1]}"
        substituted = _line(formula, s2[1:-1], s3[1:-1], num(value))
        if self.arch.loss == "mse":
            d = first.value - second.value
            return Explanation(q, (k,), value, formula, substituted, sources=sources, notes=tuple(notes),
                               operation="product",
                               operands=(Term(f"{first.label} − {second.label}", d),
                                         Term(f"a{L}[{k}]", a), Term(f"1 − a{L}[{k}]", 1 - a)))
        return Explanation(q, (k,), value, formula, substituted, sources=sources, notes=tuple(notes),
                           operation="difference", operands=(first, second))

    # -- parameters
    def origin(self, q: str, name: str, index: tuple[int, ...], value: float,
               update_kept: bool) -> Explanation:
        """Where a parameter the step started from came from: the initial draw, or an earlier
        step's update (which this state no longer holds)."""
        label = element_label(name, index)
        step, config = self.state.step, self.config
        if step > 1:
            return Explanation(q, index, value,
                               f"{label} ← {label} − lr·d{label} (step {step - 1}'s update)",
                               f"{label} = {num(value)}", operation="constant",
                               operands=(Term(label, value),),
                               notes=(f"set by step {step - 1}'s update, which this state does not hold "
                                      f"(it holds step {step}); step back to see it",))
        if name.startswith("b"):
            return Explanation(q, index, value, f"{label} = 0", f"{label} = 0 = {num(value)}",
                               operation="constant", operands=(Term("0", 0.0),),
                               notes=("biases start at zero",))
        l = int(name[1:])
        rs = np.random.RandomState(config.seed)
        for m, (n_in, n_out) in enumerate(zip(self.arch.sizes, self.arch.sizes[1:], strict=False), start=1):
            draw = rs.randn(n_out, n_in)
            if m == l:
                break
        n_in, n_out = self.arch.sizes[l - 1], self.arch.sizes[l]
        scale = INITS[config.init](n_in, n_out)
        scale_words = {"notebook": "1 (the notebook's unscaled normals)", "he": f"√(2/{n_in})",
                       "xavier": f"√(2/({n_in} + {n_out}))"}[config.init]
        d = float(draw[index])
        formula = (f"{label} = RandomState({config.seed}).randn({n_out}, {n_in})"
                   f"[{index[0]},{index[1]}] · scale")
        drawn = ", ".join(f"randn({b}, {a})" for a, b in zip(self.arch.sizes[:l - 1], self.arch.sizes[1:l],
                                                              strict=False))
        substituted = f"{formula} = {num(d)} · {num(scale)} = {num(value)}"
        notes = [f"init {config.init}: scale {scale_words}",
                 f"one RandomState({config.seed}) draws every W in layer order"
                 + (f" ({'W1' if l == 2 else f'W1..W{l - 1}'} first: {drawn})" if l > 1 else "")]
        return Explanation(q, index, value, formula, substituted, notes=tuple(notes), operation="product",
                           operands=(Term("draw", d), Term("scale", scale)))

    def params(self, q: str, name: str, index: tuple[int, ...], value: float) -> Explanation:
        if self.state.update is not None:
            return self.updated(q, name, index, value)
        return self.origin(q, name, index, value, update_kept=False)

    def updated(self, q: str, name: str, index: tuple[int, ...], value: float) -> Explanation:
        assert self.state.update is not None
        label = element_label(name, index)
        before = float(self.state.update.before[name][index])
        grad = float(self.grads[f"d{name}"][index])
        lr = float(self.config.lr)
        formula = f"{label} ← {label} − lr·d{label}"
        substituted = f"{formula} = {num(before)} − {num(lr)} · {_paren(grad)} = {num(value)}"
        return Explanation(q, index, value, formula, substituted,
                           sources=(Source(f"update.before.{name}", index),
                                    Source(f"backward.d{name}", index)),
                           notes=(f"the SGD update of step {self.state.step}",), operation="sgd",
                           operands=(Term(f"{label} before", before), Term("lr", lr),
                                     Term(f"d{label}", grad)))

    def before(self, q: str, name: str, index: tuple[int, ...], value: float) -> Explanation:
        base = self.origin(q, name, index, value, update_kept=True)
        after = self.updated(f"update.{name}", name, index, float(self.state.update.after[name][index]))  # type: ignore[union-attr]
        return Explanation(base.tensor, index, value, base.formula, base.substituted,
                           chain=(f"then step {self.state.step}'s update: {after.substituted}",),
                           sources=base.sources, notes=base.notes, operation=base.operation,
                           operands=base.operands)


def _activation_words(activation: str) -> str:
    return {"relu": "relu(z) = max(0, z)", "leaky-relu": "lrelu(z) = z if z > 0 else 0.01·z",
            "tanh": "tanh(z) = (e^z − e^−z) / (e^z + e^−z)",
            "sigmoid": "σ(z) = 1 / (1 + e^−z)"}[activation]


# ---- the gradient check (any model) ---------------------------------------------------

def _gradcheck(view: View, q: str, name: str, index: tuple[int, ...], value: float,
               forward: ForwardFn | None) -> Explanation:
    state = view.state
    assert state.gradcheck is not None
    check = state.gradcheck
    t = check.tensors[name]
    label = element_label(name, index)
    eps, atol = float(check.eps), float(check.atol)
    a, n = float(t.analytic[index]), float(t.numerical[index])
    used = state.update.before if state.update is not None else state.params
    used_name = "update.before" if state.update is not None else "params"
    # The loss checked is the batch's mean: the nudged losses are the whole batch's.
    x: Array = np.asarray(view.config.x, dtype=np.float64) if view.sample is None else view.sample.X
    y: Labels = int(view.config.y) if view.sample is None else view.sample.labels
    if forward is None and not view.user_code:
        arch = view.config.architecture

        def forward(x: Array, params: Params, y: Labels) -> tuple[Tensors, float]:
            return network_forward(arch, x, params, y)

    diff = abs(a - n)
    tol = atol + RTOL * max(abs(a), abs(n))
    kink, unresolved, failing = bool(t.kinks[index]), bool(t.unresolved[index]), bool(t.failing[index])
    verdict = (t.kink_verdict(index) or "kink") if kink else "unresolved" if unresolved else \
        "fail" if failing else "pass"
    notes = [f"numerical (the finite-difference estimate, this tensor): {num(n)}; beside it the "
             f"analytic (the backward pass's d{label}): {num(a)}",
             f"|a − n| = {num(diff)}; tolerance atol + rtol·max(|a|, |n|) = {atol:g} + {RTOL:g} · "
             f"{num(max(abs(a), abs(n)))} = {num(tol)}: {verdict}"]
    formula = f"numerical d{label} = (L({label} + ε) − L({label} − ε)) / ε / 2, ε = {eps:g}"
    operands: tuple[Term, ...] = ()
    sources = (Source(f"{used_name}.{name}", index),)
    operation = "unknown"
    substituted = f"{formula} = {num(n)}"
    if forward is not None:
        work = {k: np.array(v, dtype=np.float64, copy=True) for k, v in used.items()}
        orig = work[name][index]
        with np.errstate(all="ignore"):
            work[name][index] = orig + eps
            _, plus = forward(x, work, y)
            work[name][index] = orig - eps
            _, minus = forward(x, work, y)
            work[name][index] = orig
            _, middle = forward(x, work, y)
        plus, minus, middle = float(plus), float(minus), float(middle)
        quotient = (plus - minus) / eps / 2.0
        operands = (Term("L(θ + ε)", plus), Term("L(θ − ε)", minus), Term("ε", eps))
        operation = "central-difference"
        substituted = f"{formula} = ({plus!r} − {minus!r}) / {eps:g} / 2 = {num(quotient)}"
        if quotient != n:
            notes.append(f"the check ({check.method} method) computed {n!r}; nudging the element through "
                         f"the forward pass gives {quotient!r} (a rounding difference of "
                         f"{num(abs(quotient - n))}: the {check.method} method evaluates the same losses "
                         "in another order)")
        if kink:
            notes.append(_kink_note(t, index, a, (middle - minus) / eps, (plus - middle) / eps))
    elif kink:
        notes.append(_kink_note(t, index, a, None, None))
    if forward is None:
        notes.append("the losses L(θ ± ε) are not recomputed here (no forward pass given)")
    return Explanation(q, index, value, formula, substituted, sources=sources, verdict=verdict,
                       notes=tuple(notes), operation=operation, operands=operands)


def _kink_note(t: TensorCheck, index: tuple[int, ...], a: float, left: float | None,
               right: float | None) -> str:
    """A kink element is judged by its one-sided slopes (the check's own, where it kept
    them): the analytic value must lie between them, a subgradient check."""
    if t.one_sided is not None and not np.isnan(t.one_sided[0][index]):
        left, right = float(t.one_sided[0][index]), float(t.one_sided[1][index])
    verdict = t.kink_verdict(index)
    if left is None or right is None or verdict == "kink: unjudged":
        return ("the ±ε nudge crosses a kink on both sides (or the slopes are unknown), so neither "
                "one-sided difference bounds the gradient: left out of the verdict")
    where = "lies" if verdict == "kink: consistent" else "does not lie"
    return (f"the ±ε nudge crosses a kink, so the central difference averages two slopes; judged by the "
            f"one-sided ones instead: left (L(θ) − L(θ − ε)) / ε = {num(left)}, right (L(θ + ε) − L(θ)) / ε "
            f"= {num(right)}; the analytic {num(a)} {where} between them, within the tolerance: {verdict}")


# ---- a user's model ---------------------------------------------------------------

def _user(view: View, q: str, name: str, index: tuple[int, ...], value: float,
          forward: ForwardFn | None) -> Explanation:
    phase = q.rpartition(".")[0]
    state = view.state
    label = element_label(name, index)
    if phase == "gradcheck":
        return _gradcheck(view, q, name, index, value, forward)
    if phase in ("update", "params") and state.update is not None:
        before = float(state.update.before[name][index])
        grad = float(state.backward[f"d{name}"][index]) if state.backward is not None else math.nan
        lr = float(view.config.lr)
        formula = f"{label} ← {label} − lr·d{label}"
        update = "update_parameters" if view.convention == DLAI else "sgd_update"
        notes = [f"step {state.step}'s update: the file's {update} if it defines one, else the "
                 "stepper's W − lr·dW"]
        if before - lr * grad != value:
            notes.append(f"W − lr·dW gives {num(before - lr * grad)}, not {num(value)}: the file's "
                         f"{update} does something else")
        return Explanation(q, index, value, formula,
                           f"{formula} = {num(before)} − {num(lr)} · {_paren(grad)} = {num(value)}",
                           sources=(Source(f"update.before.{name}", index),
                                    Source(f"backward.d{name}", index)),
                           notes=tuple(notes), operation="sgd",
                           operands=(Term(f"{label} before", before), Term("lr", lr),
                                     Term(f"d{label}", grad)))
    why = {"forward": "the file's forward computed it",
           "backward": "the file's backward computed it",
           "params": "the file's init_params (or the built-in draw) set it",
           "update.before": "the file's init_params (or the built-in draw) or an earlier step's "
                            "update set it"}.get(phase, "the file computed it")
    return Explanation(q, index, value, f"{label} = {num(value)}", f"{label} = {num(value)}",
                       operation="unknown",
                       notes=(f"cannot be derived: {why}, and the stepper does not know the file's maths "
                              f"({view.model_name}); only what the stepper computes itself is explained: "
                              "numerical gradients, verdicts and updates",))


# ---- the entry point --------------------------------------------------------------

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
        return _user(view, qualified, name, index, value, forward)
    if phase == "gradcheck":
        return _gradcheck(view, qualified, name, index, value, forward)
    return _Net(view).explain(qualified, index)


def explain_text(view: View, text: str, forward: ForwardFn | None = None) -> Explanation:
    """explain() of an element as typed: "dW1[1,2]", "update.W1[0,0]", "loss"; ValueError
    (saying what is wrong, and what exists) for text that names no element."""
    name, index = parse_element(text)
    return explain(view, name, index, forward)
