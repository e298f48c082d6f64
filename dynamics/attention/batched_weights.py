"""Self-attention on the sphere with its own weights per system (``dynamics.sample_weights``).

For a batch of clouds x (..., n, d) and weights (..., 2, d, d) holding each system's bilinear
form A = Q^T K and value matrix V, token i of a system moves with

    x_i' = P_{x_i}( sum_j w_ij V x_j ),   w_ij = e^{beta x_i^T A x_j} / Z_i,

Z_i = sum_k e^{beta x_i^T A x_k} (``"softmax"``, SA) or Z_i = n (``"uniform"``, USA), P_x the
tangent projection of S^{d-1} (Geshkovski, Letrouit, Polyanskiy, Rigollet, "A mathematical
perspective on Transformers"). As ``dynamics.SelfAttention`` it evaluates at the directions
x_i / |x_i|, and it uses the same O(n d)-memory kernels (``softmax_attention``,
``attention_with_lse``), with queries x_i^T A, keys x_j and values V x_j. The weights enter as
the third argument of ``forward`` so that ``solvers.solve_ensemble(..., params=weights)`` hands
each running system its own.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from dynamics.attention.streaming import attention_with_lse, softmax_attention
from dynamics.checks import check_choice, check_cloud, check_real
from dynamics.exp_checked import exp_or_raise
from dynamics.geometry.spaces import SPHERE

BATCHED_NORMALIZATIONS = ("softmax", "uniform")


class BatchedWeightsAttention(nn.Module):
    """The field f(t, x, weights) above, for clouds x (..., n, d) and weights (..., 2, d, d).

    Args:
        beta: inverse temperature multiplying every logit x_i^T A x_j.
        normalization: "softmax" (SA) or "uniform" (USA).
    """

    def __init__(self, *, beta: float = 1.0, normalization: str = "softmax") -> None:
        super().__init__()
        self.geometry = SPHERE
        self.beta = check_real("beta", beta)
        self.normalization = check_choice("normalization", normalization, BATCHED_NORMALIZATIONS)

    def extra_repr(self) -> str:
        return f"beta={self.beta:g}, normalization={self.normalization!r}"

    def forward(self, t: Tensor, x: Tensor, weights: Tensor) -> Tensor:
        """dx/dt at the clouds ``x``, each system with its (A, V) = ``weights[..., 0 or 1, :, :]``
        (leading dimensions broadcast against x's); ``t`` is unused (autonomous)."""
        check_cloud("x", x)
        d = x.shape[-1]
        if not isinstance(weights, Tensor) or weights.shape[-3:] != (2, d, d):
            found = tuple(weights.shape) if isinstance(weights, Tensor) else type(weights).__name__
            raise ValueError(f"weights must have shape (..., 2, {d}, {d}), got {found}")
        x = self.geometry.retract(x)
        weights = weights.to(x)
        queries = x @ weights[..., 0, :, :]  # rows x_i^T A
        values = x @ weights[..., 1, :, :].transpose(-1, -2)  # rows (V x_j)^T
        q, k, v = torch.broadcast_tensors(queries, x, values)
        shape, n = q.shape, x.shape[-2]
        q, k, v = (z.reshape(-1, 1, n, d) for z in (q, k, v))
        if self.normalization == "softmax":
            out = softmax_attention(q, k, v, scale=self.beta)
        else:  # sum_j e^{s_ij} v_j / n = e^{lse_i - log n} softmax_j(s_ij) v_j
            out, lse = attention_with_lse(q, k, v, scale=self.beta)
            out = exp_or_raise(
                lse[..., None] - math.log(n),
                what="the uniform attention velocity",
                beta=self.beta,
                factor=out,
            )
        out = out.reshape(shape)
        return self.geometry.project(x.expand(shape), out)
