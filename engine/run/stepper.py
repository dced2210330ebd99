"""The state machine over the four phases, with exact undo as far back as the history goes.

Each phase is a pure function of the current State that returns the next State; no
array is ever changed in place (stored arrays are made read-only), so the undo history
is simply the stack of earlier States. Consecutive States share every array a phase
did not touch, which is why the history keeps only what each phase changed.

Computing a phase (`compute`) and committing it (`commit`) are separate so that a
slow phase can run in a worker and be cancelled without touching the state.
"""

from __future__ import annotations

import math
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields, is_dataclass, replace
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from engine.check.verdicts import ATOL, Diagnosis, GradCheck, gradient_check
from engine.data import batches
from engine.data.batches import Data, Metrics
from engine.data.sets import Indices
from engine.maths import optimizers
from engine.maths.network import Array, Labels, Params, Tensors, implied_finite, init_params
from engine.maths.slopes import Progress
from engine.model.builtin import BatchMean, make_model
from engine.model.protocol import Captured, Model
from engine.settings.config import Config, validate
from engine.settings.schema import BY_KEY

if TYPE_CHECKING:
    from engine.run.sample import Sample

#: Fan-in from which the notebook's unscaled init is likely to saturate the output.
WIDE = 64
SATURATED = ("the notebook's unscaled initial weights saturate a network this wide (z grows as "
             "sqrt(fan-in) a layer), so the loss is huge and small gradients drown in its rounding: "
             "--init he or --init xavier scales the same draws")

#: Beyond this margin an output's probability rounds to exactly 0 or 1 in float64
#: (1 + e^-z == 1 once e^-z < 2^-53): the output is saturated.
SATURATION_MARGIN = 53 * math.log(2)


@dataclass(frozen=True)
class Saturation:
    """An output saturated on every sample of the step: its sigmoid's |z_L| (or its softmax's
    gap between the two largest logits) is so large that the probabilities round to 0 and 1.
    Then σ'(z_L) ≈ e^-margin: either the output is right and every gradient vanishes (often
    exactly 0), or it is wrong, the loss is about the margin and the gradients explode."""

    name: str  # the output's pre-activation, z2 for one hidden layer
    margin: float  # the smallest |z_L| (sigmoid) or logit gap (softmax) over the batch
    softmax: bool
    loss: float
    grad: float | None  # the largest |gradient| of any parameter, once backward ran
    init: str

    @property
    def vanishing(self) -> bool:
        return (self.grad is not None and self.grad < 1e-12) or (self.grad is None and self.loss < 1e-12)

    @property
    def derivative(self) -> float:
        """σ'(margin) = e^-m / (1 + e^-m)^2; the softmax's top probability has the same."""
        e = math.exp(-self.margin)
        return e / (1 + e) ** 2

    def message(self) -> str:
        where = (f"the logits of {self.name} differ by {self.margin:.4g} (softmax rounds to 0 and 1)"
                 if self.softmax else f"|{self.name}| = {self.margin:.4g}, so σ'({self.name}) = "
                 f"{self.derivative:.2g}")
        grad = "" if self.grad is None else "every gradient is exactly 0" if self.grad == 0 \
            else f"the largest gradient is {self.grad:.3g}"
        if self.vanishing:
            what = (f"the loss is {self.loss:.3g} and {grad or 'the gradients vanish'}: "
                    "no step can move the loss")
        else:
            what = (f"the loss is {self.loss:.4g}{' and ' + grad if grad else ''}: "
                    "a step jumps from one saturated side to the other")
        fix = ("the notebook's unscaled initial weights make z grow as sqrt(fan-in) a layer; "
               "try --init he" if self.init == "notebook" else "try --init he or a smaller --lr")
        return f"Output saturated: {where}; {what}. {fix[0].upper()}{fix[1:]}."

    def warning(self) -> str:
        """The JSON's warning: one fixed text (figures vary a step), counted per step."""
        return ("the output saturated (its probabilities round to 0 and 1): gradients "
                + ("vanish" if self.vanishing else "explode") + "; --init he scales the initial weights")


def saturation(state: State, config: Config, builtin: bool) -> Saturation | None:
    """The built-in network's output saturation at this state, or None (a user's model names
    its tensors its own way: not judged)."""
    if not builtin or state.forward is None:
        return None
    name = f"z{config.architecture.depth}"
    z = state.forward.cache.get(name)
    if z is None:
        return None
    z = np.asarray(z, dtype=np.float64)
    if z.size == 0 or not np.isfinite(z).all():
        return None
    softmax = config.architecture.classes > 1
    if softmax:
        top2 = np.sort(z, axis=-1)[..., -2:]
        margin = float((top2[..., 1] - top2[..., 0]).min())
    else:
        margin = float(np.abs(z).min())
    if margin <= SATURATION_MARGIN:
        return None
    grad = None
    if state.backward is not None:
        grads = [_largest_magnitude(np.asarray(state.backward["d" + k]))
                 for k in state.params if "d" + k in state.backward]
        grad = float(max(grads, default=0.0))
    return Saturation(name, margin, softmax, state.forward.loss, grad, config.init)


def _largest_magnitude(array: Array) -> float:
    """np.abs(array).max(initial=0.0), NaN included, without an |array| the size of the
    gradient (a network's size at 1,000,000 inputs)."""
    return abs(float(np.maximum(array.max(initial=0.0), -array.min(initial=0.0))))


#: Bytes of undo history the stepper may hold; bounds the history of large networks.
HISTORY_BUDGET = 512 * 2**20
MAX_HISTORY = 100_000


class Phase(StrEnum):
    FORWARD = "forward"
    BACKWARD = "backward"
    GRADCHECK = "gradcheck"
    UPDATE = "update"


PHASES = tuple(Phase)


@dataclass(frozen=True)
class RunningLoss:
    """The running mean of the batch losses since the whole sets were last measured (that
    step's batch included), as Keras's progress bar shows an epoch's loss so far: what the
    screens and reports show between measurements, labelled as such, since measuring every
    training and test row costs what the data set costs and a step must not."""

    total: float  # the sum of the last `count` batch losses
    count: int

    @property
    def mean(self) -> float:
        return self.total / self.count

    def label(self) -> str:
        """How a screen or report names it: never as the whole set's loss."""
        return f"batch loss, mean of last {self.count}"

    def then(self, loss: float, restart: bool) -> RunningLoss:
        """With the next step's batch loss: a new window from it when the step before was measured."""
        return RunningLoss(loss, 1) if restart else RunningLoss(self.total + loss, self.count + 1)


@dataclass(frozen=True)
class Forward:
    cache: Tensors  # whatever the model's forward caches: x, z1, a1, z2, a2 for the built-in
    loss: float  # a batch's mean loss
    rows: Indices | None = None  # the data set's rows this step trains on; None: the one sample
    #: Those rows' inputs and labels, taken once a step (the later phases compute on them too).
    batch: tuple[Array, Labels] | None = None
    #: The parameters' fit to every training and test row; None at a step that did not
    #: measure it (Stepper.measures: once an epoch, every --eval-every steps, on demand).
    metrics: Metrics | None = None
    #: On data: the batch losses' running mean since the last measured step.
    running: RunningLoss | None = None


