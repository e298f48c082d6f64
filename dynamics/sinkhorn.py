"""Doubly stochastic (Sinkhorn) attention in O(n d) memory.

Following Sander, Ablin, Blondel, Peyre, "Sinkformers: transformers with doubly stochastic
attention", the kernel K_ij = e^{s_ij}, s_ij = scale <q_i, k_j>, of n queries and n keys is scaled
to the doubly stochastic matrix

    P = diag(e^f) K diag(e^g),   sum_j P_ij = 1 and sum_i P_ij = 1,

by log-domain Sinkhorn iterations started from g = 0:

    f_i = -log sum_j e^{s_ij + g_j}   (rows),   g_j = -log sum_i e^{s_ij + f_i}   (columns).

Each half-iteration is one log-sum-exp of an attention call with a per-key bias, folded into the
inner product: with q'_i = [scale q_i, 1] and k'_j = [k_j, b_j], <q'_i, k'_j> = s_ij + b_j. The
column update swaps the roles (keys attend to queries with bias f). So no n x n matrix is formed
(``dynamics.streaming``), and leading batch dimensions are independent systems.

Stopping: the iterations end right after a row update, so the rows sum to 1 to rounding; the
column sums are then e^{g_j - g_new_j}, with g_new the next column update, and the loop stops as
soon as max_j |sum_i P_ij - 1| <= ``tol`` over every system of the batch. If that does not happen
within ``max_iters`` iterations a ValueError is raised (a silently non-doubly-stochastic matrix
would change the dynamics); Sinkhorn converges linearly at a rate that degrades as the logit range
grows, so a large ``scale`` needs more iterations.

Because the rows are exactly normalized, row i of P is softmax_j(s_ij + g_j), and the attention
output sum_j P_ij v_j is one softmax-attention call with key bias g.

Derivatives: autograd runs through the unrolled iterations. At convergence the derivative of the
iterates converges (at Sinkhorn's linear rate) to the derivative of the exact doubly stochastic
scaling, so derivatives are as accurate as the marginals. The graph holds O(iterations n d)
memory; without a tracked derivative the iterations keep only O(n d).
"""

from __future__ import annotations

import torch
from torch import Tensor

from dynamics.checks import check_int, check_real
from dynamics.streaming import attention_with_lse, broadcast_batch_shape, softmax_attention

DEFAULT_MAX_ITERS = 1000
# The default marginal tolerance per dtype: well above the rounding of an n-term log-sum-exp
# (about 1e-15 in float64, 1e-7 in float32), well below any effect on the dynamics.
DEFAULT_TOL = {torch.float64: 1e-10, torch.float32: 1e-5}
_HALF_PRECISION_TOL = 1e-2


def default_tol(dtype: torch.dtype) -> float:
    """The default ``tol``: 1e-10 for float64, 1e-5 for float32, 1e-2 for half precisions."""
    return DEFAULT_TOL.get(dtype, _HALF_PRECISION_TOL)


def check_sinkhorn_options(tol: float | None, max_iters: int) -> tuple[float | None, int]:
    """Validate ``sinkhorn_tol`` (> 0 or None for the dtype's default) and ``sinkhorn_iters``."""
    if tol is not None:
        tol = check_real("sinkhorn_tol", tol, minimum=0.0, strict=True)
    return tol, check_int("sinkhorn_iters", max_iters, minimum=1)


def _broadcast_batch(q: Tensor, k: Tensor) -> tuple[Tensor, Tensor]:
    """q and k expanded (no copy) to their common batch shape."""
    batch_shape = broadcast_batch_shape(q, k)
    return q.expand(*batch_shape, *q.shape[-2:]), k.expand(*batch_shape, *k.shape[-2:])


