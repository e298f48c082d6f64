"""Hamiltonian momentum attention: the accelerated attention of SympFormer as a damped
Hamiltonian system of interacting particles.

Stein, Li, Steidl, "SympFormer: accelerated attention blocks via inertial dynamics on density
manifolds". Tokens carry positions x_i and momenta p_i in R^d. For heads h = 1..H, queries
q^h_i = Q_h x_i and keys k^h_j = K_h x_j (Q_h, K_h the rows of Q, K that read head h, k / H of
them), logits S^h_ij = <q^h_i, k^h_j> / sqrt(d / H), the kernel averaged over heads and its
normaliser

    E_ij = (1/H) sum_h exp(S^h_ij),   z_i = (1/n) sum_j E_ij,

the Hamiltonian is

    H(X, P) = sum_i p_i^T B p_i / (2 z_i) - (1/(2n)) sum_ij E_ij,

a kinetic energy whose mass grows with the token's attention normaliser z_i, plus the (negative)
attention interaction energy -(1/2) sum_i z_i. The dynamics are

    x_i' = dH/dp_i = B p_i / z_i,   p_i' = -dH/dx_i - alpha(t) p_i,

with damping alpha(t) = eta'(t), eta(t) = c_log log(t / t0) + c_lin t, so alpha = c_log / t + c_lin
(c_log = 3, c_lin = 0 is the 3/t of Nesterov's method; Su, Boyd, Candes, "A differential equation
for modeling Nesterov's accelerated gradient method"). Along the exact flow

    dH/dt = <dH/dx, x'> + <dH/dp, p'> = -alpha(t) sum_i p_i^T B p_i / z_i <= 0,

and H is conserved when alpha = 0 (c_log = c_lin = 0).

The metric B. In SympFormer the value matrix V of the attention block is the matrix that acts on
the momentum (the position update is V applied to the attention-weighted momentum), so we take
B = V and require V symmetric positive definite, the condition under which the kinetic energy is
positive and H is a Hamiltonian with the attention flow as its overdamped limit. ``value``
defaults to the identity.

Against the authors' code. Only the paper's abstract was available to us; its body was not. The
authors' public implementation (github.com/ViktorAJStein/SympFormer, ``particle_schemes.py``)
agrees with the kinetic term (divided by z_i) and the velocity B p_i / z_i, and differs in three
places, recorded here rather than followed:
- it takes B = V A^{-1} with A = Q^T K symmetric (so that B times the force, which carries A x_j,
  gives V x_j), where we take B = V;
- with un-averaged row sums its potential is -(n/2) sum_ij E_ij, n^2 times ours: the same flow up
  to the rescaling t -> n t, p -> n p (the friction then rescales too);
- its practical multi-head block exponentiates the heads' mean logit, exp(mean_h S^h_ij), where
  we average the heads' kernels, (1/H) sum_h exp(S^h_ij) (as our issue specifies).

Closed form of dH/dx (``gradient="closed_form"``; ``"autograd"`` differentiates H instead). With
P^h_ij = exp(S^h_ij) / (n H z_i) (a softmax over heads and keys jointly) and
c_i = p_i^T B p_i / (2 z_i) + z_i / 2, dH/dS^h_ij = -c_i P^h_ij =: G^h_ij, and S^h_ij is bilinear
in (x_i, x_j), so

    dH/dx_l = (1/sqrt(d / H)) sum_h [ Q_h^T sum_j G^h_lj k^h_j + K_h^T sum_i G^h_il q^h_i ].

Both sums are attention outputs, computed without an n x n matrix (memory O(n d)). With
lse^h_i = logsumexp_j S^h_ij, L_i = logsumexp_h lse^h_i (so log z_i = L_i - log(n H)) and the
head weights w^h_i = exp(lse^h_i - L_i):

    sum_j G^h_lj k^h_j = -c_l w^h_l sum_j softmax_j(S^h_lj) k^h_j        (keys attended by q_l),
    sum_i G^h_il q^h_i = -sum_i e^{S^h_il - L_i} c_i q^h_i = -e^{m^h_l} a^h_l,

the second an attention of the keys over the queries with key bias -L_i: a^h_l is its normalised
output on values c_i q^h_i and m^h_l = logsumexp_i (S^h_il - L_i) its log normaliser, which is at
most log n since every P^h_il <= 1. Both come from ``dynamics.attention_with_lse`` (one
fused kernel when no derivative is tracked). Large logits never overflow: only z_i itself, where H
or its gradient contains it as a factor, is exponentiated from log z_i.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.func import grad

from dynamics.attention.projections import register_projections
from dynamics.attention.streaming import attention_with_lse
from dynamics.checks import check_choice, check_int, check_symmetric
from dynamics.geometry.spaces import EUCLIDEAN
from dynamics.momentum.friction import DampedHamiltonianField

GRADIENTS = ("closed_form", "autograd")


class HamiltonianAttention(DampedHamiltonianField, nn.Module):
    """The damped Hamiltonian field (x, p) -> (x', p') of Hamiltonian momentum attention.

    Args:
        d: token dimension.
        query, key: (k, d) matrices Q, K; identity when omitted. Head h reads rows
            h k / H .. (h + 1) k / H.
        value: (d, d) symmetric positive definite matrix B = V (the kinetic metric, see the module
            docstring); identity when omitted.
        c_log, c_lin: damping eta(t) = c_log log(t / t0) + c_lin t, both >= 0; alpha = eta'(t)
            (``dynamics.momentum.friction``). With c_log > 0 the field is defined for t > 0 only.
        t0: the reference time of eta (> 0); it cancels in alpha and in the friction factor.
        gradient: "closed_form" or "autograd" (``torch.func.grad`` of ``hamiltonian``): how
            ``forward`` and ``gradients`` compute dH/dx. Both give the same field to rounding.
        heads: H >= 1, dividing both k and d; the kernel is averaged over heads.

    An ``nn.Parameter`` passed as a matrix is trained; any other tensor is held fixed.
    """

    geometry = EUCLIDEAN

    def __init__(
        self,
        d: int,
        *,
        query: Tensor | None = None,
        key: Tensor | None = None,
        value: Tensor | None = None,
        c_log: float = 3.0,
        c_lin: float = 0.0,
        t0: float = 1.0,
        gradient: str = "closed_form",
        heads: int = 1,
    ) -> None:
        super().__init__()
        self.d = check_int("d", d, minimum=1)
        self.heads = check_int("heads", heads, minimum=1)
        self.init_damping(c_log, c_lin, t0)
        self.gradient = check_choice("gradient", gradient, GRADIENTS)
        register_projections(self, self.d, query, key, value, dtype=torch.float64)
        check_symmetric("value", self.value, "it is the kinetic metric B", positive="definite")
        rows = self.query.shape[0]
        if rows % self.heads or self.d % self.heads:
            raise ValueError(
                f"heads={self.heads} must divide the token dimension d={self.d} and the rows of "
                f"query and key ({rows})"
            )

    def extra_repr(self) -> str:
        return f"d={self.d}, heads={self.heads}, {self.damping_repr()}, gradient={self.gradient!r}"

    # --- the Hamiltonian and its gradients -----------------------------------------------------

    def log_normalizer(self, x: Tensor) -> Tensor:
        """log z_i = logsumexp_{h,j} S^h_ij - log(n H), shape (..., n)."""
        return attention_log_normalizer(x, self.query, self.key, self.heads)

    def hamiltonian(self, x: Tensor, p: Tensor) -> Tensor:
        """H(X, P) = sum_i p_i^T B p_i / (2 z_i) - (1/2) sum_i z_i, shape (...)."""
        self._check_state(x, p)
        return attention_hamiltonian(x, p, self.query, self.key, self.value, self.heads)

    def grad_p(self, x: Tensor, p: Tensor) -> Tensor:
        """dH/dp_i = B p_i / z_i."""
        self._check_state(x, p)
        return attention_grad_p(x, p, self.query, self.key, self.value, self.heads)

    def grad_x_autograd(self, x: Tensor, p: Tensor) -> Tensor:
        """dH/dx by ``torch.func.grad`` of ``hamiltonian`` (summed over leading dims)."""
        return grad(lambda y: self.hamiltonian(y, p).sum())(x)

    def gradients(self, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
        """(dH/dx, dH/dp) at one point from one projection of queries and keys: one gradient
        evaluation. dH/dx by the closed form of the module docstring or by autograd
        (``gradient``).
        """
        self._check_state(x, p)
        if self.gradient == "autograd":
            return self.grad_x_autograd(x, p), self.grad_p(x, p)
        return attention_hamiltonian_gradients(x, p, self.query, self.key, self.value, self.heads)

    def grad_x(self, x: Tensor, p: Tensor) -> Tensor:
        """dH/dx (closed form or autograd, as ``gradient`` says)."""
        return self.gradients(x, p)[0]


def project_heads(x: Tensor, query: Tensor, key: Tensor, heads: int) -> tuple[Tensor, Tensor]:
    """Queries q^h_i = Q_h x_i and keys k^h_j = K_h x_j of a cloud x (..., n, d), each of shape
    (..., H, n, k / H): head h reads rows h k / H .. (h + 1) k / H of the (k, d) matrices."""
    queries = x @ query.to(x.dtype).T
    keys = x @ key.to(x.dtype).T
    return tuple(z.unflatten(-1, (heads, -1)).transpose(-2, -3) for z in (queries, keys))


def _row_attention(queries: Tensor, keys: Tensor, scale: float) -> tuple[Tensor, Tensor, Tensor]:
    """(sum_j softmax_j(S^h_ij) k^h_j, lse^h_i, log z_i) from per-head queries and keys."""
    attended, lse = attention_with_lse(queries, keys, keys, scale=scale)
    heads, n = queries.shape[-3], queries.shape[-2]
    return attended, lse, torch.logsumexp(lse, -2) - math.log(heads * n)


def _scale(x: Tensor, heads: int) -> float:
    return 1.0 / math.sqrt(x.shape[-1] / heads)


def _quadratic(p: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
    """(B p_i, p_i^T B p_i) for momenta (..., n, d)."""
    bp = p @ value.to(p.dtype)  # B symmetric: rows of p B are B p_i
    return bp, (bp * p).sum(-1)


def attention_log_normalizer(x: Tensor, query: Tensor, key: Tensor, heads: int) -> Tensor:
    """log z_i = logsumexp_{h,j} S^h_ij - log(n H) (module docstring), shape (..., n)."""
    return _row_attention(*project_heads(x, query, key, heads), _scale(x, heads))[2]


def attention_hamiltonian(
    x: Tensor, p: Tensor, query: Tensor, key: Tensor, value: Tensor, heads: int
) -> Tensor:
    """H(X, P) = sum_i p_i^T B p_i / (2 z_i) - (1/2) sum_i z_i, shape (...), B = ``value``."""
    log_z = attention_log_normalizer(x, query, key, heads)
    _, quadratic = _quadratic(p, value)
    return 0.5 * (quadratic * torch.exp(-log_z) - torch.exp(log_z)).sum(-1)


def attention_grad_p(
    x: Tensor, p: Tensor, query: Tensor, key: Tensor, value: Tensor, heads: int
) -> Tensor:
    """dH/dp_i = B p_i / z_i."""
    bp, _ = _quadratic(p, value)
    return bp * torch.exp(-attention_log_normalizer(x, query, key, heads))[..., None]


def attention_hamiltonian_gradients(
    x: Tensor, p: Tensor, query: Tensor, key: Tensor, value: Tensor, heads: int
) -> tuple[Tensor, Tensor]:
    """(dH/dx, dH/dp) of the Hamiltonian attention energy by the closed form of the module
    docstring, from two attention calls (memory O(n d))."""
    scale = _scale(x, heads)
    queries, keys = project_heads(x, query, key, heads)
    attended, lse, log_z = _row_attention(queries, keys, scale)
    bp, quadratic = _quadratic(p, value)
    inverse_z = torch.exp(-log_z)
    c = (0.5 * quadratic * inverse_z + 0.5 * torch.exp(log_z))[..., None, :, None]
    total_lse = (log_z + math.log(heads * x.shape[-2]))[..., None, :]
    head_weights = torch.exp(lse - total_lse)[..., None]
    column, column_lse = attention_with_lse(
        keys, queries, c * queries, scale=scale, key_bias=-total_lse.expand_as(lse)
    )
    row_sums = c * head_weights * attended  # -sum_j G^h_lj k^h_j
    column_sums = column * torch.exp(column_lse)[..., None]  # -sum_i G^h_il q^h_i
    grad_x = -scale * (
        _merge_heads(row_sums) @ query.to(x.dtype) + _merge_heads(column_sums) @ key.to(x.dtype)
    )
    return grad_x, bp * inverse_z[..., None]


def _merge_heads(z: Tensor) -> Tensor:
    """(..., H, n, e) -> (..., n, H e), head h in columns h e .. (h + 1) e."""
    return z.transpose(-2, -3).flatten(-2)
