"""The acceleration scenario's config: every field with its default, meaning and check."""

from __future__ import annotations

from dataclasses import dataclass

from scenarios.harness import (
    ScenarioConfig,
    at_least,
    atol_field,
    cluster_tol_field,
    device_field,
    int_in,
    items,
    one_of,
    param,
    positive,
    real_in,
    rtol_field,
    threads_field,
)


@dataclass(frozen=True)
class AccelerationConfig(ScenarioConfig):
    """Parameters of the acceleration scenario; every field can be set with ``--set KEY=VALUE``.

    ``seed`` draws both initial clouds: the sphere clouds from ``seed``, the linear problem's
    Gaussian law from ``seed + 1`` and its tokens from ``seed + 2``.
    """

    n: int = param(32, "sphere problem: tokens per cloud", at_least(2))
    d: int = param(3, "sphere problem: tokens on S^{d-1}", at_least(2))
    systems: int = param(16, "sphere problem: independent clouds, one batch", at_least(1))
    beta: float = param(1.0, "sphere problem: inverse temperature", positive())
    normalization: str = param(
        "softmax",
        "sphere problem: softmax (SA) or uniform (USA)",
        one_of(("softmax", "uniform")),
    )
    linear_n: int = param(2000, "linear problem: Gaussian tokens", at_least(2))
    linear_d: int = param(2, "linear problem: dimension", at_least(1))
    gamma: float = param(1.0, "heavy-ball friction", positive())
    r: float = param(3.0, "Nesterov friction r / (t + t0): r", positive())
    t0: float = param(1.0, "Nesterov friction r / (t + t0): t0", positive())
    T: float = param(40.0, "final time of the flows", positive())
    num_times: int = param(401, "output times of the flows on [0, T]", int_in(2, 100_000))
    steps: tuple[float, ...] = param(
        (0.25, 0.5, 1.0, 2.0, 4.0), "step sizes h of the discrete layers", items(positive())
    )
    max_evaluations: int = param(
        400, "field evaluations given to every layer run", int_in(1, 100_000)
    )
    target: float = param(
        1e-3,
        "relative gap whose first crossing is reported",
        real_in(0.0, 1.0, open_low=True, open_high=True),
    )
    cluster_tol: float = cluster_tol_field()
    rtol: float = rtol_field(1e-8)
    atol: float = atol_field(1e-10)
    device: str = device_field()
    threads: int = threads_field("the largest kernel (systems n^2 d, or linear_n linear_d^2)")
