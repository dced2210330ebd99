"""The headless report: the notebook's printout, and the JSON trace, of a run.

Imports no Textual, so a script or CI job pays only for NumPy.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.check.verdicts import ATOL, RTOL, Diagnosis, GradCheck, TensorCheck
from engine.data.batches import Data, Metrics
from engine.data.sets import Dataset
from engine.maths import network
from engine.maths.optimizers import TITLES
from engine.run import deadnet
from engine.run.stepper import RunningLoss, Saturation, State, Stepper
from engine.run.verdict import Tally
from engine.settings.config import SUMMARY_OVER, Config
from engine.settings.floats import Floats
from tui.output.health import health_json, health_lines, inputs_notice, step_health_json, tracker
from tui.text import class_key, number, printable, unsigned_zeros

if TYPE_CHECKING:
    from engine.explain.elements import Explanation
    from tui.output.sidecar import Sidecar

# engine.explain (the explanations, the origin of an inf or NaN) and engine.usermodel.contract
# are imported in the functions that use them: a report without --explain, without a
# diverged step and without a model file never needs them, and they cost start-up time.


def _shape(value: np.ndarray) -> str:
    """4x3, 4, (a 1-D array, as NumPy writes (4,)), or "scalar" for a 0-D one."""
    if value.ndim == 0:
        return "scalar"
    return "x".join(str(n) for n in value.shape) if value.ndim > 1 else f"{value.shape[0]},"


def _matrix(label: str, value: np.ndarray) -> str:
    # print(label + ":\n", array) in the notebook: a newline, a space, NumPy's str.
    return f"\n{label} ({_shape(value)}):\n {unsigned_zeros(value)}"


def _verdict_lines(check: GradCheck) -> list[str]:
    """The check's verdict: one line when it passed; else what failed or could not be
    judged, the worst element of each failing tensor, the kinks and the diagnosis."""
    rule = f"{check.method} method, eps {check.eps:g}, atol {check.atol:g}, rtol {RTOL:g}"
    if check.passed:
        return [f"Gradient check passed ({rule}).", *_rechecked_lines(check)]
    lines = _verdict_headings(check, rule) + _rechecked_lines(check)
    lines += [_worst_line(name, check.tensors[name]) for name in check.failed_names]
    inconsistent = [f"{name} {t.inconsistent_count}" for name, t in check.tensors.items()
                    if t.inconsistent_count]
    if inconsistent:
        lines.append(f"  kink elements whose analytic value lies outside their one-sided slopes: "
                     f"{', '.join(inconsistent)}")
    if check.diagnosis:
        lines.append("Diagnosis:")
    for entry in check.diagnosis:
        lines.append(f"  {entry.tensor}: {entry.kind} — {entry.detail}")
    return lines


def _rechecked_lines(check: GradCheck) -> list[str]:
    """The elements a second look cleared, by tensor (none when it cleared nothing), e.g.
    "  rechecked (failed at eps, judged again): W1 2 kink, 1 step; b1 1 step"."""
    parts = []
    for name, t in check.tensors.items():
        counts = [f"{t.rechecked_count(status)} {status}" for status in ("kink", "step", "unresolved")
                  if t.rechecked_count(status)]
        if counts:
            parts.append(f"{name} {', '.join(counts)}")
    return [f"  rechecked (failed at eps, judged again): {'; '.join(parts)}"] if parts else []


def _verdict_headings(check: GradCheck, rule: str) -> list[str]:
    """A line for the tensors that failed, one for those below the rounding floor, one for
    those whose every element straddles a kink (each only when there are some)."""
    lines = []
    if check.failed_names:
        lines.append(f"Gradient check FAILED on {', '.join(check.failed_names)} ({rule}).")
    close = [name for name in check.unresolved_names if check.tensors[name].rechecked_count("unresolved")]
    floor = [name for name in check.unresolved_names
             if check.tensors[name].unresolved.any() and name not in close]
    kinked = [name for name in check.unresolved_names if name not in floor and name not in close]
    if close:
        lines.append(f"Gradient check could not judge some elements of {', '.join(close)}: kinks lie "
                     f"closer to θ than the second look's step on both sides ({rule}).")
    if floor:
        lines.append(f"Gradient check could not resolve {', '.join(floor)}: "
                     f"gradients below the rounding floor ({rule}).")
    if kinked:
        lines.append(f"Gradient check could not judge {', '.join(kinked)}: every element straddles "
                     f"a kink ({rule}).")
    return lines


def _worst_line(name: str, t: TensorCheck) -> str:
    """A failing tensor's worst element: its analytic value against the numerical slope, or
    against the two one-sided slopes when it sits on a kink."""
    if t.worst_is_kink and t.one_sided is not None and t.worst_index is not None:
        left, right = (float(side[t.worst_index]) for side in t.one_sided)
        return (f"  worst {name}{list(t.worst_index)} (kink: inconsistent): analytic "
                f"{t.worst_analytic!r}, one-sided slopes {left!r} (left) and {right!r} (right) "
                f"({int(t.failing.sum())} failing element(s))")
    return (f"  worst {name}{list(t.worst_index or ())}: analytic {t.worst_analytic!r}, "
            f"numerical {t.worst_numerical!r} ({int(t.failing.sum())} failing element(s))")


def notebook_order(names: Iterable[str]) -> list[str]:
    """The weights first, then the rest (the biases), each in layer order: the notebook
    prints dW1, dW2, then db1, db2."""
    return sorted(names, key=lambda name: not name.startswith("W"))


def gradient_keys_json(stepper: Stepper) -> str:
    """The trace's "gradient_keys": "d" ('d' + name, as dW1) or "name" (as grads['W1'])."""
    return stepper.model.gradient_keys


