"""What the explanations of one state of the built-in network read: its cells, the
parameters its passes used, and the drill its backward pass ran (engine.maths.network's
Drill), so that every phase's explainer reads the state the same way."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from engine.explain.explanation import Explanation, Source
from engine.explain.written import num
from engine.maths import network
from engine.maths.network import Array, Params
from engine.run.stepper import View

#: A parameter's element as the explanations write it: W2[0,1], b1[3] (not dW2[0,1], nor
#: W1[i,j] of a formula's symbols).
_PARAMETER = re.compile(r"(?<![\w.])([Wb]\d+)\[(\d+(?:,\d+)*)\]")
#: Parameters a note names by value before "and N more".
NAMED_PARAMETERS = 4


class Net:
    """One state of the built-in network, as the explainers read it. Layers count from 1;
    layer 0's activation is the input x."""

    def __init__(self, view: View) -> None:
        self.view = view
        self.state = state = view.state
        self.config = view.config
        self.arch = view.config.architecture
        self.L = self.arch.depth
        self.x = np.asarray(view.config.x, dtype=np.float64)
        self.y = int(view.config.y)
        self.drill = network.drill(view.bug)
        #: The parameters this step's forward and backward used.
        self.used: Params = state.update.before if state.update is not None else state.params
        self.used_name = "update.before" if state.update is not None else "params"
        self.cache = state.forward.cache if state.forward is not None else {}
        self.grads = state.backward if state.backward is not None else {}
        self.fsym = self.arch.f.symbol
        #: Whether the loss includes the weights' penalty: the architecture's rates, unless the
        #: penalty-loss drill left it out (the backward adds its gradient either way).
        self.loss_penalised = self.arch.penalised and not self.drill.unpenalised_loss

    def a_name(self, l: int) -> str:
        """a_l's name: x for layer 0."""
        return "x" if l == 0 else f"a{l}"

    def a(self, l: int, j: int) -> float:
        """a_l[j], x[j] for layer 0."""
        return float(self.x[j]) if l == 0 else float(self.cache[f"a{l}"][j])

    def a_source(self, l: int, j: int) -> Source:
        return Source(f"forward.{self.a_name(l)}", (j,))

    def W(self, l: int) -> Array:
        """W_l as this step's passes used it."""
        return np.asarray(self.used[f"W{l}"])

    def fprime(self, l: int, i: int) -> float:
        """f'(z_l[i]), the true derivative (a drill may have used another)."""
        return float(self.arch.f.derivative(np.array(self.cache[f"z{l}"][i])))

    def fprime_label(self, l: int, i: int) -> str:
        return f"{self.fsym}'(z{l}[{i}])"

    def fprime_used(self, l: int, i: int) -> float:
        """The f'(z_l[i]) the backward pass multiplied by: 1 under the unit_derivative drill."""
        return 1.0 if self.drill.unit_derivative else self.fprime(l, i)

    def transposed(self, l: int) -> bool:
        """Whether da_(l-1) was computed with W_l instead of W_lᵀ (the transpose drill)."""
        return self.drill.transposes(self.arch, l)

    def target(self, k: int) -> float:
        """What a_L[k] is compared with: y for one sigmoid unit, onehot(y)[k] for a softmax."""
        wanted = network.target(np.asarray(self.cache[f"a{self.L}"]), self.y)
        return float(wanted) if np.ndim(wanted) == 0 else float(np.asarray(wanted)[k])

    def target_label(self, k: int) -> str:
        return "y" if self.arch.classes == 1 else f"onehot(y)[{k}]"

    def before_update(self, explanation: Explanation) -> Explanation:
        """The explanation with a note, first, that names the parameters it read by their value
        before this step's update, once the state holds the update and it moved them: the
        Parameters panel then shows the new values, and "W2[0,1] = -1.913" beside its -1.887
        would read as a mistake."""
        update = self.state.update
        if update is None:
            return explanation
        text = " ".join((explanation.substituted, *explanation.chain, explanation.formula))
        found = dict.fromkeys((m[1], tuple(int(i) for i in m[2].split(",")))
                              for m in _PARAMETER.finditer(text))
        read = [(name, index) for name, index in found if name in update.before
                and len(index) == np.ndim(update.before[name])
                and update.before[name][index] != update.after[name][index]]  # moved: a dead unit's did not
        if not read:
            return explanation
        values = [f"{name}[{','.join(map(str, index))}] = {num(float(update.before[name][index]))} "
                  f"(after it {num(float(update.after[name][index]))})"
                  for name, index in read[:NAMED_PARAMETERS]]
        if len(read) == 1:
            label, _, rest = values[0].partition(" = ")
            note = f"computed from {label} before this step's update = {rest}"
        else:
            more = f", and {len(read) - NAMED_PARAMETERS} more (update.before holds them)" \
                if len(read) > NAMED_PARAMETERS else ""
            note = f"computed from the parameters before this step's update: {', '.join(values)}{more}"
        return replace(explanation, notes=(note, *explanation.notes))
