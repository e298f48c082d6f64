"""The mean_field scenario's initial density, a von Mises mixture on the circle: its cell
averages for the grid and its samples for the particles."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

import dynamics
from scenarios.mean_field.config import MeanFieldConfig

DTYPE = torch.float64

_QUADRATURE_NODES = 8
"""Gauss-Legendre nodes per cell (plus ceil(kappa h)) for the initial cell averages."""


def mixture_density(config: MeanFieldConfig, theta: Tensor) -> Tensor:
    """rho_0(theta) = sum_c w_c e^{kappa_c (cos(theta - mu_c) - 1)} / (2 pi i0e(kappa_c)), the
    von Mises mixture written with the scaled Bessel function i0e(k) = e^{-k} I_0(k)."""
    density = torch.zeros_like(theta)
    for mu, kappa, weight in zip(config.centres, config.kappas, config.weights, strict=True):
        scale = 2 * math.pi * float(torch.special.i0e(torch.tensor(kappa, dtype=DTYPE)))
        density = density + weight * torch.exp(kappa * (torch.cos(theta - mu) - 1)) / scale
    return density


def initial_cells(config: MeanFieldConfig) -> Tensor:
    """Cell averages (1/h) int_{cell k} rho_0 by Gauss-Legendre quadrature on every cell, with
    8 + ceil(max kappa h) nodes (an analytic integrand: error far below 1e-12 at the defaults)."""
    h = 2 * math.pi / config.cells
    count = _QUADRATURE_NODES + math.ceil(max(config.kappas) * h)
    nodes, weights = np.polynomial.legendre.leggauss(count)
    left = h * torch.arange(config.cells, dtype=DTYPE)
    theta = left[:, None] + 0.5 * h * (torch.as_tensor(nodes, dtype=DTYPE) + 1)
    return mixture_density(config, theta) @ torch.as_tensor(weights, dtype=DTYPE) / 2


def initial_angles(config: MeanFieldConfig, n: int) -> Tensor:
    """``seeds`` clouds of n i.i.d. angles of rho_0, shape (seeds, n), from the stream (seed, n).

    Drawn on the CPU as von Mises-Fisher samples on S^1 (``dynamics.sphere_mixture``), so the
    clouds are the same on every device."""
    state = np.random.SeedSequence([config.seed, n]).generate_state(2, dtype=np.uint32)
    generator = torch.Generator().manual_seed(int(state[0]) << 31 | int(state[1]) >> 1)
    directions = [[math.cos(mu), math.sin(mu)] for mu in config.centres]
    x = dynamics.sphere_mixture(
        n,
        directions,
        list(config.kappas),
        list(config.weights),
        batch_shape=(config.seeds,),
        generator=generator,
        dtype=DTYPE,
    )
    return angles_of(x)


def on_circle(theta: Tensor) -> Tensor:
    """Tokens (cos theta, sin theta), shape (*theta.shape, 2)."""
    return torch.stack([theta.cos(), theta.sin()], -1)


def angles_of(x: Tensor) -> Tensor:
    """The angle of each token of x (..., 2), in (-pi, pi]."""
    return torch.atan2(x[..., 1], x[..., 0])
