"""Whether a run passed: each step's verdict, and the run's, as a build reads them.

A step fails when its gradient check failed on any tensor (a FAILED verdict; an element the
check could not resolve, or a kink left out, is no failure: nothing says the gradient is
wrong), when a diagnosis was made (of the gradients, or of an update that broke its rule
under one of the update's fault drills), or when the step holds inf or NaN (the run diverged:
checks of non-finite numbers prove nothing, and a model that overflows is not working). A
step that was not checked (--no-gradcheck, --check-every) passes unless it diverged.

The run's verdict is one exit status, the same for the built-in network, a fault drill, a
user's model and a run on data: 0 every step passed, 1 one did not (tui.cli.headless and
the test-suite entry point tui.verify both read it from here, so they cannot disagree).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from engine.check.verdicts import Diagnosis, GradCheck
from engine.run.stepper import State

#: The exit status of a run whose every step passed, and of one where a step did not.
PASSED, FAILED = 0, 1


@dataclass(frozen=True)
class TensorFailure:
    """One tensor whose gradient check failed at one step: its parameter's name as the check
    names it (W1), the largest relative error |a - n| / max(|a|, |n|) of its elements off the
    kinks, its kink elements whose analytic value lies outside their one-sided slopes, and
    the diagnosis's kind and entry point when one was made for it."""

    step: int
    tensor: str
    rel_error: float
    inconsistent_kinks: int = 0
    kind: str | None = None
    enters: str | None = None

    def line(self) -> str:
        """One line for a CI log: "step 3: W1 FAILED, relative error 2 (sign, enters at dz2)"."""
        kinks = f", {self.inconsistent_kinks} kink element(s) inconsistent" if self.inconsistent_kinks else ""
        why = [self.kind] if self.kind else []
        if self.enters:
            why.append(f"enters at {self.enters}")
        said = f" ({', '.join(why)})" if why else ""
        return f"step {self.step}: {self.tensor} FAILED, relative error {self.rel_error:.3g}{kinks}{said}"


