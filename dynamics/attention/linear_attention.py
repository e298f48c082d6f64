"""Linear self-attention and its exact moment equations.

Without the softmax, attention is linear in the values:

    x_i' = (1/n) sum_j <Q x_i, K x_j> V x_j = A(M) x_i,   A(M) = V M K^T Q,
    M = (1/n) sum_j x_j x_j^T   (the cloud's second moment).

Every token moves by the same matrix A(M(t)), so the flow map is linear: the cloud at time t is a
linear image of the cloud at time 0, and a Gaussian (any elliptically contoured law) stays one
(Stein, Li, Steidl, "SympFormer: accelerated attention blocks via inertial dynamics on density
manifolds"). The mean m and second moment M solve the closed ODE

    m' = A(M) m,   M' = A(M) M + M A(M)^T,

exactly for the empirical moments of any finite cloud, and for the law's moments in the mean-field
limit. A weighted cloud (masses m_j >= 0, sum_j m_j = 1, ``dynamics.attention.weighted``) has
x_i' = sum_j m_j <Q x_i, K x_j> V x_j, M = sum_j m_j x_j x_j^T and m = sum_j m_j x_j, and the same
closed ODE. For the momentum dynamics x' = v, v' = -gamma(t) v + A(M_xx) x (``Accelerated``) the
joint moments close as well:

    m_x' = m_v,   m_v' = -gamma m_v + A m_x,
    M_xx' = M_xv + M_xv^T,   M_xv' = M_vv - gamma M_xv + M_xx A^T,
    M_vv' = -2 gamma M_vv + A M_xv + M_xv^T A^T,

with M_xv = E[x v^T], M_vv = E[v v^T] and A = A(M_xx).
"""

from __future__ import annotations

from torch import Tensor, nn

from dynamics.attention.projections import register_projections
from dynamics.attention.weighted import check_masses
from dynamics.checks import check_cloud, check_int
from dynamics.geometry.spaces import EUCLIDEAN
from dynamics.momentum.accelerated import Accelerated


class LinearAttention(nn.Module):
    """x_i' = (1/n) sum_j <Q x_i, K x_j> V x_j on clouds (..., n, d), in O(n d^2) (no n x n matrix).

    ``query``, ``key``: (k, d) matrices; ``value``: (d, d); identity when omitted. An
    ``nn.Parameter`` is trained, any other tensor held fixed. Euclidean only.
    ``context``: if given, only the first ``context`` tokens are keys and values (the sums run
    over j <= context and M is their second moment); later tokens are queries only, as in
    in-context learning prompts (``dynamics.blocks.in_context``).
    ``forward(t, x, masses=m)`` weighs key j by m_j (shape (..., n), summing to 1) in place of
    1/n; not with ``context``.
    """

    geometry = EUCLIDEAN

    def __init__(
        self,
        d: int,
        *,
        query: Tensor | None = None,
        key: Tensor | None = None,
        value: Tensor | None = None,
        context: int | None = None,
    ) -> None:
        super().__init__()
        self.d = check_int("d", d, minimum=1)
        self.context = None if context is None else check_int("context", context, minimum=1)
        register_projections(self, self.d, query, key, value)

    def matrix(self, second_moment: Tensor) -> Tensor:
        """A(M) = V M K^T Q for M of shape (..., d, d)."""
        dtype = second_moment.dtype
        query, key, value = (m.to(dtype) for m in (self.query, self.key, self.value))
        return value @ second_moment @ key.T @ query

    def forward(self, t: Tensor, x: Tensor, *, masses: Tensor | None = None) -> Tensor:
        """dx/dt = x A(M)^T with M the (context) tokens' second moment, weighted by ``masses``
        when given; ``t`` is unused."""
        check_cloud("x", x, d=self.d)
        if self.context is not None and self.context > x.shape[-2]:
            raise ValueError(f"context={self.context} exceeds the cloud's {x.shape[-2]} tokens")
        if self.context is not None and masses is not None:
            raise ValueError(
                f"masses are not accepted with context={self.context}: the query tokens carry no "
                "mass; leave masses out or use context=None"
            )
        keys = x if self.context is None else x[..., : self.context, :]
        return x @ self.matrix(second_moment(keys, masses=masses)).transpose(-1, -2)


def second_moment(x: Tensor, y: Tensor | None = None, *, masses: Tensor | None = None) -> Tensor:
    """sum_j m_j x_j y_j^T (y = x by default), shape (..., d, d); m_j = 1/n without ``masses``
    (shape (..., n), see ``dynamics.check_masses``)."""
    y = x if y is None else y
    if masses is None:
        return x.transpose(-1, -2) @ y / x.shape[-2]
    return (x * check_masses(masses, x)[..., None]).transpose(-1, -2) @ y


class LinearAttentionMoments(nn.Module):
    """The closed moment ODE of ``LinearAttention`` on the state (m, M): m' = A m,
    M' = A M + M A^T, A = A(M). An exact mean-field solver (see the module docstring)."""

    geometry = EUCLIDEAN

    def __init__(self, attention: LinearAttention) -> None:
        super().__init__()
        self.attention = attention

    def forward(self, t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        mean, moment = state
        a = self.attention.matrix(moment)
        return (a @ mean[..., None])[..., 0], a @ moment + moment @ a.transpose(-1, -2)


class AcceleratedLinearAttentionMoments(nn.Module):
    """The closed moment ODE of ``Accelerated(LinearAttention)`` on the state
    (m_x, m_v, M_xx, M_xv, M_vv) (see the module docstring); friction from the wrapper."""

    geometry = EUCLIDEAN

    def __init__(self, accelerated: Accelerated) -> None:
        super().__init__()
        if not isinstance(accelerated.field, LinearAttention):
            raise TypeError(
                "AcceleratedLinearAttentionMoments needs Accelerated(LinearAttention(...)), got "
                f"Accelerated({type(accelerated.field).__name__})"
            )
        if accelerated.geometry != EUCLIDEAN:
            raise ValueError("the moment equations hold for Euclidean momentum dynamics only")
        self.accelerated = accelerated

    def forward(self, t: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        mean_x, mean_v, m_xx, m_xv, m_vv = state
        a = self.accelerated.field.matrix(m_xx)
        gamma = self.accelerated.friction(t)
        a_t = a.transpose(-1, -2)
        return (
            mean_v,
            -gamma * mean_v + (a @ mean_x[..., None])[..., 0],
            m_xv + m_xv.transpose(-1, -2),
            m_vv - gamma * m_xv + m_xx @ a_t,
            -2 * gamma * m_vv + a @ m_xv + m_xv.transpose(-1, -2) @ a_t,
        )
