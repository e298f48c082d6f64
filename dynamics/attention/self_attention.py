"""Self-attention as a vector field on token clouds.

Following Geshkovski, Letrouit, Polyanskiy, Rigollet, "A mathematical perspective on Transformers",
token i moves with velocity

    x_i' = P_{x_i}( sum_h sum_j w^h_ij V_h x_j ),   w^h_ij = e^{beta <Q_h x_i, K_h x_j>} / Z^h_i,

where ``normalization="softmax"`` (SA) takes Z^h_i = sum_j e^{beta <Q_h x_i, K_h x_j>} and
``normalization="uniform"`` (USA) takes Z^h_i = n. ``normalization="sinkhorn"`` (Sander, Ablin,
Blondel, Peyre, "Sinkformers: transformers with doubly stochastic attention") takes instead w^h =
diag(e^{f^h}) [e^{beta <Q_h x_i, K_h x_j>}]_ij diag(e^{g^h}), the doubly stochastic scaling (every
row and column sums to 1) found by log-domain Sinkhorn iterations (``dynamics.attention.sinkhorn``),
to a column tolerance ``sinkhorn_tol`` within ``sinkhorn_iters`` iterations, or after exactly
``sinkhorn_fixed_iters`` iterations as Sinkformers are trained (1 iteration is softmax; rows then
sum to 1, columns only approximately, and the gradient-flow structure below is that of the limit).
With one head and W =
K^T Q = V symmetric it is a gradient flow: with c_ij = -beta <x_i, W x_j>, pi = P / n the entropic
optimal plan of the empirical measure with itself and F(X) = (1/2) [sum_ij pi_ij c_ij + sum_ij pi_ij
log(n^2 pi_ij)] (envelope theorem, pi symmetric), ``manifold="euclidean"`` gives x_i' = -(n / beta)
grad_{x_i} F, so dF/dt = -(beta / n) sum_i |x_i'|^2 <= 0; ``manifold="sphere"`` gives its tangent
part and the same rate on S^{d-1}.

Weighted clouds (``forward(t, x, masses=m)``, ``dynamics.attention.weighted``): token j carries a
mass m_j >= 0, sum_j m_j = 1, and the weights become

    softmax:  w_ij = e^{beta <Qx_i, Kx_j>} m_j / sum_k e^{beta <Qx_i, Kx_k>} m_k,
    uniform:  w_ij = e^{beta <Qx_i, Kx_j>} m_j,
    sinkhorn: w_ij = pi_ij / m_i, pi = diag(e^f) [e^{beta <Qx_i, Kx_j>}] diag(e^g) the entropic
              plan with marginals (m, m) (rows sum to m_i, columns to m_j),

the mean-field velocity X[mu](x_i) of the measure mu = sum_j m_j delta_{x_j}; m_j = 1/n gives the
fields above. The mass enters as a key bias log m_j added to every logit of key j, so no n x n
matrix is formed and the fused paths stay; a zero mass (bias -inf) removes the token as a key while
it still moves as a query. With masses, ``causal=True`` is refused (the mean-field limit has no
token order).

``manifold="sphere"`` applies the tangent projection P_x v = v - <x, v> x (post-LayerNorm tokens
on S^{d-1}); ``manifold="euclidean"`` leaves the velocity as it is. With ``causal=True`` token i
attends to tokens j <= i only.

On the sphere the field is evaluated at the directions x_i / |x_i| (what a LayerNorm hands to the
next layer) and projected there. On S^{d-1} this is the field above; off it, it is tangent to the
sphere through each x_i and its logits stay within beta |Q| |K|, so a solver's trial stage that
leaves the sphere can neither overflow e^{beta <Qx, Kx>} nor change the dynamics' time scale.

Memory stays O(n d) (``dynamics.attention.streaming``): the softmax path is one fused
``scaled_dot_product_attention`` call; the uniform path gets the row log-sum-exp from one fused
call with an extra key when no gradient is tracked, and otherwise streams over key blocks with a
running log-sum-exp. Where no fused kernel takes the dtype (float64 on CUDA) both stream. The
sinkhorn path costs two such log-sum-exp calls per Sinkhorn iteration and one softmax call.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from dynamics.attention.sinkhorn import (
    DEFAULT_MAX_ITERS,
    check_sinkhorn_options,
    sinkhorn_attention,
)
from dynamics.attention.streaming import attention_with_lse, softmax_attention
from dynamics.attention.weighted import check_masses
from dynamics.checks import check_choice, check_cloud, check_finite, check_int, check_real
from dynamics.exp_checked import exp_or_raise
from dynamics.geometry.spaces import geometry_named

NORMALIZATIONS = ("softmax", "uniform", "sinkhorn")


class SelfAttention(nn.Module):
    """The self-attention vector field f(t, x) on clouds x of shape (..., n, d).

    Args:
        d: token dimension.
        beta: inverse temperature multiplying every logit <Q x_i, K x_j>, any real (beta < 0
            weights the least aligned tokens most).
        query, key: (k, d) matrices, or (heads, k, d) for several heads; identity when omitted.
            Every given matrix must be finite.
            An ``nn.Parameter`` is trained, any other tensor is held fixed (a buffer).
        value: (d, d) or (heads, d, d). When omitted every head uses V_h = I / heads, so the
            default field does not depend on ``heads``.
        normalization: "softmax" (SA), "uniform" (USA) or "sinkhorn" (doubly stochastic), see
            the module docstring.
        manifold: "sphere" (tangent projection) or "euclidean"; stored as ``geometry``.
        heads: number of attention heads; the field sums the heads' outputs.
        causal: token i attends to tokens j <= i only (not with "sinkhorn": a doubly stochastic
            matrix with a causal mask is not defined here).
        sinkhorn_tol: largest column-marginal error |sum_i P_ij - 1| accepted by "sinkhorn"
            (relative, |sum_i pi_ij / m_j - 1|, with masses); None for 1e-10 in float64 and 1e-5
            in float32.
        sinkhorn_iters: most Sinkhorn iterations; the field raises ValueError if they do not
            reach ``sinkhorn_tol``.
        sinkhorn_fixed_iters: run exactly this many Sinkhorn iterations, with no tolerance and
            no error (1 is softmax attention, see ``dynamics.sinkhorn_attention``); None (the
            default) iterates to ``sinkhorn_tol``. Not together with ``sinkhorn_tol``.
    """

    autonomous = True

    def __init__(
        self,
        d: int,
        *,
        beta: float = 1.0,
        query: Tensor | None = None,
        key: Tensor | None = None,
        value: Tensor | None = None,
        normalization: str = "softmax",
        manifold: str = "sphere",
        heads: int = 1,
        causal: bool = False,
        sinkhorn_tol: float | None = None,
        sinkhorn_iters: int = DEFAULT_MAX_ITERS,
        sinkhorn_fixed_iters: int | None = None,
    ) -> None:
        super().__init__()
        self.geometry = geometry_named(manifold)
        self.d = self.geometry.check_dimension(d)
        self.beta = check_real("beta", beta)
        self.normalization = check_choice("normalization", normalization, NORMALIZATIONS)
        self.heads = check_int("heads", heads, minimum=1)
        if not isinstance(causal, bool):
            raise TypeError(f"causal={causal!r} must be a bool")
        self.causal = causal
        if causal and normalization == "sinkhorn":
            raise ValueError(
                "causal=True is not accepted with normalization='sinkhorn': a doubly stochastic "
                "matrix with a causal mask is not defined here; use causal=False or softmax/uniform"
            )
        self.sinkhorn_tol, self.sinkhorn_iters, self.sinkhorn_fixed_iters = check_sinkhorn_options(
            sinkhorn_tol, sinkhorn_iters, sinkhorn_fixed_iters
        )
        query = self._head_matrices("query", query, rows=None)
        key = self._head_matrices("key", key, rows=None)
        if query is not None and key is not None and query.shape[-2] != key.shape[-2]:
            raise ValueError(
                f"query has {query.shape[-2]} rows and key has {key.shape[-2]}; they must match"
            )
        for name, given, other in (("query", query, key), ("key", key, query)):
            if given is not None and other is None and given.shape[-2] != self.d:
                raise ValueError(
                    f"{name} has {given.shape[-2]} rows but the omitted "
                    f"{'key' if name == 'query' else 'query'} is the identity; give a {self.d}-row "
                    f"{name} or both matrices"
                )
        value = self._head_matrices("value", value, rows=self.d)
        for name, tensor in (("query", query), ("key", key), ("value", value)):
            if isinstance(tensor, nn.Parameter):
                self.register_parameter(name, tensor)
            else:
                self.register_buffer(name, tensor)

    def _head_matrices(self, name: str, matrix: Tensor | None, rows: int | None) -> Tensor | None:
        if matrix is None:
            return None
        if not isinstance(matrix, torch.Tensor) or not matrix.is_floating_point():
            raise TypeError(f"{name} must be a floating torch.Tensor or None, got {matrix!r}")
        shape = tuple(matrix.shape)
        heads_ok = matrix.ndim == 2 or (matrix.ndim == 3 and shape[0] == self.heads)
        rows_ok = rows is None or shape[-2] == rows
        if not (heads_ok and rows_ok and shape[-1] == self.d):
            expected = f"({self.heads}, {rows or 'k'}, {self.d})"
            if self.heads == 1:
                expected = f"({rows or 'k'}, {self.d}) or " + expected
            raise ValueError(f"{name} has shape {shape}; expected {expected}")
        return check_finite(name, matrix)

    def extra_repr(self) -> str:
        return (
            f"d={self.d}, beta={self.beta:g}, normalization={self.normalization!r}, "
            f"manifold={self.geometry.name!r}, heads={self.heads}, causal={self.causal}"
        )

    @staticmethod
    def _project_heads(matrix: Tensor | None, x4: Tensor) -> Tensor:
        """x4 (B, 1, n, d) -> (B, H, n, k) = x W_h^T per head, or x4 itself for the identity."""
        if matrix is None:
            return x4
        return x4 @ matrix.to(x4).transpose(-1, -2)

    def forward(self, t: Tensor, x: Tensor, *, masses: Tensor | None = None) -> Tensor:
        """dx/dt at the cloud ``x`` of shape (..., n, d), weighted by ``masses`` (..., n) when
        given (``dynamics.check_masses``), else uniform; ``t`` is unused (autonomous)."""
        check_cloud("x", x, d=self.d)
        n = x.shape[-2]
        log_masses = None
        if masses is not None:
            if self.causal:
                raise ValueError(
                    "masses are not accepted with causal=True: the weighted (mean-field) cloud has "
                    "no token order; use causal=False or leave masses out"
                )
            log_masses = torch.log(check_masses(masses, x)).expand(x.shape[:-1]).reshape(-1, 1, n)
        x = self.geometry.retract(x)
        x4 = x.reshape(-1, 1, n, self.d)
        q, k, v = (self._project_heads(m, x4) for m in (self.query, self.key, self.value))
        heads = max(q.shape[1], k.shape[1], v.shape[1])
        q, k, v = (z.expand(-1, heads, -1, -1) for z in (q, k, v))
        if self.normalization == "softmax":
            out = softmax_attention(
                q, k, v, scale=self.beta, causal=self.causal, key_bias=log_masses
            )
        elif self.normalization == "sinkhorn":
            out = sinkhorn_attention(
                q,
                k,
                v,
                scale=self.beta,
                log_marginals=log_masses,
                tol=self.sinkhorn_tol,
                max_iters=self.sinkhorn_iters,
                fixed_iters=self.sinkhorn_fixed_iters,
            )
        else:  # sum_j m_j e^{s_ij} v_j = e^{lse_i} softmax_j(s_ij + log m_j) v_j
            out, lse = attention_with_lse(
                q, k, v, scale=self.beta, causal=self.causal, key_bias=log_masses
            )
            if log_masses is None:
                lse = lse - math.log(n)
            out = exp_or_raise(
                lse[..., None], what="the uniform attention velocity", beta=self.beta, factor=out
            )
        if out.shape[1] == 1:
            out = out[:, 0]
        else:
            out = out.sum(1) if self.value is not None else out.mean(1)
        out = out.reshape(x.shape)
        return self.geometry.project(x, out)