def _convention_json(stepper: Stepper) -> dict[str, str]:
    """The head's "convention" and "convention_detail" for a course's file (a notebook-style
    file's head is what it always was)."""
    convention = stepper.model.convention
    if convention == "notebook":
        return {}
    return {"convention": convention, "convention_detail": stepper.model.described}


def config_json(config: Config, stepper: Stepper, first: State | None) -> dict[str, Any]:
    """The head's "config": the settings, with "classes" and "loss" the model's own
    (engine.run.picture): a cs231n file's softmax over max(2, classes) scores, a
    deeplearning.ai file's sigmoid or softmax, null where only a file's code knows them.
    A drawn x is left a Floats, for _config_json to write as an array."""
    out = config.as_dict(arrays=True)
    model = stepper.model
    if not model.user_code:
        return out
    state = first if first is not None else stepper.initial
    from engine.run import picture  # JSON only: start-up time for the text report

    seen = picture.of_state(True, model.convention, config.architecture, config.x, config.y, state)
    return out | {"classes": seen.classes, "loss": seen.loss}


def dead_line(state: State) -> list[str]:
    """The text report's line for a dead network (engine.run.deadnet), if it is one."""
    dead = deadnet.of_state(state)
    return [] if dead is None else [f"Dead network: {dead.message}."]


def model_line(stepper: Stepper) -> str:
    """The text report's first line for a user's model, e.g. "Model: net.py (its own
    init_params; gradients keyed by name, as grads['Wi'])". Needs the first backward
    done: only that shows how the file keys its gradients."""
    from engine.usermodel.contract import keys_words  # a model file's report only: see the imports

    model = stepper.model
    first = next(iter(stepper.initial.params))
    init = "its own init_params; " if model.own_init else ""
    convention = model.convention
    # What a file's outputs mean (probabilities, scores, which class) is its own to say.
    unmeasured = ("\n  accuracy: not measured for a model file (shown as —), only its loss"
                  if stepper.data is not None else "")
    if convention != "notebook":  # a course's file: how it was adapted, in a line of its own
        return (f"Model: {printable(model.name, oneline=True)} ({convention} convention; "
                f"gradients keyed {keys_words(model.gradient_keys, first)})\n"
                f"  {printable(model.described, oneline=True)}{unmeasured}")
    return (f"Model: {printable(model.name, oneline=True)} "
            f"({init}gradients keyed {keys_words(model.gradient_keys, first)}){unmeasured}")


# ---- learning from data ----------------------------------------------------------------

#: Rows of a batch the text report names before it abbreviates.
SHOWN_ROWS = 8
#: Lines a summary's table has at most: a longer run gets a line every k steps.
SUMMARY_LINES = 200


def trace_mode(config: Config) -> tuple[str, str]:
    """("full" or "summary", why): a run on data writes every tensor of every step unless it
    is long (over SUMMARY_OVER steps) or --trace summary asks; without data always full."""
    if not config.learns_from_data:
        return "full", ""
    if config.trace:
        return config.trace, f"--trace {config.trace}"
    if config.steps > SUMMARY_OVER:
        return "summary", f"over {SUMMARY_OVER} steps; --trace full for every tensor"
    return "full", f"{SUMMARY_OVER} steps or fewer; --trace summary for losses and accuracies only"


def data_source(config: Config) -> str:
    return config.dataset or os.path.basename(config.data)


def data_json(config: Config, data: Data) -> dict[str, Any]:
    """The trace head's "data": what was trained on and how it was split and batched."""
    dataset = data.dataset
    out: dict[str, Any] = {"name": data_source(config)}
    if config.dataset:
        out["noise"] = config.noise
    else:
        out["path"] = config.data
    named = {"class_names": list(dataset.class_names)} if dataset.class_names else {}
    return out | {"samples": dataset.samples, "features": dataset.features, "classes": dataset.classes,
                  "train": len(dataset.train), "test": len(dataset.test), "batch": data.batch,
                  "steps_per_epoch": data.steps_per_epoch, "standardized": data.standardized,
                  "test_fraction": config.test_fraction} | named


def data_line(config: Config, data: Data) -> str:
    """The text report's first line on data, e.g. "Data: moons, 200 samples (160 train, 40
    test), 2 features, 2 classes; batch 32 (5 steps an epoch), shuffled each epoch"."""
    dataset = data.dataset
    plan = (f"full batch: all {len(dataset.train)} training rows a step" if data.full_batch else
            f"batch {data.batch} ({data.steps_per_epoch} steps an epoch, shuffled each epoch from "
            f"the seed)")
    scaled = "; standardized by the training rows" if data.standardized else ""
    return (f"Data: {printable(data_source(config), oneline=True)}, {dataset.samples} samples "
            f"({len(dataset.train)} train, {len(dataset.test)} test), {dataset.features} feature(s)"
            f"{_named_features(data)}, "
            f"{dataset.classes} classes{_named_classes(dataset)}; {plan}{scaled}")


