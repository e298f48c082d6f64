"""The layers scenario's config: every field with its default, meaning and check."""

from __future__ import annotations

from dataclasses import dataclass

from scenarios.harness import (
    Check,
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
    refuse,
    rtol_field,
    threads_field,
)

ACTIVATIONS = ("gelu", "relu", "tanh")
"""The MLP nonlinearities of ``dynamics.TransformerBlock``."""

MAX_DEPTH = 100_000

_DEPTHS = items(int_in(1, MAX_DEPTH), min_count=2)
INCREASING_DEPTHS = Check(
    lambda value: _DEPTHS.accepts(value) and list(value) == sorted(value),
    f"two or more increasing integers in [1, {MAX_DEPTH}]",
)
"""Layer counts L: at least two (an order is a slope), increasing, each in [1, MAX_DEPTH]."""


@dataclass(frozen=True)
class LayersConfig(ScenarioConfig):
    """Parameters of the layers scenario; every field can be set with ``--set KEY=VALUE``.
    ``seed`` draws the block's weights; ``seed + 1`` draws the initial cloud."""

    n: int = param(32, "tokens", at_least(2))
    d: int = param(8, "token dimension", at_least(2))
    heads: int = param(2, "attention heads, dividing d", at_least(1))
    hidden: int = param(32, "width of the MLP's hidden layer", at_least(1))
    activation: str = param("gelu", "MLP nonlinearity", one_of(ACTIVATIONS))
    T: float = param(5.0, "final time (total depth) of the flow", positive())
    depths: tuple[int, ...] = param(
        (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), "numbers of layers L", INCREASING_DEPTHS
    )
    fit_from: int = param(
        16, "orders are fitted over L >= fit_from (two depths or more there)", at_least(1)
    )
    num_times: int = param(101, "output times of the flow on [0, T]", int_in(2, 100_000))
    cluster_tol: float = cluster_tol_field()
    rtol: float = rtol_field(1e-12)
    atol: float = atol_field(1e-13)
    device: str = device_field()
    threads: int = threads_field("the cloud's attention kernel (n^2 d)")

    def cross_check(self) -> None:
        """heads divides d; at least two depths >= fit_from."""
        if self.d % self.heads:
            refuse("heads", self.heads, f"an integer >= 1 dividing d={self.d}")
        if sum(depth >= self.fit_from for depth in self.depths) < 2:
            refuse("fit_from", self.fit_from, "an integer with at least two depths >= fit_from")
