"""The in-context scenario's config: every field with its default, meaning and check."""

from __future__ import annotations

from dataclasses import dataclass

from scenarios.harness import (
    ScenarioConfig,
    at_least,
    atol_field,
    device_field,
    int_in,
    non_negative,
    param,
    positive,
    real_in,
    refuse,
    rtol_field,
)


@dataclass(frozen=True)
class InContextConfig(ScenarioConfig):
    """Parameters of the in-context scenario; every field can be set with ``--set KEY=VALUE``.
    ``seed`` draws the tasks."""

    d: int = param(4, "input dimension of the regression tasks", at_least(1))
    n_context: int = param(
        40, "context pairs (x_j, y_j) per prompt, N; least squares needs N >= d", at_least(1)
    )
    n_queries: int = param(20, "query inputs per prompt", at_least(1))
    tasks: int = param(64, "independent regression tasks, solved as one batch", at_least(1))
    noise: float = param(0.1, "standard deviation of the label noise", non_negative())
    eta: float = param(
        0.5, "attention scale: one layer of step h is a GD step of size eta h", positive()
    )
    step: float = param(1.0, "step h of every layer", positive())
    max_layers: int = param(64, "deepest stack of layers", int_in(1, 100_000))
    T: float = param(
        0.0, "final time of the flows; 0: max_layers * step, the layers' time", non_negative()
    )
    gamma: float = param(1.0, "constant friction of the heavy-ball dynamics", non_negative())
    r: float = param(3.0, "Nesterov friction r / (t + t0): r; 3 is Nesterov's", non_negative())
    t0: float = param(1.0, "Nesterov friction r / (t + t0): t0", positive())
    num_times: int = param(
        257, "output times of the flows, evenly spaced on [0, T]", int_in(2, 100_000)
    )
    target: float = param(
        1e-3,
        "relative excess error whose first crossing is reported",
        real_in(0.0, 1.0, open_low=True, open_high=True),
    )
    rtol: float = rtol_field(1e-10)
    atol: float = atol_field(1e-12)
    device: str = device_field()

    def cross_check(self) -> None:
        """At least as many context points as dimensions (least squares needs N >= d)."""
        if self.n_context < self.d:
            refuse(
                "n_context",
                self.n_context,
                f"an integer >= d = {self.d} (least squares needs N >= d context points)",
            )

    @property
    def horizon(self) -> float:
        """The flows' final time: ``T``, or ``max_layers * step`` when T = 0."""
        return float(self.T) if self.T > 0 else self.max_layers * float(self.step)