def _with_key_bias(a: Tensor, b: Tensor, bias: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    """a' = [scale a, 1] and b' = [b, bias], so that <a'_i, b'_j> = scale <a_i, b_j> + bias_j."""
    a_aug = torch.cat((a * scale, torch.ones_like(a[..., :1])), dim=-1)
    return a_aug, torch.cat((b, bias.to(b)[..., None]), dim=-1)


def _biased_lse(a: Tensor, b: Tensor, bias: Tensor, scale: float) -> Tensor:
    """log sum_j e^{scale <a_i, b_j> + bias_j}, shape (..., n_a), in O(n d) memory."""
    a_aug, b_aug = _with_key_bias(a, b, bias, scale)
    dummy = b.new_zeros((*b.shape[:-1], 1))  # attention_with_lse wants values; width 1 is cheap
    return attention_with_lse(a_aug, b_aug, dummy, scale=1.0)[1]


def sinkhorn_potentials(
    q: Tensor,
    k: Tensor,
    *,
    scale: float,
    tol: float | None = None,
    max_iters: int = DEFAULT_MAX_ITERS,
) -> tuple[Tensor, Tensor]:
    """The potentials (f, g), each of shape (..., n), of P_ij = e^{scale <q_i, k_j> + f_i + g_j}.

    ``q`` and ``k`` have shapes (..., n, e) with the same n. On return the rows of P sum to 1 to
    rounding and the columns within ``tol`` (default ``default_tol(q.dtype)``); ValueError if that
    takes more than ``max_iters`` iterations. See the module docstring.
    """
    tol, max_iters = check_sinkhorn_options(tol, max_iters)
    if q.shape[-2] != k.shape[-2]:
        raise ValueError(
            f"doubly stochastic attention needs as many queries as keys, got {q.shape[-2]} "
            f"queries and {k.shape[-2]} keys"
        )
    if tol is None:
        tol = default_tol(q.dtype)
    q, k = _broadcast_batch(q, k)
    g = torch.zeros(k.shape[:-1], dtype=k.dtype, device=k.device)
    error = float("inf")
    for _ in range(max_iters):
        f = -_biased_lse(q, k, g, scale)
        g_next = -_biased_lse(k, q, f, scale)
        error = float((torch.exp((g - g_next).detach()) - 1.0).abs().max())
        if error <= tol:
            return f, g
        g = g_next
    raise ValueError(
        f"sinkhorn_iters={max_iters}: Sinkhorn did not reach sinkhorn_tol={tol:g} (largest column "
        f"marginal error {error:.3g}); raise sinkhorn_iters or sinkhorn_tol, or lower beta"
    )


def sinkhorn_matrix(
    q: Tensor,
    k: Tensor,
    *,
    scale: float,
    tol: float | None = None,
    max_iters: int = DEFAULT_MAX_ITERS,
) -> Tensor:
    """The doubly stochastic matrix P, shape (..., n, n), formed densely: for small n and tests."""
    f, g = sinkhorn_potentials(q, k, scale=scale, tol=tol, max_iters=max_iters)
    logits = scale * q @ k.transpose(-1, -2)
    return torch.exp(logits + f[..., :, None] + g[..., None, :])


def sinkhorn_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    scale: float,
    tol: float | None = None,
    max_iters: int = DEFAULT_MAX_ITERS,
) -> Tensor:
    """out_i = sum_j P_ij v_j with P the doubly stochastic scaling of e^{scale <q_i, k_j>}.

    Shapes: ``q``, ``k`` (..., n, e), ``v`` (..., n, e_v); returns (..., n, e_v). O(n d) memory:
    Sinkhorn potentials as in ``sinkhorn_potentials``, then one softmax-attention call with key
    bias g (row i of P is softmax_j(scale <q_i, k_j> + g_j)).
    """
    q, k = _broadcast_batch(q, k)
    _, g = sinkhorn_potentials(q, k, scale=scale, tol=tol, max_iters=max_iters)
    return softmax_attention(*_with_key_bias(q, k, g, scale), v, scale=1.0)
