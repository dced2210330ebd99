"""The parameters: where those a step started from came from (the initial draw, or an
earlier step's update), and the SGD update θ ← θ − lr·dθ that gives the new ones."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

from engine.explain.explanation import Explanation, Source, Term
from engine.explain.net import Net
from engine.explain.written import element_label, num, paren
from engine.maths import names
from engine.maths.network import INITS, init_params

#: Each initialisation's scale in words, from a layer's fan-in and fan-out.
SCALE_WORDS: dict[str, Callable[[int, int], str]] = {
    "notebook": lambda n_in, n_out: "1 (the notebook's unscaled normals)",
    "he": lambda n_in, n_out: f"√(2/{n_in})",
    "xavier": lambda n_in, n_out: f"√(2/({n_in} + {n_out}))",
}


def _earlier(q: str, label: str, index: tuple[int, ...], value: float, step: int) -> Explanation:
    """A parameter set by the previous step's update, which this state no longer holds."""
    return Explanation(q, index, value, f"{label} ← {label} − lr·d{label} (step {step - 1}'s update)",
                       f"{label} = {num(value)}", operation="constant", operands=(Term(label, value),),
                       notes=(f"set by step {step - 1}'s update, which this state does not hold "
                              f"(it holds step {step}); step back to see it",))


def _drawn(net: Net, q: str, name: str, index: tuple[int, ...], value: float) -> Explanation:
    """W_l[i,j] = the initial draw · the initialisation's scale. The draws are init_params's
    with the notebook's scale of 1, which leaves each normal as drawn."""
    label, config, sizes = element_label(name, index), net.config, net.arch.sizes
    l = names.layer(name)
    d = float(init_params(net.arch, config.seed, "notebook")[name][index])
    n_in, n_out = sizes[l - 1], sizes[l]
    scale = INITS[config.init](n_in, n_out)
    formula = (f"{label} = RandomState({config.seed}).randn({n_out}, {n_in})"
               f"[{index[0]},{index[1]}] · scale")
    drawn = ", ".join(f"randn({b}, {a})" for a, b in pairwise(sizes[:l]))
    substituted = f"{formula} = {num(d)} · {num(scale)} = {num(value)}"
    notes = (f"init {config.init}: scale {SCALE_WORDS[config.init](n_in, n_out)}",
             f"one RandomState({config.seed}) draws every W in layer order"
             + (f" ({'W1' if l == 2 else f'W1..W{l - 1}'} first: {drawn})" if l > 1 else ""))
    return Explanation(q, index, value, formula, substituted, notes=notes, operation="product",
                       operands=(Term("draw", d), Term("scale", scale)))


def origin(net: Net, q: str, name: str, index: tuple[int, ...], value: float) -> Explanation:
    """Where a parameter the step started from came from: the initial draw, or an earlier
    step's update (which this state no longer holds)."""
    label = element_label(name, index)
    if net.state.step > 1:
        return _earlier(q, label, index, value, net.state.step)
    parsed = names.parse(name)
    if parsed is not None and parsed.kind == "b":
        return Explanation(q, index, value, f"{label} = 0", f"{label} = 0 = {num(value)}",
                           operation="constant", operands=(Term("0", 0.0),),
                           notes=("biases start at zero",))
    return _drawn(net, q, name, index, value)


def params(net: Net, q: str, name: str, index: tuple[int, ...], value: float) -> Explanation:
    """params.θ: the update's result once the step has one, else where θ came from."""
    if net.state.update is not None:
        return updated(net, q, name, index, value)
    return origin(net, q, name, index, value)


def updated(net: Net, q: str, name: str, index: tuple[int, ...], value: float) -> Explanation:
    """update.θ = θ − lr·dθ, from the parameter before the update and its gradient."""
    assert net.state.update is not None
    label = element_label(name, index)
    before = float(net.state.update.before[name][index])
    grad = float(net.grads[f"d{name}"][index])
    lr = float(net.config.lr)
    formula = f"{label} ← {label} − lr·d{label}"
    substituted = f"{formula} = {num(before)} − {num(lr)} · {paren(grad)} = {num(value)}"
    return Explanation(q, index, value, formula, substituted,
                       sources=(Source(f"update.before.{name}", index), Source(f"backward.d{name}", index)),
                       notes=(f"the SGD update of step {net.state.step}",), operation="sgd",
                       operands=(Term(f"{label} before", before), Term("lr", lr), Term(f"d{label}", grad)))


def before(net: Net, q: str, name: str, index: tuple[int, ...], value: float) -> Explanation:
    """update.before.θ: where θ came from, then the update this step made of it."""
    assert net.state.update is not None
    base = origin(net, q, name, index, value)
    after = updated(net, f"update.{name}", name, index, float(net.state.update.after[name][index]))
    return Explanation(base.tensor, index, value, base.formula, base.substituted,
                       chain=(f"then step {net.state.step}'s update: {after.substituted}",),
                       sources=base.sources, notes=base.notes, operation=base.operation,
                       operands=base.operands)
