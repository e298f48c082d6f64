"""The exact mean-field dynamics of softmax attention on Gaussian measures in R^d.

For Euclidean softmax self-attention (``SelfAttention(d, manifold="euclidean")``, one head) the
mean-field velocity of a probability measure mu is

    X[mu](x) = int e^{beta <Q x, K y>} V y dmu(y) / int e^{beta <Q x, K y>} dmu(y).

For mu = N(m, S) the weight e^{<a, y>}, a = beta K^T Q x, tilts the Gaussian into another one:

    e^{<a, y>} N(y; m, S) = e^{<a, m> + a^T S a / 2} N(y; m + S a, S)

(complete the square in the exponent), so the weighted mean of V y is V(m + S a) and the field is
affine in x:

    X(x) = b + A x,   b = V m,   A = beta V S K^T Q.

Under an affine flow a Gaussian stays Gaussian, with mean and covariance solving the closed ODE

    m' = b + A m = V (I + beta S K^T Q) m,
    S' = A S + S A^T = beta (V S K^T Q S + S Q^T K S V^T),

an exact mean-field solver for Gaussian data (Castin, Ablin, Carrillo, Peyre, "A unified
perspective on the dynamics of deep transformers", who state it for beta = 1, i.e. beta folded
into Q). With H heads the field sums the heads' outputs: b = sum_h V_h m and
A = beta sum_h V_h S K_h^T Q_h, with V_h = I / H when ``value`` is omitted, exactly as
``SelfAttention`` does. A degenerate S is allowed (the tilting identity holds by continuity).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dynamics.attention.self_attention import SelfAttention
from dynamics.checks import check_cloud
from dynamics.geometry.spaces import EUCLIDEAN


class GaussianAttentionMoments(nn.Module):
    """The closed ODE of Euclidean softmax ``SelfAttention`` on the state (m, S) of a Gaussian
    N(m, S): m' = b + A m, S' = A S + S A^T (see the module docstring). Usable with
    ``solvers.integrate`` on the tuple state (mean (..., d), covariance (..., d, d)).
    """

    geometry = EUCLIDEAN

    def __init__(self, attention: SelfAttention) -> None:
        super().__init__()
        if not isinstance(attention, SelfAttention):
            raise TypeError(
                f"GaussianAttentionMoments needs a SelfAttention, got {type(attention).__name__}"
            )
        found = {
            "normalization": attention.normalization,
            "manifold": attention.geometry.name,
            "causal": attention.causal,
        }
        accepted = {"normalization": "softmax", "manifold": "euclidean", "causal": False}
        for name, value in accepted.items():
            if found[name] != value:
                raise ValueError(
                    f"the Gaussian closure holds for {name}={value!r}; the attention has "
                    f"{name}={found[name]!r}"
                )
        self.attention = attention

    def _heads(self, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
        """(H, k, d) query and key, (H, d, d) value: SelfAttention's per-head matrices."""
        attention = self.attention
        eye = torch.eye(attention.d, dtype=dtype, device=device)
        query, key, value = (
            eye if matrix is None else matrix.to(dtype=dtype, device=device)
            for matrix in (attention.query, attention.key, attention.value)
        )
        if attention.value is None:
            value = value / attention.heads
        return tuple(m.expand(attention.heads, *m.shape[-2:]) for m in (query, key, value))

    def affine(self, mean: Tensor, covariance: Tensor) -> tuple[Tensor, Tensor]:
        """(b, A) with X(x) = b + A x for mu = N(mean, covariance); shapes (..., d), (..., d, d)."""
        query, key, value = self._heads(mean.dtype, mean.device)
        shift = (value @ mean[..., None, :, None]).sum(-3)[..., 0]
        cov = covariance[..., None, :, :]
        matrix = self.attention.beta * (value @ cov @ key.transpose(-1, -2) @ query).sum(-3)
        return shift, matrix

    def velocity(self, x: Tensor, mean: Tensor, covariance: Tensor) -> Tensor:
        """X[N(mean, covariance)] at the points x (..., n, d): b + A x."""
        check_cloud("x", x, d=self.attention.d)
        shift, matrix = self.affine(mean, covariance)
        return shift[..., None, :] + x @ matrix.transpose(-1, -2)

    def forward(self, t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """(m', S') at the state (m, S); ``t`` is unused (autonomous)."""
        mean, covariance = state
        shift, matrix = self.affine(mean, covariance)
        mean_rate = shift + (matrix @ mean[..., None])[..., 0]
        product = matrix @ covariance
        return mean_rate, product + product.transpose(-1, -2)
