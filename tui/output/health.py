"""The training-health section of the text report and the JSON trace (engine.run.health):
after a run on data, each layer's statistics over the last steps and the verdicts in words,
or a line saying every statistic stayed in its healthy range."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from engine.data.batches import Data
from engine.run.health import THRESHOLDS, WINDOW, Health, StepStats, Verdict, inputs_scale
from engine.run.stepper import Stepper

#: Where the thresholds and their sources are written down.
SEE = "docs: Training health"


def tracker(stepper: Stepper) -> Health:
    """The health a report watches: the built-in network's, or a user's model's (whose
    activation is its own: gradient norms and update ratios only)."""
    arch = None if stepper.model.user_code else stepper.config.architecture
    return Health(arch, stepper.config.lr)


def inputs_notice(data: Data) -> list[str]:
    """The notice before training for inputs far from unit scale, or nothing."""
    verdict = inputs_scale(data)
    return [] if verdict is None else [f"Notice: {verdict.says}."]


def _cell(value: float | None, form: Callable[[float], str]) -> str:
    return "-" if value is None or not math.isfinite(value) else form(value)


def health_lines(health: Health, data: Data | None) -> list[str]:
    """The text report's section."""
    rows = health.recent()
    if not rows:
        return []
    shown = min(WINDOW, health.steps)
    lines = [f"Training health (each layer's medians over the last {shown} step(s); {SEE}):",
             f"  {'':>5}  {'||dW||':>9}  {'update/W':>9}  {'dead':>5}  {'saturated':>9}"]
    for s in rows:
        ratio, dead = _cell(s.update_ratio, lambda v: f"{v:.1e}"), _cell(s.dead, lambda v: f"{v:.0%}")
        norm, saturated = _cell(s.grad_norm, lambda v: f"{v:.3g}"), _cell(s.saturated, lambda v: f"{v:.0%}")
        lines.append(f"  {'W' + str(s.layer):>5}  {norm:>9}  {ratio:>9}  {dead:>5}  {saturated:>9}")
    verdicts = _all(health, data)
    if not verdicts:
        lines.append("No verdict: every statistic stayed in its healthy range.")
    for verdict in verdicts:
        since = "" if verdict.since is None else f"step {verdict.since}: "
        lines.append(f"  ⚠ {since}{verdict.says}.")
    return lines


def _all(health: Health, data: Data | None) -> list[Verdict]:
    notice = None if data is None else inputs_scale(data)
    return ([notice] if notice is not None else []) + health.verdicts


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def step_health_json(stats: StepStats | None) -> list[dict[str, Any]] | None:
    """A step's statistics, a dict a weight layer (None where none were measured)."""
    if stats is None:
        return None
    return [{"layer": s.layer, "grad_norm": _number(s.grad_norm), "update_ratio": _number(s.update_ratio),
             "dead": s.dead, "saturated": s.saturated} for s in stats.layers]


def health_json(health: Health, data: Data | None) -> dict[str, Any]:
    """The trace's closing "health": the thresholds and the verdicts."""
    return {"thresholds": THRESHOLDS,
            "verdicts": [{"kind": v.kind, "layer": v.layer, "since": v.since, "says": v.says}
                         for v in _all(health, data)]}