def _named_classes(dataset: Dataset) -> str:
    """With a CSV file's class names, each with its index: " (0 B, 1 M)"."""
    if not dataset.class_names:
        return ""
    return f" ({class_key(dataset.class_names)})"


def _named_features(data: Data) -> str:
    """With feature inputs, which: " (x1, x1², sin(x2) of each point)"."""
    if not data.features:
        return ""
    return f" ({', '.join(data.dataset.column_names)} of each point)"


def batch_words(rows: np.ndarray, data: Data) -> str:
    """A step's batch for a person: "all 160 training rows", or "32 rows: 17, 3, 88, …"."""
    if data.full_batch:
        return f"all {len(rows)} training rows"
    shown = ", ".join(str(int(r)) for r in rows[:SHOWN_ROWS])
    more = f", … ({len(rows) - SHOWN_ROWS} more)" if len(rows) > SHOWN_ROWS else ""
    return f"{len(rows)} row(s): {shown}{more}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _loss(value: float | None) -> str:
    return "—" if value is None else f"{value:.6g}"


def fit_line(metrics: Metrics) -> str:
    """The parameters' fit before the step's update."""
    test = "no test rows" if metrics.test_loss is None else \
        f"test loss {_loss(metrics.test_loss)}, accuracy {_percent(metrics.test_accuracy)}"
    return f"Before this update: train loss {_loss(metrics.train_loss)}, accuracy " \
           f"{_percent(metrics.train_accuracy)}; {test}"


def running_line(running: RunningLoss, period: int) -> str:
    """A step between whole-set measurements: the batch losses' running mean, named as such."""
    return (f"Whole sets not measured at this step (they are every {period} steps, and at the end); "
            f"{running.label()}: {_loss(running.mean)}")


def _running(running: RunningLoss | None) -> str:
    return "—" if running is None else f"{_loss(running.mean)} ({running.count})"


def summary_every(steps: int) -> int:
    return max(1, math.ceil(steps / SUMMARY_LINES))


def _check_word(state: State) -> str:
    dead = " (dead network)" if deadnet.of_state(state) is not None else ""
    if state.gradcheck is None:
        return "-" + dead
    return ("passed" if state.gradcheck.passed else "FAILED") + dead


def summary_report(config: Config, stepper: Stepper, finished: Iterable[State]) -> Iterator[str]:
    """A long run on data: one line a step (or every k steps, said in the heading) with the
    batch's loss, the fit to the training and test rows, and the check's verdict."""
    data = stepper.data
    assert data is not None
    every = summary_every(config.steps)
    _, why = trace_mode(config)
    head = [data_line(config, data), *penalty_line(stepper), f"trace: summary ({why})",
            "Loss and accuracy before each step's update; the batch's mean loss after it.",
            f"Train and test measured every {stepper.eval_period()} steps and at the end (— between); "
            "batch mean: the running mean of the batch losses since, over the last k steps (k)."]
    if every > 1:
        head.append(f"One line every {every} steps (and the last).")
    head.append(f"{'step':>7}  {'batch loss':>11}  {'after':>11}  {'batch mean (k)':>16}  "
                f"{'train loss':>10}  {'train acc':>9}  "
                f"{'test loss':>10}  {'test acc':>8}  check")
    head[1:1] = inputs_notice(data)
    last: State | None = None
    dead: list[str] = []  # the first dead step's line, said after the table
    first: State | None = None  # the first step that held inf or NaN
    health = tracker(stepper)
    for state in health.watch(finished):
        if last is None:  # a user's model is named once its first step shows its conventions
            model = [model_line(stepper)] if stepper.model.name != "built-in" else []
            yield "\n".join(model + head)
        last = state
        if not dead and (dead := dead_line(state)):
            dead = [f"At step {state.step}: {dead[0]}"]
        if first is None and state.nonfinite():
            first = state
        if state.step % every and state.step != 1 and state.step != config.steps:
            continue
        yield _summary_row(state)
    yield from dead
    if last is not None:
        yield from _summary_end(stepper, last, first)
    if section := health_lines(health, data):
        yield "\n".join(section)


def _summary_end(stepper: Stepper, last: State, first: State | None) -> list[str]:
    """Under the table: where a diverged run stands, and the origin of its first inf or NaN
    (at the step where it first diverged: later steps only inherit it); or a saturated output."""
    if first is not None:
        now = last.nonfinite() or first.nonfinite()
        at = last if last.nonfinite() else first
        since = "" if first is at else f" It first diverged at step {first.step}."
        return ["\n".join([f"Diverged at step {at.step}: non-finite values in {', '.join(now)}.{since}",
                           *origin_lines(stepper, first)])]
    saturated = stepper.saturation(last)
    return [] if saturated is None else [f"At step {last.step}: {saturated.message()}"]


def _summary_row(state: State) -> str:
    assert state.forward is not None and state.update is not None
    m = state.forward.metrics
    train_loss, train_acc, test_loss, test_acc = (None, None, None, None) if m is None else \
        (m.train_loss, m.train_accuracy, m.test_loss, m.test_accuracy)
    return (f"{state.step:>7}  {_loss(state.forward.loss):>11}  {_loss(state.update.loss_after):>11}  "
            f"{_running(state.forward.running):>16}  {_loss(train_loss):>10}  {_percent(train_acc):>9}  "
            f"{_loss(test_loss):>10}  "
            f"{_percent(test_acc):>8}  {_check_word(state)}")


