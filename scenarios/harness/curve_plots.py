"""Drawing convergence curves: energy gaps against time or field evaluations, a target line, and
cluster counts, as the momentum scenarios share them."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes

MOMENTUM_LABELS = {"plain": "plain flow", "heavy_ball": "heavy ball", "nesterov": "Nesterov"}
"""Legend labels of the first-order flow and its heavy-ball and Nesterov versions."""

GAP_FLOOR = 1e-16
"""Gaps are drawn down to this value (below it, rounding error decides the curves' shape)."""

GAP_CEILING = 1e3
"""Gaps are drawn up to this value: a run that climbs past it (from 1 at the start) diverged."""


def draw_gap(
    ax: Axes,
    axis: np.ndarray,
    gap: np.ndarray,
    label: str,
    *,
    floor: float = GAP_FLOOR,
    ceiling: float = GAP_CEILING,
    **style: object,
) -> None:
    """Plot ``gap`` against ``axis``, clipped below at ``floor`` (a log axis cannot show 0).

    A run that leaves [0, ``ceiling``] or stops being finite is drawn up to that point, ends in
    an x on the ceiling, and says "diverged" in its label."""
    escaped = np.flatnonzero(~(np.asarray(gap) <= ceiling))
    if escaped.size:
        end = escaped[0]
        label = f"{label} (diverged)"
        lines = ax.plot(axis[:end], np.maximum(gap[:end], floor), label=label, **style)
        ax.plot([axis[end]], [ceiling], "x", color=lines[0].get_color(), clip_on=False)
    else:
        ax.plot(axis, np.maximum(gap, floor), label=label, **style)


def draw_target(ax: Axes, target: float) -> None:
    """The target gap: a dotted grey horizontal line labelled "target"."""
    ax.axhline(target, color="0.4", linewidth=0.8, linestyle=":", label="target")


def draw_cluster_counts(
    ax: Axes,
    times: np.ndarray,
    counts: dict[str, np.ndarray],
    labels: dict[str, str],
    cluster_tol: float,
) -> None:
    """Mean cluster count against time, one line (colours C0, C1, ...) per entry of ``counts``."""
    for index, (kind, series) in enumerate(counts.items()):
        ax.plot(times, series, label=labels[kind], color=f"C{index}")
    ax.set_ylabel(f"clusters (cos > 1 − {cluster_tol:g}), mean")
    ax.set_ylim(bottom=0)
