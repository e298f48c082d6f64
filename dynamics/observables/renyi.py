"""Rényi centers of an ordered token cloud, and the Rényi parking counts that predict them.

Karagodin, Polyanskiy, Rigollet, "Clustering in causal attention masking": under causal attention
token k only sees tokens j <= k, so scanning the tokens in order a token far from every earlier one
has nothing to move towards and stays put for a long time. With a separation delta > 0 and the
Euclidean distance |x_k - x_j| (the chord on the sphere):

- Rényi centers: x_1 is a center; x_k (k > 1) is a center when |x_k - x_c| > delta for every
  earlier center c < k (Rényi's sequential parking: a car parks where it does not overlap the
  parked ones);
- strong Rényi centers: x_k is strong when |x_k - x_j| > delta for every earlier token j < k, a
  center or not (every strong center is a center; x_1 is strong). Its attention on itself
  outweighs each earlier token by e^{beta delta^2 / 2} (softmax, Q = K = V = I on the sphere), so
  it is nearly stationary until other tokens come close.

Predictions for n tokens uniform on the circle S^1, with alpha = 2 arcsin(delta / 2) the arc of a
chord delta (two points are delta-separated exactly when their arc exceeds alpha):

- strong centers: token k is strong when none of the k - 1 earlier tokens falls in the arc of
  length 2 alpha around it, with probability (1 - p)^{k-1}, p = alpha / pi; so the expected count
  is sum_{k=1}^n (1 - p)^{k-1} = (1 - (1 - p)^n) / p, which tends to pi / alpha;
- centers, as n -> infinity (saturated parking): the first center blocks an arc of alpha on each
  side; the others are unit cars (length alpha) parked at random on the rest, a segment of length
  2 pi - alpha, i.e. 2 pi / alpha - 1 car lengths. The expected count is 1 + M(2 pi / alpha - 1),
  where M(x), the expected number of unit cars parked on a segment of length x (Rényi, "On a
  one-dimensional problem concerning random space filling"), solves

      M(x) = 0 (x < 1),   M(x) = 1 + (2 / (x - 1)) int_0^{x-1} M(y) dy (x >= 1),

  and M(x) = c x + c - 1 + o(1) with Rényi's constant c = 0.7475979... So the expected number of
  centers is 2 pi c / alpha up to a vanishing error: about 1.174 sqrt(beta) for delta = 4 /
  sqrt(beta) at large beta.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from dynamics.checks import check_cloud, check_int, check_real

RENYI_PARKING_CONSTANT = 0.7475979202534114
"""c = int_0^inf exp(-2 int_0^t (1 - e^{-u}) / u du) dt, the limit of M(x) / x."""

PARKING_GRID_STEPS = 1000
"""Grid steps per car length in ``renyi_parking_mean``'s trapezoidal solution (error O(h^2))."""


def _scan(x: Tensor, delta: float, strong: bool) -> Tensor:
    x = check_cloud("x", x)
    delta = check_real("delta", delta, minimum=0.0, strict=True)
    flags = torch.zeros(x.shape[:-1], dtype=torch.bool, device=x.device)
    flags[..., 0] = True
    for k in range(1, x.shape[-2]):
        far = torch.linalg.vector_norm(x[..., :k, :] - x[..., k : k + 1, :], dim=-1) > delta
        if not strong:
            far = far | ~flags[..., :k]
        flags[..., k] = far.all(-1)
    return flags


def renyi_centers(x: Tensor, delta: float) -> Tensor:
    """Which tokens of the ordered cloud x (..., n, d) are Rényi centers (module docstring):
    a bool tensor (..., n). O(n^2 d) time, O(n d) memory."""
    return _scan(x, delta, strong=False)


def strong_renyi_centers(x: Tensor, delta: float) -> Tensor:
    """Which tokens of x (..., n, d) are farther than ``delta`` from every earlier token (strong
    Rényi centers, module docstring): a bool tensor (..., n)."""
    return _scan(x, delta, strong=True)


def renyi_parking_mean(x: float) -> float:
    """M(x), the expected number of unit cars parked at random on a segment of length x >= 0
    (module docstring), from the integral equation by the trapezoidal rule on [1, x - 1], where
    M is continuous (grid ``PARKING_GRID_STEPS`` per unit; error about 2e-8 x)."""
    x = check_real("x", x, minimum=0.0)
    if x < 1:
        return 0.0
    steps = max(1, math.ceil((x - 1) * PARKING_GRID_STEPS))
    h = (x - 1) / steps
    grid = 1 + h * np.arange(steps + 1)  # M on [1, x]; int_0^{y} M = int_1^{y} M
    values = np.empty(steps + 1)
    integral = np.zeros(steps + 1)  # int_1^{grid[i]} M
    for i, y in enumerate(grid):
        shifted = y - 1  # M(y) = 1 + 2 F(y - 1) / (y - 1), F(s) = int_1^s M for s >= 1
        if shifted < 1:
            values[i] = 1.0
        else:
            j = (shifted - 1) / h
            low = min(int(j), steps - 1)
            frac = j - low
            area = integral[low] + h * frac * (
                values[low] + 0.5 * frac * (values[low + 1] - values[low])
            )
            values[i] = 1 + 2 * area / shifted
        if i:
            integral[i] = integral[i - 1] + 0.5 * h * (values[i - 1] + values[i])
    return float(values[-1])


def _circle_arc(delta: float) -> float:
    delta = check_real("delta", delta, minimum=0.0, strict=True)
    if delta >= 2:
        raise ValueError(f"delta={delta!r} must be < 2 (the chord of S^1 is at most 2)")
    return 2 * math.asin(delta / 2)


def circle_renyi_center_mean(delta: float) -> float:
    """Expected number of Rényi centers of infinitely many uniform tokens on S^1:
    1 + M(2 pi / alpha - 1), alpha = 2 arcsin(delta / 2) (module docstring)."""
    return 1 + renyi_parking_mean(2 * math.pi / _circle_arc(delta) - 1)


def circle_strong_center_mean(delta: float, n: int) -> float:
    """Expected number of strong Rényi centers of n uniform tokens on S^1:
    (1 - (1 - p)^n) / p, p = alpha / pi, alpha = 2 arcsin(delta / 2) (module docstring)."""
    n = check_int("n", n, minimum=1)
    p = min(_circle_arc(delta) / math.pi, 1.0)
    return (1 - (1 - p) ** n) / p
