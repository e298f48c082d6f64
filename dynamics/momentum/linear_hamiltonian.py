"""Linear Hamiltonian momentum attention: the accelerated Stein variational gradient flow with a
bilinear kernel, and its exact moment equations.

Stein, Li, Steidl, "SympFormer: accelerated attention blocks via inertial dynamics on density
manifolds". Its abstract states: "for linear self-attention, we show that the attention blocks
approximate a Stein variational gradient flow, using a bilinear kernel, of a potential energy. In
this setting, we prove that elliptically contoured probability distributions are preserved by the
accelerated attention blocks." Only the abstract was available to us, not the body of the paper,
so the equations below are derived from first principles from that statement; they are not
checked symbol by symbol against the paper's own (its constants, e.g. a 1/sqrt(d) in the kernel
or a constant term in it, may differ).

Linear attention as a Stein flow. With the bilinear kernel k(x, y) = <Q x, K y> + c (Q^T K
symmetric positive semi-definite, c >= 0) and the potential f(x) = -x^T V x / 2 (V symmetric),
the Stein variational gradient flow of the potential energy E(rho) = int f d rho moves particle i
by x_i' = -(1/n) sum_j k(x_i, x_j) grad f(x_j) = (1/n) sum_j (<Q x_i, K x_j> + c) V x_j: for c = 0
exactly ``LinearAttention`` (x_i' = V M K^T Q x_i, M = (1/n) sum_j x_j x_j^T).

The accelerated flow is the damped Hamiltonian flow of E in the Stein metric. Tokens carry
positions x_i and momenta p_i in R^d; with W = Q^T K the Hamiltonian is

    H(X, P) = (1/(2n)) sum_ij k(x_i, x_j) <p_i, p_j> - (1/2) sum_i x_i^T V x_i
            = (n/2) [tr(S_xp^T W S_xp) + c |m_p|^2] - (1/2) sum_i x_i^T V x_i,

S_xp = (1/n) sum_j x_j p_j^T, m_p = (1/n) sum_j p_j: a kinetic energy T (the Stein metric's,
>= 0 as W is positive semi-definite) plus n E(rho_n). The dynamics are

    x_i' =  dH/dp_i = (1/n) sum_j k(x_i, x_j) p_j       = A x_i + c m_p,
    p_i' = -dH/dx_i - alpha(t) p_i
         = V x_i - (1/n) sum_j <p_i, p_j> W x_j - alpha p_i = V x_i - A^T p_i - alpha p_i,

with A = S_xp^T W: the momentum is transported by the kernel, the velocity field of the Stein
metric. Damping alpha(t) = c_log / t + c_lin as in ``HamiltonianAttention``
(``dynamics.momentum.friction``).
Along the exact flow

    dH/dt = <dH/dp, p'> + <dH/dx, x'> = -alpha(t) <dH/dp, P> = -2 alpha(t) T(X, P) <= 0,

and H is conserved when alpha = 0.

Elliptical laws. Every particle moves by the same affine map of (x_i, p_i), whose coefficients A
and c m_p depend on the cloud only through m_p and S_xp; so the flow map (x_i(0), p_i(0)) ->
(x_i(t), p_i(t)) is affine. Started with momenta p_i(0) = S x_i(0) + b (at rest, or p = -grad f),
x_i(t) is an affine image of x_i(0), and an elliptically contoured law (a Gaussian, say) stays
elliptically contoured with the same generator. The means m_x, m_p and raw second moments
S_xx = E[x x^T], S_xp = E[x p^T], S_pp = E[p p^T] solve the closed ODE (A = S_xp^T W)

    m_x'  = A m_x + c m_p,
    m_p'  = V m_x - (A^T + alpha) m_p,
    S_xx' = A S_xx + S_xx A^T + c (m_p m_x^T + m_x m_p^T),
    S_xp' = A S_xp + S_xx V - S_xp A - alpha S_xp + c m_p m_p^T,
    S_pp' = V S_xp + S_xp^T V - A^T S_pp - S_pp A - 2 alpha S_pp,

exactly for the empirical moments of any finite cloud, and for the law's moments in the mean-field
limit (``LinearHamiltonianMoments``). Bounded dynamics need a confining potential: V negative
definite (f convex); V = I (the default, as in ``LinearAttention``) pushes tokens apart.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import grad

from dynamics.attention.linear_attention import second_moment
from dynamics.attention.projections import register_projections
from dynamics.checks import (
    check_cloud,
    check_int,
    check_phase_state,
    check_real,
    check_symmetric,
)
from dynamics.geometry.spaces import EUCLIDEAN
from dynamics.momentum.friction import DampedHamiltonianField

MomentState = tuple[Tensor, Tensor, Tensor, Tensor, Tensor]


class LinearHamiltonianAttention(DampedHamiltonianField, nn.Module):
    """The damped Hamiltonian field (x, p) -> (x', p') of linear Hamiltonian attention, the
    accelerated Stein variational gradient flow of the module docstring, in O(n d^2).

    Args:
        d: token dimension.
        query, key: (k, d) matrices Q, K with Q^T K symmetric positive semi-definite (the
            bilinear kernel k(x, y) = <Q x, K y> + bias must be a kernel); identity when omitted.
        value: (d, d) symmetric V, the potential f(x) = -x^T V x / 2; identity when omitted.
            Negative definite V confines the tokens.
        bias: the kernel's constant c >= 0 (c = 1 is the "generalized bilinear kernel" of
            accelerated Stein variational gradient descent); 0 gives linear attention exactly.
        c_log, c_lin, t0: damping alpha(t) = c_log / t + c_lin (``dynamics.momentum.friction``).

    Exposes ``gradients``, ``grad_x``, ``grad_p`` and ``damping_factor``, so it runs with
    ``solvers.integrate`` by dopri5 and by the "tao" and "presymplectic_euler" steppers.
    Computations use W = (Q^T K + K^T Q) / 2 (the part of the kernel that H sees), which is
    Q^T K itself under the construction check, and stays Hamiltonian if Q, K are trained.
    """

    geometry = EUCLIDEAN

    def __init__(
        self,
        d: int,
        *,
        query: Tensor | None = None,
        key: Tensor | None = None,
        value: Tensor | None = None,
        bias: float = 0.0,
        c_log: float = 3.0,
        c_lin: float = 0.0,
        t0: float = 1.0,
    ) -> None:
        super().__init__()
        self.d = check_int("d", d, minimum=1)
        self.bias = check_real("bias", bias, minimum=0.0)
        self.init_damping(c_log, c_lin, t0)
        register_projections(self, self.d, query, key, value, dtype=torch.float64)
        check_symmetric(
            "query^T key",
            self.query.detach().double().T @ self.key.detach().double(),
            "the Stein metric needs the kernel <Qx, Ky> + bias; W = Q^T K",
            positive="semidefinite",
        )
        check_symmetric("value", self.value, "the potential's V")

    def extra_repr(self) -> str:
        return f"d={self.d}, bias={self.bias:g}, {self.damping_repr()}"

    # --- matrices --------------------------------------------------------------------------------

    def kernel_matrix(self, dtype: torch.dtype = torch.float64) -> Tensor:
        """W = (Q^T K + K^T Q) / 2, so that k(x, y) = x^T W y + bias."""
        query, key = self.query.to(dtype), self.key.to(dtype)
        return 0.5 * (query.T @ key + key.T @ query)

    def transport_matrix(self, s_xp: Tensor) -> Tensor:
        """A = S_xp^T W for S_xp = E[x p^T] of shape (..., d, d): x_i' = A x_i + bias m_p."""
        return s_xp.transpose(-1, -2) @ self.kernel_matrix(s_xp.dtype)

    # --- the Hamiltonian and its gradients -------------------------------------------------------

    def kinetic_energy(self, x: Tensor, p: Tensor) -> Tensor:
        """T = (1/(2n)) sum_ij k(x_i, x_j) <p_i, p_j> = (n/2)[tr(S_xp^T W S_xp) + c |m_p|^2]."""
        self._check_state(x, p)
        s_xp, mean_p = second_moment(x, p), p.mean(-2)
        quadratic = (s_xp * (self.kernel_matrix(x.dtype) @ s_xp)).sum((-1, -2))
        return 0.5 * x.shape[-2] * (quadratic + self.bias * (mean_p * mean_p).sum(-1))

    def potential_energy(self, x: Tensor) -> Tensor:
        """U = sum_i f(x_i) = -(1/2) sum_i x_i^T V x_i, shape (...)."""
        check_cloud("x", x, d=self.d)
        return -0.5 * ((x @ self.value.to(x.dtype)) * x).sum((-1, -2))

    def hamiltonian(self, x: Tensor, p: Tensor) -> Tensor:
        """H = T + U, shape (...)."""
        return self.kinetic_energy(x, p) + self.potential_energy(x)

    def gradients(self, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
        """(dH/dx, dH/dp) in closed form from one S_xp:
        dH/dx_i = A^T p_i - V x_i,  dH/dp_i = A x_i + c m_p (rows: p A - x V, x A^T + c m_p)."""
        self._check_state(x, p)
        a = self.transport_matrix(second_moment(x, p))
        grad_p = x @ a.transpose(-1, -2) + self.bias * p.mean(-2, keepdim=True)
        return p @ a - x @ self.value.to(x.dtype), grad_p

    def grad_x(self, x: Tensor, p: Tensor) -> Tensor:
        """dH/dx (closed form)."""
        return self.gradients(x, p)[0]

    def grad_p(self, x: Tensor, p: Tensor) -> Tensor:
        """dH/dp (closed form)."""
        return self.gradients(x, p)[1]

    def gradients_autograd(self, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
        """(dH/dx, dH/dp) by ``torch.func.grad`` of ``hamiltonian`` (summed over leading dims)."""
        return grad(lambda y, q: self.hamiltonian(y, q).sum(), argnums=(0, 1))(x, p)


def phase_space_moments(x: Tensor, p: Tensor) -> MomentState:
    """(m_x, m_p, S_xx, S_xp, S_pp) of a cloud of positions and momenta (..., n, d): means and
    raw second moments (1/n) sum_i x_i x_i^T, x_i p_i^T, p_i p_i^T, the state of
    ``LinearHamiltonianMoments``."""
    check_phase_state(x, p)
    return x.mean(-2), p.mean(-2), second_moment(x), second_moment(x, p), second_moment(p)


class LinearHamiltonianMoments(nn.Module):
    """The closed moment ODE of ``LinearHamiltonianAttention`` on the state
    (m_x, m_p, S_xx, S_xp, S_pp) (module docstring): an exact mean-field solver. Friction from the
    field; the state's leading dimensions are independent systems."""

    geometry = EUCLIDEAN

    def __init__(self, field: LinearHamiltonianAttention) -> None:
        super().__init__()
        if not isinstance(field, LinearHamiltonianAttention):
            raise TypeError(
                "LinearHamiltonianMoments needs a LinearHamiltonianAttention field, got "
                f"{type(field).__name__}"
            )
        self.field = field

    def _unpack(self, state: object) -> MomentState:
        if not (isinstance(state, tuple) and len(state) == 5):
            found = f"a tuple of {len(state)}" if isinstance(state, tuple) else type(state).__name__
            raise TypeError(
                "LinearHamiltonianMoments takes the state (m_x, m_p, S_xx, S_xp, S_pp) (see "
                f"phase_space_moments), got {found}"
            )
        d = self.field.d
        for name, tensor, tail in zip(
            ("m_x", "m_p", "S_xx", "S_xp", "S_pp"), state, ((d,), (d,), *[(d, d)] * 3), strict=True
        ):
            if not isinstance(tensor, Tensor) or tuple(tensor.shape[-len(tail) :]) != tail:
                shape = tuple(tensor.shape) if isinstance(tensor, Tensor) else type(tensor).__name__
                expected = ", ".join(map(str, tail))
                raise ValueError(f"{name} must have shape (..., {expected}); got {shape}")
        return state

    def energy(self, state: MomentState) -> Tensor:
        """H / n = (1/2)[tr(S_xp^T W S_xp) + c |m_p|^2] - (1/2) tr(V S_xx), the mean-field
        Hamiltonian per token."""
        _, mean_p, s_xx, s_xp, _ = self._unpack(state)
        w, v = self.field.kernel_matrix(s_xp.dtype), self.field.value.to(s_xx.dtype)
        kinetic = (s_xp * (w @ s_xp)).sum((-1, -2)) + self.field.bias * (mean_p * mean_p).sum(-1)
        return 0.5 * kinetic - 0.5 * (v * s_xx).sum((-1, -2))

    def forward(self, t: Tensor, state: MomentState) -> MomentState:
        mean_x, mean_p, s_xx, s_xp, s_pp = self._unpack(state)
        c, alpha = self.field.bias, self.field.friction(t)
        a = self.field.transport_matrix(s_xp)
        a_t = a.transpose(-1, -2)
        v = self.field.value.to(s_xx.dtype)
        outer_xp = mean_x[..., :, None] * mean_p[..., None, :]
        return (
            (a @ mean_x[..., None])[..., 0] + c * mean_p,
            (v @ mean_x[..., None] - a_t @ mean_p[..., None])[..., 0] - alpha * mean_p,
            a @ s_xx + s_xx @ a_t + c * (outer_xp + outer_xp.transpose(-1, -2)),
            a @ s_xp
            + s_xx @ v
            - s_xp @ a
            - alpha * s_xp
            + c * mean_p[..., :, None] * mean_p[..., None, :],
            v @ s_xp + s_xp.transpose(-1, -2) @ v - a_t @ s_pp - s_pp @ a - 2 * alpha * s_pp,
        )
