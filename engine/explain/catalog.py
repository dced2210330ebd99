"""What tensors a state holds, by qualified name, and which one an element as typed means.

Tensors are named as the JSON trace names them, qualified by phase where a name is
ambiguous: "params.W1" (the current parameters; bare "W1" means these), "forward.z1",
"backward.dW1", "gradcheck.W1" (the numerical gradient), "update.W1" (after the update)
and "update.before.W1"; an optimizer's state "optimizer.m_W1" (the current one; bare "m_W1"
means it), "update.m_W1", "update.mhat_W1", "update.t" and "update.before.m_W1".
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from engine.maths.network import Architecture, param_shapes
from engine.maths.optimizers import init_state
from engine.run.stepper import State
from engine.settings.config import shown as echoed
from engine.settings.text import did_you_mean


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
    out |= {f"optimizer.{name}": value for name, value in state.optim.items()}
    if state.update is not None:
        update = state.update
        made = update.after | update.optim_after | update.cached
        out |= {f"update.{name}": value for name, value in made.items()}
        kept = update.before | update.optim_before
        out |= {f"update.before.{name}": value for name, value in kept.items()}
    return out


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
    elif f"optimizer.{name}" in known:  # the optimizer's state, as bare W1 means params.W1
        qualified = f"optimizer.{name}"
    else:
        matches = [q for q in known if q.rsplit(".", 1)[-1] == name]
        if len(matches) != 1:
            index_text = f"[{','.join(map(str, index))}]" if index else ""
            names = {q.rsplit(".", 1)[-1] for q in known} | set(known)
            why = (f"{echoed(name)} is ambiguous ({', '.join(matches)})" if matches
                   else f"no tensor {echoed(name)}{did_you_mean(name, names, '{}' + index_text)}")
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


def final_shapes(arch: Architecture, gradcheck: bool, optimizer: str = "sgd") -> dict[str, tuple[int, ...]]:
    """The shapes tensors() gives the built-in network's state after an update, known from
    the architecture and the optimizer alone: a headless run checks --explain against them
    before it runs."""
    sizes, params = arch.sizes, param_shapes(arch)
    optim, hats = _optimizer_shapes(params, optimizer)
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
    out |= {f"optimizer.{n}": s for n, s in optim.items()}
    out |= {f"update.{n}": s for n, s in (params | optim | hats).items()}
    out |= {f"update.before.{n}": s for n, s in (params | optim).items()}
    return out


def _optimizer_shapes(params: dict[str, tuple[int, ...]],
                      optimizer: str) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """The shapes of the optimizer's state (v_W1, m_W1, t, ...) and of what its update computes
    on the way (Adam's mhat_W1, vhat_W1)."""
    state = init_state(optimizer, {n: np.zeros(s) for n, s in params.items()})
    hats = {f"{hat}_{n}": s for hat in (("mhat", "vhat") if optimizer == "adam" else ())
            for n, s in params.items()}
    return {name: tuple(np.shape(value)) for name, value in state.items()}, hats
