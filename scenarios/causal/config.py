"""The causal scenario's config: every field with its default, meaning and check."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from scenarios.harness import (
    ScenarioConfig,
    atol_field,
    cluster_tol_field,
    device_field,
    int_in,
    items,
    param,
    plateau_factor_field,
    positive,
    real_in,
    refuse,
    rtol_field,
)

MAX_BETA = 700.0
"""e^beta overflows float64 beyond about 709."""


@dataclass(frozen=True)
class CausalConfig(ScenarioConfig):
    """Parameters of the causal scenario; every field can be set with ``--set KEY=VALUE``.
    ``seed`` draws the initial clouds (the same for every beta, causal and full)."""

    n: int = param(200, "tokens per cloud", int_in(2, 100_000))
    betas: tuple[float, ...] = param(
        (9.0, 16.0, 36.0, 64.0, 100.0),
        "inverse temperatures of the SA runs on S^1, causal and full, one batched solve each",
        items(real_in(0.0, MAX_BETA, open_low=True)),
    )
    seeds: int = param(4, "independent clouds, one batch per run", int_in(1, 1000))
    figure_beta: float = param(64.0, "the beta (one of betas) whose tokens are drawn", positive())
    delta_scale: float = param(
        4.0, "Rényi separation delta = delta_scale / sqrt(beta) (chord on S^1)", positive()
    )
    t_first: float = param(0.01, "first positive output time", positive())
    t_min: float = param(2.0, "plateaus are sought from this time on", positive())
    T: float = param(1000.0, "final time of the S^1 runs", positive())
    num_times: int = param(
        101, "output times: 0, then geometric from t_first to T", int_in(3, 100_000)
    )
    cluster_tol: float = cluster_tol_field(1e-2)
    plateau_factor: float = plateau_factor_field()
    small_beta: float = param(
        1.0,
        "beta of the SA and USA runs that reach one cluster by T (causal against full)",
        real_in(0.0, 20.0, open_low=True),
    )
    small_time: float = param(1000.0, "final time of the small-beta runs", positive())
    atlas_beta: float = param(
        9.0, "beta of the S^2 runs with value matrices of different spectra", positive()
    )
    atlas_time: float = param(50.0, "final time of the S^2 runs", positive())
    rtol: float = rtol_field(1e-6)
    atol: float = atol_field(1e-8)
    device: str = device_field()
    threads: int = param(
        1,
        "CPU threads for torch during the run; 1 by default: every kernel is small (seeds n^2 "
        "d with d <= 3) and a second thread only adds waiting; 0: by the kernel size "
        "(solvers.threads)",
        int_in(0, os.cpu_count() or 1),
    )

    @property
    def deltas(self) -> list[float]:
        """delta = delta_scale / sqrt(beta) for every beta."""
        return [self.delta_scale / math.sqrt(beta) for beta in self.betas]

    def cross_check(self) -> None:
        """figure_beta among betas (when figures are drawn); every delta < 2 (a chord of S^1);
        t_first < t_min < T."""
        if self.figures and self.figure_beta not in self.betas:
            refuse("figure_beta", self.figure_beta, f"one of betas {list(self.betas)}")
        if max(self.deltas) >= 2:
            refuse(
                "delta_scale",
                self.delta_scale,
                f"a number < 2 sqrt(min beta) = {2 * math.sqrt(min(self.betas)):g} (delta < 2)",
            )
        if self.t_first >= self.t_min:
            refuse("t_min", self.t_min, f"a number > t_first = {self.t_first:g}")
        if self.t_min >= self.T:
            refuse("T", self.T, f"a number > t_min = {self.t_min:g}")
