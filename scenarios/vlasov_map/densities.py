"""Random initial densities on the circle, von Mises mixtures, as grid cell averages and samples.

Density k is rho_k(theta) = sum_c w_kc e^{kappa_kc cos(theta - mu_kc)} / (2 pi I_0(kappa_kc)), with
``components`` components: centres mu uniform on [0, 2 pi), concentrations kappa uniform on
[kappa_min, kappa_max], weights w from the flat Dirichlet law (normalised exponentials).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

DTYPE = torch.float64

QUADRATURE_NODES = 8
"""Gauss-Legendre nodes per cell (plus ceil(kappa_max h)) for the cell averages."""


@dataclass(frozen=True)
class Mixtures:
    """A batch of von Mises mixtures: centres, concentrations and weights, each (batch, c)."""

    centres: Tensor
    kappas: Tensor
    weights: Tensor

    def density(self, theta: Tensor) -> Tensor:
        """rho_k(theta) for angles theta (batch, m), written with i0e(k) = e^{-k} I_0(k):
        sum_c w_c e^{kappa_c (cos(theta - mu_c) - 1)} / (2 pi i0e(kappa_c))."""
        shifted = theta[..., None] - self.centres[:, None, :]
        terms = torch.exp(self.kappas[:, None, :] * (torch.cos(shifted) - 1))
        scale = self.weights / (2 * math.pi * torch.special.i0e(self.kappas))
        return (terms * scale[:, None, :]).sum(-1)


def random_mixtures(
    count: int, components: int, kappa_range: tuple[float, float], generator: torch.Generator
) -> Mixtures:
    """``count`` mixtures drawn as the module docstring says."""
    low, high = kappa_range
    shape = (count, components)
    centres = 2 * math.pi * torch.rand(shape, generator=generator, dtype=DTYPE)
    kappas = low + (high - low) * torch.rand(shape, generator=generator, dtype=DTYPE)
    exponentials = -torch.log(torch.rand(shape, generator=generator, dtype=DTYPE))
    return Mixtures(centres, kappas, exponentials / exponentials.sum(-1, keepdim=True))


def cell_averages(mixtures: Mixtures, cells: int) -> Tensor:
    """(1/h) int_{cell j} rho_k for the cells [j h, (j + 1) h), h = 2 pi / M, shape (batch, M), by
    Gauss-Legendre quadrature on every cell (an analytic integrand)."""
    h = 2 * math.pi / cells
    count = QUADRATURE_NODES + math.ceil(float(mixtures.kappas.max()) * h)
    nodes, weights = (
        torch.as_tensor(a, dtype=DTYPE) for a in np.polynomial.legendre.leggauss(count)
    )
    theta = h * torch.arange(cells, dtype=DTYPE)[:, None] + 0.5 * h * (nodes + 1)
    batch = mixtures.centres.shape[0]
    values = mixtures.density(theta.reshape(1, -1).expand(batch, -1))
    return values.reshape(batch, cells, count) @ weights / 2


def sample_cells(rho: Tensor, n: int, generator: torch.Generator) -> Tensor:
    """n i.i.d. angles (batch, n) of the piecewise-constant densities with cell averages ``rho``
    (batch, M): a cell drawn with probability h rho_j, then a uniform point in it. These are the
    densities the grid solver starts from, so the samples and the grid share one initial law."""
    cells = rho.shape[-1]
    h = 2 * math.pi / cells
    cell = torch.multinomial(rho, n, replacement=True, generator=generator)
    offset = torch.rand(cell.shape, generator=generator, dtype=rho.dtype)
    return h * (cell.to(rho.dtype) + offset)