def text_report(config: Config, stepper: Stepper, finished: Iterable[State]) -> Iterator[str]:
    """The notebook's report, a step at a time, with the biases added and a verdict line.
    A user's model is named first, with its conventions (known after the first step).
    On data, each step also names its batch and the fit to the training and test rows; a
    summary trace is a table of a line a step instead."""
    data = stepper.data
    if data is not None and trace_mode(config)[0] == "summary":
        yield from summary_report(config, stepper, finished)
        return
    several = config.steps > 1
    health = tracker(stepper)
    if data is not None:  # the health of a run on data: the single sample's run has none
        finished = health.watch(finished)
    for state in finished:
        if state.step == 1 and stepper.model.name != "built-in":
            yield model_line(stepper)
        if state.step == 1 and data is not None:
            yield "\n".join([data_line(config, data), *inputs_notice(data)])
        yield "\n".join(_step_lines(stepper, state, several))
        del state  # not held while the next step is computed (iter_steps: constant memory)
    if data is not None and (section := health_lines(health, data)):
        yield "\n".join(section)


def _step_lines(stepper: Stepper, state: State, several: bool) -> list[str]:
    """One step as the notebook prints it: the loss, the gradients, the check, the updated
    parameters and the loss after."""
    assert state.forward is not None and state.backward is not None and state.update is not None
    lines: list[str] = []
    if several:
        lines.append(f"{'' if state.step == 1 else chr(10)}=== Step {state.step} ===")
    lines += _loss_lines(stepper, state)
    for name in notebook_order(state.params):
        lines.append(_matrix(f"Analytic gradient d{name}", np.asarray(state.backward["d" + name])))
    lines += dead_line(state)  # before the check, whose diagnosis names single tensors
    if state.gradcheck is not None:
        lines.append("\nMax absolute difference between analytic and numerical gradients:")
        for name, t in state.gradcheck.tensors.items():
            kinks = f" ({t.kink_count} kink element(s) left out)" if t.kink_count else ""
            lines.append(f"{name}: {t.max_abs_diff!r}{kinks}")
        lines.extend(_verdict_lines(state.gradcheck))
        lines.extend(state.gradcheck.notes)
    for name in notebook_order(state.update.after):
        lines.append(_matrix(f"Updated {name}", np.asarray(state.update.after[name])))
    title = TITLES[stepper.config.optimizer]
    lines += _optimizer_lines(state, title)
    return lines + _after_lines(stepper, state, several, title)


def _optimizer_lines(state: State, title: str) -> list[str]:
    """The optimizer's state after the update (its moments, Adam's t and m̂, v̂) and the
    learning rate it used, and which rule made it when a user's file brought its own;
    nothing for plain SGD by the stepper, whose report is the notebook's."""
    update = state.update
    assert update is not None
    lines = []
    if update.optim_after:
        lines.append(f"\nLearning rate of this update: {update.lr!r}")
    for name, value in (update.optim_after | update.cached).items():
        lines.append(f"{name} = {int(value)}" if name == "t" else _matrix(name, np.asarray(value)))
    if update.rule:
        agree = "they differ" if update.diagnosis else "they agree"
        lines.append(f"\nUpdated by the file's own rule, {update.rule}, held against {title}'s from the "
                     f"same numbers: {agree}.")
    if update.diagnosis:
        lines.append("\nThe update differs from its rule. Diagnosis:")
        lines += [f"  {entry.tensor}: {entry.kind} — {entry.detail}" for entry in update.diagnosis]
    return lines


def _loss_lines(stepper: Stepper, state: State) -> list[str]:
    """The step's loss before its update; on data, its batch first and the fit after; a
    saturated output's warning."""
    assert state.forward is not None
    data = stepper.data
    lines: list[str] = []
    if data is not None and state.forward.rows is not None:
        lines.append(f"Batch (epoch {data.epoch(state.step)}): {batch_words(state.forward.rows, data)}")
    label = "Initial loss:" if state.step == 1 else f"Loss before step {state.step}:"
    mean = " (the batch's mean)" if data is not None else ""
    lines.append(f"{label} {state.forward.loss!r}{mean}{_penalty_words(stepper, state)}")
    if state.forward.metrics is not None:
        lines.append(fit_line(state.forward.metrics))
    elif state.forward.running is not None:
        lines.append(running_line(state.forward.running, stepper.eval_period()))
    saturated = stepper.saturation(state)
    if saturated is not None:
        lines.append(saturated.message())
    return lines


def _rates(stepper: Stepper) -> str | None:
    """"l1 0, l2 0.01": the built-in network's penalty rates, None without any."""
    arch = stepper.config.architecture
    return None if stepper.model.user_code or not arch.penalised else f"l1 {arch.l1:g}, l2 {arch.l2:g}"


def penalty_line(stepper: Stepper) -> list[str]:
    """A summary's line on the penalty: which of its losses include it."""
    rates = _rates(stepper)
    if rates is None:
        return []
    return [f"Regularisation: {rates}; the batch losses include the weights' penalty, the train and "
            "test losses are data losses."]


def _penalty_words(stepper: Stepper, state: State) -> str:
    """How a step's loss splits into its data loss and the weights' penalty (the loss is the
    objective, engine.maths.penalty); under the penalty-loss drill, that it has no penalty."""
    rates = _rates(stepper)
    if rates is None or state.forward is None:
        return ""
    if network.drill(stepper.model.bug).unpenalised_loss:
        return f" (the data loss alone: the penalty-loss drill leaves out the penalty of {rates})"
    used = state.update.before if state.update is not None else state.params
    penalty = network.penalty_of(stepper.config.architecture, used)
    return f" (data loss {state.forward.loss - penalty:.10g} + penalty {penalty:.10g}: {rates})"


