"""What each phase computes, written for the network on screen.

The panels and the help screen show these beside the numbers, so they must name the
tensors the panels show: z3 and tanh for a 3-8-8-1 tanh network, the notebook's exact
lines for its 3-4-1 ReLU network. Up to three weight layers get a line per layer, as the
notebook writes them; deeper networks the l-notation, which stays a few lines long.
"""

from __future__ import annotations

from engine.check.verdicts import ATOL, RTOL
from engine.maths.network import SOFTMAX_LOSS, Architecture
from engine.run.stepper import Phase
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
        return f"L  = −[y·log a{L} + (1−y)·log(1−a{L})]"
    if arch.loss == "mse":
        return f"L  = (a{L} − y)²/2"
    return f"L  = −log softmax(z{L})_y"


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


def update(names: list[str]) -> str:
    listed = ", ".join(names) if len(names) <= 2 * LINE_PER_LAYER else \
        f"{names[0]}, {names[1]}, …, {names[-2]}, {names[-1]}"
    return f"W ← W − lr·dW          for {listed}"


def formulas(arch: Architecture, params: list[str] | None = None) -> dict[Phase, str]:
    """`params`: the parameter names the update lists, when a model has its own."""
    return {Phase.FORWARD: forward(arch), Phase.BACKWARD: backward(arch),
            Phase.GRADCHECK: gradcheck(arch), Phase.UPDATE: update(params or list(arch.param_names))}
