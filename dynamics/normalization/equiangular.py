"""The equiangular reduction of every scheme's flow: two scalars (rho, r) instead of n tokens.

Take the attention A(theta)_i = sum_j w_ij theta_j with identity query, key and value
(``SelfAttention(d, beta=beta, normalization=..., manifold="euclidean")`` evaluated at the
directions), w_ij = e^{beta <theta_i, theta_j>} / Z_i with Z_i = sum_k e^{beta <theta_i, theta_k>}
(softmax, SA) or Z_i = n (uniform, USA). If all pairwise cosines equal rho and all radii equal r,
the system is invariant under the permutations of the tokens (realised by rotations, which the
field commutes with), so it stays equiangular: the cloud is (rho(t), r(t)). With
w = e^{beta (rho - 1)} in (0, 1] and c = 1 / (1 + (n - 1) w) (SA) or e^beta / n (USA),

    A_i = c (theta_i + w sum_{j != i} theta_j),
    <theta_i, A_i> = c m,       m = 1 + (n - 1) w rho,
    |A_i|^2 = c^2 q,            q = 1 + 2 (n - 1) w rho + (n - 1) w^2 (1 + (n - 2) rho),
    d/dt <theta_i, theta_k> = 2 s <P_theta_i A_i, theta_k> = 2 s c w (1 - rho)(1 + (n - 1) rho)

for the speed factor s of the scheme (``dynamics.normalization.flows``), which gives

    Post-LN:  rho' = 2 c w (1 - rho)(1 + (n - 1) rho),                      r' = 0;
    Pre-LN:   rho' = 2 c w (1 - rho)(1 + (n - 1) rho) / r,                  r' = c m;
    Peri-LN:  rho' = 2 w (1 - rho)(1 + (n - 1) rho) / (r sqrt(q)),          r' = m / sqrt(q);
    nGPT:     rho' = 2 w (1 - rho)(1 + (n - 1) rho) / sqrt(q),              r' = 0

(the Post-LN equation is that of Geshkovski, Letrouit, Polyanskiy, Rigollet, "A mathematical
perspective on Transformers"). Near the single cluster, eps = 1 - rho -> 0 with w, m, q -> 1, n,
n^2 and c -> c* = c(rho = 1) (1 / n for SA, e^beta / n for USA):

- Post-LN: eps' = -2 n c* eps, exponential at rate 2 (SA) or 2 e^beta (USA);
- nGPT:    eps' = -2 eps, exponential at rate 2 for SA and USA alike;
- Pre-LN:  r' -> n c*, eps' = -(2 n c* / r) eps, so eps ~ t^-2: a power law of exponent 2;
- Peri-LN: r' -> 1, eps' = -(2 / r) eps: again eps ~ t^-2;
- Mix-LN: ends as Pre-LN, eps ~ t^-2; depth-scaled: Pre-LN in the clock tau ~ 2 h sqrt(l), so
  eps ~ tau^-2 ~ l^-1, a power law of exponent 1 in depth.

Pre-LN radius: dr / drho = r m / (2 w (1 - rho)(1 + (n - 1) rho)) does not depend on c, so
log(r / r0) = int_{rho0}^{rho} m / (2 w (1 - rho)(1 + (n - 1) rho)) drho along every equiangular
Pre-LN trajectory, SA or USA; at beta = 0 this is r^2 (1 - rho) = r0^2 (1 - rho0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from dynamics.checks import check_choice, check_int, check_real
from dynamics.geometry.spaces import EUCLIDEAN
from dynamics.normalization.layers import SCHEMES

EQUIANGULAR_SCHEMES = ("post_ln", "pre_ln", "peri_ln", "ngpt")
"""Schemes with their own reduced ODE (Mix-LN and depth-scaled are composed from these)."""

REDUCED_NORMALIZATIONS = ("softmax", "uniform")

LARGEST_UNIFORM_BETA = math.log(torch.finfo(torch.float64).max / 2)
"""USA's weights carry e^beta (c* = e^beta / n), finite in float64 up to this beta (about 709);
SA's reduction uses only w = e^{beta (rho - 1)} <= 1 and takes any beta."""


def _check_beta(beta: object, normalization: str) -> float:
    beta = check_real("beta", beta)
    if normalization == "uniform" and beta > LARGEST_UNIFORM_BETA:
        raise ValueError(
            f"beta={beta!r} overflows the uniform (USA) weights e^beta in float64; use beta <= "
            f"{LARGEST_UNIFORM_BETA:.1f}, or normalization='softmax'"
        )
    return beta