def origin_lines(stepper: Stepper, state: State) -> list[str]:
    """Where a diverged state's first inf or NaN came from (engine.explain.origin): the
    element, its phase and what overflowed, then its derivation with the numbers."""
    from engine.explain.origin import origin_of  # a diverged step only: see the imports

    found = origin_of(stepper, state)
    return [] if found is None else found.sentences()


def _after_lines(stepper: Stepper, state: State, several: bool, title: str = "SGD") -> list[str]:
    """The loss after the step's update (by the optimizer `title` names), and whether it went
    down (or diverged, and from which element)."""
    assert state.forward is not None and state.update is not None
    after = state.update.loss_after
    which = f"one {title} step" if not several else f"{title} step {state.step}"
    lines = [f"\nFinal loss after {which}: {after!r}"]
    if state.nonfinite():
        lines.append(f"Diverged: non-finite values in {', '.join(state.nonfinite())}.")
        lines += origin_lines(stepper, state)
    elif after < state.forward.loss:
        lines.append(f"Loss decreased after the {title} update.")
    else:
        lines.append(f"Loss did not decrease after the {title} update."
                     + ("" if several else " (Possible with a single step)"))
    return lines


#: Lines --quiet prints at most before its summary: a drill failing at every step of a long
#: run would otherwise fill a CI log with four lines a step.
QUIET_LINES = 100


def quiet_report(tally: Tally, finished: Iterable[State]) -> Iterator[str]:
    """--quiet: a line per failing tensor and one where the run first diverged, as the steps
    run (at most QUIET_LINES, then how many more), and the run's verdict in one last line.
    The steps are counted into `tally`, whose status the command line exits with."""
    shown = more = 0
    for state in finished:
        verdict = tally.add(state)
        lines = [failure.line() for failure in verdict.failures] + verdict.update_lines()
        if verdict is tally.first_diverged:
            lines.append(verdict.diverged_line())
        for line in lines:
            if shown < QUIET_LINES:
                shown += 1
                yield line
            else:
                more += 1
        del state  # not held while the next step is computed (iter_steps: constant memory)
    if more:
        yield f"… and {more:,} more line(s) like these"
    yield tally.summary()


#: Arrays of more elements are written a chunk at a time (tui.output.jsontext) by json_report.
STREAMED = 4096


class _Json:
    """Turns arrays and floats into strict JSON values, and records every non-finite or
    non-numeric value once per place (not once per step, so a long diverged run stays small).

    With `stream` (json_report's), an array of more than STREAMED elements is left an array,
    wrapped to be written a chunk at a time (tui.output.jsontext), and with a `sidecar` one
    of more than its limit goes to the .npz beside the trace (tui.output.sidecar), a
    reference to it in its place."""

    def __init__(self, saturation: Callable[[State], Saturation | None] | None = None, stream: bool = False,
                 sidecar: Sidecar | None = None) -> None:
        self.problems: dict[str, list[int]] = {}  # message -> [count, first step]
        self.step = 0
        #: The stepper's judge of a saturated output, warned about once per step it holds in.
        self.saturation = saturation
        self.stream = stream
        self.sidecar = sidecar

    def judge(self, state: State) -> None:
        saturated = None if self.saturation is None else self.saturation(state)
        if saturated is not None:
            self.warn(saturated.warning())

    def warn(self, message: str) -> None:
        seen = self.problems.setdefault(message, [0, self.step])
        seen[0] += 1

    @property
    def warnings(self) -> list[str]:
        return [message if not first else
                f"{message} in {count} step(s), first in step {first}"
                for message, (count, first) in self.problems.items()]

    def value(self, value: Any, where: str) -> Any:
        if isinstance(value, np.ndarray | np.generic | float) and np.asarray(value).dtype.kind in "biuf":
            return self._numbers(np.asarray(value), where)
        if value is None or isinstance(value, str | int | bool):
            return value
        if isinstance(value, list | tuple):
            return [self.value(v, where) for v in value]
        import json  # the JSON report's alone: the text report's start-up does not pay for it

        try:  # a user model's cache may hold anything; the trace must stay valid JSON
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            self.warn(f"{where}: not a number or array; written as its repr")
            return repr(value)
        return value

    def _numbers(self, array: np.ndarray, where: str) -> Any:
        """A number or an array: plain Python numbers (tolist gives plain ints and bools, at
        any width), a Streamed array, or a reference into the sidecar."""
        from tui.output.jsontext import Streamed  # JSON only: start-up time for the text report

        if self.sidecar is not None and self.sidecar.takes(array):
            return self._aside(array, where)
        streamed = self.stream and array.ndim > 0 and array.size > STREAMED
        if array.dtype.kind in "biu":
            return Streamed(array) if streamed else array.tolist()
        array = self._float64(array, where)
        finite = np.isfinite(array)
        if not finite.all():
            self.warn(f"{where}: non-finite values written as null (an overflow, or a diverging run)")
            if not array.ndim:
                return None
            return Streamed(array) if streamed else np.where(finite, array, None).tolist()  # type: ignore[call-overload]
        return Streamed(array) if streamed else array.tolist()

    def _aside(self, array: np.ndarray, where: str) -> dict[str, Any]:
        """The array into the sidecar, exactly; the reference to it in its place."""
        assert self.sidecar is not None
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            self.warn(f"{where}: non-finite values (an overflow, or a diverging run), kept as they are "
                      f"in {self.sidecar.name}")
        return self.sidecar.add(where if self.step == 0 else f"step{self.step}.{where}", array)

    def _float64(self, array: np.ndarray, where: str) -> np.ndarray:
        """A long double array as float64 (tolist would keep it, and JSON has no such type),
        with a warning for values beyond float64's range; any other float array as it is."""
        if array.dtype.itemsize <= 8:
            return array
        with np.errstate(over="ignore"):
            narrow = array.astype(np.float64)
        if (np.isinf(narrow) & np.isfinite(array)).any():
            self.warn(f"{where}: long double values beyond float64's range written as null")
        return narrow

    def tensors(self, tensors: dict[str, Any], where: str) -> dict[str, Any]:
        return {name: self.value(v, f"{where}.{name}") for name, v in tensors.items()}


