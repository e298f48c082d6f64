"""Analysis of measured series that several scenarios report: power-law fits, monotonicity."""

from __future__ import annotations

import math

import numpy as np


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
