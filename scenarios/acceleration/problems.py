"""The acceleration scenario's two problems: their first-order fields, shared starts and gaps, and
the momentum versions of their fields (see ``scenarios.acceleration``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

import dynamics
from scenarios.acceleration.config import AccelerationConfig
from scenarios.analysis import relative_to_start

DTYPE = torch.float64


@dataclass(frozen=True)
class Problem:
    """One problem: its first-order field, initial cloud and progress measure."""

    name: str
    field: nn.Module
    x0: Tensor
    gap: Callable[[Tensor], Tensor]
    """Trajectory (times, *x0.shape) -> relative gap per time, shape (times,), NaN if not finite."""


def sphere_problem(config: AccelerationConfig) -> Problem:
    """``systems`` clouds of n tokens uniform on S^{d-1}, self-attention at ``beta``."""
    generator = torch.Generator().manual_seed(config.seed)
    x0 = dynamics.uniform_sphere(
        config.n, config.d, batch_shape=(config.systems,), generator=generator, dtype=DTYPE
    ).to(config.device)
    base = dynamics.SelfAttention(config.d, beta=config.beta, normalization=config.normalization)

    def gap(xs: Tensor) -> Tensor:
        return relative_to_start(dynamics.relative_energy_gap(xs, config.beta))

    return Problem("sphere", base.to(config.device), x0, gap)


def linear_initial_law(config: AccelerationConfig) -> tuple[Tensor, Tensor]:
    """Mean m0 and covariance S0 = L L^T of the Gaussian tokens (drawn from ``seed`` + 1):
    L = diag(1 .. 1/2) + a strictly lower part with N(0, 1/4) entries, m0 ~ N(0, I/4)."""
    generator = torch.Generator().manual_seed(config.seed + 1)
    d = config.linear_d
    lower = 0.5 * torch.randn(d, d, generator=generator, dtype=DTYPE).tril(-1)
    factor = torch.diag(torch.linspace(1.0, 0.5, d, dtype=DTYPE)) + lower
    mean = 0.5 * torch.randn(d, generator=generator, dtype=DTYPE)
    return mean, factor @ factor.T


def linear_problem(config: AccelerationConfig) -> Problem:
    """n tokens ~ N(m0, S0) in R^d under x' = -M x (linear attention with V = -I)."""
    mean, covariance = linear_initial_law(config)
    generator = torch.Generator().manual_seed(config.seed + 2)
    z = torch.randn(config.linear_n, config.linear_d, generator=generator, dtype=DTYPE)
    x0 = (mean + z @ torch.linalg.cholesky(covariance).T).to(config.device)
    base = dynamics.LinearAttention(config.linear_d, value=-torch.eye(config.linear_d, dtype=DTYPE))

    def gap(xs: Tensor) -> Tensor:
        return relative_to_start(quartic_energy(dynamics.second_moment(xs)))

    return Problem("linear", base.to(config.device), x0, gap)


def quartic_energy(second_moment: Tensor) -> Tensor:
    """E = (1/4) tr(M^2) for second moments M of shape (..., d, d)."""
    return 0.25 * (second_moment * second_moment.transpose(-1, -2)).sum((-1, -2))


def momentum(config: AccelerationConfig, base: nn.Module, kind: str) -> dynamics.Accelerated:
    """``Accelerated(base)`` with the config's heavy-ball or Nesterov friction (``kind``)."""
    return dynamics.Accelerated(base, damping=kind, gamma=config.gamma, r=config.r, t0=config.t0)


def variant_field(config: AccelerationConfig, problem: Problem, kind: str) -> nn.Module:
    """The plain field, or its heavy-ball / Nesterov momentum version."""
    return problem.field if kind == "plain" else momentum(config, problem.field, kind)


def flow_times(config: AccelerationConfig) -> Tensor:
    """The flows' ``num_times`` output times on [0, T], float64 on the CPU."""
    return torch.linspace(0.0, config.T, config.num_times, dtype=DTYPE)
