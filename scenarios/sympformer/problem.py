"""The sympformer scenario's problem: the shared Gaussian start, the plain and Hamiltonian
attention fields, the potential U and the trajectories of every variant (see
``scenarios.sympformer``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

import dynamics
from scenarios.analysis import positions, relative_to_start, trajectory_to_divergence
from scenarios.sympformer.config import SympformerConfig

DTYPE = torch.float64


@dataclass(frozen=True)
class Problem:
    """The shared start and the two base fields."""

    x0: Tensor
    plain: nn.Module
    hamiltonian: dynamics.HamiltonianAttention


def make_problem(config: SympformerConfig) -> Problem:
    """Gaussian clouds (``seed``), the plain field and the damped Hamiltonian field (B = I)."""
    generator = torch.Generator().manual_seed(config.seed)
    shape = (config.systems, config.n, config.d)
    x0 = config.scale * torch.randn(*shape, generator=generator, dtype=DTYPE)
    eye = torch.eye(config.d, dtype=DTYPE)
    plain = dynamics.SelfAttention(
        config.d,
        beta=1 / math.sqrt(config.d),
        value=eye / math.sqrt(config.d),
        manifold="euclidean",
    )
    hamiltonian = dynamics.HamiltonianAttention(
        config.d, value=eye, c_log=config.c_log, c_lin=0.0, t0=config.t0
    )
    return Problem(x0.to(config.device), plain.to(config.device), hamiltonian.to(config.device))


def log_interaction(problem: Problem, xs: Tensor) -> Tensor:
    """log sum_ij E_ij = log(-2n U), shape xs.shape[:-2]; finite where U would overflow."""
    log_z = problem.hamiltonian.log_normalizer(xs)
    return torch.logsumexp(log_z, -1) + math.log(xs.shape[-2])


def potential_gap(problem: Problem, xs: Tensor) -> Tensor:
    """U(0) / U(t) per time (mean over systems), NaN from the first non-finite value on."""
    logs = log_interaction(problem, xs)
    return relative_to_start(torch.exp(logs[:1] - logs))


def energy_parts(problem: Problem, xs: Tensor, ps: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(H, kinetic, potential U), each of shape xs.shape[:-2]."""
    ham = problem.hamiltonian.hamiltonian(xs, ps)
    potential = -0.5 * torch.exp(log_interaction(problem, xs) - math.log(xs.shape[-2]))
    return ham, ham - potential, potential


def overdamped_residual(problem: Problem) -> float:
    """max |F(x) + B grad U / z| / max |F(x)| at the start: the plain field is the overdamped
    limit of the Hamiltonian one (dH/dx at p = 0 is grad U)."""
    x = problem.x0
    with torch.no_grad():
        grad_u = problem.hamiltonian.grad_x(x, torch.zeros_like(x))
        z = problem.hamiltonian.log_normalizer(x).exp()[..., None]
        force = problem.plain(0.0, x)
    return float((force + grad_u / z).abs().max() / force.abs().max())


def variant_field(config: SympformerConfig, problem: Problem, kind: str) -> nn.Module:
    """The field of one variant: plain, heavy_ball, nesterov or hamiltonian."""
    if kind == "plain":
        return problem.plain
    if kind == "hamiltonian":
        return problem.hamiltonian
    return dynamics.Accelerated(
        problem.plain, damping=kind, gamma=config.gamma, r=config.r, t0=config.t0
    )


def trajectory(
    config: SympformerConfig, problem: Problem, kind: str, elapsed: Tensor, method: str
) -> tuple[Tensor, Tensor | None]:
    """Positions (and momenta for the Hamiltonian run) at the elapsed times; everything starts
    at rest, the Hamiltonian run at time t0 (its friction c_log / t needs t > 0)."""
    field_ = variant_field(config, problem, kind)
    elapsed = elapsed.to(config.device)
    if kind != "hamiltonian":
        xs = positions(field_, problem.x0, elapsed, method, rtol=config.rtol, atol=config.atol)
        return xs, None
    options = {"rtol": config.rtol, "atol": config.atol} if method == "dopri5" else {}
    state = (problem.x0, torch.zeros_like(problem.x0))
    return trajectory_to_divergence(field_, state, config.t0 + elapsed, method=method, **options)


def flow_times(config: SympformerConfig) -> Tensor:
    """The flows' ``num_times`` elapsed output times on [0, T], float64 on the CPU."""
    return torch.linspace(0.0, config.T, config.num_times, dtype=DTYPE)
