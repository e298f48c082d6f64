"""The sympformer scenario's config: every field with its default, meaning and check."""

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
    param,
    positive,
    real_in,
    rtol_field,
    threads_field,
)


@dataclass(frozen=True)
class SympformerConfig(ScenarioConfig):
    """Parameters of the sympformer scenario; every field can be set with ``--set KEY=VALUE``.
    ``seed`` draws the initial clouds."""

    n: int = param(32, "tokens per cloud", at_least(2))
    d: int = param(3, "token dimension", at_least(1))
    systems: int = param(16, "independent clouds, one batch", at_least(1))
    scale: float = param(0.5, "standard deviation of the Gaussian start", positive())
    gamma: float = param(1.0, "heavy-ball friction", positive())
    r: float = param(3.0, "Nesterov friction r / (t + t0): r", positive())
    c_log: float = param(3.0, "Hamiltonian friction alpha = c_log / t: c_log", positive())
    t0: float = param(1.0, "Nesterov's t0, and the Hamiltonian run's start time", positive())
    T: float = param(6.0, "elapsed time of the flows", positive())
    num_times: int = param(121, "output times of the flows on [0, T]", int_in(2, 100_000))
    steps: tuple[float, ...] = param(
        (0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6),
        "step sizes h of the discrete layers",
        items(positive()),
    )
    max_evaluations: int = param(
        400, "field evaluations given to every layer run; a Tao step costs 4", int_in(4, 100_000)
    )
    target: float = param(
        0.1,
        "relative potential U(0)/U(t) whose first crossing is reported",
        real_in(0.0, 1.0, open_low=True, open_high=True),
    )
    cluster_tol: float = cluster_tol_field()
    rtol: float = rtol_field(1e-8)
    atol: float = atol_field(1e-10)
    device: str = device_field()
    threads: int = threads_field("the attention logits (systems n^2 d)")
