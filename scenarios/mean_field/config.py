"""The mean_field scenario's config: every field with its default, meaning and check."""

from __future__ import annotations

from dataclasses import dataclass

import dynamics
from scenarios.harness import (
    Check,
    ScenarioConfig,
    at_least,
    device_field,
    int_in,
    items,
    non_negative,
    one_of,
    param,
    positive,
    real_in,
    refuse,
)
from scenarios.harness.checks import is_real
from solvers.threads import SMALL_WORK

CLOUD_SIZES = items(int_in(2, 10**8), min_count=2)
"""Particle counts n: a slope needs two sizes."""


@dataclass(frozen=True)
class MeanFieldConfig(ScenarioConfig):
    """Parameters of the mean_field scenario; every field can be set with ``--set KEY=VALUE``.
    ``seed`` and n seed the stream of each cloud size (``initial_angles``)."""

    centres: tuple[float, ...] = param(
        (1.5, 4.0),
        "von Mises mixture: mean angles mu_c (radians)",
        items(Check(is_real, "a finite number"), distinct=False),
    )
    kappas: tuple[float, ...] = param(
        (4.0, 2.0),
        "von Mises mixture: concentrations kappa_c, one per centre",
        items(real_in(0.0, 1e4), distinct=False),
    )
    weights: tuple[float, ...] = param(
        (0.6, 0.4),
        "von Mises mixture: weights w_c, one per centre, summing to 1",
        items(non_negative(), distinct=False),
    )
    beta: float = param(1.0, "inverse temperature", real_in(0.0, 500.0, open_low=True))
    normalization: str = param(
        "softmax",
        "attention normalization: softmax (SA) or uniform (USA)",
        one_of(dynamics.CIRCLE_NORMALIZATIONS),
    )
    T: float = param(2.0, "final time", positive())
    num_times: int = param(5, "times on [0, T] where W1 is measured", int_in(2, 1000))
    cells: int = param(1024, "M, cells of the grid solver and of PIC", int_in(16, 1 << 20))
    exact_ns: tuple[int, ...] = param(
        (100, 316, 1000, 3162, 10000), "cloud sizes n for the exact O(n^2) field", CLOUD_SIZES
    )
    pic_ns: tuple[int, ...] = param(
        (100, 1000, 10_000, 100_000, 1_000_000), "cloud sizes n for particle-in-cell", CLOUD_SIZES
    )
    seeds: int = param(4, "independent clouds per n, solved as one batch", int_in(1, 1000))
    step_size: float = param(
        0.5,
        "RK4 step of the particle solves, exact and PIC, at most T; at the defaults 0.5 moves "
        "the tokens by at most 2e-4 from the exact flow, below the W1 of 10^6 tokens",
        positive(),
    )
    heatmap_times: int = param(201, "times of the density heat map on [0, T]", int_in(2, 10_000))
    paths: int = param(
        12,
        "particle paths drawn over the heat map, from the smallest exact n (at most that n)",
        at_least(0),
    )
    device: str = device_field()
    threads: int = param(
        0,
        "CPU threads for torch during the run; 0: torch's default for the exact field when "
        f"seeds x n^2 > {SMALL_WORK}, one thread for everything else (the grid, PIC and W1 "
        "kernels are small or memory-bound: on the busy 2-core machine a second thread made PIC "
        "15x slower)",
        at_least(0),
    )

    def cross_check(self) -> None:
        """One kappa and one weight per centre, weights summing to 1; step_size <= T; paths at
        most the smallest exact n."""
        components = len(self.centres)
        if len(self.kappas) != components:
            refuse(
                "kappas",
                self.kappas,
                f"{components} concentrations in [0, 1e4], one per centre",
            )
        if len(self.weights) != components or abs(sum(self.weights) - 1) > 1e-9:
            refuse(
                "weights", self.weights, f"{components} weights >= 0 summing to 1, one per centre"
            )
        if self.step_size > self.T:
            refuse("step_size", self.step_size, f"a number in (0, T] = (0, {self.T:g}]")
        if self.paths > min(self.exact_ns):
            smallest = min(self.exact_ns)
            refuse("paths", self.paths, f"an integer in [0, {smallest}] (the smallest exact n)")