@dataclass(frozen=True)
class StepVerdict:
    """A step's verdict: whether it was checked, what failed and why, what the check could
    not resolve (no failure), the tensors holding inf or NaN, and where the first of those
    came from in one line (engine.explain.origin's, when the tally was given it)."""

    step: int
    checked: bool
    failures: tuple[TensorFailure, ...] = ()
    diagnosis: tuple[Diagnosis, ...] = ()
    unresolved: tuple[str, ...] = ()
    nonfinite: tuple[str, ...] = ()
    origin: str | None = None  # "first non-finite: z2[0] = inf (W2[0,3]·a1[3] overflowed)"
    #: The update's diagnosis: parameters whose update is not their rule's (Update.diagnosis).
    update: tuple[Diagnosis, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failures and not self.diagnosis and not self.nonfinite and not self.update

    def update_lines(self) -> list[str]:
        """One line a parameter whose update broke its rule: "step 2: W1's update: no-bias-correction"."""
        return [f"step {self.step}: {entry.tensor}'s update differs from its rule ({entry.kind})"
                for entry in self.update]

    def diverged_line(self) -> str:
        """"step 2: diverged: non-finite values in z2, a2, loss; first non-finite: z2[0] = inf
        (W2[0,3]·a1[3] overflowed)"."""
        origin = f"; {self.origin}" if self.origin else ""
        return f"step {self.step}: diverged: non-finite values in {', '.join(self.nonfinite)}{origin}"

    @classmethod
    def of(cls, state: State) -> StepVerdict:
        """The verdict of a finished step (the state after its update)."""
        check = state.gradcheck
        update = () if state.update is None else state.update.diagnosis
        if check is None:
            return cls(state.step, False, nonfinite=tuple(state.nonfinite()), update=update)
        return cls(state.step, True, _failures(state.step, check), check.diagnosis,
                   tuple(check.unresolved_names), tuple(state.nonfinite()), update=update)


def _failures(step: int, check: GradCheck) -> tuple[TensorFailure, ...]:
    found = {entry.tensor: entry for entry in check.diagnosis}
    out = []
    for name in check.failed_names:
        tensor, entry = check.tensors[name], found.get(name)
        out.append(TensorFailure(step, name, tensor.max_rel_error, tensor.inconsistent_count,
                                 None if entry is None else entry.kind,
                                 None if entry is None else entry.enters))
    return tuple(out)


class Tally:
    """A run's verdicts counted as its steps go by, in constant memory (a report of a
    million steps keeps counts, the first failure and the first divergence); with `keep`,
    every step's verdict too, for a caller that asked for a few steps. `origin` says in one
    line where a diverged state's first inf or NaN came from (the run layer cannot: the
    explanations are above it); asked of the first diverged step, and of every kept one."""

    def __init__(self, keep: bool = False, origin: Callable[[State], str | None] | None = None) -> None:
        self.keep = keep
        self.origin = origin
        self.kept: list[StepVerdict] = []
        self.steps = self.checked = self.failed_steps = 0
        self.first_failed: StepVerdict | None = None
        self.first_diverged: StepVerdict | None = None
        self.failed_tensors: dict[str, None] = {}  # every tensor that failed, in order met
        self.update_failed_steps = 0
        self.first_update_failed: StepVerdict | None = None
        self.update_kinds: dict[str, None] = {}  # the update's diagnosis kinds, in order met

    def add(self, state: State) -> StepVerdict:
        verdict = StepVerdict.of(state)
        if verdict.nonfinite and self.origin is not None and (self.keep or self.first_diverged is None):
            verdict = replace(verdict, origin=self.origin(state))
        self.steps += 1
        self.checked += verdict.checked
        if verdict.failures or verdict.diagnosis:
            self.failed_steps += 1
            self.first_failed = self.first_failed or verdict
            self.failed_tensors |= dict.fromkeys(f.tensor for f in verdict.failures)
        if verdict.update:
            self.update_failed_steps += 1
            self.first_update_failed = self.first_update_failed or verdict
            self.update_kinds |= dict.fromkeys(entry.kind for entry in verdict.update)
        if verdict.nonfinite and self.first_diverged is None:
            self.first_diverged = verdict
        if self.keep:
            self.kept.append(verdict)
        return verdict

    def watch(self, states: Iterable[State]) -> Iterator[State]:
        """The states as they come, each counted on its way through (a report's stream)."""
        for state in states:
            self.add(state)
            yield state
            del state  # not held while the next step is computed: it would keep this one's arrays

    @property
    def passed(self) -> bool:
        return self.first_failed is None and self.first_diverged is None and self.first_update_failed is None

    @property
    def status(self) -> int:
        return PASSED if self.passed else FAILED

    def summary(self) -> str:
        """The run's verdict in one line, e.g. "passed: every gradient check passed (10 of 10
        steps checked)" or "FAILED: gradient check failed on W1, b1 at 10 of 10 checked
        steps, first at step 1 (10 steps run)"."""
        steps = f"{self.steps:,} step{'s' * (self.steps != 1)}"
        if self.passed:
            if not self.checked:
                return f"passed: {steps} run, none checked"
            return f"passed: every gradient check passed ({self.checked:,} of {steps} checked)"
        said = []
        if self.first_failed is not None:
            said.append(f"gradient check failed on {', '.join(self.failed_tensors) or 'a diagnosed tensor'} "
                        f"at {self.failed_steps:,} of {self.checked:,} checked steps, first at step "
                        f"{self.first_failed.step}")
        if self.first_update_failed is not None:
            said.append(f"the update broke its rule ({', '.join(self.update_kinds)}) at "
                        f"{self.update_failed_steps:,} step{'s' * (self.update_failed_steps != 1)}, first at "
                        f"step {self.first_update_failed.step}")
        if self.first_diverged is not None:
            said.append(f"diverged at step {self.first_diverged.step}")
        return f"FAILED: {'; '.join(said)} ({steps} run)"


@dataclass(frozen=True)
class CheckResult:
    """A checked run, for a test suite: `passed`, each step's verdict, and a summary line.
    str() is the summary with a line per failing tensor, ready for an assert's message."""

    model: str
    passed: bool
    steps: tuple[StepVerdict, ...]
    summary: str

    @classmethod
    def of(cls, model: str, tally: Tally) -> CheckResult:
        return cls(model, tally.passed, tuple(tally.kept), tally.summary())

    @property
    def status(self) -> int:
        """The exit status the command line gives the same run: 0 passed, 1 failed."""
        return PASSED if self.passed else FAILED

    @property
    def failures(self) -> tuple[TensorFailure, ...]:
        """Every failing tensor of every step, in order."""
        return tuple(f for step in self.steps for f in step.failures)

    @property
    def diagnosis(self) -> tuple[Diagnosis, ...]:
        """The diagnosis of the first step that has one (where the bug first shows); () when
        none was made."""
        return next((step.diagnosis + step.update for step in self.steps
                     if step.diagnosis or step.update), ())

    def __str__(self) -> str:
        lines = [f.line() for f in self.failures] + [line for s in self.steps for line in s.update_lines()]
        diverged = next((s for s in self.steps if s.nonfinite), None)
        if diverged is not None:
            lines.append(diverged.diverged_line())
        if self.diagnosis:
            lines.append("diagnosis:")
            lines += [f"  {entry.tensor}: {entry.kind} — {entry.detail}" for entry in self.diagnosis]
        return "\n".join([f"{self.model}: {self.summary}", *lines])
