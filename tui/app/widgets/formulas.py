"""What each phase computes, written for the network on screen.

The panels and the help screen show these beside the numbers, so they must name the
tensors the panels show: z3 and tanh for a 3-8-8-1 tanh network, the notebook's exact
lines for its 3-4-1 ReLU network. Up to three weight layers get a line per layer, as the
notebook writes them; deeper networks the l-notation, which stays a few lines long.

A model file gets formulas only where its maths is known (engine.run.picture): a course's
convention fixes it (cs231n's rows, relu and softmax over `scores`; deeplearning.ai's
columns, Z and A with the course's g for the hidden activation), and a notebook-style file
whose forward pass is the built-in network's gets the notebook's lines. Any other file
computes what its code says, and its panels say so instead of showing someone else's maths.
"""

from __future__ import annotations

import re

from engine.check.verdicts import ATOL, RTOL
from engine.maths.network import SOFTMAX_LOSS, Architecture
from engine.run import picture
from engine.run.stepper import Phase, View
from tui.app.widgets.bars import ACTIVATION_NAMES

#: Deeper than this, one line per layer would push the numbers off the screen.
LINE_PER_LAYER = 3
COLUMN = 22  # where the second formula of a line starts, as in the notebook's layout


def _line(*cells: str, widths: tuple[int, ...] = (COLUMN, 17)) -> str:
    """Cells in columns; a cell wider than its column pushes the next two spaces on."""
    out = ""
    for cell, width in zip(cells[:-1], widths, strict=False):
        out += cell.ljust(width) if len(cell) < width else cell + "  "
    return out + cells[-1]


def _loss(arch: Architecture) -> str:
    L = arch.depth
    if arch.loss == "bce":
        data = f"L  = −[y·log a{L} + (1−y)·log(1−a{L})]"
    elif arch.loss == "mse":
        data = f"L  = (a{L} − y)²/2"
    else:
        data = f"L  = −log softmax(z{L})_y"
    return data + _penalty(arch, ("l1·Σ|W|", "(l2/2)·ΣW²"))


def _penalty(arch: Architecture, terms: tuple[str, str]) -> str:
    """" + l1·Σ|W| + (l2/2)·ΣW²": the weights' penalty's terms (or their gradient's) of the
    rates given; nothing without rates."""
    return "".join(f" + {term}" for term, rate in zip(terms, (arch.l1, arch.l2), strict=True) if rate)


def _output_delta(arch: Architecture, L: str) -> str:
    if arch.loss == "mse":
        return f"dz{L} = (a{L} − y)·a{L}·(1 − a{L})"
    return f"dz{L} = a{L} − y" + (" (one-hot)" if arch.loss == SOFTMAX_LOSS else "")


def forward(arch: Architecture) -> str:
    f, L = arch.f.symbol, arch.depth
    if L > LINE_PER_LAYER:
        return "\n".join([
            _line("z_l = W_l·a_{l−1} + b_l", f"l = 1..{L}, a_0 = x", widths=(27,)),
            _line(f"a_l = {f}(z_l)", f"l = 1..{L - 1}", widths=(27,)),
            f"a{L}  = {arch.output}(z{L})",
            _loss(arch)])
    lines = []
    for l in range(1, L + 1):
        a_prev = "x" if l == 1 else f"a{l - 1}"
        out = f if l < L else arch.output
        lines.append(_line(f"z{l} = W{l}·{a_prev} + b{l}", f"a{l} = {out}(z{l})"))
    return "\n".join([*lines, _loss(arch)])


def backward(arch: Architecture) -> str:
    penalty = _penalty(arch, ("l1·sign(W_l)", "l2·W_l"))
    if penalty:  # the weights' penalty's gradient: a line of its own, for every W
        return "\n".join([_backward_lines(arch), f"dW_l +={penalty[2:]}  (every l; not db)"])
    return _backward_lines(arch)


def _backward_lines(arch: Architecture) -> str:
    f, L = arch.f.symbol, arch.depth
    delta = _output_delta(arch, str(L))
    if L > LINE_PER_LAYER:
        return "\n".join([
            delta,
            f"for l = {L}..1 (a_0 = x):",
            _line("  dW_l = dz_l·a_{l−1}ᵀ", "db_l = dz_l", widths=(27,)),
            _line("  da_{l−1} = W_lᵀ·dz_l", "(l > 1)", widths=(27,)),
            f"  dz_{{l−1}} = da_{{l−1}} ⊙ {f}′(z_{{l−1}})"])
    dW, db = f"dW{L} = dz{L}·{'x' if L == 1 else f'a{L - 1}'}ᵀ", f"db{L} = dz{L}"
    # The notebook's first line holds the output's three; a long dz (mse, softmax) its own.
    lines = [_line(delta, dW, db)] if len(delta) < COLUMN else [delta, _line(dW, db)]
    for l in range(L - 1, 0, -1):
        a_prev = "x" if l == 1 else f"a{l - 1}"
        lines.append(_line(f"da{l} = W{l + 1}ᵀ·dz{l + 1}", f"dz{l} = da{l} ⊙ {f}′(z{l})"))
        lines.append(_line(f"dW{l} = dz{l}·{a_prev}ᵀ", f"db{l} = dz{l}"))
    return "\n".join(lines)