def _gradcheck_json(check: GradCheck, out: _Json) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, t in check.tensors.items():
        here = f"gradcheck.{name}"
        result[name] = {
            "numerical": out.value(t.numerical, f"{here}.numerical"),
            "max_abs_diff": out.value(t.max_abs_diff, f"{here}.max_abs_diff"),
            "max_rel_error": out.value(t.max_rel_error, f"{here}.max_rel_error"),
            "passed": t.passed,
            "verdict": t.verdict,
            "worst_index": list(t.worst_index) if t.worst_index is not None else None,
            "worst_analytic": out.value(t.worst_analytic, f"{here}.worst_analytic"),
            "worst_numerical": out.value(t.worst_numerical, f"{here}.worst_numerical"),
            "kinks": t.kink_count,
            "kinks_inconsistent": t.inconsistent_count,
            "failing": int(t.failing.sum()),
            "unresolved": int(t.unresolved.sum()),
        } | _rechecked_json(t, out, here)
    return result | {"method": check.method, "eps": out.value(check.eps, "gradcheck.eps"),
                     "atol": out.value(check.atol, "gradcheck.atol"),
                     "passed": check.passed, "notes": list(check.notes),
                     "diagnosis": [_diagnosis_json(entry, out) for entry in check.diagnosis]}


def _rechecked_json(t: TensorCheck, out: _Json, here: str) -> dict[str, Any]:
    """"rechecked": each element judged a second time, with its status ("rechecked: kink",
    "rechecked: step", "rechecked: unresolved" or "rechecked: fail") and the slopes that
    decided it; only for a tensor whose second look cleared some element (a built-in
    network's trace is as it was)."""
    if not any(r.cleared for r in t.rechecked):
        return {}
    return {"rechecked": [
        {"index": list(r.index), "status": r.label,
         "left": out.value(r.left, f"{here}.rechecked.left"),
         "right": out.value(r.right, f"{here}.rechecked.right"),
         "one_sided_step": out.value(r.sides_step, f"{here}.rechecked.one_sided_step"),
         "step": out.value(r.step, f"{here}.rechecked.step"),
         "numerical_at_step": out.value(r.slope_at_step, f"{here}.rechecked.numerical_at_step")}
        for r in t.rechecked]}


def _diagnosis_json(entry: Diagnosis, out: _Json) -> dict[str, Any]:
    """{tensor, kind, detail}, with factor (a scale's constant) and enters (the first wrong
    intermediate) where known."""
    result: dict[str, Any] = {"tensor": entry.tensor, "kind": entry.kind, "detail": entry.detail}
    if entry.factor is not None:
        result["factor"] = out.value(entry.factor, f"gradcheck.diagnosis.{entry.tensor}.factor")
    if entry.enters is not None:
        result["enters"] = entry.enters
    return result


def _step_json(state: State, out: _Json) -> dict[str, Any]:
    """A step's tensors; a phase not run yet (the app's state mid-step) is null."""
    out.step = state.step
    if state.nonfinite():
        out.warn(f"the run diverged: non-finite values in {', '.join(state.nonfinite())}")
    out.judge(state)
    forward, backward, update = state.forward, state.backward, state.update
    return {
        "step": state.step,
        "forward": None if forward is None else out.tensors(forward.cache, "forward")
        | {"loss": out.value(forward.loss, "forward.loss")},
        "backward": None if backward is None else out.tensors(backward, "backward"),
        "gradcheck": None if state.gradcheck is None else _gradcheck_json(state.gradcheck, out),
        "update": None if update is None else out.tensors(dict(update.after), "update")
        | {"loss_after": out.value(update.loss_after, "update.loss_after")},
    } | _optimizer_json(state, out) | _dead_json(state)


def _optimizer_json(state: State, out: _Json) -> dict[str, Any]:
    """{"optimizer": {"lr", its state's tensors (v_W1, m_W1, t, ...), Adam's mhat_W1, vhat_W1}}
    once a step's update has a state; the state the step started from, before its update;
    nothing for plain SGD, whose trace is what it always was."""
    update = state.update
    if update is not None and (update.optim_after or update.rule):
        diagnosis = ({"diagnosis": [_diagnosis_json(e, out) for e in update.diagnosis]}
                     if update.diagnosis else {})
        rule = {"rule": update.rule} if update.rule else {}
        return {"optimizer": {"lr": out.value(update.lr, "optimizer.lr")} | rule
                | out.tensors(dict(update.optim_after | update.cached), "optimizer") | diagnosis}
    if state.optim:
        return {"optimizer": out.tensors(dict(state.optim), "optimizer")}
    return {}


