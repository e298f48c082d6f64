"""How far a cloud on the sphere is from consensus, measured by the interaction energy.

E_beta(x) = (1 / (2 beta n^2)) sum_ij e^{beta <x_i, x_j>} is largest, E_max = e^beta / (2 beta),
exactly when all tokens coincide (Geshkovski, Letrouit, Polyanskiy, Rigollet, "A mathematical
perspective on Transformers"). For unit tokens <x_i, x_j> = 1 - |x_i - x_j|^2 / 2, so the
relative gap is

    1 - E_beta(x) / E_max = (1 / n^2) sum_ij (1 - e^{-beta |x_i - x_j|^2 / 2}),

computed here with expm1 of the squared distances, each taken as a sum of squared differences
(never |x|^2 + |y|^2 - 2<x, y>): accurate to relative rounding error however small the gap
(1 - E / E_max would lose every digit below 1e-16 in float64).
"""

from __future__ import annotations

import torch
from torch import Tensor

from dynamics.checks import check_real
from dynamics.geometry.sphere import directions

_BLOCK_ELEMENTS = 1 << 22
"""Rows of the distance matrix are taken in blocks of at most this many entries (memory O(n d))."""


def relative_energy_gap(x: Tensor, beta: float) -> Tensor:
    """1 - E_beta(x / |x|) / E_max, shape (...), in [0, 1): 0 exactly at consensus.

    Tokens are taken as directions (rows normalised; ValueError if one has none, see
    ``dynamics.directions``). beta > 0.
    """
    beta = check_real("beta", beta, minimum=0.0, strict=True)
    unit = directions("x", x)
    n = unit.shape[-2]
    rows = max(1, _BLOCK_ELEMENTS // (n * max(1, unit[..., 0, 0].numel())))
    total = torch.zeros(unit.shape[:-2], dtype=unit.dtype, device=unit.device)
    for start in range(0, n, rows):
        block = unit[..., start : start + rows, :]
        squared = torch.cdist(block, unit, compute_mode="donot_use_mm_for_euclid_dist").square()
        total = total - torch.expm1(-0.5 * beta * squared).sum((-1, -2))
    return total / (n * n)
