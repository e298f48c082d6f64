"""The measure pairs (mu_k, nu_k): two-component Gaussian mixtures in R^2 that share a component.

For k = 0..N-1, with u(a) = (cos a, sin a), theta_k = 2 pi k / N + pi / 4 and component standard
deviation s,

    mu_k = (1/2) N(0, s^2 I) + (1/2) N(2 u(theta_k), s^2 I),
    nu_k = (1/2) N(u(theta_k + pi), s^2 I) + (1/2) N(2 u(theta_k) + u(theta_k + pi / 2), s^2 I):

every source contains the shared component A = N(0, s^2 I), and the target moves A one unit away
from the source's own second component (in a direction that depends on k), and that component one
unit sideways. A sample of nu_k is drawn as a sample of mu_k with each component's points
translated, so W2(mu_k, nu_k) = 0 is reachable by a flow and the W2 left after training is the
learned map's error.

No map x -> T(x) that ignores the context can push every mu_k onto nu_k when N >= 2: T_# mu_k =
(1/2) T_# A + (1/2) T_# B_k always holds the same half T_# A, while the nu_k share no component.

Distances are reported in units of the mixtures' spread, the root mean square distance of nu_k's
points to nu_k's mean, sqrt(1/4 |c_1 - c_2|^2 + 2 s^2) for centres c_1, c_2 (the same for every k).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

SOURCE_RADIUS = 2.0
"""|centre of B_k|: the distance between the two components of every mu_k."""
SHIFT = 1.0
"""How far each component is translated from mu_k to nu_k."""


def angles(pairs: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """theta_k = 2 pi k / N + pi / 4, shape (N,)."""
    return 2 * math.pi * torch.arange(pairs, dtype=dtype) / pairs + math.pi / 4


def unit(theta: Tensor) -> Tensor:
    """u(theta) = (cos theta, sin theta), shape (*theta.shape, 2)."""
    return torch.stack([torch.cos(theta), torch.sin(theta)], -1)


def centres(pairs: int, dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
    """Component centres of the sources and of the targets, each of shape (N, 2, 2) (pair,
    component, coordinate); component 0 is the shared one."""
    theta = angles(pairs, dtype)
    source = torch.stack([torch.zeros(pairs, 2, dtype=dtype), SOURCE_RADIUS * unit(theta)], 1)
    shift = torch.stack([SHIFT * unit(theta + math.pi), SHIFT * unit(theta + math.pi / 2)], 1)
    return source, source + shift


def spread(pairs: int, std: float) -> float:
    """The targets' spread sqrt(|c_1 - c_2|^2 / 4 + 2 s^2) (module docstring)."""
    _, target = centres(pairs)
    gap = float(torch.linalg.vector_norm(target[0, 1] - target[0, 0]))
    return math.sqrt(gap**2 / 4 + 2 * std**2)


def sample_pairs(
    pairs: int, n: int, std: float, generator: torch.Generator, dtype: torch.dtype
) -> tuple[Tensor, Tensor]:
    """n points of every mu_k and the same points translated into nu_k: two tensors (N, n, 2).
    Half the points (n // 2) lie in the shared component."""
    source, target = centres(pairs, dtype)
    component = (torch.arange(n) >= n // 2).long()
    noise = std * torch.randn(pairs, n, 2, generator=generator, dtype=dtype)
    return source[:, component] + noise, target[:, component] + noise