def _dead_json(state: State) -> dict[str, Any]:
    """{"dead": {message, stops_at, layer}} for a dead network's step; nothing otherwise,
    so a live network's trace is what it always was."""
    dead = deadnet.of_state(state)
    return {} if dead is None else {"dead": dead.as_dict()}


def _origin_json(stepper: Stepper, state: State) -> dict[str, Any]:
    """{"origin": {tensor, index, value, phase, cause, why, ...}} for a step holding inf or
    NaN: its first non-finite element (engine.explain.origin); nothing for a finite step,
    so a run that converges has the trace it always had."""
    if not state.nonfinite():
        return {}
    from engine.explain.origin import origin_of  # a diverged step only: see the imports

    found = origin_of(stepper, state)
    return {} if found is None else {"origin": found.as_dict()}


def _metrics_json(metrics: Metrics | None, out: _Json) -> dict[str, Any] | None:
    if metrics is None:
        return None
    return {key: out.value(getattr(metrics, key), f"metrics.{key}")
            for key in ("train_loss", "train_accuracy", "test_loss", "test_accuracy")}


def _data_step_json(state: State, out: _Json) -> dict[str, Any]:
    """What a step on data adds: its batch (dataset row indices), its loss, and the fit."""
    rows = None if state.forward is None else state.forward.rows
    metrics = None if state.forward is None else state.forward.metrics
    return {"batch": [] if rows is None else out.value(rows, "batch"),
            "loss": None if state.forward is None else out.value(state.forward.loss, "loss"),
            "accuracy": None if metrics is None else out.value(metrics.train_accuracy, "accuracy"),
            "metrics": _metrics_json(metrics, out), **_running_json(state, out)}


def _running_json(state: State, out: _Json) -> dict[str, Any]:
    """A step between whole-set measurements (its "metrics" null): the batch losses' running mean."""
    running = None if state.forward is None or state.forward.metrics is not None else state.forward.running
    if running is None:
        return {}
    return {"running_loss": {"label": running.label(), "mean": out.value(running.mean, "running_loss.mean"),
                             "steps": running.count}}


def _summary_step_json(state: State, out: _Json) -> dict[str, Any]:
    """A summary trace's step: losses and accuracies, no tensors."""
    assert state.update is not None
    out.step = state.step
    if state.nonfinite():
        out.warn(f"the run diverged: non-finite values in {', '.join(state.nonfinite())}")
    out.judge(state)
    return {"step": state.step} | _data_step_json(state, out) | {
        "loss_after": out.value(state.update.loss_after, "update.loss_after"),
        "gradcheck_passed": None if state.gradcheck is None else state.gradcheck.passed} \
        | _dead_json(state)


def json_report(config: Config, stepper: Stepper, finished: Iterable[State],
                explain: Callable[[], list[Explanation]] | None = None,
                continues: dict[str, Any] | None = None, sidecar: Sidecar | None = None) -> Iterator[str]:
    """One strict JSON object (RFC 8259), written a step at a time and each large array a
    chunk at a time (tui.output.jsontext), so memory does not grow with the run or the
    network: NaN and infinity become null, explained in "warnings", which comes last
    because it is known last. With `explain` (--explain), its explanations of the final
    state come before it. With a `sidecar`, arrays over its limit are written there and
    referred to (tui.output.sidecar)."""
    from tui.output import jsontext  # here: the text report's start-up pays for no JSON writer

    out = _Json(stepper.saturation, stream=True, sidecar=sidecar)
    steps = iter(finished)
    first = next(steps, None)  # the head says how backward keys its gradients: one backward shows it
    initial = stepper.initial.params
    head = {
        "config": _config_json(config, stepper, first, out),
        "model": stepper.model.name,
        "gradient_keys": gradient_keys_json(stepper),
        "own_init_params": stepper.model.own_init,
        **_convention_json(stepper),
        "gradcheck_rule": {"atol": ATOL, "rtol": RTOL,
                           "rule": "|a - n| <= atol + rtol * max(|a|, |n|)"},
        "param_shapes": {name: list(np.shape(value)) for name, value in initial.items()},
        "initial_params": out.tensors(dict(initial), "initial_params"),
    }
    data = stepper.data
    mode, why = trace_mode(config)
    if data is not None:  # without data the head is what it always was
        head |= {"data": data_json(config, data), "trace": mode, "trace_reason": why}
    if continues is not None:  # --session: the steps continue a saved session
        head["session"] = continues

    health = tracker(stepper)

    def record(state: State) -> dict[str, Any]:
        if data is None:
            return _step_json(state, out) | _origin_json(stepper, state)
        stats = {"health": step_health_json(health.add(state))}
        if mode == "summary":
            return _summary_step_json(state, out) | stats | _origin_json(stepper, state)
        full = _step_json(state, out)
        return {"step": full.pop("step")} | _data_step_json(state, out) | stats | full | \
            _origin_json(stepper, state)

    states = iter(()) if first is None else _prepended(first, steps)
    del first  # held, the first step's tensors would stay in memory to the end of a long run
    yield from _opened(jsontext.chunks(head))
    del head, initial
    if not stepper.max_history:  # no undo, no session to record (tui.cli.headless): written, not kept
        stepper.let_go_of_start()
    yield ', "steps": ['
    yield from _steps_text(states, record)
    tail: dict[str, Any] = {}
    if data is not None:
        tail["health"] = health_json(health, data)
    if explain is not None:
        tail["explanations"] = [explanation_json(e, out) for e in explain()]
    tail["warnings"] = out.warnings
    yield "], " + "".join(jsontext.chunks(tail))[1:]


