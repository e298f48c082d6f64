"""The continuous limits of the normalization schemes: fields on x, read on (r, theta).

Write each token as x_i = r_i theta_i (r_i = |x_i|, theta_i on S^{d-1}), let A_i = A(theta)_i be
the attention sublayer at the directions and P_theta v = v - <theta, v> theta. Expanding one layer
of ``dynamics.normalization.layers`` to first order in its step h (t = l h) gives the flow that L
layers of step T / L discretise on [0, T] (Euler-type steps, order 1):

- Post-LN: LN(x + h A) = x + h P_x A + O(h^2), so x' = P_x A(x): r = 1 and theta' = P_theta A;
- Pre-LN:  x' = A(theta), hence r' = <theta, A> and theta' = P_theta A / r;
- Peri-LN: x' = A / |A|, hence r' = <theta, A> / |A| and theta' = P_theta A / (r |A|);
- nGPT (alpha = h): LN(x + h (A / |A| - x)) = x + h P_x A / |A| + O(h^2), so
  x' = P_x A / |A|: r = 1 and theta' = P_theta A / |A|;
- Mix-LN with the first fraction phi of the layers Post-LN: the Post-LN flow on [0, phi T], then
  the Pre-LN flow from its end (radius 1) on [phi T, T];
- depth-scaled: layer l adds (h / sqrt(l)) A(LN x). At fixed t = l h its total weight
  sum_l h / sqrt(l) ~ 2 sqrt(h t) vanishes as h -> 0, so its limit needs a rescaled time: in the
  clock tau_l = h sum_{k <= l} k^{-1/2} (about 2 h sqrt(l), ``depth_scaled_clock``) the layers are
  Euler steps of sizes h / sqrt(k) of the Pre-LN flow and converge to it at tau_L, with error
  O(h^2 sum_k 1 / k) = O(h^2 log L) (order 1 in h up to the logarithm).

Every scheme moves the direction along the Post-LN velocity P_theta A, at a speed the scheme sets:
theta_i' = s_i P_theta_i A_i with the speed factor (``speed_factor``) s = 1 (Post-LN), 1 / r
(Pre-LN), 1 / (r |A|) (Peri-LN), 1 / |A| (nGPT), and 1 / (r sqrt(l)) per unit of layer time for
the depth-scaled layers: normalization as speed regulation (Karagodin, Ge, Polyanskiy, Rigollet,
"Normalization in attention dynamics"; Rigollet, "The mean-field dynamics of transformers").
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dynamics.checks import check_int, check_real
from dynamics.field import VectorField
from dynamics.geometry.spaces import EUCLIDEAN, SPHERE, Geometry
from dynamics.geometry.sphere import normalize, project_tangent


class _SchemeFlow(nn.Module):
    """A scheme's flow around an attention sublayer ``attention(t, x)``."""

    geometry: Geometry

    def __init__(self, attention: VectorField) -> None:
        super().__init__()
        if not callable(attention):
            raise TypeError(f"attention={attention!r} must be a field A(t, x)")
        self.attention = attention

    def directions_and_attention(self, t: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        """theta = x / |x| and A(t, theta)."""
        theta = normalize(x)
        return theta, self.attention(t, theta)

    def speed_factor(self, t: Tensor, x: Tensor) -> Tensor:
        """s_i with theta_i' = s_i P_theta_i A_i, shape (..., n)."""
        raise NotImplementedError


class PostLNFlow(_SchemeFlow):
    """x' = P_theta A(theta), theta = x / |x|: the Post-LN layers' flow on the sphere."""

    geometry = SPHERE

    def forward(self, t: Tensor, x: Tensor) -> Tensor:
        theta, attended = self.directions_and_attention(t, x)
        return project_tangent(theta, attended)

    def speed_factor(self, t: Tensor, x: Tensor) -> Tensor:
        """s = 1."""
        return torch.ones_like(x[..., 0])


class PreLNFlow(_SchemeFlow):
    """x' = A(theta): r' = <theta, A>, theta' = P_theta A / r."""

    geometry = EUCLIDEAN

    def forward(self, t: Tensor, x: Tensor) -> Tensor:
        return self.directions_and_attention(t, x)[1]

    def speed_factor(self, t: Tensor, x: Tensor) -> Tensor:
        """s = 1 / r."""
        return 1.0 / torch.linalg.vector_norm(x, dim=-1)


class PeriLNFlow(_SchemeFlow):
    """x' = A(theta) / |A(theta)|: r' = <theta, A> / |A|, theta' = P_theta A / (r |A|)."""

    geometry = EUCLIDEAN

    def forward(self, t: Tensor, x: Tensor) -> Tensor:
        return normalize(self.directions_and_attention(t, x)[1])

    def speed_factor(self, t: Tensor, x: Tensor) -> Tensor:
        """s = 1 / (r |A|)."""
        attended = self.directions_and_attention(t, x)[1]
        radius = torch.linalg.vector_norm(x, dim=-1)
        return 1.0 / (radius * torch.linalg.vector_norm(attended, dim=-1))


class NGPTFlow(_SchemeFlow):
    """x' = P_theta A(theta) / |A(theta)|: the nGPT layers' flow (alpha = h) on the sphere."""

    geometry = SPHERE

    def forward(self, t: Tensor, x: Tensor) -> Tensor:
        theta, attended = self.directions_and_attention(t, x)
        return project_tangent(theta, normalize(attended))

    def speed_factor(self, t: Tensor, x: Tensor) -> Tensor:
        """s = 1 / |A|."""
        attended = self.directions_and_attention(t, x)[1]
        return 1.0 / torch.linalg.vector_norm(attended, dim=-1)


FLOWS: dict[str, type[_SchemeFlow]] = {
    "post_ln": PostLNFlow,
    "pre_ln": PreLNFlow,
    "peri_ln": PeriLNFlow,
    "ngpt": NGPTFlow,
}
"""Scheme -> its flow; Mix-LN runs Post-LN then Pre-LN, depth-scaled runs Pre-LN in its clock."""


def depth_scaled_clock(h: float, depth: int, *, dtype: torch.dtype = torch.float64) -> Tensor:
    """tau_l = h sum_{k=1}^{l} k^{-1/2} for l = 0..depth: the Pre-LN time reached by l
    depth-scaled layers of step h, shape (depth + 1,)."""
    h = check_real("h", h, minimum=0.0, strict=True)
    depth = check_int("depth", depth, minimum=1)
    layers = torch.arange(1, depth + 1, dtype=dtype)
    return torch.cat([torch.zeros(1, dtype=dtype), torch.cumsum(h / layers.sqrt(), 0)])
