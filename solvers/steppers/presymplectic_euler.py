"""The presymplectic Euler layer for damped Hamiltonian fields (``dynamics.HamiltonianField``):

    p <- D(t, h) p - h dH/dx(x, p);   x <- x + h dH/dp(x, p_new),

D(t, h) = exp(-(eta(t + h) - eta(t))) the exact friction. Order 1, two gradient evaluations per
step, on states (x, p).
"""

from __future__ import annotations

from torch import Tensor

from dynamics.field import HamiltonianField, State


def presymplectic_euler_step(field: HamiltonianField, t: Tensor, state: State, h: Tensor) -> State:
    """The presymplectic Euler layer: momentum first (with the exact friction), then the position
    with the new momentum,

        p <- D(t, h) p - h dH/dx(x, p);   x <- x + h dH/dp(x, p_new).

    Explicit although H is not separable (the momentum update uses the old p, so it is not the
    implicit symplectic Euler method); order 1; two gradient evaluations (dH/dx, then dH/dp).
    The SympFormer authors' code damps the kick as well, p <- D (p - h dH/dx); the two differ at
    O(h^2) per step.
    """
    x, p = state
    p = field.damping_factor(t, h) * p - h * field.grad_x(x, p)
    return x + h * field.grad_p(x, p), p
