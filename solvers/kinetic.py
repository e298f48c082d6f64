"""The kinetic energy of a flow, carried as an extra state component so one solve gives both.

The OT-Transformer (Kan, Li, Osher, "OT-Transformer: a continuous-time transformer architecture
with optimal transport regularization") regularises the loss by the transport cost of the token
flow, lambda * K(T), with

    K(t) = int_0^t (1/n) sum_i |f_i(s, x(s))|^2 ds

per system (token cloud x of shape (..., n, d)): the squared speed summed over the d coordinates,
averaged over the n tokens, integrated over time. A batch's regulariser is the mean of K over its
systems. Rather than a second quadrature pass, the solver integrates the augmented system

    x' = f(t, x),   k' = (1/n) sum_i |f_i(t, x)|^2,   k(0) = 0,

whose k-component is K. Any method applies: with Euler steps k_L = sum_l h |f(x_l)|^2 / n is the
left Riemann sum along the Euler trajectory; an adaptive method controls the error of k with that
of x (k is held with shape (..., 1, 1), one token of one coordinate, so the per-system error norm
of ``integrate`` covers it).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from dynamics.checks import check_cloud
from dynamics.field import VectorField
from dynamics.geometry.spaces import EUCLIDEAN
from solvers.contracts import resolve
from solvers.integration import integrate


class KineticAugmented(nn.Module):
    """The augmented field (x, k) -> (f(t, x), (1/n) sum_i |f_i(t, x)|^2) of the module docstring.

    ``k`` has shape (..., 1, 1) for ``x`` of shape (..., n, d). The wrapped field is a submodule,
    so ``adjoint=True`` sees its parameters. The augmented state is integrated as a point of a
    Euclidean space (k is a real number), so its geometry is ``EUCLIDEAN``.
    """

    geometry = EUCLIDEAN

    def __init__(self, field: VectorField) -> None:
        super().__init__()
        if not callable(field):
            raise TypeError(f"field must be a vector field f(t, x), got {type(field).__name__}")
        self.field = field

    def forward(self, t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """(x', k') at the state (x, k)."""
        if not (isinstance(state, tuple) and len(state) == 2):
            raise TypeError("KineticAugmented takes the state as a tuple (x, k)")
        x, _ = state
        velocity = self.field(t, x)
        return velocity, kinetic_rate(velocity)


def kinetic_rate(velocity: Tensor) -> Tensor:
    """(1/n) sum_i |v_i|^2 for velocities of shape (..., n, d), kept as shape (..., 1, 1)."""
    check_cloud("velocity", velocity)
    return velocity.pow(2).sum(-1).mean(-1)[..., None, None]


def integrate_with_kinetic(
    field: VectorField, x0: Tensor, t: Tensor | Sequence[float], **options: object
) -> tuple[Tensor, Tensor]:
    """Solve x' = f(t, x) from ``x0`` together with its kinetic energy, in one solve.

    Args:
        field, x0, t: as for ``solvers.integrate`` (``x0`` one cloud of shape (..., n, d)).
        **options: ``method``, ``step_size``, ``rtol``, ``atol``, ``adjoint`` of
            ``solvers.integrate``; the method must be one of torchdiffeq's (our own steppers keep
            a sphere or a phase space, which the energy component does not live in).

    Returns:
        The trajectory, shape (len(t), ..., n, d), and K at every output time, shape
        (len(t), ...): K(t_0) = 0 and K(t_j) = int_{t_0}^{t_j} (1/n) sum_i |f_i|^2 ds.
    """
    check_cloud("x0", x0)
    method = resolve(options.get("method", "dopri5"))
    if method.spec.source != "torchdiffeq":
        raise ValueError(
            f"method={method.name!r} steps a particular state (sphere or phase space) and cannot "
            "carry the kinetic energy; use a torchdiffeq method (e.g. euler, rk4, dopri5)"
        )
    k0 = x0.new_zeros((*x0.shape[:-2], 1, 1))
    xs, ks = integrate(KineticAugmented(field), (x0, k0), t, **options)
    return xs, ks[..., 0, 0]
