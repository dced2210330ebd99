"""Training health: why a network does not learn, in words.

A gradient check says whether the gradients are right; a run can have right gradients and
still not learn. What people reach for then (Karpathy's "A Recipe for Training Neural
Networks", 2019, and makemore part 3; CS231n's notes "Neural Networks Part 3") are a few
statistics per layer, watched over the steps of a run:

- grad_norm: ||dW_l||, the Frobenius norm of the layer's weight gradient;
- update_ratio: ||ΔW_l|| / ||W_l||, how far one update moves the weights, relative to them
  (CS231n: "somewhere around 1e-3");
- dead: for a ReLU hidden layer, the share of its units that are off (z_l <= 0) on every
  row of the step's batch: they pass no gradient, and no step of this batch revives them;
- saturated: for a tanh or sigmoid hidden layer, the share of its activations whose
  derivative is under SATURATED_SLOPE of the derivative's peak: |a| > 0.97 for tanh (the
  makemore threshold, tanh'(z) = 1 - a² < 0.059), a outside (0.0154, 0.9846) for sigmoid;
- the first loss against the loss of a uniform guess: ln 2 for one sigmoid unit with
  cross-entropy, ln K for a softmax over K classes, 1/8 for the squared error of σ = 1/2.

Those tools show the statistics and leave the verdict to the reader. Here each one has a
healthy range (THRESHOLDS, with the measurements that set them), and a verdict says in words
when a statistic leaves it: the figures, the step it started, and what to try.

The thresholds were set on this project's networks, which are small: a healthy 2-8-1 net on
moons moves its weights by up to 0.09 of their norm a step (a median over 10 steps, He
initialisation, standardized inputs, 20 seeds), far above the 1e-3 CS231n gives for large
networks. So a high update ratio alone is no verdict: the learning rate is called too high
when the ratio is high *and* the loss stopped falling, or when one update is larger than the
weights themselves. The measurements are in docs/explanation/training-health.md.

Constant memory: a run of a million steps keeps a window of WINDOW steps' statistics, the
first step of each condition's current streak, and the verdicts found.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from engine.data.batches import Data
from engine.maths.network import Architecture, Array, Params
from engine.run.stepper import State

#: Steps a windowed statistic is judged over (a median), and a condition must last.
WINDOW = 10
#: A weight layer's update ratio above which, with a loss that stopped falling, the learning
#: rate is too high; above RATIO_OVERSHOOT an update outgrows the weights whatever the loss.
RATIO_HIGH = 5e-2
RATIO_OVERSHOOT = 1.0
#: Every layer's update ratio below this: the learning rate is too low (healthy runs: 6e-4 and up).
RATIO_LOW = 1e-4
#: Share of a ReLU layer's units dead, or of a tanh/sigmoid layer's activations saturated,
#: that is a verdict (healthy runs: up to 0.38 dead, 0.05 saturated with Xavier's init).
DEAD_SHARE = 0.5
SATURATED_SHARE = 0.5
#: A saturated activation's derivative, as a share of the derivative's peak.
SATURATED_SLOPE = 0.059
#: The first loss, as a multiple of a uniform guess's, above which the outputs start too large.
INITIAL_LOSS_FACTOR = 3.0
#: A step's loss this many times the step before's and the first loss: it jumped.
LOSS_JUMP = 10.0
#: ||dW_1|| below this share of the output layer's: the gradients vanish toward the input.
VANISHING = 1e-3
#: An input feature whose standard deviation lies outside these, or whose mean's size
#: exceeds FEATURE_SCALE[1], is far from unit scale (LeCun et al., "Efficient BackProp",
#: 1998, section 4.3: inputs of zero mean and unit variance).
FEATURE_SCALE = (0.1, 10.0)

#: Each threshold, for the documentation and the JSON trace.
THRESHOLDS = {
    "window_steps": WINDOW, "update_ratio_high": RATIO_HIGH, "update_ratio_overshoot": RATIO_OVERSHOOT,
    "update_ratio_low": RATIO_LOW, "dead_share": DEAD_SHARE, "saturated_share": SATURATED_SHARE,
    "saturated_slope": SATURATED_SLOPE, "initial_loss_factor": INITIAL_LOSS_FACTOR,
    "loss_jump": LOSS_JUMP, "vanishing": VANISHING, "feature_std": list(FEATURE_SCALE),
}


#: A condition at a step: its key (kind, layer), whether it holds, what it says (made only
#: when it is said: most steps say nothing), and how many steps in a row it must hold.
Condition = tuple[tuple[str, int | None], bool, Callable[[], str], int]
BELOW = ": no gradient reaches the layers below"


@dataclass(frozen=True)
class LayerStats:
    """One weight layer's statistics at one step (None: not measured for this layer)."""

    layer: int
    grad_norm: float
    update_ratio: float | None
    dead: float | None = None  # ReLU hidden layers
    saturated: float | None = None  # tanh and sigmoid hidden layers


