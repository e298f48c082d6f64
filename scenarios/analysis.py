"""Analysis of measured series that several scenarios report: power-law fits, monotonicity,
convergence curves of flows and layers, plateaus of cluster-count series."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

import dynamics
import solvers


def fit_power_law(x: np.ndarray | list[float], y: np.ndarray | list[float]) -> tuple[float, float]:
    """Least-squares fit of log y = p log x + log c: returns the exponent p and prefactor c.

    Needs at least two distinct x > 0 and y > 0.
    """
    log_x, log_y = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    exponent, intercept = np.polyfit(log_x, log_y, 1)
    return float(exponent), float(math.exp(intercept))


def max_decrease(series: np.ndarray) -> float:
    """max_k (s_k - s_{k+1}), at least 0: how far a series falls short of nondecreasing."""
    if len(series) < 2:
        return 0.0
    return float(max(0.0, np.max(series[:-1] - series[1:])))


# Convergence curves of first-order flows and their momentum versions, against time or against
# field evaluations of discrete layers (shared by the acceleration, sympformer and in_context
# scenarios).


@dataclass(frozen=True)
class Curve:
    """A convergence curve: ``gap`` (1 at the start, 0 at the goal) against ``axis`` (times, or
    field evaluations / depths of discrete layers); a run whose values stopped being finite has
    NaN gaps from there on."""

    axis: np.ndarray
    gap: np.ndarray

    def first_below(self, target: float) -> float | None:
        """The first axis value where gap < ``target``, or None if it never gets there."""
        below = np.flatnonzero(self.gap < target)
        return self.axis[below[0]].item() if below.size else None

    @property
    def diverged(self) -> bool:
        """Whether the run stopped being finite."""
        return bool(np.isnan(self.gap).any())

    def metrics(self, target: float) -> dict[str, object]:
        """Final gap (None if diverged), first axis value below ``target``, divergence."""
        return {
            "final_gap": None if self.diverged else float(self.gap[-1]),
            "first_below_target": self.first_below(target),
            "diverged": self.diverged,
        }


def relative_to_start(gaps: Tensor) -> Tensor:
    """Per-system gaps (times, ...) -> g(t) = mean_s gap_s(t) / mean_s gap_s(0), shape (times,),
    NaN from the first time where it is not finite on."""
    gaps = gaps.reshape(gaps.shape[0], -1)
    curve = gaps.mean(-1) / gaps[0].mean()
    broken = torch.cumsum((~torch.isfinite(curve)).long(), 0) > 0
    return torch.where(broken, torch.full_like(curve, math.nan), curve)


def best_step(by_step: Mapping[float, Curve], target: float) -> float:
    """The step whose run reaches ``target`` in the fewest evaluations; if none reaches it, the
    one with the smallest final gap (a diverged run counts as an infinite gap)."""

    def cost(step: float) -> tuple[float, float]:
        curve = by_step[step]
        first = curve.first_below(target)
        return (math.inf if first is None else first, np.nan_to_num(curve.gap[-1], nan=math.inf))

    return min(by_step, key=cost)


def layer_metrics(
    layers: Mapping[str, Mapping[float, Curve]],
    best_steps: Mapping[str, float],
    target: float,
    plain: str = "plain",
) -> dict[str, dict[str, object]]:
    """Per layer variant: ``Curve.metrics`` at every step (keyed ``f"{h:g}"``), the best step
    (None if it does not reach ``target``), its evaluations to ``target``, and the speed-up
    (evaluations of the ``plain`` variant / its own; None unless both reach ``target``)."""
    out = {}
    for name, by_step in layers.items():
        step = best_steps[name]
        cost = by_step[step].first_below(target)
        out[name] = {
            "by_step": {f"{h:g}": curve.metrics(target) for h, curve in by_step.items()},
            "best_step": None if cost is None else step,
            "best_evaluations_to_target": cost,
        }
    base = out[plain]["best_evaluations_to_target"]
    for entry in out.values():
        cost = entry["best_evaluations_to_target"]
        entry["speedup_over_plain"] = None if (base is None or cost is None) else base / cost
    return out


def positions(
    field: nn.Module, x0: Tensor, times: Tensor, method: str, *, rtol: float, atol: float
) -> Tensor:
    """Token positions (len(times), *x0.shape) of ``solvers.integrate(field, ...)`` from ``x0``;
    a ``dynamics.Accelerated`` field starts at rest (v = 0). ``rtol`` and ``atol`` go to dopri5
    only (the layer steppers take none). Layers whose step is too large diverge: their positions
    are returned as the solver left them, non-finite from the divergence on (``Curve.diverged``).
    """
    state = (x0, torch.zeros_like(x0)) if isinstance(field, dynamics.Accelerated) else x0
    options = {"rtol": rtol, "atol": atol} if method == "dopri5" else {}
    xs = trajectory_to_divergence(field, state, times, method=method, **options)
    return xs[0] if isinstance(xs, tuple) else xs


def trajectory_to_divergence(
    field: nn.Module, state: dynamics.State, times: Tensor, **options: object
) -> dynamics.State:
    """``solvers.integrate(field, state, times, **options)`` without gradients, also when the
    solve diverges: then the trajectory as the solver left it, non-finite from the divergence on,
    for scenarios that measure how far a layer's step can go."""
    with torch.no_grad():
        try:
            return solvers.integrate(field, state, times, **options)
        except solvers.DivergedError as diverged:
            return diverged.trajectory


# Plateaus of a cluster-count series (shared by the metastability and causal scenarios).
def plateaus(times: np.ndarray, counts: np.ndarray, factor: float) -> list[tuple[int, int]]:
    """Every plateau of the series: maximal runs a..b of consecutive indices with times[a] > 0,
    counts constant on a..b, and times[b] >= factor * times[a]; as (a, b), in time order."""
    found = []
    start = 0
    for index in range(1, len(counts) + 1):
        if index < len(counts) and counts[index] == counts[start]:
            continue
        first = start if times[start] > 0 else start + 1  # the run's positive times
        if first < index and times[index - 1] >= factor * times[first]:
            found.append((first, index - 1))
        start = index
    return found


def first_plateau(times: np.ndarray, counts: np.ndarray, factor: float) -> tuple[int, int] | None:
    """The earliest plateau (``plateaus``), or None if the count never holds a factor of time."""
    found = plateaus(times, counts, factor)
    return found[0] if found else None
