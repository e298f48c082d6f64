"""The long_context scenario's config: every field with its default, meaning and check."""

from __future__ import annotations

from dataclasses import dataclass

import dynamics
from scenarios.harness import (
    ScenarioConfig,
    cluster_tol_field,
    device_field,
    dtype_field,
    int_in,
    items,
    method_field,
    param,
    positive,
    real_in,
    refuse,
    threads_field,
)
from solvers import METHODS

MAX_N = 2**20


@dataclass(frozen=True)
class LongContextConfig(ScenarioConfig):
    """Parameters of the long_context scenario; every field can be set with ``--set KEY=VALUE``.
    ``seed`` draws the initial clouds (the clouds of a size n are the same for every gamma)."""

    d: int = param(64, "token dimension: tokens on S^{d-1}", int_in(3, 4096))
    ns: tuple[int, ...] = param(
        (64, 128, 256, 512, 1024),
        "context lengths n, two or more, increasing",
        items(int_in(2, MAX_N), min_count=2),
    )
    gammas: tuple[float, ...] = param(
        (1.0, 1.5, 2.0, 2.25, 2.5, 2.75, 3.0),
        "rates gamma of beta = gamma log n, two or more, increasing",
        items(real_in(0.0, 100.0, open_low=True), min_count=2),
    )
    scalable_softmax_s: float = param(
        1.0, "the scalable-softmax case: logits times s log n, i.e. gamma = s", positive()
    )
    rho: float = param(
        0.5,
        "initial cosine: x_i = sqrt(rho) e_1 + sqrt(1 - rho) u_i, u_i uniform on S^{d-2}",
        real_in(0.0, 1.0, open_high=True),
    )
    seeds: int = param(4, "independent clouds per n, one batch", int_in(2, 1000))
    T: float = param(2.0, "the fixed time at which the clouds are measured", positive())
    steps: int = param(10, "fixed steps of the method on [0, T]", int_in(1, 100_000))
    method: str = method_field(
        "rk4",
        "fixed-step method (projected_euler: T / steps post-LN layers)",
        dynamics.SelfAttention(3),
    )
    circle_kappa: float = param(
        1.0,
        "S^1 comparison: particles from the von Mises density e^{kappa cos theta}",
        positive(),
    )
    vlasov_cells: int = param(
        256, "cells of the Vlasov grid on S^1 (0: no S^1 comparison)", int_in(0, 100_000)
    )
    cluster_sample: int = param(
        1024, "the cluster count is taken over the first cluster_sample tokens", int_in(2, 8192)
    )
    cluster_tol: float = cluster_tol_field(1e-2)
    bootstrap: int = param(1000, "bootstrap resamples of the seeds for gamma_c", int_in(10, 10**6))
    dtype: str = dtype_field("float32")
    device: str = device_field()
    threads: int = threads_field("the batched kernel (seeds n^2 d)")

    def cross_check(self) -> None:
        """ns and gammas increasing; a fixed-step method."""
        for name in ("ns", "gammas"):
            values = list(getattr(self, name))
            if values != sorted(set(values)):
                refuse(name, tuple(values), "strictly increasing values")
        if METHODS[self.method].adaptive:
            refuse("method", self.method, "a fixed-step method (the run takes `steps` steps)")
