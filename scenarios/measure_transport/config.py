"""The measure_transport scenario's config: every field with its default, meaning and check."""

from __future__ import annotations

from dataclasses import dataclass

from scenarios.harness import (
    ScenarioConfig,
    at_least,
    device_field,
    int_in,
    items,
    non_negative,
    one_of,
    param,
    positive,
    refuse,
    threads_field,
)
from scenarios.measure_transport.training import LOSSES

MAX_PAIRS = 64
MAX_PIECES = 64


@dataclass(frozen=True)
class MeasureTransportConfig(ScenarioConfig):
    """Parameters of the measure_transport scenario; every field can be set with ``--set
    KEY=VALUE``. ``seed`` draws the initial weights (the same for every run of a kind) and the
    training samples; ``seed + 1`` draws the held-out samples."""

    pairs: int = param(4, "N, the pairs (mu_k, nu_k) of the main runs", int_in(1, MAX_PAIRS))
    n: int = param(64, "points per measure in training (even: half in each component)", at_least(2))
    eval_n: int = param(256, "points per measure of the held-out evaluation", at_least(2))
    std: float = param(0.25, "standard deviation s of every mixture component", positive())
    pieces: int = param(
        4, "K, time pieces of constant weights of the main runs", int_in(1, MAX_PIECES)
    )
    T: float = param(1.0, "final time of the flows", positive())
    steps_per_piece: int = param(1, "rk4 steps per time piece", int_in(1, 1000))
    heads: int = param(2, "attention heads", int_in(1, 64))
    hidden: int = param(32, "width of the MLP's hidden layer", int_in(1, 4096))
    beta: float = param(1.0, "inverse temperature of the attention", positive())
    iterations: int = param(
        1,
        "Sinkhorn iterations of the main attention flow: 1 softmax, k >= 2 fixed, 0 converged",
        int_in(0, 1000),
    )
    train_steps: int = param(400, "optimiser steps of the main runs", at_least(1))
    sweep_steps: int = param(
        120, "optimiser steps of every run against N, K and Sinkhorn iterations", at_least(1)
    )
    lr: float = param(0.03, "Adam learning rate (divided by 10 over the last quarter)", positive())
    loss: str = param("w2", "training loss: sum_k W2^2 or the Sinkhorn divergence", one_of(LOSSES))
    sinkhorn_reg: float = param(0.01, "eps of the Sinkhorn-divergence loss", positive())
    kinetic: float = param(0.0, "lambda, weight of the OT kinetic penalty", non_negative())
    sweep_pairs: tuple[int, ...] = param(
        (1, 2, 4, 8), "numbers of pairs N of the sweep (at K = pieces)", items(int_in(1, MAX_PAIRS))
    )
    sweep_pieces: tuple[int, ...] = param(
        (1, 2, 4, 8),
        "numbers of pieces K of the sweep (at N = pairs)",
        items(int_in(1, MAX_PIECES)),
    )
    compare_iterations: tuple[int, ...] = param(
        (1, 3, 10),
        "Sinkhorn iterations compared at equal parameters (1 softmax; 0 converged: slow, the "
        "trained logits need ~100 iterations)",
        items(int_in(0, 1000)),
    )
    lipschitz_eps: float = param(
        1e-3, "size of the context perturbations measuring the W1-Lipschitz constant", positive()
    )
    device: str = device_field()
    threads: int = threads_field("a training step's attention kernel (N n^2)")

    def cross_check(self) -> None:
        """n even (the components share the points equally)."""
        if self.n % 2:
            refuse("n", self.n, "an even integer >= 2")