def _steps_text(states: Iterator[State], record: Callable[[State], dict[str, Any]]) -> Iterator[str]:
    """The steps' objects, ", " between them, each let go of before the next is computed
    (iter_steps: constant memory); not by enumerate, whose reused tuple holds the step before."""
    from tui.output import jsontext  # JSON only: start-up time for the text report

    between = ""
    for state in states:
        if between:
            yield between
        between = ", "
        yield from jsontext.chunks(record(state))
        del state


def _prepended(first: State, rest: Iterator[State]) -> Iterator[State]:
    """first, then rest, holding first no longer than its turn: itertools.chain's tuple of
    arguments would hold the first step's tensors to the end of the run."""
    yield first
    del first
    yield from rest


def _config_json(config: Config, stepper: Stepper, first: State | None, out: _Json) -> dict[str, Any]:
    """The head's "config"; with a sidecar, a sample too large for the JSON (a million
    inputs') goes to it as an array would. A drawn x is written as the array it is (streamed,
    the same text as its list), never made a list of Python floats."""
    settings = config_json(config, stepper, first)
    x = settings.get("x", ())
    if isinstance(x, Floats) or (out.sidecar is not None and len(x) > out.sidecar.limit):
        settings["x"] = out.value(np.asarray(x, dtype=np.float64), "config.x")
    return settings


def _opened(pieces: Iterator[str]) -> Iterator[str]:
    """An object's text without its closing brace, for more keys to follow."""
    last = next(pieces)
    for piece in pieces:
        yield last
        last = piece
    yield last[:-1]


def state_json(config: Config, stepper: Stepper, state: State) -> str:
    """The app's export of the state on screen: the object `--format json` writes, its
    "steps" the one step on screen with every tensor (a phase not run yet is null), and
    "on_screen" saying where in the step it is, with the parameters of that moment."""
    import json  # the app's export alone: not the app's or the text report's start-up

    full = replace(config, trace="full") if config.learns_from_data else config
    report = json.loads("".join(json_report(full, stepper, [state])))
    out = _Json()
    report["on_screen"] = {"step": state.step,
                           "phase": None if state.last_phase is None else state.last_phase.value,
                           "params": out.tensors(dict(state.params), "params")}
    report["warnings"] = report.pop("warnings") + out.warnings
    return json.dumps(report, allow_nan=False)


# ---- --explain: why an element of the final state is what it is ------------------------

EXPLAIN_HEADING = "Why is this number what it is?"


def explanation_lines(e: Explanation) -> list[str]:
    """One explanation as the text report prints it: the element and its exact value, then
    formula, substituted numbers, chain, terms (the largest first past SHOWN_TERMS),
    notes and verdict, each under its label."""
    from engine.explain.elements import SHOWN_TERMS, element_label, num  # --explain only: see the imports

    lines = [f"{element_label(e.tensor, e.index)} = {number(e.value)}",
             f"  formula:      {e.formula}",
             f"  substituted:  {e.substituted}"]
    lines += [f"  {'chain:' if k == 0 else '':<13} {line}" for k, line in enumerate(e.chain)]
    terms = sorted(e.terms, key=lambda t: -abs(t.value)) if len(e.terms) > SHOWN_TERMS else list(e.terms)
    for k, term in enumerate(terms[:SHOWN_TERMS]):
        lines.append(f"  {'terms:' if k == 0 else '':<13} {term.label} = {num(term.value)}")
    if len(terms) > SHOWN_TERMS:
        lines.append(f"  {'':<13} + {len(terms) - SHOWN_TERMS} more terms")
    lines += [f"  {'notes:' if k == 0 else '':<13} {note}" for k, note in enumerate(e.notes)]
    if e.verdict is not None:
        lines.append(f"  verdict:      {e.verdict}")
    return lines


def explanations_text(explanations: list[Explanation]) -> str:
    """The block the text report ends with."""
    lines = [f"\n{EXPLAIN_HEADING}"]
    for e in explanations:
        lines += ["", *explanation_lines(e)]
    return "\n".join(lines)


def explanation_json(e: Explanation, out: _Json) -> dict[str, Any]:
    from engine.explain.elements import element_label  # --explain only: see the imports

    where = f"explanations.{element_label(e.tensor, e.index)}"
    result: dict[str, Any] = {
        "tensor": e.tensor, "index": list(e.index), "value": out.value(e.value, where),
        "formula": e.formula, "substituted": e.substituted,
        "terms": [{"label": t.label, "value": out.value(t.value, where)} for t in e.terms],
        "sources": [{"tensor": s.tensor, "index": list(s.index)} for s in e.sources],
    }
    if e.chain:
        result["chain"] = list(e.chain)
    if e.notes:
        result["notes"] = list(e.notes)
    if e.verdict is not None:
        result["verdict"] = e.verdict
    return result