def gradcheck(arch: Architecture) -> str:
    lines = ["n = (L(θ+ε) − L(θ−ε)) / 2ε, element by element",
             f"pass: |a − n| ≤ {ATOL:g} + {RTOL:g}·max(|a|, |n|)"]
    if arch.f.kinked:
        name = ACTIVATION_NAMES[arch.activation]
        lines.append(f"⚡ kink: the nudge flips a {name}; judged by its one-sided slopes")
    return "\n".join(lines)


#: Each optimizer's rule (engine.maths.optimizers), as the update panel writes it above "for ...".
RULES = {
    "sgd": ["W ← W − lr·dW"],
    "momentum": [_line("v ← μ·v − lr·dW", "W ← W + v")],
    "nesterov": [_line("v ← μ·v − lr·dW", "W ← W − μ·v_prev + (1 + μ)·v")],
    "rmsprop": [_line("s ← β2·s + (1 − β2)·dW²", "W ← W − lr·dW / (√s + ε)")],
    "adam": [_line("t ← t + 1", "m ← β1·m + (1 − β1)·dW", "v ← β2·v + (1 − β2)·dW²"),
             _line("m̂ = m / (1 − β1ᵗ)", "v̂ = v / (1 − β2ᵗ)", "W ← W − lr·m̂ / (√v̂ + ε)")],
}


def update(names: list[str], optimizer: str = "sgd") -> str:
    listed = ", ".join(names) if len(names) <= 2 * LINE_PER_LAYER else \
        f"{names[0]}, {names[1]}, …, {names[-2]}, {names[-1]}"
    *head, last = RULES[optimizer]
    return "\n".join([*head, f"{last}          for {listed}" if optimizer == "sgd" else last,
                      *([] if optimizer == "sgd" else [f"for {listed}"])])


def formulas(arch: Architecture, params: list[str] | None = None, optimizer: str = "sgd") -> dict[Phase, str]:
    """`params`: the parameter names the update lists, when a model has its own; `optimizer`
    the built-in network's update rule."""
    return {Phase.FORWARD: forward(arch), Phase.BACKWARD: backward(arch),
            Phase.GRADCHECK: gradcheck(arch),
            Phase.UPDATE: update(params or list(arch.param_names), optimizer)}


# ---- a course's own maths --------------------------------------------------------------
def weight_layers(params: list[str]) -> int:
    """L, the number of weight matrices W1 .. WL a course's parameters hold."""
    return sum(1 for name in params if re.fullmatch(r"W[1-9][0-9]*", name))


def cs231n_forward(L: int, normed: bool) -> str:
    """Rows, as the course writes them: X (N, D), h = relu(X·W + b), scores, softmax."""
    loss = "L  = −mean log softmax(scores)_y + ½·reg·ΣW²"
    hidden = "relu(norm(z_l; gamma_l, beta_l))" if normed else "relu(z_l)"
    if L > LINE_PER_LAYER:
        return "\n".join([
            _line("z_l = h_{l−1}·W_l + b_l", f"l = 1..{L - 1}, h_0 = X", widths=(27,)),
            f"h_l = {hidden}",
            f"scores = h{L - 1}·W{L} + b{L}", loss])
    lines = []
    for l in range(1, L):
        h_prev = "X" if l == 1 else f"h{l - 1}"
        h = f"relu(norm(z{l}; gamma{l}, beta{l}))" if normed else f"relu(z{l})"
        lines.append(_line(f"z{l} = {h_prev}·W{l} + b{l}", f"h{l} = {h}"))
    lines.append(f"scores = {'X' if L == 1 else f'h{L - 1}'}·W{L} + b{L}")
    return "\n".join([*lines, loss])


def cs231n_backward(L: int, normed: bool) -> str:
    """The course's chain: dscores, then each layer's dW, db and the dh it passes down."""
    mask = "norm′(dh_l ⊙ [h_l > 0])" if normed else "dh_l ⊙ [z_l > 0]"
    delta = "dscores = (softmax(scores) − onehot(y)) / N"
    if L > LINE_PER_LAYER:
        return "\n".join([
            delta, f"for l = {L}..1 (h_0 = X, dz{L} = dscores):",
            _line("  dW_l = h_{l−1}ᵀ·dz_l + reg·W_l", "db_l = Σ_rows dz_l", widths=(35,)),
            _line("  dh_{l−1} = dz_l·W_lᵀ", f"dz_{{l−1}} = {mask.replace('_l', '_{l−1}')}",
                  widths=(35,))])
    lines = [delta]
    dz = "dscores"
    for l in range(L, 0, -1):
        h_prev = "X" if l == 1 else f"h{l - 1}"
        lines.append(_line(f"dW{l} = {h_prev}ᵀ·{dz} + reg·W{l}", f"db{l} = Σ_rows {dz}", widths=(29,)))
        if l > 1:
            m = f"norm′(dh{l - 1} ⊙ [h{l - 1} > 0])" if normed else f"dh{l - 1} ⊙ [z{l - 1} > 0]"
            lines.append(_line(f"dh{l - 1} = {dz}·W{l}ᵀ", f"dz{l - 1} = {m}", widths=(29,)))
            dz = f"dz{l - 1}"
    return "\n".join(lines)


