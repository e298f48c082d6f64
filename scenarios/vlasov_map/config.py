"""The vlasov_map scenario's config: every field with its default, meaning and check."""

from __future__ import annotations

import os
from dataclasses import dataclass

from scenarios.harness import (
    Check,
    ScenarioConfig,
    at_least,
    device_field,
    int_in,
    items,
    param,
    positive,
    real_in,
    refuse,
)

_SIZES = items(int_in(2, 1 << 16), min_count=1)
INCREASING_DEPTHS = Check(
    lambda value: items(int_in(1, 64), min_count=2).accepts(value) and list(value) == sorted(value),
    "two or more increasing integers in [1, 64]",
)
"""Depths L of the trained transformers: a W1-against-depth curve needs two."""


@dataclass(frozen=True)
class VlasovMapConfig(ScenarioConfig):
    """Parameters of the vlasov_map scenario; every field can be set with ``--set KEY=VALUE``.
    ``seed`` draws the densities, the samples, the weights and the minibatches."""

    beta: float = param(
        1.0, "inverse temperature of the SA flow", real_in(0.0, 100.0, open_low=True)
    )
    T: float = param(2.0, "final time of the Vlasov flow", positive())
    components: int = param(2, "von Mises components per random density", int_in(1, 16))
    kappa_min: float = param(1.0, "smallest concentration of a component", real_in(0.0, 1e3))
    kappa_max: float = param(8.0, "largest concentration of a component", real_in(0.0, 1e3))
    cells: int = param(256, "M, cells of the grid solver", int_in(16, 1 << 16))
    characteristic_step: float = param(
        0.05, "RK4 step of the characteristics that give the training targets", positive()
    )
    train_densities: int = param(128, "random training densities", at_least(1))
    test_densities: int = param(16, "held-out random densities", at_least(1))
    n: int = param(256, "tokens sampled from each training density", int_in(2, 1 << 16))
    eval_ns: tuple[int, ...] = param(
        (256, 1024, 4096), "tokens sampled from each held-out density", _SIZES
    )
    depths: tuple[int, ...] = param(
        (1, 2, 4), "layers L of the trained transformers", INCREASING_DEPTHS
    )
    d: int = param(16, "token width of the transformer", at_least(2))
    heads: int = param(4, "attention heads, dividing d", at_least(1))
    hidden: int = param(32, "width of the MLP's hidden layer", at_least(1))
    iterations: int = param(250, "Adam steps per depth", at_least(1))
    batch: int = param(16, "training densities per Adam step", at_least(1))
    lr: float = param(1e-2, "Adam's learning rate (cosine decay to 0)", positive())
    device: str = device_field()
    threads: int = param(
        0,
        "CPU threads for torch during the run; 0: one thread (the training steps are many small "
        "kernels: on the busy 2-core machine torch's default of two threads took 3x the CPU time "
        "and 1.3x the wall time of one)",
        int_in(0, os.cpu_count() or 1),
    )

    def cross_check(self) -> None:
        """kappa_min <= kappa_max; heads divides d; batch <= train_densities; the characteristic
        step at most T."""
        if self.kappa_min > self.kappa_max:
            refuse("kappa_min", self.kappa_min, f"a number <= kappa_max={self.kappa_max:g}")
        if self.d % self.heads:
            refuse("heads", self.heads, f"an integer >= 1 dividing d={self.d}")
        if self.batch > self.train_densities:
            refuse(
                "batch", self.batch, f"an integer in [1, train_densities={self.train_densities}]"
            )
        if self.characteristic_step > self.T:
            refuse(
                "characteristic_step", self.characteristic_step, f"a number in (0, T={self.T:g}]"
            )
