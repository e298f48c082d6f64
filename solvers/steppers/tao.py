"""Tao's explicit symplectic step for damped non-separable Hamiltonian dynamics

    x' = dH/dp(x, p),   p' = -dH/dx(x, p) - alpha(t) p,   alpha = eta'(t),

such as ``dynamics.HamiltonianAttention``, where H(x, p) = sum_i p_i^T B p_i / (2 z_i(x)) - ...
couples x and p, so leapfrog (which needs H = T(p) + U(x)) is not explicit.

The field is a ``dynamics.HamiltonianField``: ``gradients(x, p) -> (dH/dx, dH/dp)`` (one gradient
evaluation), ``grad_x``, ``grad_p`` and ``damping_factor(t, h) = exp(-(eta(t + h) - eta(t)))``, the
exact flow of the friction p' = -alpha(t) p.

Tao's method (Tao, "Explicitly high-order symplectic integrators for nonseparable Hamiltonians")
doubles the phase space to (x, p, y, q), two copies (x, p) and (y, q), with

    Hbar = H(x, q) + H(y, p) + omega (|x - y|^2 + |p - q|^2) / 2.

Each piece has an explicit exact flow:

- phi_A(s), flow of H(x, q): p <- p - s dH/dx(x, q),  y <- y + s dH/dp(x, q)  (x, q fixed);
- phi_B(s), flow of H(y, p): x <- x + s dH/dp(y, p),  q <- q - s dH/dx(y, p)  (y, p fixed);
- phi_C(s), flow of omega |.|^2 / 2: the sums x + y, p + q stay, the differences rotate,
  (x - y, p - q) <- (c (x - y) + s_ (p - q), -s_ (x - y) + c (p - q)), c, s_ = cos, sin(2 omega s).

The step phi_A(h/2) phi_B(h/2) phi_C(h) phi_B(h/2) phi_A(h/2) is symmetric, symplectic on the
extended space and of order 2; four gradient evaluations per step. The binding omega keeps the
copies together: Tao's error bound needs omega large compared with the Hessian of H and
h << omega^{-1/2}, and 2 omega h must stay away from multiples of pi (resonance). omega is the
method's option: ``integrate(..., method=solvers.configure("tao", omega=10.0))``.

Damping: the friction acts on both momenta, split symmetrically around the undamped map,

    p, q <- D(t, h/2) (p, q);  Tao map of step h;  p, q <- D(t + h/2, h/2) (p, q),

with D(t, s) = exp(-(eta(t + s) - eta(t))) exact, so the step is conformal symplectic (on the
extended space), of order 2 and exactly reversible: stepping back from t + h with -h undoes it.

This split damping is one way to combine Tao's map with the conformal factor e^{eta(t)}; the
SympFormer authors' code (Stein, Li, Steidl, "SympFormer: accelerated attention blocks via
inertial dynamics on density manifolds", github.com/ViktorAJStein/SympFormer) has it as its
"strang" variant, and also a variant that runs Tao's map on the conformal momentum
Pi = e^{eta(t)} p of the time-dependent Hamiltonian e^{eta} H(x, e^{-eta} Pi) (not built here).

Two ways to carry the copies. A state (x, p) is extended to (x, p, x, p) at the start of each step
by y = x, q = p, and the step returns the (x, p) copy. This is the common choice in practice: the
user's state is unchanged and no extra memory is carried, but the copies' O(h^3) disagreement is
discarded each step, so the step on (x, p) is neither exactly symplectic nor exactly reversible
(still order 2). A state (x, p, y, q) is carried whole: Tao's method as analysed, exactly symplectic
and reversible on the extended space; start it with (x0, p0, x0, p0).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor

from dynamics.checks import check_real
from dynamics.field import HamiltonianField, State

# The default binding omega of the "tao" method: tested with h <= 0.05 (2 omega h <= 2, below the
# first resonance 2 omega h = pi) on attention Hamiltonians whose gradients are O(1).
TAO_OMEGA = 20.0


def _rotate(
    x: Tensor, p: Tensor, y: Tensor, q: Tensor, angle: float | Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """phi_C: rotate the differences (x - y, p - q) by ``angle``, keeping the sums."""
    angle = torch.as_tensor(angle, dtype=x.dtype, device=x.device)
    cos, sin = torch.cos(angle), torch.sin(angle)
    position_sum, momentum_sum = x + y, p + q
    position_gap, momentum_gap = x - y, p - q
    position_gap, momentum_gap = (
        cos * position_gap + sin * momentum_gap,
        -sin * position_gap + cos * momentum_gap,
    )
    return (
        (position_sum + position_gap) / 2,
        (momentum_sum + momentum_gap) / 2,
        (position_sum - position_gap) / 2,
        (momentum_sum - momentum_gap) / 2,
    )


def _tao_map(
    field: HamiltonianField, state: tuple[Tensor, ...], h: Tensor, omega: float
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """phi_A(h/2) phi_B(h/2) phi_C(h) phi_B(h/2) phi_A(h/2) on (x, p, y, q)."""
    x, p, y, q = state
    half = h / 2

    def phi_a(x: Tensor, p: Tensor, y: Tensor, q: Tensor) -> tuple[Tensor, ...]:
        grad_x, grad_p = field.gradients(x, q)
        return x, p - half * grad_x, y + half * grad_p, q

    def phi_b(x: Tensor, p: Tensor, y: Tensor, q: Tensor) -> tuple[Tensor, ...]:
        grad_x, grad_p = field.gradients(y, p)
        return x + half * grad_p, p, y, q - half * grad_x

    state = phi_b(*phi_a(x, p, y, q))
    state = _rotate(*state, 2 * omega * h)
    return phi_a(*phi_b(*state))


def tao_step(
    field: HamiltonianField, t: Tensor, state: State, h: Tensor, *, omega: float = TAO_OMEGA
) -> State:
    """Tao's second-order step with binding ``omega`` (> 0), damped by the exact friction split
    around it (module docstring). State (x, p): copies re-initialised each step; (x, p, y, q):
    copies carried."""
    carried = len(state) == 4
    x, p, y, q = state if carried else (*state, *state)
    half = h / 2
    damping = field.damping_factor(t, half)
    x, p, y, q = _tao_map(field, (x, p * damping, y, q * damping), h, omega)
    damping = field.damping_factor(t + half, half)
    if carried:
        return x, p * damping, y, q * damping
    return x, p * damping


def tao_stepper(omega: float) -> Callable[[HamiltonianField, Tensor, State, Tensor], State]:
    """``tao_step`` with the binding ``omega`` (> 0) fixed."""
    return partial(tao_step, omega=check_real("omega", omega, minimum=0.0, strict=True))
