"""The parameters: where those a step started from came from (the initial draw, or an
earlier step's update), and the update that gives the new ones: SGD's θ ← θ − lr·dθ, or the
run's optimizer (engine.maths.optimizers) with its state (the moments, Adam's m̂, v̂ and t),
every element with its numbers."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

from engine.explain.explanation import Explanation, Source, Term, rule_operation
from engine.explain.net import Net
from engine.explain.written import element_label, num, paren
from engine.maths import names, optimizers
from engine.maths.network import INITS, init_params

#: Each initialisation's scale in words, from a layer's fan-in and fan-out.
SCALE_WORDS: dict[str, Callable[[int, int], str]] = {
    "notebook": lambda n_in, n_out: "1 (the notebook's unscaled normals)",
    "he": lambda n_in, n_out: f"√(2/{n_in})",
    "xavier": lambda n_in, n_out: f"√(2/({n_in} + {n_out}))",
}


def _earlier(q: str, label: str, index: tuple[int, ...], value: float, step: int,
             optimizer: str = "sgd") -> Explanation:
    """A parameter set by the previous step's update, which this state no longer holds."""
    rule = f"{label} ← {label} − lr·d{label}" if optimizer == "sgd" else \
        f"{label} ← the {optimizers.TITLES[optimizer]} update of {label}"
    return Explanation(q, index, value, f"{rule} (step {step - 1}'s update)",
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
        return _earlier(q, label, index, value, net.state.step, net.config.optimizer)
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
    """update.θ = θ − lr·dθ, from the parameter before the update and its gradient (lr the
    update's, decayed to its epoch's); another optimizer's rule, or its state, as it says."""
    assert net.state.update is not None
    if slot(name)[0] is not None:
        return state_updated(net, q, name, index, value)
    if net.config.optimizer != "sgd":
        return optimized(net, q, name, index, value)
    label = element_label(name, index)
    before = float(net.state.update.before[name][index])
    grad = float(net.grads[f"d{name}"][index])
    update_lr = net.state.update.lr
    lr = float(net.config.lr if update_lr is None else update_lr)
    formula = f"{label} ← {label} − lr·d{label}"
    substituted = f"{formula} = {num(before)} − {num(lr)} · {paren(grad)} = {num(value)}"
    return Explanation(q, index, value, formula, substituted,
                       sources=(Source(f"update.before.{name}", index), Source(f"backward.d{name}", index)),
                       notes=(f"the SGD update of step {net.state.step}",), operation="sgd",
                       operands=(Term(f"{label} before", before), Term("lr", lr), Term(f"d{label}", grad)))


def before(net: Net, q: str, name: str, index: tuple[int, ...], value: float) -> Explanation:
    """update.before.θ: where θ came from, then the update this step made of it."""
    assert net.state.update is not None
    if slot(name)[0] is not None:
        return state_origin(net, q, name, index, value)
    base = origin(net, q, name, index, value)
    after = updated(net, f"update.{name}", name, index, float(net.state.update.after[name][index]))
    title = optimizers.TITLES[net.config.optimizer]
    return Explanation(base.tensor, index, value, base.formula, base.substituted,
                       chain=(f"then step {net.state.step}'s {title} update: {after.substituted}",),
                       sources=base.sources, notes=base.notes, operation=base.operation,
                       operands=base.operands)


# ---- the optimizers (engine.maths.optimizers) -------------------------------------------

#: Each moment's symbol and the rule that makes it, as the formulas write them.
MOMENT_RULES = {
    "v": "μ·{v} − lr·{d}",  # momentum and nesterov's velocity; Adam's v is below
    "s": "β2·{v} + (1 − β2)·{d}²",
    "m": "β1·{v} + (1 − β1)·{d}",
    "adam.v": "β2·{v} + (1 − β2)·{d}²",
}


def slot(name: str) -> tuple[str | None, str]:
    """A tensor of the update by its parts: "m_W1" -> ("m", "W1"), "mhat_W1" -> ("mhat", "W1"),
    "t" -> ("t", ""), a parameter "W1" -> (None, "W1")."""
    if name == "t":
        return "t", ""
    head, sep, tail = name.partition("_")
    return (head, tail) if sep and head in ("v", "s", "m", "mhat", "vhat") else (None, name)


class Step:
    """One element's numbers in one update of an optimizer: the parameter before, its
    gradient, the state before and after, the settings the update used."""

    def __init__(self, net: Net, param: str, index: tuple[int, ...]) -> None:
        update = net.state.update
        assert update is not None
        self.net, self.param, self.index = net, param, index
        self.optimizer = net.config.optimizer
        self.update = update
        c = net.config
        self.lr = float(update.lr if update.lr is not None else c.lr)
        self.settings = {"lr": self.lr, "momentum": c.momentum, "beta1": c.beta1, "beta2": c.beta2,
                         "epsilon": c.epsilon}
        self.t = int(update.optim_after.get("t", 0))
        self.label = element_label(param, index)
        #: The update's fault drill, when it breaks this optimizer's rule ("" for none).
        bug = net.view.bug or ""
        self.bug = bug if self.optimizer in optimizers.drill(bug).optimizers else ""
        self.drill = optimizers.drill(self.bug)

    @property
    def drilled(self) -> str:
        """Words for a line the drill broke: " (fault drill NAME)"."""
        return f" (fault drill {self.bug})" if self.bug else ""

    def before(self, moment: str) -> float:
        return float(self.update.optim_before[f"{moment}_{self.param}"][self.index])

    def after(self, key: str) -> float:
        tensors = self.update.optim_after | self.update.cached
        return float(tensors[f"{key}_{self.param}"][self.index])

    @property
    def w(self) -> float:
        return float(self.update.before[self.param][self.index])

    @property
    def dw(self) -> float:
        return float(self.net.grads[f"d{self.param}"][self.index])

    def operands(self) -> tuple[Term, ...]:
        """What the rule reads, in the order the "optimizer" operations take them (see
        engine.explain.explanation): w, each moment before, t before, dw, lr, the settings."""
        o = self.optimizer
        terms = [Term(f"{self.label} before", self.w)]
        terms += [Term(f"{m}_{self.label} before", self.before(m)) for m in optimizers.MOMENTS[o]]
        if o == "adam":
            terms.append(Term("t before", float(self.t - 1)))
        terms += [Term(f"d{self.label}", self.dw), Term("lr", self.lr)]
        terms += [Term(optimizers.SYMBOLS[key], float(self.settings[key])) for key in optimizers.READS[o]]
        return tuple(terms)

    def sources(self, *moments: str) -> tuple[Source, ...]:
        return (Source(f"update.before.{self.param}", self.index),
                Source(f"backward.d{self.param}", self.index),
                *(Source(f"update.before.{m}_{self.param}", self.index) for m in moments))

    def moment_line(self, moment: str) -> str:
        """m_W1[0,0] ← β1·m + (1 − β1)·dW1[0,0] = 0.9 · 0 + 0.1 · 0.3 = 0.03."""
        key = "adam.v" if moment == "v" and self.optimizer == "adam" else moment
        label, d = f"{moment}_{self.label}", f"d{self.label}"
        formula = f"{label} ← " + MOMENT_RULES[key].format(v=label, d=d)
        rate = {"v": self.settings["momentum"], "s": self.settings["beta2"], "m": self.settings["beta1"],
                "adam.v": self.settings["beta2"]}[key]
        before, dw = self.before(moment), self.dw
        if key == "v" and self.drill.no_carry:  # the line the drill broke: v_prev taken as 0
            numbers = f"{num(rate)} · 0 − {num(self.lr)} · {paren(dw)}"
            return f"{label} ← μ·0 − lr·{d}{self.drilled} = {numbers} = {num(self.after(moment))}"
        if key == "v":
            numbers = f"{num(rate)} · {paren(before)} − {num(self.lr)} · {paren(dw)}"
        else:
            square = "²" if key in ("s", "adam.v") else ""
            numbers = f"{num(rate)} · {paren(before)} + {num(1 - rate)} · {paren(dw)}{square}"
        return f"{formula} = {numbers} = {num(self.after(moment))}"

    def corrected_line(self, moment: str) -> str:
        """m̂ = m / (1 − β1^t) with its numbers."""
        beta = self.settings["beta1" if moment == "m" else "beta2"]
        sym = "β1" if moment == "m" else "β2"
        hat = "mhat" if moment == "m" else "vhat"
        if self.drill.no_bias_correction:
            return f"{hat}_{self.label} = {moment}_{self.label}{self.drilled} = {num(self.after(hat))}"
        return (f"{hat}_{self.label} = {moment}_{self.label} / (1 − {sym}^t) = {num(self.after(moment))} / "
                f"(1 − {num(beta)}^{self.t}) = {num(self.after(hat))}")


def _param_rule(step: Step) -> tuple[str, str, tuple[str, ...]]:
    """The parameter's formula, with its numbers, and the lines of the state it read."""
    o, label, w, lr = step.optimizer, step.label, step.w, step.lr
    c = step.settings
    v = f"v_{label}"
    if o == "momentum":
        return (f"{label} ← {label} + {v}", f"{num(w)} + {paren(step.after('v'))}", (step.moment_line("v"),))
    if o == "nesterov":
        mu = c["momentum"]
        v_prev = 0.0 if step.drill.no_carry else step.before("v")
        return (f"{label} ← {label} − μ·{'0' if step.drill.no_carry else v + ' before'} + (1 + μ)·{v}",
                f"{num(w)} − {num(mu)} · {paren(v_prev)} + {num(1 + mu)} · "
                f"{paren(step.after('v'))}",
                (step.moment_line("v"),))
    if o == "rmsprop":
        return (f"{label} ← {label} − lr·d{label} / (√s_{label} + ε)",
                f"{num(w)} − {num(lr)} · {paren(step.dw)} / (√{num(step.after('s'))} + {num(c['epsilon'])})",
                (step.moment_line("s"),))
    return (f"{label} ← {label} − lr·mhat_{label} / (√vhat_{label} + ε)",
            f"{num(w)} − {num(lr)} · {paren(step.after('mhat'))} / (√{num(step.after('vhat'))} + "
            f"{num(c['epsilon'])})",
            (step.corrected_line("m"), step.corrected_line("v"), step.moment_line("m"), step.moment_line("v"),
             f"t ← t + 1 = {step.t - 1} + 1 = {step.t}"))


def optimized(net: Net, q: str, name: str, index: tuple[int, ...], value: float) -> Explanation:
    """update.θ by the run's optimizer: its formula with the numbers, the state it read."""
    step = Step(net, name, index)
    formula, numbers, chain = _param_rule(step)
    title = optimizers.TITLES[step.optimizer]
    return Explanation(q, index, value, formula, f"{formula} = {numbers} = {num(value)}", chain=chain,
                       sources=step.sources(*optimizers.MOMENTS[step.optimizer]),
                       notes=(f"the {title} update of step {net.state.step}{step.drilled}",
                              *((step.drill.says,) if step.bug else ())),
                       operation=rule_operation(step.optimizer, bug=step.bug), operands=step.operands())


def state_updated(net: Net, q: str, name: str, index: tuple[int, ...], value: float) -> Explanation:
    """update.m_W1, v_W1, s_W1 (a moment after the update), mhat_W1, vhat_W1 (Adam's bias
    corrections) and t, with their numbers."""
    moment, param = slot(name)
    step = Step(net, param, index) if param else None
    title = optimizers.TITLES[net.config.optimizer]
    notes = (f"the {title} update of step {net.state.step}",)
    if moment == "t" or step is None:
        t = int(value)
        terms = (Term("t before", float(t - 1)), Term("1", 1.0))
        return Explanation(q, index, value, "t ← t + 1", f"t ← t + 1 = {t - 1} + 1 = {t}", notes=notes,
                           sources=(Source("update.before.t", ()),), operation="sum", terms=terms,
                           operands=terms)
    if moment in ("mhat", "vhat"):
        raw = moment[0]
        beta = net.config.beta1 if raw == "m" else net.config.beta2
        sym = "β1" if raw == "m" else "β2"
        if step.drill.no_bias_correction:
            return Explanation(q, index, value, f"{name}{_at(index)} = {raw}_{step.label}",
                               step.corrected_line(raw), chain=(step.moment_line(raw),), notes=notes,
                               sources=(Source(f"update.{raw}_{param}", index),), operation="constant",
                               operands=(Term(f"{raw}_{step.label}", step.after(raw)),))
        return Explanation(q, index, value, f"{name}{_at(index)} = {raw}_{step.label} / (1 − {sym}^t)",
                           step.corrected_line(raw), chain=(step.moment_line(raw),), notes=notes,
                           sources=(Source(f"update.{raw}_{param}", index), Source("update.t", ())),
                           operation="bias-correction",
                           operands=(Term(f"{raw}_{step.label}", step.after(raw)), Term("β", beta),
                                     Term("t", float(step.t))))
    assert moment is not None
    line = step.moment_line(moment)
    return Explanation(q, index, value, line.split(" = ")[0], line, notes=notes,
                       sources=step.sources(moment),
                       operation=rule_operation(step.optimizer, moment, step.bug), operands=step.operands())


def _at(index: tuple[int, ...]) -> str:
    return f"[{','.join(map(str, index))}]" if index else ""


def state_origin(net: Net, q: str, name: str, index: tuple[int, ...], value: float) -> Explanation:
    """A moment or t the update starts from: zeros at the start (cs231n's), or an earlier
    step's update, which this state no longer holds."""
    label = element_label(name, index)
    if net.state.step > 1:
        return _earlier(q, label, index, value, net.state.step, net.config.optimizer)
    start = "t = 0: Adam counts its steps from 0" if name == "t" else \
        f"{label} = 0: the state starts at zeros (cs231n's np.zeros_like)"
    return Explanation(q, index, value, f"{label} = 0", f"{label} = 0 = {num(value)}", operation="constant",
                       operands=(Term("0", 0.0),), notes=(start,))


def optimizer_state(net: Net, q: str, name: str, index: tuple[int, ...], value: float) -> Explanation:
    """optimizer.X: the update's result once the step has one, else where X came from."""
    if net.state.update is not None and net.state.update.optim_after:
        return state_updated(net, q, name, index, value)
    return state_origin(net, q, name, index, value)
