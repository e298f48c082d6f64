"""The phase-diagram scenario's config: every field with its default, meaning and check."""

from __future__ import annotations

from dataclasses import dataclass

from scenarios.harness import (
    ScenarioConfig,
    at_least,
    atol_field,
    items,
    non_negative,
    one_of,
    param,
    positive,
    query_key_field,
    real_in,
    redraw_period_field,
    rtol_field,
    value_field,
)
from scenarios.harness.config import format_value
from scenarios.harness.sweep import Sweep, plan_sweep

EQUIANGULAR_NORMALIZATIONS = ("softmax", "uniform")
"""The normalizations whose equiangular ODE the reference curve integrates (SA and USA)."""


@dataclass(frozen=True)
class PhaseDiagramConfig(ScenarioConfig):
    """Parameters of the phase-diagram scenario; every field can be set with ``--set KEY=VALUE``.
    ``seed`` is the first seed: the seeds are seed, seed + 1, ..."""

    betas: tuple[float, ...] = param(
        (0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0),
        "inverse temperatures beta (the x axis)",
        items(non_negative()),
    )
    ds: tuple[int, ...] = param(
        (2, 3, 4, 8, 32), "token dimensions d, tokens on S^{d-1} (the y axis)", items(at_least(2))
    )
    n: int = param(32, "number of tokens", at_least(1))
    T: float = param(20.0, "final time", positive())
    num_times: int = param(
        201, "output times on [0, T]: the resolution of the time to cluster", at_least(2)
    )
    seeds: int = param(16, "initial clouds per (beta, d), solved as one batch", at_least(1))
    normalization: str = param(
        "softmax",
        "attention normalization: softmax (SA) or uniform (USA)",
        one_of(EQUIANGULAR_NORMALIZATIONS),
    )
    cluster_tol: float = param(
        1e-2,
        "tokens with cosine > 1 - cluster_tol are linked",
        real_in(0.0, 1.0, open_low=True, open_high=True),
    )
    query_key: str = query_key_field()
    value: str = value_field()
    redraw_period: float = redraw_period_field()
    # The clustering sweep's defaults (scenarios.clustering.sweep.SWEEP_RTOL: verdicts measured
    # equal to those at rtol 1e-10).
    rtol: float = rtol_field(1e-5)
    atol: float = atol_field(1e-7)
    workers: int = param(
        0, "processes solving points (0: one per CPU core; 1: in this process)", at_least(0)
    )

    def cross_check(self) -> None:
        """Every point's clustering config is valid (n, T, num_times, tolerances, betas)."""
        sweep_of(self)


def sweep_of(config: PhaseDiagramConfig) -> Sweep:
    """The clustering sweep over (betas, d) of ``config`` (ConfigError if a point is invalid)."""
    shared = {
        "n": config.n,
        "T": config.T,
        "num_times": config.num_times,
        "normalizations": (config.normalization,),
        "seed": config.seed,
        "cluster_tol": config.cluster_tol,
        "query_key": config.query_key,
        "value": config.value,
        "redraw_period": config.redraw_period,
        "method": "dopri5",
        "rtol": config.rtol,
        "atol": config.atol,
    }
    return plan_sweep(
        "clustering",
        [f"betas={format_value(config.betas)}", f"d={format_value(config.ds)}"],
        config.seeds,
        [f"{key}={format_value(value)}" for key, value in shared.items()],
    )