@dataclass(frozen=True)
class StepStats:
    step: int
    loss: float
    layers: tuple[LayerStats, ...]


@dataclass(frozen=True)
class Verdict:
    """A statistic out of its healthy range: its kind, its layer (None: the whole network),
    the step it started, and what it says (the figures and what to try)."""

    kind: str  # initial-loss, overshoot, lr-high, lr-low, dead, saturated, loss-jump, vanishing, inputs
    layer: int | None
    since: int | None
    says: str


def _norm(value: Array) -> float:
    """||value||, the Frobenius norm (a user's model may hand back lists or ints)."""
    flat = value.ravel() if isinstance(value, np.ndarray) and value.dtype == np.float64 else \
        np.asarray(value, dtype=np.float64).ravel()
    return math.sqrt(float(np.dot(flat, flat)))


def _share(mask: NDArray[np.bool_]) -> float:
    """The share of True in `mask` (count_nonzero: np.mean of booleans costs 30 times more)."""
    return np.count_nonzero(mask) / mask.size if mask.size else 0.0


def _activity(activation: str, z: Array, a: Array) -> tuple[float | None, float | None]:
    """(dead, saturated) of one hidden layer's batch: z and a of shape (n,) or (B, n)."""
    if activation == "relu":
        return _share(np.all(np.atleast_2d(z) <= 0, axis=0)), None
    if activation == "tanh":
        return None, _share(1.0 - np.square(a) < SATURATED_SLOPE)
    if activation == "sigmoid":
        return None, _share(a * (1.0 - a) < SATURATED_SLOPE * 0.25)
    return None, None  # leaky ReLU: neither dies nor saturates


def measure(state: State, arch: Architecture | None) -> StepStats | None:
    """A finished step's statistics (the state after its update). `arch`: the built-in
    network's, whose activation says which of dead and saturated apply; None for a user's
    model, whose layers are measured where its parameters are named W1 .. WL (the gradient
    norm and the update ratio only: its activation is its own)."""
    if state.forward is None or state.backward is None or state.update is None:
        return None
    with np.errstate(all="ignore"):  # a diverging run's statistics are inf, said by the report
        return _measured(state, arch)


def _measured(state: State, arch: Architecture | None) -> StepStats | None:
    assert state.forward is not None and state.backward is not None and state.update is not None
    before, grads = state.update.before, state.backward
    layers = []
    for l in range(1, _depth(before) + 1):
        W, dW = before[f"W{l}"], grads.get(f"dW{l}")
        if dW is None or np.shape(dW) != np.shape(W):
            return None
        size = _norm(W)
        ratio = _norm(np.asarray(state.update.after[f"W{l}"]) - W) / size if size > 0 else None
        dead = saturated = None
        if arch is not None and l < arch.depth:
            dead, saturated = _activity(arch.activation, state.forward.cache[f"z{l}"],
                                        state.forward.cache[f"a{l}"])
        layers.append(LayerStats(l, _norm(dW), ratio, dead, saturated))
    return StepStats(state.step, state.forward.loss, tuple(layers)) if layers else None


def _depth(params: Params) -> int:
    """L for parameters named W1 .. WL (0 when there is no W1)."""
    L = 0
    while f"W{L + 1}" in params:
        L += 1
    return L


def uniform_loss(arch: Architecture) -> float:
    """The loss of outputs that say nothing: σ = 1/2 for one unit, 1/K for each of K classes."""
    if arch.classes > 1:
        return math.log(arch.classes)
    return 0.125 if arch.loss == "mse" else math.log(2.0)


def _sci(value: float) -> str:
    return f"{value:.1e}".replace("e-0", "e-").replace("e+0", "e+")


