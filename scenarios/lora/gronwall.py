"""The Gronwall bound |x(t) - y(t)| <= eps C (e^{L t} - 1) fitted to the lora scenario's
deviation curves (see ``scenarios.lora``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from scenarios.lora.config import LoraConfig


@dataclass(frozen=True)
class GronwallFit:
    """The bound R(t) <= K (e^{L t} - 1) / L = C (e^{L t} - 1) fitted to the deviation curves
    R(t) = max_i |x_i - y_i|(t) / eps (``scenarios.lora``); K = C L stays finite as L -> 0."""

    L: float
    K: float
    """The least-squares K on the fit window."""
    K_envelope: float
    """The smallest K for which the bound holds on the fit window."""
    fraction_under: float
    """Fraction of the points (t > 0) of every curve under the envelope."""
    worst_ratio: float
    """max over every curve and time t > 0 of R(t) / (K_envelope (e^{L t} - 1) / L)."""

    def bound(self, t: np.ndarray, *, envelope: bool = True) -> np.ndarray:
        """K (e^{L t} - 1) / L, with K_envelope when ``envelope``."""
        return (self.K_envelope if envelope else self.K) * growth(self.L, t)

    def metrics(self, fit_time: float) -> dict[str, object]:
        """L, C = K / L and C_envelope (None at L = 0), and whether every curve stays under."""
        return {
            "L": self.L,
            "C": self.K / self.L if self.L > 0 else None,
            "C_envelope": self.K_envelope / self.L if self.L > 0 else None,
            "fit_time": fit_time,
            "fraction_under": self.fraction_under,
            "worst_ratio": self.worst_ratio,
            "holds": self.fraction_under == 1.0,
        }


def growth(L: float, t: np.ndarray) -> np.ndarray:
    """(e^{L t} - 1) / L, which is t at L = 0 (``expm1`` keeps it exact for small L t)."""
    return np.expm1(L * t) / L if L > 0 else np.asarray(t, dtype=float)


def fit_gronwall(config: LoraConfig, times: np.ndarray, max_deviation: np.ndarray) -> GronwallFit:
    """Fit R(t) = max_i |x_i - y_i|(t) / eps by K (e^{L t} - 1) / L, K = C L, on the early,
    linear part of the curves ``max_deviation`` (times, ranks, eps, systems) at ``times``: the
    points with 0 < t <= fit_time and max_i |x_i - y_i| <= ``threshold`` (beyond it the bounded
    sphere, not the dynamics, caps the deviation).

    For each L the best log K is the mean of log R - log growth(L, t); L >= 0 minimises the
    remaining squared residual (bounded scalar search). The envelope takes the largest
    R / growth over those points instead of the mean; ``fraction_under`` counts every curve's
    points with t > 0 under that envelope, up to a relative 1e-9. Raises ValueError when fewer
    than two points are left to fit.
    """
    eps = np.asarray(config.eps)[None, None, :, None]
    ratio = max_deviation / eps  # (times, ranks, eps, systems)
    early = ((times > 0) & (times <= config.fit_time))[:, None, None, None]
    linear = (max_deviation <= config.threshold) & (ratio > 0)
    points = np.nonzero(early & linear)
    if len(points[0]) < 2:
        raise ValueError(
            f"no deviation curve stays below threshold={config.threshold:g} on t <= fit_time="
            f"{config.fit_time:g}, so the Gronwall bound has nothing to fit; add a smaller eps or "
            "raise threshold"
        )
    t_fit, log_r = times[points[0]], np.log(ratio[points])

    def residual(L: float) -> float:
        gap = log_r - np.log(growth(L, t_fit))
        return float(((gap - gap.mean()) ** 2).sum())

    L = float(minimize_scalar(residual, bounds=(0.0, 50.0 / config.fit_time), method="bounded").x)
    log_k = log_r - np.log(growth(L, t_fit))
    K, K_envelope = float(np.exp(log_k.mean())), float(np.exp(log_k.max()))
    later = times > 0
    scaled = ratio[later] / (K_envelope * growth(L, times[later]))[:, None, None, None]
    return GronwallFit(
        L=L,
        K=K,
        K_envelope=K_envelope,
        fraction_under=float((scaled <= 1 + 1e-9).mean()),
        worst_ratio=float(scaled.max()),
    )