def attention_moments(
    rho: Tensor, n: int, beta: float, normalization: str
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(c, w, m, q) of the module docstring at the common cosine ``rho``."""
    w = torch.exp(beta * (rho - 1.0))
    if normalization == "softmax":
        c = 1.0 / (1.0 + (n - 1) * w)
    else:
        c = torch.full_like(rho, math.exp(beta) / n)
    m = 1.0 + (n - 1) * w * rho
    q = 1.0 + 2 * (n - 1) * w * rho + (n - 1) * w.square() * (1.0 + (n - 2) * rho)
    return c, w, m, q


class EquiangularFlow(nn.Module):
    """The reduced ODE of ``scheme`` on y = (rho, r), shape (..., 2), see the module docstring."""

    geometry = EUCLIDEAN

    def __init__(self, scheme: str, n: int, beta: float, normalization: str = "softmax") -> None:
        super().__init__()
        self.scheme = check_choice("scheme", scheme, EQUIANGULAR_SCHEMES)
        self.n = check_int("n", n, minimum=2)
        self.normalization = check_choice("normalization", normalization, REDUCED_NORMALIZATIONS)
        self.beta = _check_beta(beta, self.normalization)

    def extra_repr(self) -> str:
        return (
            f"scheme={self.scheme!r}, n={self.n}, beta={self.beta:g}, "
            f"normalization={self.normalization!r}"
        )

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        rho, r = y[..., 0], y[..., 1]
        c, w, m, q = attention_moments(rho, self.n, self.beta, self.normalization)
        drift = 2 * w * (1.0 - rho) * (1.0 + (self.n - 1) * rho)
        zero = torch.zeros_like(rho)
        if self.scheme == "post_ln":
            rates = (c * drift, zero)
        elif self.scheme == "pre_ln":
            rates = (c * drift / r, c * m)
        elif self.scheme == "peri_ln":
            rates = (drift / (r * q.sqrt()), m / q.sqrt())
        else:
            rates = (drift / q.sqrt(), zero)
        return torch.stack(rates, dim=-1)


@dataclass(frozen=True)
class ClusteringRate:
    """How eps = 1 - rho vanishes near the single cluster: ``law`` "exponential"
    (eps ~ e^{-rate t}) or "power" (eps ~ t^{-rate}, t the time or, depth-scaled, the layer)."""

    law: str
    rate: float


def clustering_rate(scheme: str, n: int, beta: float, normalization: str) -> ClusteringRate:
    """The equiangular clustering rate of ``scheme`` (any of ``SCHEMES``) from the module
    docstring."""
    check_choice("scheme", scheme, SCHEMES)
    check_int("n", n, minimum=2)
    check_choice("normalization", normalization, REDUCED_NORMALIZATIONS)
    beta = _check_beta(beta, normalization)
    if scheme == "post_ln":
        rate = 2.0 if normalization == "softmax" else 2.0 * math.exp(beta)
        return ClusteringRate("exponential", rate)
    if scheme == "ngpt":
        return ClusteringRate("exponential", 2.0)
    return ClusteringRate("power", 1.0 if scheme == "depth_scaled" else 2.0)


def equiangular_cloud(
    n: int,
    d: int,
    rho: float,
    *,
    radius: float = 1.0,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """n tokens of norm ``radius`` with every pairwise cosine equal to ``rho`` in [0, 1), in
    R^d with d >= n + 1: radius (sqrt(rho) e_0 + sqrt(1 - rho) e_i) under a random rotation
    drawn from ``generator``, shape (n, d)."""
    n = check_int("n", n, minimum=2)
    d = check_int("d", d, minimum=n + 1)
    rho = check_real("rho", rho, minimum=0.0)
    if rho >= 1.0:
        raise ValueError(f"rho={rho!r} must be in [0, 1)")
    radius = check_real("radius", radius, minimum=0.0, strict=True)
    basis = torch.zeros(n, d, dtype=torch.float64)
    basis[:, 0] = math.sqrt(rho)
    basis[:, 1 : n + 1] = math.sqrt(1.0 - rho) * torch.eye(n, dtype=torch.float64)
    gaussian = torch.randn(d, d, generator=generator, dtype=torch.float64)
    rotation, upper = torch.linalg.qr(gaussian)
    rotation = rotation * torch.sign(torch.diagonal(upper))
    return (radius * basis @ rotation.T).to(dtype=dtype, device=device)
