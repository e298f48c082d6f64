"""Particle-in-cell for the attention dynamics on the circle: moving the particles.

The field is ``dynamics.ParticleInCellVelocity`` (deposit, FFT correlation, interpolation; O(n + M
log M) per evaluation). Time stepping: classical fixed-step Runge-Kutta, "rk2" (Heun, order 2) or
"rk4", on the step grid of ``solvers.grid`` (each output interval cut into ceil(length / step_size)
equal steps, so outputs are hit exactly). The PIC velocity is continuous but only piecewise smooth
in the positions (its derivative jumps where a particle crosses a cell centre or face), so RK4 is
more accurate than RK2 at equal steps but shows no clean fourth order.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
from torch import Tensor

from dynamics.attention.weighted import check_masses
from dynamics.checks import check_choice, check_real
from dynamics.mean_field.particle_in_cell import ParticleInCellVelocity, check_angles
from solvers.grid import fixed_steps
from solvers.mean_field.vlasov_grid import check_output_times

PIC_STEPPERS = ("rk2", "rk4")


def particle_in_cell_circle(
    theta0: Tensor,
    t: Tensor | Sequence[float],
    beta: float,
    normalization: str = "softmax",
    *,
    cells: int = 1024,
    masses: Tensor | None = None,
    step_size: float | None = None,
    stepper: str = "rk2",
) -> Tensor:
    """Move the particles ``theta0`` by the particle-in-cell attention velocity on the circle.

    Args:
        theta0: angles (..., n); leading dimensions are independent systems.
        t: strictly increasing output times, t[0] the initial time.
        beta: inverse temperature.
        normalization: "softmax" (SA) or "uniform" (USA), see ``dynamics.mean_field.circle``.
        cells: M, the number of grid cells.
        masses: (..., n) nonnegative masses summing to 1; 1/n each when omitted.
        step_size: each output interval is cut into ceil(length / step_size) equal steps (one
            step when None), see ``solvers.grid``.
        stepper: "rk2" (Heun) or "rk4".

    Returns:
        The angles at every time in ``t``, shape (len(t), *theta0.shape), not reduced modulo
        2 pi (paths are continuous); theta0's dtype and device.
    """
    theta0 = check_angles("theta0", theta0)
    masses = None if masses is None else check_masses(masses, theta0[..., None])
    times = torch.tensor(check_output_times(t), dtype=theta0.dtype, device=theta0.device)
    if step_size is not None:
        step_size = check_real("step_size", step_size, minimum=0.0, strict=True)
    stepper = check_choice("stepper", stepper, PIC_STEPPERS)
    field = ParticleInCellVelocity(beta, cells, normalization, masses, device=theta0.device)
    return fixed_steps(partial(runge_kutta_step, scheme=stepper), field, theta0, times, step_size)


def runge_kutta_step(
    field: ParticleInCellVelocity, t: Tensor, theta: Tensor, dt: Tensor, *, scheme: str
) -> Tensor:
    """One Heun ("rk2") or classical fourth-order ("rk4") step of theta' = field(t, theta)."""
    k1 = field(t, theta)
    if scheme == "rk2":
        k2 = field(t + dt, theta + dt * k1)
        return theta + (dt / 2) * (k1 + k2)
    k2 = field(t + dt / 2, theta + (dt / 2) * k1)
    k3 = field(t + dt / 2, theta + (dt / 2) * k2)
    k4 = field(t + dt, theta + dt * k3)
    return theta + (dt / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
