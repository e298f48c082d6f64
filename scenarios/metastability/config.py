"""The metastability scenario's config: every field with its default, meaning and check."""

from __future__ import annotations

from dataclasses import dataclass

import dynamics
from scenarios.harness import (
    ScenarioConfig,
    atol_field,
    check_step_size,
    cluster_tol_field,
    device_field,
    int_in,
    items,
    method_field,
    one_of,
    param,
    plateau_factor_field,
    positive,
    real_in,
    refuse,
    rtol_field,
    step_size_field,
    threads_field,
)

NORMALIZATIONS = ("softmax", "uniform")
"""SA and USA."""

MAX_BETA = 700.0
"""e^beta overflows float64 beyond about 709."""


@dataclass(frozen=True)
class MetastabilityConfig(ScenarioConfig):
    """Parameters of the metastability scenario; every field can be set with ``--set KEY=VALUE``.
    ``seed`` draws the initial clouds (the same for every beta)."""

    n: int = param(64, "tokens per cloud", int_in(2, 100_000))
    d: int = param(2, "tokens on S^{d-1}; 2 is the circle", int_in(2, 1000))
    betas: tuple[float, ...] = param(
        (4.0, 8.0, 16.0, 32.0, 64.0),
        "inverse temperatures beta, one batched solve each",
        items(real_in(0.0, MAX_BETA, open_low=True)),
    )
    seeds: int = param(4, "independent clouds, one batch per beta", int_in(1, 1000))
    normalization: str = param(
        "softmax", "attention normalization: softmax (SA) or uniform (USA)", one_of(NORMALIZATIONS)
    )
    t_min: float = param(
        1.0, "first positive output time; plateaus are sought from there", positive()
    )
    T: float = param(1e4, "final time, > t_min", positive())
    num_times: int = param(
        121, "output times: 0, then geometric from t_min to T", int_in(3, 100_000)
    )
    cluster_tol: float = cluster_tol_field(1e-3)
    plateau_factor: float = plateau_factor_field()
    method: str = method_field(
        "scipy_solver",
        "scipy_solver is LSODA, which switches to implicit steps where the flow is stiff",
        dynamics.SelfAttention(2),
    )
    rtol: float = rtol_field()
    atol: float = atol_field()
    step_size: float = step_size_field()
    device: str = device_field()
    threads: int = threads_field("the batched kernel (seeds n^2 d)")

    def cross_check(self) -> None:
        """T > t_min; step_size only with fixed-step methods."""
        if self.t_min >= self.T:
            refuse("T", self.T, f"a finite number > t_min = {self.t_min:g}")
        check_step_size(self.method, self.step_size, self.T)