@dataclass
class Health:
    """A run's health, watched a step at a time (add). `arch`: the built-in network's (None
    for a user's model); `lr` the learning rate the verdicts suggest from."""

    arch: Architecture | None
    lr: float
    window: deque[StepStats] = field(default_factory=lambda: deque(maxlen=WINDOW))
    first_loss: float | None = None
    previous_loss: float | None = None
    streaks: dict[tuple[str, int | None], int] = field(default_factory=dict)
    found: dict[tuple[str, int | None], Verdict] = field(default_factory=dict)
    steps: int = 0

    def add(self, state: State) -> StepStats | None:
        """Count a finished step in; its statistics (None where none could be measured)."""
        stats = measure(state, self.arch)
        if stats is None:
            return None
        self.steps += 1
        if self.first_loss is None:
            self.first_loss = stats.loss
            self._initial(stats)
        self.count_loss(stats.step, stats.loss)
        self.window.append(stats)
        for key, holds, says, lasting in self._conditions(stats):
            self._streak(key, holds, stats.step, says, lasting)
        return stats

    def watch(self, states: Iterable[State]) -> Iterator[State]:
        """The states as they come, each counted in on its way through (a report's stream)."""
        for state in states:
            self.add(state)
            yield state
            del state  # not held while the next step is computed: it would keep this one's arrays

    @property
    def verdicts(self) -> list[Verdict]:
        return list(self.found.values())

    def recent(self) -> list[LayerStats]:
        """Each layer's statistics as medians over the steps last watched (the window)."""
        window = list(self.window)
        if not window:
            return []

        def median(values: Iterable[float | None]) -> float | None:
            kept = [v for v in values if v is not None]
            return _median(kept) if kept else None

        return [LayerStats(layer.layer, _median(s.layers[i].grad_norm for s in window),
                           median(s.layers[i].update_ratio for s in window),
                           median(s.layers[i].dead for s in window),
                           median(s.layers[i].saturated for s in window))
                for i, layer in enumerate(window[-1].layers)]

    def _say(self, key: tuple[str, int | None], since: int | None, says: str) -> None:
        self.found.setdefault(key, Verdict(key[0], key[1], since, says))

    def _initial(self, stats: StepStats) -> None:
        if self.arch is None:
            return
        guess = uniform_loss(self.arch)
        if stats.loss > INITIAL_LOSS_FACTOR * guess:
            named = f"ln {self.arch.classes}" if self.arch.classes > 1 else \
                "1/8" if self.arch.loss == "mse" else "ln 2"
            init = "--init he" if self.arch.activation in ("relu", "leaky-relu") else "--init xavier"
            self._say(("initial-loss", None), stats.step,
                      f"the first loss, {stats.loss:.3g}, is {stats.loss / guess:.1f} × {named} = "
                      f"{guess:.2f}, the loss of outputs that guess uniformly: the network starts large "
                      f"and confidently wrong, and its first steps undo that rather than learn. Try {init}, "
                      "or --standardize")

    def count_loss(self, step: int, loss: float) -> None:
        """Count a step's loss in, for the loss-jump verdict alone: what add does with the loss,
        and all the app's data line watches every step (a comparison, not a layer's statistics)."""
        if self.first_loss is None:
            self.first_loss = loss
        before, first = self.previous_loss, self.first_loss
        self.previous_loss = loss
        if before is None or not math.isfinite(loss):
            return
        if loss > LOSS_JUMP * before and loss > LOSS_JUMP * first:
            self._say(("loss-jump", None), step,
                      f"the loss jumped from {before:.3g} to {loss:.3g} "
                      f"({loss / before:.3g} ×): a step overshot. Try --lr {self.lr / 10:g}")

    def _conditions(self, stats: StepStats) -> Iterator[Condition]:
        """Each condition at this step: its key, whether it holds, what it says, and how many
        steps in a row it must hold to be said."""
        full = len(self.window) == WINDOW
        yield from self._rates(stats, full)
        for layer in stats.layers:
            yield from self._units(layer, full)
        if full and len(stats.layers) > 1:
            first = _median(s.layers[0].grad_norm / max(s.layers[-1].grad_norm, 1e-300) for s in self.window)
            last = len(stats.layers)
            yield (("vanishing", 1), 0 < first < VANISHING, lambda: (
                f"gradients vanish toward the input: ||dW1|| is {_sci(first)} of ||dW{last}|| (a median "
                f"over {WINDOW} steps), so the first layer barely learns. Try --activation relu and "
                "--init he"), 1)

    def _rates(self, stats: StepStats, full: bool) -> Iterator[Condition]:
        """The learning rate's conditions: an update larger than the weights (at once); a high
        update ratio while the loss stopped falling, for a whole window; every layer's ratio
        far below the healthy one."""
        now = [layer.update_ratio or 0.0 for layer in stats.layers]
        over = [i for i, r in enumerate(now) if r > RATIO_OVERSHOOT]
        yield (("overshoot", None), bool(over), lambda: (
            f"an update moved {_weights(over, [now[i] for i in over])}: one step outgrew the weights it "
            f"updates (healthy: about 1e-3). Try --lr {self.lr / 10:g}"), 1)
        if full:
            yield from self._window_rates(len(stats.layers))

    def _window_rates(self, depth: int) -> Iterator[Condition]:
        ratios = [_median(_ratio(s, i) for s in self.window) for i in range(depth)]
        losses = [s.loss for s in self.window]
        stalled = _median(losses[WINDOW // 2:]) >= _median(losses[:WINDOW // 2])
        high = [i for i, r in enumerate(ratios) if r > RATIO_HIGH]
        yield (("lr-high", None), stalled and bool(high), lambda: (
            f"the updates move {_weights(high, [ratios[i] for i in high])} a step (medians over {WINDOW} "
            f"steps; healthy: about 1e-3) and the loss stopped falling: the learning rate is too high. "
            f"Try --lr {self.lr / 10:g}"), WINDOW)
        # Updates of exactly 0 are not a small learning rate: no gradient reached the weights
        # (dead units say why).
        yield (("lr-low", None), all(0 < r < RATIO_LOW for r in ratios), lambda: (
            f"every layer's updates are under {RATIO_LOW:g} of its values ("
            + ", ".join(f"W{i + 1} {_sci(r)}" for i, r in enumerate(ratios) if math.isfinite(r))
            + f"; healthy: about 1e-3): the learning rate is too low. Try --lr {self.lr * 10:g}"), 1)

    def _units(self, layer: LayerStats, full: bool) -> Iterator[Condition]:
        l = layer.layer
        if layer.dead is not None:
            dead = _median(s.layers[l - 1].dead or 0.0 for s in self.window)
            share = "all" if dead >= 1.0 else f"{dead:.0%}"
            yield (("dead", l), full and dead >= DEAD_SHARE, lambda: (
                f"layer {l}: {share} of its ReLU units are dead (off on every row of the batch; a median "
                f"over {WINDOW} steps){BELOW if dead >= 1 else ''}. Dead units pass no gradient and no step "
                "revives them. Try --init he, a smaller learning rate, --activation leaky-relu, or "
                "--standardize"), 1)
        if layer.saturated is not None:
            saturated = _median(s.layers[l - 1].saturated or 0.0 for s in self.window)
            f = self.arch.activation if self.arch else ""
            yield (("saturated", l), full and saturated >= SATURATED_SHARE, lambda: (
                f"layer {l}: {saturated:.0%} of its {f} activations are saturated (their derivative under "
                f"{SATURATED_SLOPE:.1%} of its peak; a median over {WINDOW} steps): the gradient through "
                "them all but stops. Try --init xavier or --standardize"), 1)

    def _streak(self, key: tuple[str, int | None], holds: bool, step: int, says: Callable[[], str],
                lasting: int) -> None:
        """A condition is said once it has held `lasting` steps in a row, with the step its
        streak started (a streak broken and begun again is not said twice: the first is the
        one that matters)."""
        if not holds:
            self.streaks.pop(key, None)
            return
        since = self.streaks.setdefault(key, step)
        if step - since + 1 >= lasting and key not in self.found:
            self._say(key, since, says())


def _weights(layers: list[int], ratios: list[float]) -> str:
    """"W1 by 2.8e+0 of its norm", "W1 and W3 by 7.4e-2 and 1.2e-1 of their norms"."""
    names = " and ".join(f"W{i + 1}" for i in layers)
    figures = " and ".join(_sci(r) for r in ratios)
    return f"{names} by {figures} of {'its norm' if len(layers) == 1 else 'their norms'}"


def _ratio(stats: StepStats, i: int) -> float:
    ratio = stats.layers[i].update_ratio
    return math.nan if ratio is None else ratio


def _median(values: Iterable[float]) -> float:
    """The median of the finite values (NaN when there are none): a window's few numbers,
    sorted in Python (NumPy's median costs more than the sort of ten)."""
    kept = sorted(v for v in values if math.isfinite(v))
    n = len(kept)
    if not n:
        return math.nan
    return kept[n // 2] if n % 2 else (kept[n // 2 - 1] + kept[n // 2]) / 2


def inputs_scale(data: Data) -> Verdict | None:
    """A notice before training: the training rows' features far from unit scale (none when
    the data were standardized)."""
    if data.standardized:
        return None
    X = np.asarray(data.dataset.X[data.dataset.train], dtype=np.float64)
    if X.size == 0:
        return None
    with np.errstate(all="ignore"):  # features near 1e308 have an infinite variance: far from 1
        mean, std = X.mean(axis=0), X.std(axis=0)
    low, high = FEATURE_SCALE
    far = [j for j in range(X.shape[1]) if not low <= std[j] <= high or abs(mean[j]) > high]
    if not far:
        return None
    shown = ", ".join(f"x{j + 1} mean {mean[j]:.3g} std {std[j]:.3g}" for j in far[:4])
    more = f" and {len(far) - 4} more" if len(far) > 4 else ""
    return Verdict("inputs", None, None,
                   f"the inputs are far from unit scale ({shown}{more}; healthy: mean near 0, std near 1): "
                   "the first layer's pre-activations start out of the activation's useful range and the "
                   "learning rate that suits one feature overshoots another. Try --standardize")