@dataclass(frozen=True)
class Update:
    before: Params
    after: Params
    loss_after: float  # the loss of the same sample with the new parameters
    #: Tensors of that forward pass that overflowed (a diverging step shows at once).
    overflow: tuple[str, ...] = ()
    #: The optimizer's state before and after (engine.maths.optimizers: v_W1, m_W1, t, ...),
    #: and what the update computed on the way that the state does not keep (Adam's m̂, v̂:
    #: mhat_W1, vhat_W1); all empty for plain SGD.
    optim_before: Tensors = field(default_factory=dict)
    optim_after: Tensors = field(default_factory=dict)
    cached: Tensors = field(default_factory=dict)
    lr: float | None = None  # the learning rate this update used (decayed to its epoch's)
    #: Under a fault drill of the update (engine.maths.optimizers.DRILLS), or when a user's own
    #: rule made it: each parameter whose update is not its rule's, with the drill it matches
    #: as its kind; () otherwise.
    diagnosis: tuple[Diagnosis, ...] = ()
    #: Where the user's own update rule that made it is ("adam in cs231n/optim.py"); "" when
    #: the stepper's rule (or a file's sgd_update) did.
    rule: str = ""


@dataclass(frozen=True)
class LossTrail:
    """The loss at each step's forward pass, as a chain that each step extends in O(1):
    a tuple copied at every step would make a long session's history quadratic."""

    loss: float
    previous: LossTrail | None = None
    metrics: Metrics | None = None
    running: RunningLoss | None = None

    def nodes(self) -> list[LossTrail]:
        out: list[LossTrail] = []
        node: LossTrail | None = self
        while node is not None:
            out.append(node)
            node = node.previous
        return out[::-1]

    def values(self) -> list[float]:
        return [node.loss for node in self.nodes()]

    def curves(self) -> Curves:
        nodes = self.nodes()

        def series(read: str) -> Array:
            return np.array([np.nan if node.metrics is None or getattr(node.metrics, read) is None
                             else getattr(node.metrics, read) for node in nodes], dtype=np.float64)

        running = np.array([np.nan if node.running is None else node.running.mean for node in nodes],
                           dtype=np.float64)
        window = np.array([0 if node.running is None else node.running.count for node in nodes],
                          dtype=np.int64)
        measured = np.array([node.metrics is not None for node in nodes], dtype=bool)
        return Curves(np.array([node.loss for node in nodes], dtype=np.float64),
                      series("train_loss"), series("test_loss"), series("train_accuracy"),
                      series("test_accuracy"), running, window, measured)


@dataclass(frozen=True, eq=False)
class Curves:
    """One value a step, step 1 first, for the loss chart; NaN where not measured (a step
    between whole-set measurements, no test rows, no data set: then only `loss` is known)."""

    loss: Array  # the loss of the step's forward pass: its batch's mean, or the one sample's
    train_loss: Array  # over every training row, with the parameters of that forward pass
    test_loss: Array
    train_accuracy: Array
    test_accuracy: Array
    running: Array  # the batch losses' running mean since the last measured step (RunningLoss)
    window: NDArray[np.int64]  # the steps that mean is over (0: none, without data)
    measured: NDArray[np.bool_]  # whether the step measured the whole sets


@dataclass(frozen=True)
class State:
    """Everything on screen: the parameters and what this step's phases computed."""

    step: int  # the step shown, from 1; forward after a finished update starts the next
    params: Params
    last_phase: Phase | None = None  # the phase that produced this state
    forward: Forward | None = None
    backward: Tensors | None = None
    gradcheck: GradCheck | None = None
    update: Update | None = None
    trail: LossTrail | None = None  # the loss at each step's forward pass
    #: The optimizer's state (engine.maths.optimizers), kept like the parameters: the
    #: velocities or moments the next update starts from; empty for plain SGD.
    optim: Tensors = field(default_factory=dict)
    #: Only on the state a change of settings mid-run made (Stepper.retune): the settings it
    #: replaced, which back restores with the state before it.
    retuned: Retuned | None = None

    @property
    def losses(self) -> list[float]:
        """The loss at each step's forward pass, in order."""
        return self.trail.values() if self.trail is not None else []

    @property
    def rows(self) -> Indices | None:
        """The data set's rows of this step's batch (None: the one sample, or no forward yet)."""
        return self.forward.rows if self.forward is not None else None

    def nonfinite(self) -> list[str]:
        """Names of the tensors or losses holding inf or NaN: the run has overflowed."""
        return list(self._nonfinite)

    @cached_property
    def _nonfinite(self) -> tuple[str, ...]:
        """nonfinite(), looked for once a state: a report asks several times a step (its
        verdict, its Diverged line, the trace's warning, where the run first diverged)."""
        tensors: dict[str, Any] = dict(self.params)
        if self.forward is not None:
            tensors |= self.forward.cache | {"loss": self.forward.loss}
        if self.backward is not None:
            tensors |= self.backward
        if self.update is not None:
            tensors["loss_after"] = self.update.loss_after
        found = [name for name, value in tensors.items() if not all_finite(value)]
        if self.update is not None:
            found += [f"{name} after the update" for name in self.update.overflow]
        return tuple(found)

    def made(self, implied: frozenset[str] = frozenset()) -> list[object]:
        """The tensors and losses the phase that made this state computed, but for the forward
        cache's and the gradients' names in `implied`: finite whenever the rest is
        (network.implied_finite), so a check of the step leaves them out."""
        if self.last_phase is Phase.FORWARD and self.forward is not None:
            return [*_unimplied(self.forward.cache, implied), self.forward.loss]
        if self.last_phase is Phase.BACKWARD and self.backward is not None:
            return _unimplied(self.backward, implied)
        if self.last_phase is Phase.UPDATE and self.update is not None:
            return [*self.update.after.values(), *self.update.optim_after.values(),
                    *self.update.cached.values(), self.update.loss_after,
                    math.nan if self.update.overflow else 0.0]
        return []

    @cached_property
    def finite(self) -> bool:
        """Whether everything the phase that made this state computed is finite (its own
        tensors only: the state before was checked when it was made)."""
        return all_finite_fast(self.made())

    def diverged(self) -> bool:
        return not self.finite


#: The settings a run may change as it goes (Stepper.retune), as TensorFlow Playground lets its
#: learning rate, regularization and batch size change while it plays: what the update reads,
#: the weights' penalty rates, the rows a step, the gradient check's step and the app's training
#: runs. Every other setting makes another network, other initial weights or other data: a new run.
TUNABLE = ("lr", "optimizer", "momentum", "beta1", "beta2", "epsilon", "decay", "l1", "l2", "batch", "eps",
           "train_steps", "check_every")
#: Of those, the ones that change the objective (the loss and every gradient of it).
OBJECTIVE = ("l1", "l2")
Changes = dict[str, Any]


