"""The train scenario's config: every field with its default, meaning and check."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dynamics
from dynamics import BASES
from scenarios.harness import (
    Check,
    ScenarioConfig,
    at_least,
    atol_field,
    device_field,
    int_in,
    items,
    method_field,
    non_negative,
    one_of,
    param,
    positive,
    real_in,
    require,
    rtol_field,
    threads_field,
)
from scenarios.train.datasets import MNIST1D_LENGTH
from solvers import METHODS

MOMENTUM_METHODS = {"heavy_ball": "symplectic_euler", "hamiltonian": "presymplectic_euler"}
"""The stepper of each momentum flow: the momentum first (with the exact friction), then the
position with the new momentum."""


@dataclass(frozen=True)
class TrainConfig(ScenarioConfig):
    """Parameters of the train scenario; every field can be set with ``--set KEY=VALUE``.

    ``seed`` draws the initial weights of every model (the same for every lambda) and the batch
    order of every epoch; the data come from ``data_seed``.
    """

    samples: int = param(5000, "MNIST-1D signals generated", at_least(20))
    train_fraction: float = param(
        0.8,
        "fraction of the signals used for training",
        real_in(0, 1, open_low=True, open_high=True),
    )
    data_seed: int = param(42, "MNIST-1D generator seed (42: the published data set)", at_least(0))
    patch: int = param(8, "signal values per token", int_in(1, MNIST1D_LENGTH))
    stride: int = param(4, "steps between token starts", at_least(1))
    d: int = param(32, "token width, divisible by heads", at_least(1))
    heads: int = param(4, "attention heads", at_least(1))
    hidden: int = param(0, "MLP hidden width; 0: 4 d", at_least(0))
    layers: int = param(4, "layers of the discrete transformer", at_least(1))
    T: float = param(1.0, "final time of the ODE transformer", positive())
    method: str = method_field(
        "euler",
        "the ODE transformer's solver, one of torchdiffeq's (e.g. euler, rk4, dopri5)",
        dynamics.TransformerBlock(2, 1, 4),
    )
    steps: int = param(4, "fixed-step methods: steps of size T / steps on [0, T]", at_least(1))
    rtol: float = rtol_field(1e-3)
    atol: float = atol_field(1e-3)
    time_basis: str = param(
        "",
        "'' (autonomous block), or the basis of weights smooth in t",
        Check(lambda value: value in ("", *BASES), f"'' or one of {', '.join(BASES)}", BASES),
    )
    basis_size: int = param(
        1, "basis functions of the time-dependent weights (1 without time_basis)", at_least(1)
    )
    lambdas: tuple[float, ...] = param(
        (0.0, 0.01, 0.1, 1.0),
        "kinetic-energy weights of the ODE transformers",
        items(non_negative()),
    )
    momenta: tuple[str, ...] = param(
        (),
        "momentum flows also trained at the ODE transformer's field evaluations (empty: none)",
        items(one_of(MOMENTUM_METHODS), min_count=0),
    )
    friction: float = param(1.0, "constant friction gamma of the momentum flows", non_negative())
    epochs: int = param(30, "training epochs per model", at_least(1))
    batch_size: int = param(128, "training batch size", at_least(1))
    lr: float = param(3e-3, "peak AdamW learning rate", positive())
    weight_decay: float = param(0.05, "AdamW weight decay", non_negative())
    num_times: int = param(33, "adaptive methods: output times of the paths", at_least(2))
    threads: int = threads_field("a batch's MLP activations (batch_size x tokens x hidden)")
    resume: str = param(
        "",
        "a previous run's output directory to continue ('': none)",
        Check(
            lambda value: isinstance(value, str) and (not value or Path(value).is_dir()),
            "'' or an existing output directory of a previous run",
        ),
    )
    device: str = device_field()

    def cross_check(self) -> None:
        """d divisible by heads; a torchdiffeq method; basis_size 1 without time_basis; the
        momentum flows' method and step rules (``_check_momenta``)."""
        require(
            self.d % self.heads == 0,
            "d",
            self.d,
            f"an integer >= 1 divisible by heads = {self.heads}",
        )
        require(
            METHODS[self.method].source == "torchdiffeq",
            "method",
            self.method,
            "a torchdiffeq method of solvers.METHODS (e.g. euler, rk4, dopri5)",
        )
        require(
            bool(self.time_basis) or self.basis_size == 1,
            "basis_size",
            self.basis_size,
            "an integer >= 1 (1 without time_basis)",
        )
        self._check_momenta()

    def _check_momenta(self) -> None:
        if not self.momenta:
            return
        require(
            METHODS[self.method].evaluations is not None,
            "method",
            self.method,
            "a fixed-step method with known evaluations per step (e.g. euler, rk4) when "
            "momenta are trained: they are compared at its field evaluations",
        )
        for momentum in self.momenta:
            per_step = METHODS[MOMENTUM_METHODS[momentum]].evaluations
            require(
                self.evaluations % per_step == 0,
                "steps",
                self.steps,
                f"steps whose {self.evaluations} field evaluations are a multiple of {per_step} "
                f"(a {MOMENTUM_METHODS[momentum]} step of the {momentum} flow)",
            )
        require(
            "hamiltonian" not in self.momenta or not self.time_basis,
            "momenta",
            self.momenta,
            "no hamiltonian flow with time_basis (its block is autonomous)",
        )

    @property
    def adaptive(self) -> bool:
        """Whether ``method`` chooses its own steps."""
        return METHODS[self.method].adaptive

    @property
    def evaluations(self) -> int:
        """Field evaluations per forward pass of the (fixed-step) ODE transformer."""
        return self.steps * METHODS[self.method].evaluations

    @property
    def tokens(self) -> int:
        """Tokens per signal: (40 - patch) // stride + 1."""
        return (MNIST1D_LENGTH - self.patch) // self.stride + 1

    def flow_steps(self, momentum: str) -> int:
        """Fixed steps of the flow ``momentum`` ("none": ``steps``; else as many steps of its
        ``MOMENTUM_METHODS`` stepper as give ``evaluations``)."""
        if momentum == "none":
            return self.steps
        return self.evaluations // METHODS[MOMENTUM_METHODS[momentum]].evaluations
