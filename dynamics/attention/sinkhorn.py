"""Doubly stochastic (Sinkhorn) attention in O(n d) memory, with masses.

Following Sander, Ablin, Blondel, Peyre, "Sinkformers: transformers with doubly stochastic
attention", the kernel K_ij = e^{s_ij}, s_ij = scale <q_i, k_j>, of n queries and n keys is scaled
to the matrix with marginals (mu, mu), mu_i = e^{a_i}:

    P = diag(e^f) K diag(e^g),   sum_j P_ij = mu_i and sum_i P_ij = mu_j,

by log-domain Sinkhorn iterations started from g = a:

    f_i = a_i - log sum_j e^{s_ij + g_j}  (rows),   g_j = a_j - log sum_i e^{s_ij + f_i}  (columns).

The log-marginals a default to 0 (P doubly stochastic); a_j = log m_j for the masses m of a
weighted cloud makes P the entropic optimal plan pi between the measure sum_j m_j delta_{x_j} and
itself for the cost -s_ij at regularization 1 (with m = 1/n, pi = P_doubly_stochastic / n). A zero
mass gives a_j = -inf, f_j = g_j = -inf: its row and column of P vanish.

Each half-iteration is one log-sum-exp of an attention call with a per-key bias
(``attention_with_lse`` with ``key_bias``): the row update uses bias g, the column update swaps
the roles (keys attend to queries with bias f). So no n x n matrix is formed
(``dynamics.attention.streaming``), and leading batch dimensions are independent systems.

Starting from g = a (0 without masses) makes every iterate a function of the measure: a token
split into coincident copies that share its mass gives the same potentials. One iteration is
therefore softmax attention with the keys weighed by mu, P_ij / mu_i = e^{s_ij} mu_j / sum_k
e^{s_ik} mu_k.

Fixed iterations (``fixed_iters=k``): Sinkformers are trained with a fixed small number of
iterations (1 iteration is softmax), not to convergence. With ``fixed_iters`` the loop runs
exactly k iterations, k row updates with the k - 1 column updates between them, and returns
without a convergence check: rows sum to mu, columns only approximately. As k grows the result
converges, linearly, to the converged scaling; ``fixed_iters=None`` (the default) is that limit.

Stopping: the iterations end right after a row update, so the rows have their marginals to
rounding; the column sums are then mu_j e^{g_j - g_new_j}, with g_new the next column update, and
the loop stops as soon as the largest relative column error max_j |sum_i P_ij / mu_j - 1| is at
most ``tol`` over every system of the batch (zero-mass columns, exactly 0, are skipped). If that
does not happen within ``max_iters`` iterations a ValueError is raised (a silently wrong plan
would change the dynamics); Sinkhorn converges linearly at a rate that degrades as the logit range
grows, so a large ``scale`` needs more iterations.

Because row i of P sums exactly to mu_i, P_ij / mu_i = softmax_j(s_ij + g_j), so the attention
output sum_j (P_ij / mu_i) v_j is one softmax-attention call with key bias g. For a zero-mass
token it is the same formula, the conditional law of the plan's limit as mu_i -> 0: a zero-mass
token moves with the field of the others without acting on them.

Derivatives: autograd runs through the unrolled iterations. At convergence the derivative of the
iterates converges (at Sinkhorn's linear rate) to the derivative of the exact scaling, so
derivatives are as accurate as the marginals. The graph holds O(iterations n d) memory; without a
tracked derivative the iterations keep only O(n d).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from dynamics.attention.batching import broadcast_batch_shape
from dynamics.attention.streaming import attention_with_lse, softmax_attention
from dynamics.checks import check_int, check_real

DEFAULT_MAX_ITERS = 1000
# The default marginal tolerance per dtype: well above the rounding of an n-term log-sum-exp
# (about 1e-15 in float64, 1e-7 in float32), well below any effect on the dynamics.
DEFAULT_TOL = {torch.float64: 1e-10, torch.float32: 1e-5}
_HALF_PRECISION_TOL = 1e-2


def default_tol(dtype: torch.dtype) -> float:
    """The default ``tol``: 1e-10 for float64, 1e-5 for float32, 1e-2 for half precisions."""
    return DEFAULT_TOL.get(dtype, _HALF_PRECISION_TOL)


def check_sinkhorn_options(
    tol: float | None, max_iters: int, fixed_iters: int | None = None
) -> tuple[float | None, int, int | None]:
    """Validate ``sinkhorn_tol`` (> 0 or None for the dtype's default), ``sinkhorn_iters`` (>= 1)
    and ``sinkhorn_fixed_iters`` (>= 1, or None to iterate to the tolerance; not with a tol)."""
    if tol is not None:
        tol = check_real("sinkhorn_tol", tol, minimum=0.0, strict=True)
    if fixed_iters is not None:
        fixed_iters = check_int("sinkhorn_fixed_iters", fixed_iters, minimum=1)
        if tol is not None:
            raise ValueError(
                f"sinkhorn_fixed_iters={fixed_iters} runs a fixed number of iterations without a "
                f"tolerance; got sinkhorn_tol={tol:g} too: give one of them"
            )
    return tol, check_int("sinkhorn_iters", max_iters, minimum=1), fixed_iters


def _biased_lse(a: Tensor, b: Tensor, bias: Tensor, scale: float) -> Tensor:
    """log sum_j e^{scale <a_i, b_j> + bias_j}, shape (..., n_a), in O(n d) memory."""
    dummy = b.new_zeros((*b.shape[:-1], 1))  # attention_with_lse wants values; width 1 is cheap
    return attention_with_lse(a, b, dummy, scale=scale, key_bias=bias)[1]


def sinkhorn_potentials(
    q: Tensor,
    k: Tensor,
    *,
    scale: float,
    log_marginals: Tensor | None = None,
    tol: float | None = None,
    max_iters: int = DEFAULT_MAX_ITERS,
    fixed_iters: int | None = None,
) -> tuple[Tensor, Tensor]:
    """The potentials (f, g), each of shape (..., n), of P_ij = e^{scale <q_i, k_j> + f_i + g_j}.

    ``q`` and ``k`` have shapes (..., n, e) with the same n; ``log_marginals`` a (..., n), the log
    of the row and column marginals mu = e^a (log masses, -inf for a zero mass), 0 when omitted.
    On return row i of P sums to mu_i to rounding and column j to mu_j within a relative ``tol``
    (default ``default_tol(q.dtype)``); ValueError if that takes more than ``max_iters``
    iterations. With ``fixed_iters`` = k: exactly k iterations, no tolerance, no error (rows sum to
    mu, columns approximately). See the module docstring.
    """
    tol, max_iters, fixed_iters = check_sinkhorn_options(tol, max_iters, fixed_iters)
    if q.shape[-2] != k.shape[-2]:
        raise ValueError(
            f"doubly stochastic attention needs as many queries as keys, got {q.shape[-2]} "
            f"queries and {k.shape[-2]} keys"
        )
    if tol is None:
        tol = default_tol(q.dtype)
    n = k.shape[-2]
    if log_marginals is None:
        log_a, batch_shape = 0.0, broadcast_batch_shape(q, k)
    else:
        if log_marginals.ndim < 1 or log_marginals.shape[-1] != n:
            raise ValueError(
                f"log_marginals has shape {tuple(log_marginals.shape)}; expected (..., {n})"
            )
        log_a = log_marginals.to(q)
        batch_shape = broadcast_batch_shape(q, k, log_a[..., None])
    g = q.new_zeros((*batch_shape, n)) + log_a
    if fixed_iters is not None:
        for _ in range(fixed_iters - 1):
            g = log_a - _biased_lse(k, q, log_a - _biased_lse(q, k, g, scale), scale)
        return log_a - _biased_lse(q, k, g, scale), g
    error = float("inf")
    for _ in range(max_iters):
        f = log_a - _biased_lse(q, k, g, scale)
        g_next = log_a - _biased_lse(k, q, f, scale)
        column_error = torch.exp((g - g_next).detach()) - 1.0  # NaN where g_next = -inf (mass 0)
        error = float(column_error.where(~torch.isneginf(g_next), 0.0).abs().max())
        if error <= tol:
            return f, g
        if math.isnan(error):
            raise ValueError(
                "Sinkhorn's scaling is NaN: the queries, keys or log_marginals hold NaN or "
                "infinite entries (a token without a direction on the sphere, or a diverged "
                "state); give finite tokens"
            )
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
    log_marginals: Tensor | None = None,
    tol: float | None = None,
    max_iters: int = DEFAULT_MAX_ITERS,
    fixed_iters: int | None = None,
) -> Tensor:
    """The matrix P of ``sinkhorn_potentials``, shape (..., n, n), formed densely: for small n
    and tests. Doubly stochastic by default; the plan with marginals e^{log_marginals} if given;
    with ``fixed_iters``, the k-iteration matrix (rows exact, columns approximate)."""
    f, g = sinkhorn_potentials(
        q,
        k,
        scale=scale,
        log_marginals=log_marginals,
        tol=tol,
        max_iters=max_iters,
        fixed_iters=fixed_iters,
    )
    logits = scale * q @ k.transpose(-1, -2)
    return torch.exp(logits + f[..., :, None] + g[..., None, :])


def sinkhorn_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    scale: float,
    log_marginals: Tensor | None = None,
    tol: float | None = None,
    max_iters: int = DEFAULT_MAX_ITERS,
    fixed_iters: int | None = None,
) -> Tensor:
    """out_i = sum_j (P_ij / mu_i) v_j with P the scaling of e^{scale <q_i, k_j>} to marginals
    (mu, mu), mu = e^{log_marginals} (doubly stochastic, mu = 1, when omitted); with
    ``fixed_iters`` = k, P after k Sinkhorn iterations (k = 1: softmax attention).

    Shapes: ``q``, ``k`` (..., n, e), ``v`` (..., n, e_v), ``log_marginals`` (..., n); returns
    (..., n, e_v). O(n d) memory: Sinkhorn potentials as in ``sinkhorn_potentials``, then one
    softmax-attention call with key bias g (P_ij / mu_i = softmax_j(scale <q_i, k_j> + g_j)).
    """
    _, g = sinkhorn_potentials(
        q,
        k,
        scale=scale,
        log_marginals=log_marginals,
        tol=tol,
        max_iters=max_iters,
        fixed_iters=fixed_iters,
    )
    return softmax_attention(q, k, v, scale=scale, key_bias=g)
