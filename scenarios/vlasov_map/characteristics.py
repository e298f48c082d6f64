"""The flow map of a grid solution of the Vlasov equation on the circle: its characteristics.

For the density rho(t) solving d rho / dt + d/dtheta (rho v[rho]) = 0, the solution is the
push-forward rho(T) = (Phi_T)_# rho(0) by the flow of the characteristics

    d theta / dt = v[rho(t)](theta),   Phi_T(theta(0)) = theta(T),

so a token sampled from rho(0) and moved along its characteristic is a sample of rho(T). Here
v[rho(t)] is the face velocity of the grid density (``dynamics.CircleVelocity``) at stored
snapshot times, linear in theta between faces (``dynamics.mean_field.particle_in_cell.
interpolate_faces``) and linear in t between snapshots; the characteristics are integrated by
classical RK4 (``solvers.mean_field.particle_in_cell.runge_kutta_step``) with a step that lands
on the snapshots (stages at t, t + dt / 2, t + dt).
"""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor

import dynamics
from dynamics.mean_field.particle_in_cell import interpolate_faces
from solvers.grid import fixed_steps
from solvers.mean_field.particle_in_cell import runge_kutta_step


class GridVelocity:
    """The velocity v[rho(t)] at the tokens' angles, from face velocities at evenly spaced
    snapshot times.

    Args:
        velocities: face velocities (times, batch, M) at the times k T / (times - 1).
        T: the last snapshot time.
    """

    def __init__(self, velocities: Tensor, T: float) -> None:
        self.velocities = velocities
        self.spacing = T / (velocities.shape[0] - 1)

    def __call__(self, t: Tensor | float, theta: Tensor) -> Tensor:
        position = float(t) / self.spacing
        index = min(int(position), self.velocities.shape[0] - 2)
        weight = position - index
        faces = (1 - weight) * self.velocities[index] + weight * self.velocities[index + 1]
        return interpolate_faces(faces, theta)


def characteristics(
    rho: Tensor, theta0: Tensor, T: float, beta: float, normalization: str = "softmax"
) -> Tensor:
    """Phi_T(theta0): the tokens (batch, n) moved along the characteristics of the grid solution
    ``rho`` (2 s + 1, batch, M) at the times k T / (2 s), by s RK4 steps of size T / s."""
    snapshots = rho.shape[0]
    if snapshots < 3 or snapshots % 2 == 0:
        raise ValueError(f"rho must hold 2 s + 1 >= 3 snapshots, got {snapshots}")
    velocity = dynamics.CircleVelocity(beta, rho.shape[-1], normalization, device=rho.device)
    field = GridVelocity(velocity(rho), T)
    times = torch.tensor([0.0, T], dtype=theta0.dtype, device=theta0.device)
    steps = (snapshots - 1) // 2
    stepper = partial(runge_kutta_step, scheme="rk4")
    return fixed_steps(stepper, field, theta0, times, T / steps)[-1]
