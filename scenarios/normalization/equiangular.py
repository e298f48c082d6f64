"""The equiangular part of the normalization scenario: each scheme's reduced ODE (rho, r) against
the particles from one equiangular start, and the clustering rate fitted near one cluster."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

import dynamics
import solvers
from dynamics.normalization import SCHEMES, EquiangularFlow, clustering_rate, equiangular_cloud
from scenarios.normalization.config import NormalizationConfig
from scenarios.normalization.trajectories import (
    DTYPE,
    attention_field,
    flow_states,
    particle_flows,
)

EPS_WINDOW = (1e-7, 1e-3)
"""eps = 1 - rho is fitted where it lies in this window (close to one cluster, above rounding)."""

TAIL_RTOL, TAIL_ATOL = 1e-9, 1e-12
"""Tolerances of the tail solves: eps >= 1e-7 in the fit window is resolved to about 1e-5."""

ZETA_HALF = -1.4603545088095868
"""zeta(1/2): sum_{k <= l} k^{-1/2} = 2 sqrt(l) + zeta(1/2) + O(l^{-1/2})."""


@dataclass(frozen=True)
class EquiangularResult:
    """One scheme at one beta: rho and r of the reduced ODE and of the particles at the layers'
    times, their largest gaps, and the clustering rate predicted and fitted."""

    rho: np.ndarray
    radius: np.ndarray
    particle_rho: np.ndarray
    cosine_gap: float
    radius_gap: float
    law: str
    predicted_rate: float
    fitted_rate: float
    tail_time: np.ndarray
    tail_eps: np.ndarray


def reduced_flows(config: NormalizationConfig, beta: float) -> Callable[[str], EquiangularFlow]:
    """``make_flow`` for the reduced ODE of ``config.equiangular_n`` tokens."""
    return lambda scheme: EquiangularFlow(scheme, config.equiangular_n, beta, config.attention)


def solve_equiangular(config: NormalizationConfig, scheme: str, beta: float) -> EquiangularResult:
    """Particles and reduced ODE of ``scheme`` at ``beta`` on the layers' times, and the rate."""
    n = config.equiangular_n
    generator = torch.Generator().manual_seed(config.seed)
    x0 = equiangular_cloud(n, n + 1, config.rho0, generator=generator, dtype=DTYPE)
    x0 = x0.to(config.device)
    y0 = torch.tensor([config.rho0, 1.0], dtype=DTYPE, device=config.device)
    field = attention_field(config, n + 1, beta)
    particles = flow_states(config, scheme, particle_flows(field), x0)
    reduced = flow_states(config, scheme, reduced_flows(config, beta), y0)
    off_diagonal = ~torch.eye(n, dtype=torch.bool, device=x0.device)
    cosines = dynamics.pairwise_cosines(particles)[:, off_diagonal]
    radii = torch.linalg.vector_norm(particles, dim=-1)
    rate = clustering_rate(scheme, n, beta, config.attention)
    tail_time, tail_eps = _tail(config, scheme, beta, rate.law, rate.rate)
    return EquiangularResult(
        rho=reduced[:, 0].cpu().numpy(),
        radius=reduced[:, 1].cpu().numpy(),
        particle_rho=cosines.mean(-1).cpu().numpy(),
        cosine_gap=float((cosines - reduced[:, :1]).abs().max()),
        radius_gap=float((radii - reduced[:, 1:]).abs().max()),
        law=rate.law,
        predicted_rate=rate.rate,
        fitted_rate=fit_rate(tail_time, tail_eps, rate.law),
        tail_time=tail_time,
        tail_eps=tail_eps,
    )


def _tail(
    config: NormalizationConfig, scheme: str, beta: float, law: str, rate: float
) -> tuple[np.ndarray, np.ndarray]:
    """eps = 1 - rho of the reduced ODE from rho0 until it is below the fit window, against time
    (depth-scaled: against the layer l, from tau_l = h (2 sqrt(l) + zeta(1/2)); Mix-LN: against
    the time t from 0, so its power law carries the offset of its Post-LN start)."""
    y0 = torch.tensor([config.rho0, 1.0], dtype=DTYPE)
    if law == "exponential":  # eps ~ e^{-rate t} passes 1e-8 near t = 18 / rate
        times = torch.linspace(0.0, 20.0 / rate, 100, dtype=DTYPE)
    else:  # eps ~ t^-2 passes 1e-7 by t = 1e4
        times = torch.cat([torch.zeros(1, dtype=DTYPE), torch.logspace(-2, 4, 100, dtype=DTYPE)])
    base = {"mix_ln": "pre_ln", "depth_scaled": "pre_ln"}.get(scheme, scheme)
    if scheme == "mix_ln":  # Post-LN until the switch, then Pre-LN: the tail is Pre-LN's
        switch = config.post_layers * config.h
        start = EquiangularFlow("post_ln", config.equiangular_n, beta, config.attention)
        y0 = solvers.integrate(start, y0, [0.0, switch], rtol=TAIL_RTOL, atol=TAIL_ATOL)[-1]
        times = times[times > 0] + switch
        times = torch.cat([torch.tensor([switch], dtype=DTYPE), times])
    field = EquiangularFlow(base, config.equiangular_n, beta, config.attention)
    y = solvers.integrate(field, y0, times, rtol=TAIL_RTOL, atol=TAIL_ATOL)
    eps = (1.0 - y[:, 0]).numpy()
    clock = times.numpy()
    if scheme == "depth_scaled":
        clock = ((clock / config.h - ZETA_HALF) / 2.0) ** 2
    return clock, eps


def fit_rate(times: np.ndarray, eps: np.ndarray, law: str) -> float:
    """-slope of log(eps) against t (exponential law) or log(t) (power law) over the points
    where eps lies in ``EPS_WINDOW``; NaN with fewer than 3 such points."""
    window = (eps > EPS_WINDOW[0]) & (eps < EPS_WINDOW[1]) & (times > 0)
    if window.sum() < 3:
        return math.nan
    abscissa = times[window] if law == "exponential" else np.log(times[window])
    return float(-np.polyfit(abscissa, np.log(eps[window]), 1)[0])


def solve_all(config: NormalizationConfig) -> dict[str, dict[float, EquiangularResult]]:
    """Every scheme at every beta."""
    return {
        scheme: {beta: solve_equiangular(config, scheme, beta) for beta in config.betas}
        for scheme in SCHEMES
    }
