"""The lora scenario's config: every field with its default, meaning and check."""

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
    refuse,
    rtol_field,
    threads_field,
)


@dataclass(frozen=True)
class LoraConfig(ScenarioConfig):
    """Parameters of the lora scenario; every field can be set with ``--set KEY=VALUE``.
    ``seed`` draws the clouds, then the LoRA factors."""

    n: int = param(32, "tokens per cloud", at_least(2))
    d: int = param(3, "tokens on S^{d-1}", at_least(2))
    beta: float = param(4.0, "inverse temperature of SA", positive())
    systems: int = param(8, "independent initial clouds, solved in one batch", at_least(1))
    ranks: tuple[int, ...] = param((1, 2, 3), "LoRA ranks r, each <= d", items(at_least(1)))
    eps: tuple[float, ...] = param(
        (1e-4, 1e-3, 1e-2, 3e-2, 1e-1, 3e-1),
        "relative perturbation sizes |BA|_F / |W|_F",
        items(real_in(0.0, 10.0, open_low=True)),
    )
    T: float = param(24.0, "final time", positive())
    num_times: int = param(121, "output times on [0, T], W2 at each", int_in(3, 10_000))
    threshold: float = param(
        0.1,
        "W2 level whose first crossing is the time to deviation; also the largest deviation in "
        "the Gronwall fit",
        positive(),
    )
    fit_time: float = param(
        3.0,
        "the Gronwall bound is fitted on t in (0, fit_time], fit_time < T and at least two "
        "output steps",
        positive(),
    )
    cluster_tol: float = cluster_tol_field()
    rtol: float = rtol_field(1e-8)
    atol: float = atol_field(1e-10)
    device: str = device_field()
    threads: int = threads_field("one cloud's kernel (n^2 d)")

    def cross_check(self) -> None:
        """Ranks at most d; fit_time below T and at least two output steps long."""
        if max(self.ranks) > self.d:
            refuse("ranks", self.ranks, f"one or more distinct integers in [1, d = {self.d}]")
        if self.fit_time >= self.T:
            refuse("fit_time", self.fit_time, f"a number in (0, T = {self.T:g})")
        step = self.T / (self.num_times - 1)
        if self.fit_time < 2 * self.T / (self.num_times - 1):
            refuse(
                "fit_time",
                self.fit_time,
                f"at least two output steps, T / (num_times - 1) = {step:g}",
            )
