"""Hamiltonian momentum attention: the accelerated attention of SympFormer as a damped
Hamiltonian system of interacting particles.

Stein, Li, Steidl, "SympFormer: accelerated attention blocks via inertial dynamics on density
manifolds". Tokens carry positions x_i and momenta p_i in R^d. With queries q_i = Q x_i, keys
k_j = K x_j, logits S_ij = <q_i, k_j> / sqrt(d), kernel E_ij = exp(S_ij) and normaliser
z_i = (1/n) sum_j E_ij, the Hamiltonian is

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

Closed form of dH/dx. With P_ij = E_ij / (n z_i) = softmax_j(S_ij) and
c_i = p_i^T B p_i / (2 z_i) + z_i / 2, dH/dS_ij = -c_i P_ij =: G_ij, and S_ij is bilinear in
(x_i, x_j), so

    dH/dx_l = (1/sqrt(d)) [ sum_j G_lj Q^T k_j + sum_i G_il K^T q_i ].

Everything is computed from log z_i = logsumexp_j S_ij - log n and the row softmax P, never from
a sum of exponentials, so large logits do not overflow (z_i itself is formed only where H or its
gradient contains it as a factor).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.func import grad

from dynamics.checks import check_choice, check_cloud, check_int, check_symmetric
from dynamics.damping import LogLinearDamping
from dynamics.projections import register_projections

GRADIENTS = ("closed_form", "autograd")


class HamiltonianAttention(LogLinearDamping, nn.Module):
    """The damped Hamiltonian field (x, p) -> (x', p') of Hamiltonian momentum attention.

    Args:
        d: token dimension.
        query, key: (k, d) matrices Q, K; identity when omitted.
        value: (d, d) symmetric positive definite matrix B = V (the kinetic metric, see the module
            docstring); identity when omitted.
        c_log, c_lin: damping eta(t) = c_log log(t / t0) + c_lin t, both >= 0; alpha = eta'(t)
            (``dynamics.damping``). With c_log > 0 the field is defined for t > 0 only.
        t0: the reference time of eta (> 0); it cancels in alpha and in the friction factor.
        gradient: "closed_form" or "autograd" (``torch.func.grad`` of ``hamiltonian``): how
            ``forward`` and ``gradients`` compute dH/dx. Both give the same field to rounding.

    An ``nn.Parameter`` passed as a matrix is trained; any other tensor is held fixed.
    """

    manifold = "euclidean"

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
    ) -> None:
        super().__init__()
        self.d = check_int("d", d, minimum=1)
        self.init_damping(c_log, c_lin, t0)
        self.gradient = check_choice("gradient", gradient, GRADIENTS)
        register_projections(self, self.d, query, key, value, dtype=torch.float64)
        check_symmetric("value", self.value, "it is the kinetic metric B", positive="definite")

    def extra_repr(self) -> str:
        return f"d={self.d}, {self.damping_repr()}, gradient={self.gradient!r}"

    # --- the Hamiltonian and its gradients -----------------------------------------------------

    def _logits(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(queries x Q^T, keys x K^T, logits S) for a cloud x of shape (..., n, d)."""
        queries = x @ self.query.to(x.dtype).T
        keys = x @ self.key.to(x.dtype).T
        return queries, keys, queries @ keys.transpose(-1, -2) / math.sqrt(self.d)

    def log_normalizer(self, x: Tensor) -> Tensor:
        """log z_i = logsumexp_j S_ij - log n, shape (..., n)."""
        _, _, logits = self._logits(x)
        return torch.logsumexp(logits, -1) - math.log(x.shape[-2])

    def _quadratic(self, p: Tensor) -> tuple[Tensor, Tensor]:
        """(B p_i, p_i^T B p_i) for momenta (..., n, d)."""
        bp = p @ self.value.to(p.dtype)  # B symmetric: rows of p B are B p_i
        return bp, (bp * p).sum(-1)

    def hamiltonian(self, x: Tensor, p: Tensor) -> Tensor:
        """H(X, P) = sum_i p_i^T B p_i / (2 z_i) - (1/2) sum_i z_i, shape (...)."""
        self._check_state(x, p)
        log_z = self.log_normalizer(x)
        _, quadratic = self._quadratic(p)
        return 0.5 * (quadratic * torch.exp(-log_z) - torch.exp(log_z)).sum(-1)

    def grad_p(self, x: Tensor, p: Tensor) -> Tensor:
        """dH/dp_i = B p_i / z_i."""
        self._check_state(x, p)
        bp, _ = self._quadratic(p)
        return bp * torch.exp(-self.log_normalizer(x))[..., None]

    def grad_x_autograd(self, x: Tensor, p: Tensor) -> Tensor:
        """dH/dx by ``torch.func.grad`` of ``hamiltonian`` (summed over leading dims)."""
        return grad(lambda y: self.hamiltonian(y, p).sum())(x)

    def gradients(self, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
        """(dH/dx, dH/dp) at one point from one set of logits: one gradient evaluation.

        dH/dx by the closed form of the module docstring or by autograd (``gradient``).
        """
        self._check_state(x, p)
        if self.gradient == "autograd":
            return self.grad_x_autograd(x, p), self.grad_p(x, p)
        queries, keys, logits = self._logits(x)
        log_z = torch.logsumexp(logits, -1) - math.log(x.shape[-2])
        weights = torch.softmax(logits, -1)  # P_ij = E_ij / (n z_i)
        bp, quadratic = self._quadratic(p)
        inverse_z = torch.exp(-log_z)
        coupling = -(0.5 * quadratic * inverse_z + 0.5 * torch.exp(log_z))[..., None] * weights
        scale = 1.0 / math.sqrt(self.d)
        grad_x = scale * (
            (coupling @ keys) @ self.query.to(x.dtype)
            + (coupling.transpose(-1, -2) @ queries) @ self.key.to(x.dtype)
        )
        return grad_x, bp * inverse_z[..., None]

    def grad_x(self, x: Tensor, p: Tensor) -> Tensor:
        """dH/dx (closed form or autograd, as ``gradient`` says)."""
        return self.gradients(x, p)[0]

    def forward(self, t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """(x', p') = (dH/dp, -dH/dx - alpha(t) p)."""
        if not (isinstance(state, tuple) and len(state) == 2):
            raise TypeError("HamiltonianAttention takes the state as a tuple (x, p)")
        x, p = state
        grad_x, grad_p = self.gradients(x, p)
        return grad_p, -grad_x - self.friction(t) * p

    def _check_state(self, x: Tensor, p: Tensor) -> None:
        check_cloud("x", x, d=self.d)
        check_cloud("p", p, d=self.d)
        if x.shape != p.shape:
            raise ValueError(
                f"x has shape {tuple(x.shape)} and p has shape {tuple(p.shape)}; they must match"
            )
