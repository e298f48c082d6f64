"""The in-context scenario's regression tasks, their OLS reference and the excess error measured
against it (see ``scenarios.in_context``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

import dynamics
import solvers
from scenarios.in_context.config import InContextConfig

DTYPE = torch.float64


@dataclass(frozen=True)
class Tasks:
    """A batch of regression tasks and their OLS query predictions (all on ``device``)."""

    x_context: Tensor  # (tasks, N, d)
    y_context: Tensor  # (tasks, N)
    x_query: Tensor  # (tasks, Q, d)
    ols: Tensor  # (tasks, Q)

    @property
    def prompts(self) -> Tensor:
        """The prompts, shape (tasks, N + Q, d + 1)."""
        return dynamics.prompt(self.x_context, self.y_context, self.x_query)


def make_tasks(config: InContextConfig) -> Tasks:
    """Draw the tasks from ``seed`` on the CPU (the same on every device) and solve OLS."""
    generator = torch.Generator().manual_seed(config.seed)
    shape = (config.tasks, config.n_context + config.n_queries, config.d)
    x = torch.randn(shape, generator=generator, dtype=DTYPE)
    w_true = torch.randn(config.tasks, config.d, 1, generator=generator, dtype=DTYPE)
    x_context, x_query = x[:, : config.n_context], x[:, config.n_context :]
    noise = torch.randn(config.tasks, config.n_context, 1, generator=generator, dtype=DTYPE)
    y_context = (x_context @ w_true + config.noise * noise)[..., 0]
    w_ols = torch.linalg.lstsq(x_context, y_context[..., None]).solution
    ols = (x_query @ w_ols)[..., 0]
    return Tasks(*(tensor.to(config.device) for tensor in (x_context, y_context, x_query, ols)))


def relative_excess_error(predictions: Tensor, tasks: Tasks) -> Tensor:
    """mean over tasks and queries of (prediction - OLS)^2 / mean OLS^2; predictions (..., tasks,
    Q)."""
    excess = (predictions - tasks.ols).pow(2).mean(dim=(-1, -2))
    return excess / tasks.ols.pow(2).mean()


def ols_layer_error(tasks: Tasks) -> float:
    """Largest |one OLS-construction layer - lstsq| over tasks and queries."""
    n_context = tasks.x_context.shape[-2]
    worst = 0.0
    for k, tokens in enumerate(tasks.prompts):
        layer = dynamics.least_squares_attention(tasks.x_context[k].cpu()).to(tokens.device)
        after = solvers.integrate(layer, tokens, [0.0, 1.0], method="euler")[-1]
        predictions = dynamics.in_context_prediction(after, n_context)
        worst = max(worst, float((predictions - tasks.ols[k]).abs().max()))
    return worst
