"""The two trained models, the fixed linear-attention flow, and what they output as measures.

Both transformers are built without positions (``tokens=None``): they see a context only through
its empirical measure and accept any length n. Their output measure for a context u_1..u_n is the
push-forward (1/n) sum_i delta_{x_i(T)} of the token states at the end of the flow (before the
pooled readout):

- ``ode``: ``solvers.ODETransformer``, one autonomous pre-norm block on [0, T], classical RK4
  with ``ode_steps`` steps;
- ``discrete``: ``solvers.DiscreteTransformer``, ``layers`` independent blocks, step 1.

Both are trained to classify contexts of n tokens by their measure's class (cross-entropy, Adam,
a fresh batch of random measures at every step).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

import dynamics
import solvers
from scenarios.context_consistency.config import ContextConsistencyConfig
from scenarios.context_consistency.measures import random_measures, sample

DTYPE = torch.float32
MODELS = ("ode", "discrete")


def make_model(config: ContextConsistencyConfig, kind: str) -> nn.Module:
    """The ``kind`` ("ode" or "discrete") transformer with PyTorch's default initialisation."""
    shape = {"d": config.d, "heads": config.heads, "hidden": config.hidden}
    if kind == "ode":
        model = solvers.ODETransformer(
            2,
            None,
            config.classes,
            **shape,
            T=config.T,
            method="rk4",
            step_size=config.T / config.ode_steps,
        )
    else:
        model = solvers.DiscreteTransformer(2, None, config.classes, **shape, layers=config.layers)
    return model.to(device=config.device, dtype=DTYPE)


def contexts(
    config: ContextConsistencyConfig, count: int, n: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """``count`` random measures' labels and a context of n samples of each, (count, n, 2)."""
    labels, rotations = random_measures(count, config.classes, generator)
    points = sample(labels, rotations, n, config.classes, config.radius, config.spread, generator)
    return labels.to(config.device), points.to(device=config.device, dtype=DTYPE)


def train(
    config: ContextConsistencyConfig, kind: str, generator: torch.Generator
) -> tuple[nn.Module, list[float]]:
    """The ``kind`` transformer trained on contexts of n tokens; returns it and its losses."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(2**31, (1,), generator=generator)))
        model = make_model(config, kind)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    losses = []
    for _ in range(config.iterations):
        labels, points = contexts(config, config.batch, config.n, generator)
        loss = nn.functional.cross_entropy(model(points), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return model, losses


def output_states(model: nn.Module, points: Tensor) -> Tensor:
    """The token states x(T) (measures, n, d): the output measure's support."""
    with torch.no_grad():
        return model.flow(points)[0][-1]


def linear_field(
    config: ContextConsistencyConfig, generator: torch.Generator
) -> dynamics.LinearAttention:
    """x_i' = (1/n) sum_j <Q x_i, K x_j> V x_j in R^2 with K = I, Q = -I / (r^2 + s^2) (r the
    radius, s the spread: the second moment's scale) and V = I + W, W skew with N(0, 1/4) entries:
    A(M) = -(I + W) M / (r^2 + s^2), so tr M decreases (tr(W M^2) = 0) and the flow contracts and
    turns the cloud without blowing up."""
    entry = 0.5 * float(torch.randn((), generator=generator, dtype=torch.float64))
    eye = torch.eye(2, dtype=torch.float64)
    skew = torch.tensor([[0.0, entry], [-entry, 0.0]], dtype=torch.float64)
    scale = config.radius**2 + config.spread**2
    field = dynamics.LinearAttention(2, query=-eye / scale, key=eye, value=eye + skew)
    return field.to(config.device)
