"""Linear stability of the uniform density on the circle under SA: how many clusters form first."""

from __future__ import annotations

import math

import numpy as np

_STABILITY_NODES = 4096
"""Quadrature nodes on [0, 2 pi) for I_k(beta) / I_0(beta) (periodic trapezoid rule: spectral)."""


def growth_rates(beta: float, modes: np.ndarray) -> np.ndarray:
    """lambda_k = (k^2 / beta) I_k(beta) / I_0(beta) for the modes k (``scenarios.metastability``):
    the growth rate of cos(k theta) at the uniform density on the circle under SA. The Bessel
    ratio is int e^{beta (cos u - 1)} cos(k u) du over int e^{beta (cos u - 1)} du on [0, 2 pi),
    by the periodic trapezoid rule (exact to rounding for beta <= 700 and k <= 500 with 4096
    nodes)."""
    u = np.arange(_STABILITY_NODES) * (2 * math.pi / _STABILITY_NODES)
    weight = np.exp(beta * (np.cos(u) - 1))
    modes = np.asarray(modes, dtype=float)
    ratio = (weight * np.cos(np.outer(modes, u))).mean(-1) / weight.mean()
    return modes**2 * ratio / beta


def most_unstable_mode(beta: float) -> int:
    """The integer k >= 1 of largest ``growth_rates`` (about sqrt(2 beta) for large beta)."""
    modes = np.arange(1, int(4 * math.sqrt(beta)) + 8)
    return int(modes[np.argmax(growth_rates(beta, modes))])
