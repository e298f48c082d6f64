"""The context_consistency scenario's config: every field with its default, meaning and check."""

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
    refuse,
)
from solvers.threads import SMALL_WORK

_SIZES = items(int_in(2, 1 << 20), min_count=3)
INCREASING_SIZES = Check(
    lambda value: _SIZES.accepts(value) and list(value) == sorted(value),
    "three or more increasing integers in [2, 2^20]",
)
"""Context lengths n: a rate of convergence between successive n needs three."""


@dataclass(frozen=True)
class ContextConsistencyConfig(ScenarioConfig):
    """Parameters of the context_consistency scenario; every field can be set with ``--set
    KEY=VALUE``. ``seed`` draws the measures, the samples, the weights and the minibatches."""

    classes: int = param(3, "mixture classes: class c has c + 1 components", int_in(2, 8))
    radius: float = param(2.0, "distance of the components' centres from 0", positive())
    spread: float = param(0.5, "standard deviation of each isotropic component", positive())
    n: int = param(64, "context length the transformers are trained on", int_in(2, 1 << 16))
    ns: tuple[int, ...] = param(
        (256, 1024, 4096, 16384), "context lengths they are applied to", INCREASING_SIZES
    )
    exact_up_to: int = param(
        4096,
        "exact W2 (POT's emd) between successive clouds only while the larger has at most this "
        "many tokens (O(n^2) memory, about O(n^3) time); sliced W2 at every n",
        int_in(2, 1 << 14),
    )
    projections: int = param(64, "directions of the sliced W2 (the same at every n)", at_least(1))
    test_measures: int = param(4, "held-out measures the outputs are compared on", at_least(1))
    shared: int = param(
        64, "tokens shared by every context, where the maps are compared", at_least(1)
    )
    d: int = param(8, "token width of the transformers", at_least(2))
    heads: int = param(2, "attention heads, dividing d", at_least(1))
    hidden: int = param(16, "width of the MLP's hidden layer", at_least(1))
    T: float = param(1.0, "final time of the ODE transformer", positive())
    layers: int = param(4, "layers of the discrete transformer (step 1)", at_least(1))
    ode_steps: int = param(4, "RK4 steps of the ODE transformer on [0, T]", at_least(1))
    iterations: int = param(100, "Adam steps of each training", at_least(1))
    batch: int = param(32, "contexts per Adam step", at_least(1))
    lr: float = param(1e-2, "Adam's learning rate", positive())
    linear_time: float = param(1.0, "final time T of the linear-attention flow", positive())
    device: str = device_field()
    threads: int = param(
        0,
        "CPU threads for torch during the run; 0: one thread for the training (many small "
        "kernels), torch's default for the long contexts' attention when test_measures x "
        f"max(ns)^2 x d > {SMALL_WORK}",
        int_in(0, os.cpu_count() or 1),
    )

    def cross_check(self) -> None:
        """heads divides d; the shared tokens fit in the shortest context."""
        if self.d % self.heads:
            refuse("heads", self.heads, f"an integer >= 1 dividing d={self.d}")
        if self.shared > min(self.n, *self.ns):
            refuse("shared", self.shared, f"an integer in [1, {min(self.n, *self.ns)}]")