def _dlai_cost(out: str, classes: int) -> str:
    if classes == 1:
        return f"J  = −(1/m)·Σ[Y·log {out} + (1−Y)·log(1−{out})]"
    return f"J  = −(1/m)·Σ Y·log {out}"


#: Where the L-layer model's list of caches keeps what the formulas name.
CACHES_LEGEND = "Z_l: caches[l−1].activation_cache.Z    A_{l−1}: caches[l−1].linear_cache.A_prev"


def dlai_forward(L: int, classes: int, caches: bool = False) -> str:
    """Columns, as the course writes them: X (n_x, m), Z = W·A_prev + b, A = g(Z). `caches`:
    the L-layer model's list of caches, whose output is AL and whose Z and A are named by
    their place in the list."""
    f = "σ" if classes == 1 else "softmax"
    out = "AL" if caches else f"A{L}"
    if L > LINE_PER_LAYER:
        lines = [_line("Z_l = W_l·A_{l−1} + b_l", f"l = 1..{L}, A_0 = X", widths=(27,)),
                 _line("A_l = g(Z_l)", f"l = 1..{L - 1}, g the file's activation", widths=(27,)),
                 f"{out}  = {f}(Z{L})"]
    else:
        lines = []
        for l in range(1, L + 1):
            a_prev = "X" if l == 1 else f"A{l - 1}"
            lines.append(_line(f"Z{l} = W{l}·{a_prev} + b{l}", f"{out if l == L else f'A{l}'} = "
                                                                f"{f if l == L else 'g'}(Z{l})"))
        if L > 1:
            lines.append("g: the file's hidden activation (relu, tanh, ...)")
    return "\n".join([*lines, _dlai_cost(out, classes), *([CACHES_LEGEND] if caches else [])])


def dlai_backward(L: int, caches: bool = False) -> str:
    """The course's chain, columns: dZ, dW, db with the 1/m, and the dA it passes down."""
    out = "AL" if caches else f"A{L}"
    if L > LINE_PER_LAYER:
        return "\n".join([
            f"dZ{L} = {out} − Y", f"for l = {L}..1 (A_0 = X):",
            _line("  dW_l = (1/m)·dZ_l·A_{l−1}ᵀ", "db_l = (1/m)·Σ dZ_l", widths=(31,)),
            _line("  dA_{l−1} = W_lᵀ·dZ_l", "dZ_{l−1} = dA_{l−1} ⊙ g′(Z_{l−1})", widths=(31,))])
    lines = [f"dZ{L} = {out} − Y"]
    for l in range(L, 0, -1):
        a_prev = "X" if l == 1 else f"A{l - 1}"
        lines.append(_line(f"dW{l} = (1/m)·dZ{l}·{a_prev}ᵀ", f"db{l} = (1/m)·Σ dZ{l}", widths=(25,)))
        if l > 1:
            lines.append(_line(f"dA{l - 1} = W{l}ᵀ·dZ{l}", f"dZ{l - 1} = dA{l - 1} ⊙ g′(Z{l - 1})",
                               widths=(25,)))
    return "\n".join(lines)


def own(name: str, phase: Phase) -> str:
    """A file whose maths is its own: what the panel shows is what its code computed."""
    return f"{phase.value} as {name} computes it (its own code: no formulas shown)"


def for_view(view: View) -> dict[Phase, str]:
    """The formulas of the model on screen (engine.run.picture): the built-in network's, a
    course's, or for a file of its own, its name in place of forward's and backward's."""
    arch, params = view.config.architecture, list(view.state.params)
    shown = formulas(arch, params, "sgd" if view.user_code else view.config.optimizer)
    seen = picture.of_view(view)
    L = weight_layers(params)
    if seen.kind == picture.CS231N and L:
        normed = any(name.startswith("gamma") for name in params)
        return shown | {Phase.FORWARD: cs231n_forward(L, normed), Phase.BACKWARD: cs231n_backward(L, normed)}
    if seen.kind == picture.DLAI and L:
        forward = view.state.forward
        caches = forward is not None and any(name.startswith("caches[") for name in forward.cache)
        return shown | {Phase.FORWARD: dlai_forward(L, arch.classes, caches),
                        Phase.BACKWARD: dlai_backward(L, caches)}
    if seen.kind == picture.BUILTIN:
        return shown
    return shown | {phase: own(view.model_name, phase) for phase in (Phase.FORWARD, Phase.BACKWARD)}
