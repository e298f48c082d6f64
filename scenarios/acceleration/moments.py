"""The linear problem's moment checks: the particles against the exact moment ODE, and the
linearity of the flow map (see ``scenarios.acceleration``)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

import dynamics
import solvers
from scenarios.acceleration.config import AccelerationConfig
from scenarios.acceleration.problems import Problem, flow_times, linear_initial_law, momentum


def moment_trajectory(
    config: AccelerationConfig, problem: Problem, kind: str, mean: Tensor, moment: Tensor
) -> tuple[Tensor, Tensor]:
    """Mean and second moment at the output times by the exact moment ODE of flow ``kind``."""
    mean, moment = mean.to(config.device), moment.to(config.device)
    times = flow_times(config).to(config.device)
    options = {"rtol": config.rtol, "atol": config.atol}
    with torch.no_grad():
        if kind == "plain":
            field_ = dynamics.LinearAttentionMoments(problem.field)
            return solvers.integrate(field_, (mean, moment), times, **options)
        field_ = dynamics.AcceleratedLinearAttentionMoments(momentum(config, problem.field, kind))
        zero = torch.zeros_like(moment)
        state = (mean, torch.zeros_like(mean), moment, zero, zero)
        solved = solvers.integrate(field_, state, times, **options)
    return solved[0], solved[2]


def covariance(mean: Tensor, moment: Tensor) -> Tensor:
    """S = M - m m^T."""
    return moment - mean[..., :, None] * mean[..., None, :]


def moment_checks(
    config: AccelerationConfig, problem: Problem, trajectories: dict[str, Tensor]
) -> tuple[dict[str, object], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Particle moments against the moment ODE, from the law's moments and from the sample's.

    Returns the checks and, per flow, the covariance series (particles, ODE from the law) at the
    output times. The checks:

    - ``population_deviation``: largest |particle - ODE| entry of the mean and covariance over
      the output times, the ODE started from (m0, S0): sampling error, compared with
      ``sampling_bound`` = 4 / sqrt(n).
    - ``empirical_deviation``: the same with the ODE started from the sample's own moments; the
      ODE is exact for the empirical measure, so only the solver tolerance remains.
    - ``linear_map_residual``: largest relative residual, over the output times, of the
      least-squares fit x_i(t) = Phi x_i(0): the flow map is linear, so the cloud stays a linear
      image of its start and a Gaussian stays Gaussian (any elliptical law stays elliptical).
    """
    law_mean, law_covariance = linear_initial_law(config)
    law_moment = law_covariance + torch.outer(law_mean, law_mean)
    x0 = problem.x0
    sample = (x0.mean(-2), dynamics.second_moment(x0))
    checks: dict[str, object] = {"sampling_bound": 4 / math.sqrt(config.linear_n)}
    series = {}
    for kind, xs in trajectories.items():
        particle_mean = xs.mean(-2)
        particle_cov = covariance(particle_mean, dynamics.second_moment(xs))
        law_m, law_M = moment_trajectory(config, problem, kind, law_mean, law_moment)
        law_cov = covariance(law_m, law_M)
        emp_m, emp_M = moment_trajectory(config, problem, kind, *sample)
        checks[kind] = {
            "population_deviation": max(
                float((particle_mean - law_m).abs().max()),
                float((particle_cov - law_cov).abs().max()),
            ),
            "empirical_deviation": max(
                float((particle_mean - emp_m).abs().max()),
                float((particle_cov - covariance(emp_m, emp_M)).abs().max()),
            ),
            "linear_map_residual": linear_map_residual(x0, xs),
        }
        series[kind] = (particle_cov.cpu().numpy(), law_cov.cpu().numpy())
    return checks, series


def linear_map_residual(x0: Tensor, xs: Tensor) -> float:
    """max over times of |x0 Phi^T - x(t)| / |x(t)| for the least-squares Phi (Frobenius)."""
    phi = torch.linalg.lstsq(x0.expand(len(xs), -1, -1), xs).solution
    residual = torch.linalg.matrix_norm(x0 @ phi - xs) / torch.linalg.matrix_norm(xs)
    return float(residual.max())
