"""Drawing convergence curves: energy gaps against time or field evaluations, a target line, and
cluster counts, as the momentum scenarios share them."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes

MOMENTUM_LABELS = {"plain": "plain flow", "heavy_ball": "heavy ball", "nesterov": "Nesterov"}
"""Legend labels of the first-order flow and its heavy-ball and Nesterov versions."""

GAP_FLOOR = 1e-16
"""Gaps are drawn down to this value (below it, rounding error decides the curves' shape)."""


def draw_gap(
    ax: Axes,
    axis: np.ndarray,
    gap: np.ndarray,
    label: str,
    *,
    floor: float = GAP_FLOOR,
    **style: object,
) -> None:
    """Plot ``gap`` against ``axis``, clipped below at ``floor`` (a log axis cannot show 0)."""
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