@dataclass(frozen=True, eq=False)
class Retuned:
    """The settings a change mid-run replaced: the configuration, the model built for it (the
    penalty rates are the built-in network's) and the batch plan."""

    config: Config
    model: Model
    data: Data | None


def tuning_action(changes: Changes) -> str:
    """A change of settings as the path records it: "set lr=0.05 l2=0.001", each value as
    its setting's parser reads it back exactly (repr of a float round-trips every bit)."""
    return "set " + " ".join(f"{key}={value!r}" if isinstance(value, float) else f"{key}={value}"
                             for key, value in changes.items())


def parse_tuning(action: str) -> Changes:
    """The changes of a "set KEY=VALUE ..." action; ValueError naming what is wrong. The
    values are read, not checked against each other (Stepper.retune validates them)."""
    changes: Changes = {}
    for part in action.removeprefix("set ").split(" "):
        key, equals, text = part.partition("=")
        if not equals or key not in TUNABLE or key in changes:
            raise ValueError(f"{part!r} is not one of KEY=VALUE with KEY one of {', '.join(TUNABLE)}, "
                             "each at most once")
        parse = BY_KEY[key.replace("_", "-")].kind.parse
        assert parse is not None
        changes[key] = parse(text)
    return changes


def all_finite(value: object) -> bool:
    """False for a number or numeric array holding inf or NaN; anything else a user's
    model caches (strings, lists, object arrays) is not a number and counts as finite."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "fc":
        return bool(np.isfinite(value).all())
    return True


def _unimplied(tensors: Tensors, implied: frozenset[str]) -> list[object]:
    """The tensors but those named in `implied` (State.made)."""
    if not implied:
        return list(tensors.values())
    return [value for name, value in tensors.items() if name not in implied]


def checks(step: int, enabled: bool, every: int | None) -> bool:
    """Whether a step runs the gradient check: every step while enabled, or with --check-every
    N (a training run's) every Nth step only (0: never). A function of the toggles alone, so a
    session's path can be followed without stepping (engine.run.rebuild)."""
    if every is None:
        return enabled
    return every > 0 and step % every == 0


def all_finite_fast(values: Iterable[object], known: Iterable[object] = ()) -> bool:
    """all_finite of every value, by sums: an inf or NaN anywhere makes the sum of all the
    arrays' elements non-finite, so one reduction an array settles the usual case, and only
    a non-finite sum (which huge finite values can also give) is looked at value by value.
    Summed array by array, not concatenated: a copy of a large batch's tensors would double
    the phase's memory. A large array given twice (a batch's inputs are in both forward
    passes' caches) is summed once, and those of `known`, finite by where they came from (a
    data set's rows, checked when it was read), not at all: at 784 inputs each is a batch of
    100,000 numbers a step."""
    with np.errstate(all="ignore"):  # inf + -inf in the sum: the answer sought, not a warning
        return finite_by_sums(values, known)


def finite_by_sums(values: Iterable[object], known: Iterable[object] = ()) -> bool:
    """all_finite_fast where NumPy's warnings are off already (a fused step's check): entering
    np.errstate costs what summing a step's arrays does (10k instructions, callgrind)."""
    values = list(values)
    total = 0.0
    joined: list[Array] = []  # small native float64 arrays (all the built-in network's): as bytes
    small: list[Array] = []  # other small float arrays: copied into one
    summed = {id(value) for value in known}  # the large arrays summed, or known to be finite
    ndarray, most, f8 = np.ndarray, SMALL_ARRAY, FLOAT64  # looked up once: a moons step has 60 arrays
    for value in values:
        if type(value) is ndarray or isinstance(value, ndarray):
            if value.dtype is f8 and value.size <= most:
                joined.append(value)
            elif value.dtype.kind != "f":
                if not all_finite(value):
                    return False
            elif value.size <= most:
                small.append(value)
            elif id(value) not in summed:
                summed.add(id(value))
                total += float(value.sum(dtype=np.float64))
        elif type(value) is float:
            total += value  # an inf or NaN carries into the total
        elif not all_finite(value):
            return False
    total += _small_sum(joined, small)
    return math.isfinite(total) or all(all_finite(value) for value in values)


def _small_sum(joined: list[Array], small: list[Array]) -> float:
    """The sum of all the small arrays' elements. The native float64 ones are joined as bytes and
    read back as one array: bytes.join copies a buffer for about a third of what np.concatenate
    spends an array (callgrind: 33k against 86k instructions for 25 arrays); the others, and all
    when one is not C-contiguous (which bytes.join refuses), are concatenated as float64."""
    total = 0.0
    if joined:
        try:
            total += float(np.add.reduce(np.frombuffer(b"".join(joined))))  # type: ignore[arg-type]
        except (BufferError, TypeError):  # an array not C-contiguous: concatenated with the others
            small = small + joined
    if small:
        total += float(np.add.reduce(np.concatenate(small, axis=None, dtype=np.float64)))
    return total


#: The dtype of every array the built-in network makes (a singleton: compared by identity).
FLOAT64 = np.dtype(np.float64)


#: Arrays of at most this many numbers are copied into one for all_finite_fast's sum (at most
#: a few pages of memory a step); larger ones are summed where they are.
SMALL_ARRAY = 4096


def _frozen(tensors: dict[str, Any]) -> dict[str, Any]:
    """The arrays made read-only, so no later code can change a tensor the history relies
    on. A phase's arrays are its own (the built-in network makes them; a user's arrive as
    copies through the pipe), so they are frozen in place, not through a view. (setflags'
    flag by position: its keyword's parsing was half the call, a moons step has 25 arrays.)"""
    for value in tensors.values():
        if isinstance(value, np.ndarray):
            value.setflags(False)  # type: ignore[call-arg]  # positional at run time; the stubs say keyword
    return tensors


def step_bytes(params: int, activations: int = 0) -> int:
    """The most one step's arrays can take: new parameters, gradients, numerical gradients
    and a float64 copy of a model's lower-precision analytic gradients (8 bytes a parameter
    each), the check's three boolean masks, ~4 KiB of Python objects a phase, and the
    batch's cached activations and their gradients (x, z, a, dz, da: 8 bytes each)."""
    return (4 * 8 + 3) * params + 8 * activations + 4 * 4096


def held_bytes(state: State) -> int:
    """The bytes of what the phase that made this state computed, measured: what keeping the
    state in the undo history holds beyond its neighbours, which share the rest. history_limit
    estimates it from the network's shape; a user's model may cache anything (50 MB a step on
    a 3-4-1 network), so the history also counts what each state holds."""
    phase = state.last_phase
    if phase is Phase.FORWARD:
        return _nbytes(state.forward)
    if phase is Phase.BACKWARD:
        return _nbytes(state.backward)
    if phase is Phase.GRADCHECK:
        return _nbytes(state.gradcheck)
    if state.retuned is not None:
        return 0  # its arrays are the state's before it, but the optimizer's after a new one
    if phase is Phase.UPDATE and state.update:
        return _nbytes((state.update.after, state.update.optim_after, state.update.cached))
    return 0


def _nbytes(value: object) -> int:
    """An array's data, or a Python object's size with what it holds (a cache is plain data:
    dicts, lists and tuples of arrays, numbers and strings; a phase's result is a dataclass).
    Walked with a list, not recursion: a cache may nest as deep as pickle allows. What to do
    with an object is looked up by its type once (_walk), since a history push measures
    every state a phase makes: about twenty objects a state, and a moons step is 70 µs."""
    total, pending = 0, [value]
    ndarray, fixed = np.ndarray, _FIXED
    while pending:
        item = pending.pop()
        walk = _WALKS.get(type(item))
        if walk is None:
            walk = _WALKS.setdefault(type(item), _walk(type(item)))
        if walk is _ARRAY:
            total += item.nbytes  # type: ignore[attr-defined]
            continue
        total += sys.getsizeof(item)
        if walk is _LEAF:
            continue
        inners: Iterable[Any] = (item.values() if walk is _DICT  # type: ignore[attr-defined, assignment]
                                 else item if walk is _ITEMS else [getattr(item, name) for name in walk])
        for inner in inners:
            kind = type(inner)
            if kind is ndarray:  # most of what a state holds: counted here, not pushed
                total += inner.nbytes
            elif kind in fixed:  # a float or None: its size without a call
                total += fixed[kind]
            else:
                pending.append(inner)
    return total


#: The sizes of the objects _nbytes meets that are always the same size (CPython's float
#: and None): a state holds a few of each (its loss, its running mean, metrics not measured).
_FIXED: dict[type, int] = {float: sys.getsizeof(0.0), type(None): sys.getsizeof(None)}


#: How _nbytes walks an object, by its type (_walk): an array's data, nothing inside, a
#: dict's values, a list's or tuple's items; or a dataclass's fields, by their names.
_ARRAY, _LEAF, _DICT, _ITEMS = ("array",), ("leaf",), ("dict",), ("items",)
_WALKS: dict[type, tuple[str, ...]] = {}


def _walk(kind: type) -> tuple[str, ...]:
    """How _nbytes walks an object of this type (the first that applies): an array (a subclass
    too), a number, string or None, a dict, a list or tuple, a dataclass (not a class itself:
    a type's instances are classes), anything else as a leaf."""
    if issubclass(kind, np.ndarray):
        return _ARRAY
    if issubclass(kind, float | int | str | type(None)):
        return _LEAF
    if issubclass(kind, dict):
        return _DICT
    if issubclass(kind, list | tuple):
        return _ITEMS
    if is_dataclass(kind) and not issubclass(kind, type):
        return tuple(f.name for f in fields(kind))
    return _LEAF


#: Where the undo history holds a state not rebuilt yet: a reopened session's history is
#: rebuilt when walked into (engine.run.rebuild). Compared by identity, never shown.
PENDING = State(step=0, params={})


class Rebuilding(Protocol):
    """The history behind a reopened session that is not rebuilt yet: its `pending` oldest
    entries (engine.run.rebuild.Behind)."""

    pending: int

    def fill(self, stepper: Stepper) -> dict[int, State]:
        """The newest pending entry and those rebuilt with it, by their index in the history."""

    def forgot(self) -> None:
        """The oldest entry of the history was forgotten at its bound."""


def history_limit(params: int, budget: int = HISTORY_BUDGET, activations: int = 0) -> int:
    """Phases of undo that fit the budget, and at least one. Consecutive states share
    arrays, so n phases of history hold the arrays of at most ceil(n / 4) steps beyond
    what the current state holds; bench/memory.py measures it."""
    return max(1, min(MAX_HISTORY, 4 * (budget // step_bytes(params, activations))))


@dataclass(frozen=True)
class View:
    """One moment of the stepper as a screen shows it. Frozen, and taken once a frame, so
    every widget draws the same moment and none can change the stepper (data flows one
    way: key -> action -> stepper -> view -> widgets)."""

    state: State
    config: Config
    next_phase: Phase
    gradcheck_enabled: bool
    forgotten: int  # phases the undo history has forgotten at its bound
    max_history: int
    model_name: str
    user_code: bool  # a user's own file: their names, their activations
    bug: str | None  # the fault drill injected into the built-in backward
    gradient_keys: str  # how the model's backward keys its gradients (Model.gradient_keys)
    log: tuple[Captured, ...] | None  # what a user's model printed, oldest first
    data: Data | None = None  # the data set and batch plan; None: the notebook's one sample
    #: The batch's sample the screens show, with the state sliced to it (engine.run.sample).
    sample: Sample | None = None
    #: The convention a user's model file follows (engine.model.conventions): "notebook" otherwise.
    convention: str = "notebook"


class Stepper:
    """forward -> backward -> gradcheck -> update -> forward of the next step."""

    def __init__(self, config: Config, model: Model | None = None,
                 max_history: int | None = None, keep_trail: bool = True,
                 data: Data | None = None) -> None:
        self.config = config.resolved()
        model = model if model is not None else make_model(self.config.architecture,
                                                           self.config.inject_bug)
        #: A model that takes one sample at a time gets a batch sample by sample, averaged.
        self.model = model if data is None or model.batched else BatchMean(model)
        self.data = data
        #: What the run started with: a change of settings mid-run (retune) is in the path.
        self.initial_config, self.initial_data = self.config, data
        self.x: Array = np.asarray(self.config.x, dtype=np.float64)  # a drawn x's own array (Floats)
        self.x.setflags(write=False)
        #: Everything done to the stepper since it was made, in order, as (action, count):
        #: replaying it from the initial parameters rebuilds every state and the whole undo
        #: history bit for bit (engine.run.session keeps it). See Stepper.replay for the actions.
        self.path: list[tuple[str, int]] = []
        self._gradcheck_enabled = self.config.gradcheck
        self._check_every: int | None = None
        #: The loss at every step, for the app's history panel; a report needs none, and
        #: a million steps of it would be the only memory that grows with the run.
        self.keep_trail = keep_trail
        params = self.model.init_params(self.config.seed)
        if params is None:
            params = init_params(self.config.architecture, self.config.seed, self.config.init)
        self._initial: State | None = None
        self.initial = self._start(params)
        #: Of the model's own parameters (a user's model may have any); start_from keeps the shapes.
        self.param_count = sum(value.size for value in params.values())
        activations = batches.activations(self.config.architecture, 1 if data is None else data.batch)
        #: Phases of undo kept; 0 keeps none (the headless report's: it never steps back).
        self.max_history = history_limit(self.param_count, activations=activations) \
            if max_history is None else max_history
        self.history_budget = HISTORY_BUDGET
        self._history: deque[State] = deque()
        self._held: deque[int] = deque()  # held_bytes of each state in _history
        self._held_total = 0
        self.state = self.initial
        #: Phases forgotten at the history bound; back cannot reach before them.
        self.forgotten = 0
        #: Whether the budget has ever forgotten phases (then the bound depends on what the
        #: phases held, and a session's history is not rebuilt from checkpoints).
        self.over_budget = False
        #: A reopened session's history, until all of it is rebuilt.
        self.behind: Rebuilding | None = None
        #: The model the names below are for, and the names (_implied_finite).
        self._implied: tuple[Model | None, frozenset[str]] = (None, frozenset())

    def start_from(self, params: Params) -> None:
        """Start from these parameters instead (a session's, or --params): only before any
        phase has run, so the path and the history are still empty. The caller has checked
        the names and shapes against the network."""
        if self.path or self._history:
            raise RuntimeError("start_from after the stepper has moved")
        own = {name: np.array(value, dtype=np.float64) for name, value in params.items()}
        self.initial = self.state = self._start(own)

    def _start(self, params: Params) -> State:
        """The state before any phase: these parameters, and the optimizer's state at its
        start (zeros, Adam's t = 0), whoever's rule reads it (a user's file's or the stepper's)."""
        optim = optimizers.init_state(self.config.optimizer, params)
        return State(step=1, params=_frozen(params), optim=_frozen(optim))

    # ---- the path taken ------------------------------------------------------------
    def record(self, action: str) -> None:
        """Add an action to the path; a repeat of the last one only counts up."""
        if self.path and self.path[-1][0] == action:
            self.path[-1] = (action, self.path[-1][1] + 1)
        else:
            self.path.append((action, 1))

    @property
    def gradcheck_enabled(self) -> bool:
        return self._gradcheck_enabled

    @gradcheck_enabled.setter
    def gradcheck_enabled(self, on: bool) -> None:
        if on != self._gradcheck_enabled:
            self.record("gradcheck on" if on else "gradcheck off")
        self._gradcheck_enabled = on

    @property
    def check_every(self) -> int | None:
        """In a training run or a headless run given --check-every: check every Nth step
        only (0: never); None: every step while gradcheck_enabled."""
        return self._check_every

    @check_every.setter
    def check_every(self, every: int | None) -> None:
        if every != self._check_every:
            self.record("check every" if every is None else f"check every {every}")
        self._check_every = every

    def replay(self, path: list[tuple[str, int]], model_for: Callable[[str | None], Model]) -> None:
        """Do the actions of a recorded path again: "next" (a phase), "back", "reset", "measure",
        "gradcheck on"/"off", "check every [N]", "drill NAME" (a fault drill; "drill" alone
        removes it; model_for makes the model of a drill), "set KEY=VALUE ..." (retune).
        ValueError for an unknown action; the phases raise what they raise."""
        for action, count in path:
            for _ in range(count):
                if action == "next":
                    self.next()
                elif action == "back":
                    if not self.back():
                        raise ValueError("the path goes back past the start")
                elif action == "reset":
                    self.reset()
                elif action == "measure":
                    self.measure()
                elif action in ("gradcheck on", "gradcheck off"):
                    self.gradcheck_enabled = action == "gradcheck on"
                elif action == "check every":
                    self.check_every = None
                elif action.startswith("check every "):
                    self.check_every = int(action.removeprefix("check every "))
                elif action == "drill" or action.startswith("drill "):
                    self.use_model(model_for(action.removeprefix("drill").strip() or None))
                elif action.startswith("set "):
                    self.retune(parse_tuning(action))
                else:
                    raise ValueError(f"unknown action {action!r}")

    # ---- reading -------------------------------------------------------------
    def view(self) -> View:
        model = self.model
        return View(self.state, self.config, self.next_phase, self.gradcheck_enabled, self.forgotten,
                    self.max_history, model.name, model.user_code, model.bug, model.gradient_keys,
                    None if model.log is None else tuple(model.log), self.data,
                    convention=model.convention)

    @property
    def initial(self) -> State:
        """The state before any phase: what reset returns to, and whose parameters a session
        records. RuntimeError once let go of (let_go_of_start)."""
        if self._initial is None:
            raise RuntimeError("the initial parameters were let go of (Stepper.let_go_of_start)")
        return self._initial

    @initial.setter
    def initial(self, state: State) -> None:
        self._initial = state

    def let_go_of_start(self) -> None:
        """Forget the initial parameters, for a run that will neither reset nor record its
        path: the headless report without a session, once its trace's head has written them.
        Kept, they are a copy of the network for the whole run (69 MiB at 1,000,000-9-1).
        Only without undo (max_history 0), whose states are not kept to walk back to."""
        if self.max_history:
            raise RuntimeError("let_go_of_start with an undo history")
        self._initial = None

    @property
    def history_length(self) -> int:
        """The phases kept to undo, at most max_history."""
        return len(self._history)

    @property
    def next_phase(self) -> Phase:
        """Derived, not stored, so toggling the gradient check re-plans a pending phase."""
        last = self.state.last_phase
        return Phase.FORWARD if last is None else self.phase_after(last)

    def phase_after(self, phase: Phase) -> Phase:
        if phase is Phase.BACKWARD:
            return Phase.GRADCHECK if self.checks(self.state.step) else Phase.UPDATE
        return PHASES[(PHASES.index(phase) + 1) % len(PHASES)]

    def checks(self, step: int) -> bool:
        """Whether step runs the gradient check."""
        return checks(step, self.gradcheck_enabled, self.check_every)

    def inputs(self, state: State) -> tuple[Array, Labels]:
        """What the state's phases compute on: its batch (rows of samples, and their labels),
        or the one sample."""
        if state.forward is None or state.forward.batch is None:
            return self.x, self.config.y
        return state.forward.batch

    def evaluate(self, params: Params) -> Metrics | None:
        """The fit to every training and test row; None without data. A user's model gives
        its loss only (what its outputs mean is its own)."""
        if self.data is None:
            return None
        if not self.model.user_code:
            return batches.evaluate(self.config.architecture, params, self.data)
        dataset = self.data.dataset

        def loss(rows: Indices) -> float | None:
            if not len(rows):
                return None
            X, y = dataset.X[rows], dataset.y[rows]
            return float(self.model.fit_loss(X, params, y))

        train = loss(dataset.train)
        assert train is not None
        return Metrics(train, None, loss(dataset.test), None)

    # ---- the phases ------------------------------------------------------------
    def compute(self, progress: Progress | None = None) -> State:
        """The state after the next phase, without committing it. Overflow is the phases'
        business to show (State.nonfinite), not a warning to print: NumPy's are off."""
        return self.run_phase(self.state, self.next_phase, progress)

    def run_phase(self, state: State, phase: Phase, progress: Progress | None = None) -> State:
        """The state after `phase` runs from `state`, committing nothing: compute's work, and
        the rebuilding of a reopened session's history (engine.run.rebuild), whose phases are
        the path's, whatever the toggles say now."""
        with np.errstate(all="ignore"):
            if phase is Phase.FORWARD:
                return self._forward(state)
            if phase is Phase.BACKWARD:
                return self._backward(state)
            if phase is Phase.GRADCHECK:
                return self._gradcheck(state, progress)
            return self._update(state)

    def _forward(self, state: State) -> State:
        step = state.step + 1 if state.forward is not None else state.step
        running = state.forward.running if state.forward is not None else None
        return self.forward_at(step, state.params, state.optim, state.trail, running, self.keep_trail)

    def forward_at(self, step: int, params: Params, optim: Tensors, trail: LossTrail | None,
                   running: RunningLoss | None, keep_trail: bool) -> State:
        """Step `step`'s forward pass from these parameters and optimizer state, after this loss
        trail and running mean of the batch losses: all a forward pass reads of the state before
        it, so a checkpoint of those (engine.run.rebuild) starts a step exactly as the run did.
        The whole sets are measured when the schedule says (measures); else the running mean
        is carried on."""
        rows = self.data.rows(step) if self.data is not None else None
        batch = None if rows is None or self.data is None else self.data.inputs(rows)
        x, y = (self.x, self.config.y) if batch is None else batch
        cache, raw_loss = self.model.forward(x, params, y)
        loss = float(raw_loss)
        measured = self.measures(step)
        metrics = self.evaluate(params) if measured else None
        if self.data is not None:
            running = RunningLoss(loss, 1) if running is None else running.then(loss, measured)
        made = LossTrail(loss, trail, metrics, running) if keep_trail else None
        return State(step=step, params=params, last_phase=Phase.FORWARD,
                     forward=Forward(_frozen(cache), loss, rows, batch, metrics, running), trail=made,
                     optim=optim)

    def eval_period(self) -> int:
        """Steps between the whole sets' scheduled measurements: --eval-every, or an epoch's steps."""
        return self.config.eval_every or (self.data.steps_per_epoch if self.data is not None else 1)

    def measures(self, step: int) -> bool:
        """Whether step's forward pass measures the loss and accuracy over every training and test
        row: the first step of each period (eval_period), so step 1 does. Between them nothing
        that costs what the data set costs runs; a run's end and the app's key measure too
        (measure)."""
        return self.data is not None and (step - 1) % self.eval_period() == 0

    def measure(self) -> bool:
        """Measure the whole sets now, with the parameters of this step's forward pass (as a
        scheduled measurement would have), unless they are measured already: at the end of a
        run and on demand. The state is replaced, not pushed: back returns to the phase before,
        as it was shown. Recorded in the path ("measure"), so a replay measures at the same
        moment. False when there is nothing to measure (no data, no forward pass yet)."""
        measured = self.measured(self.state)
        if measured is None:
            return False
        self.record("measure")
        self.state = measured
        return True

    def measured(self, state: State) -> State | None:
        """`state` as measure makes it: the whole sets' fit with the parameters of its step's
        forward pass, and a new window of the running mean from that step's batch loss. None
        when there is nothing to measure. Also how a reopened session's history is rebuilt
        where its path measured (engine.run.rebuild)."""
        forward = state.forward
        if self.data is None or forward is None or forward.metrics is not None:
            return None
        params = state.update.before if state.update is not None else state.params
        with np.errstate(all="ignore"):
            metrics = self.evaluate(params)
        running = RunningLoss(forward.loss, 1)
        trail = None if state.trail is None else replace(state.trail, metrics=metrics, running=running)
        return replace(state, forward=replace(forward, metrics=metrics, running=running), trail=trail)

    def _backward(self, state: State) -> State:
        assert state.forward is not None
        x, y = self.inputs(state)
        grads = self.model.backward(x, y, state.params, state.forward.cache)
        return State(state.step, state.params, Phase.BACKWARD, state.forward, _frozen(grads),
                     trail=state.trail, optim=state.optim)

    def _gradcheck(self, state: State, progress: Progress | None) -> State:
        assert state.backward is not None
        x, y = self.inputs(state)
        check = gradient_check(self.model, state.params, x, y, state.backward,
                               self.config.eps, self.config.gradcheck_method, progress)
        if check.failed_names:
            # Only for a failed check: engine.check.diagnose is start-up time every run would pay.
            from engine.check.diagnose import diagnose

            assert state.forward is not None
            check = diagnose(check, state.backward, self.config.architecture, state.params, x,
                             y, state.forward.loss, builtin=not self.model.user_code,
                             convention=self.model.convention, reg=self.model.reg)
        if check.atol > ATOL and self._saturated_by_init():
            check = replace(check, notes=(*check.notes, SATURATED))
        return replace(state, gradcheck=check, last_phase=Phase.GRADCHECK, retuned=None)

    def saturation(self, state: State | None = None) -> Saturation | None:
        """Whether the output saturates at `state` (the current one by default)."""
        return saturation(self.state if state is None else state, self.config, not self.model.user_code)

    def _saturated_by_init(self) -> bool:
        """Whether a loss too large to resolve small gradients is the notebook's unscaled
        draws at work: they make z grow as sqrt(fan-in) a layer, so a wide network's output
        saturates (784-256-128-10 starts at a loss of 4742)."""
        widest = max(self.config.architecture.sizes[:-1])
        return not self.model.user_code and self.config.init == "notebook" and widest > WIDE

    def lr(self, step: int) -> float:
        """The learning rate of a step's update: --lr decayed once an epoch (--decay); without
        data, the one sample is all the data, so every step is an epoch."""
        epoch = self.data.epoch(step) if self.data is not None else step
        return optimizers.decayed(self.config.lr, self.config.decay, epoch)

    def settings(self, step: int) -> optimizers.Settings:
        """The update rule's numbers at a step."""
        c = self.config
        drill = optimizers.NO_DRILL if self.model.user_code else optimizers.drill(self.model.bug)
        return optimizers.Settings(self.lr(step), c.momentum, c.beta1, c.beta2, c.epsilon, drill)

    def _update(self, state: State, unchecked: list[Tensors] | None = None) -> State:
        """The update phase. Its forward pass with the new parameters is checked for overflow
        here, or, given `unchecked`, appended to it for the caller's one check of the whole
        step (_fused_step), which recomputes the step phase by phase when anything overflowed."""
        assert state.backward is not None
        x, y = self.inputs(state)
        settings = self.settings(state.step)
        after, optim, rule = self._rule(state, settings)
        cached = optimizers.bias_corrected(self.config.optimizer, optim, settings)
        cache_after, loss_after = self.model.forward(x, after, y)
        after, optim, cached = _frozen(after), _frozen(optim), _frozen(cached)
        overflow: tuple[str, ...] = ()
        if unchecked is not None:
            unchecked.append(cache_after)
        elif not all_finite_fast(cache_after.values()):
            overflow = tuple(name for name, value in cache_after.items() if not all_finite(value))
        faults = self._update_faults(state, settings, after, optim if rule else None)
        update = Update(state.params, after, float(loss_after), overflow, state.optim, optim, cached,
                        settings.lr, faults, rule)
        return State(state.step, after, Phase.UPDATE, state.forward, state.backward, state.gradcheck,
                     update, state.trail, optim)

    def _rule(self, state: State, settings: optimizers.Settings) -> tuple[Params, Tensors, str]:
        """The new parameters and optimizer state, and where the user's own rule that made
        them is ("" for none).
        A user's file updates as it says: under SGD by its sgd_update if it has one; else by
        its own rule of the optimizer (cs231n's, engine.usermodel.rules) if it brings one;
        else, as the built-in network does, by the stepper's rule (engine.maths.optimizers)."""
        assert state.backward is not None
        optimizer = self.config.optimizer
        if self.model.user_code and optimizer == "sgd" and self.model.own_update:
            return self.model.update(state.params, state.backward, settings.lr), {}, ""
        made = self.model.optimize(optimizer, state.params, state.backward, state.optim, settings)
        if made is not None:
            return made
        after, optim = optimizers.step(optimizer, state.params, state.backward, state.optim, settings)
        return after, optim, ""

    def _update_faults(self, state: State, settings: optimizers.Settings, after: Params,
                       own_state: Tensors | None) -> tuple[Diagnosis, ...]:
        """The update's diagnosis: each parameter whose update (or, for a user's own rule,
        `own_state`, whose state too) is not the true rule's, and the drill it matches. The
        true rule is the reference, so with neither a drill nor a user's rule there is nothing
        to compare."""
        if settings.drill is optimizers.NO_DRILL and own_state is None:
            return ()
        assert state.backward is not None
        faults = optimizers.diagnose(self.config.optimizer, state.params, state.backward, state.optim,
                                     settings, after, own_state)
        return tuple(Diagnosis(f.tensor, f.kind, f.detail, enters="the update") for f in faults)

    def dry_run(self) -> None:
        """Forward, backward and update once from the current state, committing nothing.

        Calls each of the model's functions once, so a user's model that breaks its
        contract fails here, before an app opens, instead of at the first keypress. The
        gradient check is left out: it only calls forward again. Raises whatever the
        model raises (ModelError for a user's model); the state is untouched either way.
        """
        with np.errstate(all="ignore"):
            self._update(self._backward(self._forward(self.state)))

    # ---- moving ------------------------------------------------------------
    def commit(self, new: State) -> None:
        """Make a computed phase the current state (the phase is recorded as "next")."""
        self.record("next")
        self._push(new)

    def _push(self, new: State) -> None:
        """Make `new` the current state, the old one the last of the history; then forget the
        oldest phases beyond max_history, or while what the history holds is over its budget
        (at least one phase is kept). Forgetting for the budget lowers max_history to what
        fits, so "last N phases" stays true, and a replay forgets exactly the same phases."""
        self._history.append(self.state)
        self._held.append(held_bytes(self.state))
        self._held_total += self._held[-1]
        self.state = new
        over_budget = False
        while len(self._history) > self.max_history or (
                len(self._history) > 1 and self._held_total > self.history_budget):
            over_budget |= len(self._history) <= self.max_history
            self._history.popleft()
            self._held_total -= self._held.popleft()
            self.forgotten += 1
            if self.behind is not None:
                self.behind.forgot()
        if over_budget:
            self.max_history = len(self._history)
            self.over_budget = True

    def next(self, progress: Progress | None = None) -> Phase:
        """Run the next phase; return the phase that ran."""
        new = self.compute(progress)
        self.commit(new)
        assert new.last_phase is not None
        return new.last_phase

    def _fused_step(self) -> list[State]:
        """A whole step (forward, backward, update) computed in one call and committed, for runs
        that show no phase on its own (train, iter_steps): the states and the path are the
        phases' own, bit for bit, but the overflow of the update's forward pass and the
        divergence of the step are one check of everything the step made, instead of one a
        phase and one more a step. [] when it does not apply (not at a step's start, or the
        step checks gradients) and when anything the step made is not finite: then the caller
        runs the phases not committed one by one, which say where it diverged. Nothing is
        committed then, except by a stepper that keeps no undo (max_history 0: the headless
        report's): it commits the forward pass first, so the step before's arrays are let go of
        before this step makes its own, and the caller goes on from its backward pass."""
        with np.errstate(all="ignore"):
            return self._fused()

    def _fused(self) -> list[State]:
        """_fused_step, where NumPy's warnings are off already (train's loop)."""
        state = self.state
        if self.next_phase is not Phase.FORWARD:
            return []
        step = state.step + 1 if state.forward is not None else state.step
        if self.checks(step):
            return []
        forward = self._forward(state)
        if not self.max_history:  # no undo: the step before (its gradients, the parameters
            self.commit(forward)  # before its update) is let go before this one's are made
            del state
        backward = self._backward(forward)
        unchecked: list[Tensors] = []
        update = self._update(backward, unchecked)
        made = (forward, backward, update)
        inputs = () if forward.forward is None or forward.forward.batch is None \
            else forward.forward.batch[:1]  # a data set's rows: finite, checked when read
        implied = self._implied_finite()
        if not finite_by_sums([*forward.made(implied), *backward.made(implied), *update.made(implied),
                               *_unimplied(unchecked[0], implied)], inputs):
            return []
        for new in made:
            vars(new)["finite"] = True  # State.finite, known: checked above
            if new is not self.state:  # the forward pass is committed already without undo
                self.commit(new)
        return list(made)

    def _implied_finite(self) -> frozenset[str]:
        """The built-in network's tensors a check of its step leaves out (network.implied_finite),
        looked up once a model; none of a user's model's."""
        model, implied = self._implied
        if model is not self.model:
            implied = frozenset() if self.model.user_code else implied_finite(self.config.architecture)
            self._implied = (self.model, implied)
        return implied

    def step_done(self) -> bool:
        """Where finish-step stops: at this step's update, or early where the run diverged,
        so a non-finite state is shown, not skipped past. The app's worker follows it too."""
        return self.state.last_phase is Phase.UPDATE or self.state.diverged()

    def finish_step(self) -> list[Phase]:
        """Run phases up to and including this step's update (at least one phase)."""
        ran = [self.next()]
        while not self.step_done():
            ran.append(self.next())
        return ran

    def iter_steps(self, steps: int) -> Iterator[State]:
        """Whole steps from here, for the headless report: the state after each update,
        yielded as it is reached so a long run is reported in constant memory."""
        for done in range(1, steps + 1):
            if not self._fused_step():
                while self.next() is not Phase.UPDATE:
                    pass
            if done == steps:  # a run's final figures are the whole sets'
                self.measure()
            yield self.state

    def train(self, steps: int, check_every: int = 0, progress: Progress | None = None,
              between: Callable[[], None] = lambda: None) -> int:
        """A training run: `steps` whole steps, checking gradients every `check_every`th step
        only (0: never), each phase committed so `b` walks back through the run one phase at
        a time. progress(done, steps) is called after each step and before each phase; when
        it raises (Cancelled), the step in progress is undone and the finished steps are
        kept. between() is called before each step, where a change of settings asked for as
        the run goes is made (retune), between whole steps. Returns the steps finished, up to
        an early stop where the run diverged."""
        saved, self.check_every = self.check_every, check_every
        done = 0
        try:
            with np.errstate(all="ignore"):
                while done < steps:
                    between()
                    finite = self._training_step(done, steps, progress)
                    done += 1
                    if not finite:
                        break
                if done:
                    self.measure()
            if progress is not None:
                progress(done, steps)
        finally:
            self.check_every = saved
        return done

    def _training_step(self, done: int, steps: int, progress: Progress | None) -> bool:
        """One step of train: fused when it can be, else phase by phase with progress before
        each phase, undone whole when progress raises. False where it diverged: the state is
        then its first phase that made inf or NaN, as step_done would have stopped."""
        made: list[State] = []
        try:
            if progress is not None:
                progress(done, steps)
            made = self._fused()  # train holds np.errstate
            if made:
                return True  # known finite
            while not made or made[-1].last_phase is not Phase.UPDATE:
                if progress is not None and made:
                    progress(done, steps)
                self.next()
                made.append(self.state)
        except BaseException:
            for _ in made:
                self.back()
            raise
        return self._finite_or_back(made)

    def _finite_or_back(self, made: list[State]) -> bool:
        """Whether the phases just made are all finite; if not, back to the first that is not."""
        if all_finite_fast([v for state in made for v in state.made()]):
            return True
        first = next(state for state in made if not state.finite)
        while self.state is not first and self.back():
            pass
        return False

    def run_steps(self, steps: int) -> State:
        """Run whole steps from here; the state after the last update."""
        for _ in self.iter_steps(steps):
            pass
        return self.state

    def kept(self) -> Iterator[State]:
        """The current state, then each state the undo history keeps, newest first: the app's
        training health is rebuilt from them when asked, so nothing is measured a step. A
        change of settings' state repeats the phase before it: that phase is given once. A
        reopened session's history is rebuilt as far as the reader goes."""
        if self.state.retuned is None:
            yield self.state
        for index in range(len(self._history) - 1, -1, -1):
            if self._history[index] is PENDING:
                self._fill()
            state = self._history[index]
            if state.retuned is None:
                yield state

    def _fill(self) -> None:
        """Rebuild the newest pending part of a reopened session's history."""
        assert self.behind is not None
        for index, state in self.behind.fill(self).items():
            self._history[index] = state

    def history(self) -> tuple[list[State], list[int]]:
        """The undo history, oldest first (PENDING where a reopened session's is not rebuilt
        yet), and the bytes each entry holds (held_bytes): what a session's checkpoints are
        taken from."""
        return list(self._history), list(self._held)

    def resume(self, path: list[tuple[str, int]], gradcheck: tuple[bool, int | None], forgotten: int,
               held: list[int], behind: Rebuilding) -> None:
        """Stand where a session's path leads without taking it (engine.run.rebuild): its
        toggles, the phases forgotten on the way, and a history of `len(held)` entries all
        pending (`behind` rebuilds them); the current state is the newest of them, rebuilt."""
        if self.path or self._history:
            raise RuntimeError("resume after the stepper has moved")
        self.path = list(path)
        self._gradcheck_enabled, self._check_every = gradcheck
        self.forgotten = forgotten
        self.behind = behind
        self._history.extend([PENDING] * (len(held) + 1))
        self._held.extend(held)
        self._held_total = sum(held)
        self._fill()
        self.state = self._history.pop()

    def back(self) -> bool:
        """Undo the last phase exactly; False when there is nothing left to undo."""
        if not self._unpush():
            return False
        self.record("back")
        return True

    def _unpush(self) -> bool:
        if not self._history:
            return False
        if self._history[-1] is PENDING:
            self._fill()
        retuned = self.state.retuned
        if retuned is not None:  # undoing a change of settings: the ones it replaced are back
            self.config, self.model, self.data = retuned.config, retuned.model, retuned.data
        self.state = self._history.pop()
        self._held_total -= self._held.pop()
        return True

    def use_model(self, model: Model) -> None:
        """Swap the model (a fault drill on or off) and step back to this step's forward
        pass, so the next backward and gradient check run with the new model."""
        self.record("drill" if model.bug is None else f"drill {model.bug}")
        self.model = model
        # Part of the drill, not recorded: replaying "drill NAME" steps back the same way.
        while self.state.last_phase not in (None, Phase.FORWARD) and self._unpush():
            pass

    def reset(self) -> None:
        """Back to the initial parameters. The reset is itself undoable: back returns to
        where it was, so a stray keypress never loses a long session. The settings stay as
        they are now, the optimizer's state at its start for the optimizer now in use."""
        if self.state is not self.initial:
            self.record("reset")
            start = self.initial
            if self.state.optim.keys() != self.initial.optim.keys():  # another optimizer since
                start = replace(start, optim=self._start(start.params).optim)
            self._push(start)

    # ---- changing settings mid-run ------------------------------------------------
    def retune(self, changes: Changes) -> None:
        """Change settings of TUNABLE as the run goes, keeping the weights, the step and the
        undo history: recorded in the path ("set KEY=VALUE ..."), undone by back (the state it
        makes carries the settings it replaced). The learning rate and the optimizer's settings
        are read by the next update; a new optimizer starts its state (velocities, moments)
        at zero; the batch size by the next step's forward pass (the rows of step s are then
        the new plan's: engine.data.batches); a new penalty rate by the next backward pass, so
        a change after this step's forward pass steps back to it, as a fault drill does.
        ValueError (ConfigError) for a value the settings' rules refuse, and for a change a
        user's model file cannot take: its loss and update are its own."""
        changes = {key: value for key, value in changes.items() if getattr(self.config, key) != value}
        problem = self.retune_problem(changes)
        if problem:
            raise ValueError(problem)
        if not changes:
            return
        config = validate(replace(self.config, **changes), given=()).resolved()
        self.record(tuning_action(changes))
        if any(key in OBJECTIVE for key in changes):  # the next backward and check use the new loss
            while self.state.last_phase not in (None, Phase.FORWARD, Phase.UPDATE) and self._unpush():
                pass
        retuned = Retuned(self.config, self.model, self.data)
        self._apply(config)
        optim = self.state.optim
        if config.optimizer != retuned.config.optimizer:
            optim = self._start(self.state.params).optim
        self._push(replace(self.state, optim=optim, retuned=retuned))

    def retune_problem(self, changes: Changes) -> str | None:
        """Why retune would refuse these changes, or None: a setting that needs new weights, a
        value the settings' rules refuse (ConfigError's message), a change of the loss a user's
        model file computes itself (its update follows the optimizer, by its own rule or the
        stepper's)."""
        unknown = [key for key in changes if key not in TUNABLE]
        if unknown:
            return f"{unknown[0]} cannot change mid-run: it needs new weights (a new run)"
        if self.model.user_code and any(key in OBJECTIVE for key in changes):
            return "a model file computes its own loss: l1 and l2 do not change it"
        try:
            validate(replace(self.config, **changes), given=())
        except ValueError as error:
            return str(error)
        return None

    def _apply(self, config: Config) -> None:
        """Make `config` the stepper's, with the model of its penalty rates and its batch plan."""
        if config.architecture != self.config.architecture:
            model = make_model(config.architecture, self.model.bug)
            self.model = model if self.data is None or model.batched else BatchMean(model)
        if self.data is not None and config.batch != self.config.batch:
            rows = len(self.data.dataset.train)
            self.data = replace(self.data, batch=min(config.batch or rows, rows))
        self.config = config
