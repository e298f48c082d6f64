"""The particle-in-cell attention velocity on the circle: O(n + M log M) per evaluation.

The n tokens theta_i (masses m_i, sum 1) move with the mean-field velocity of
``dynamics.mean_field.circle`` evaluated on a grid instead of by the O(n^2) sum over pairs
(Birdsall and Langdon, "Plasma Physics via Computer Simulation"):

1. deposit (cloud-in-cell): each particle's mass is split between the two cells whose centres
   c_k = (k + 1/2) h bracket it, with linear weights, giving rho_k = (1/h) sum_i m_i W(theta_i -
   c_k), W(u) = max(0, 1 - |u| / h); so h sum_k rho_k = sum_i m_i exactly;
2. one FFT correlation gives the face velocities v_j at theta_j = j h (``CircleVelocity``);
3. interpolation: theta_i' = v(theta_i), linear between the two faces bracketing theta_i.

Each evaluation is O(h^2) away from the exact particle field for a smooth kernel (beta h small),
and the work is O(n) for the deposit and the interpolation plus O(M log M) for the FFT, so
n = 10^6 tokens are practical. ``solvers.particle_in_cell_circle`` moves the particles.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from dynamics.attention.weighted import check_masses, check_simplex
from dynamics.checks import check_int
from dynamics.geometry.spaces import EUCLIDEAN
from dynamics.mean_field.circle import CircleVelocity


def deposit(theta: Tensor, cells: int, masses: Tensor | None = None) -> Tensor:
    """Cloud-in-cell cell averages rho (..., M) of the particles ``theta`` (..., n) with
    ``masses`` (..., n) (1/n each when omitted): rho_k = (1/h) sum_i m_i W(theta_i - c_k)."""
    theta = check_angles("theta", theta)
    cells = check_int("cells", cells, minimum=2)
    masses = None if masses is None else check_masses(masses, theta[..., None])
    return cloud_in_cell(theta, cells, masses, grid_position(theta, cells))


def grid_position(theta: Tensor, cells: int) -> Tensor:
    """theta / h reduced to [0, M]: the position in units of cells (faces at the integers)."""
    return torch.remainder(theta, 2 * math.pi) * (cells / (2 * math.pi))


def bracket(position: Tensor, cells: int) -> tuple[Tensor, Tensor]:
    """Flat slot indices floor(position) + (M + 2) * system of each particle in its system's
    M + 2 padded slots, and the weight position - floor(position) of the next slot."""
    lower = torch.floor(position)
    weight = position - lower
    lower = lower.long()
    systems = position[..., 0].numel()
    if systems > 1:
        offsets = torch.arange(systems, device=position.device) * (cells + 2)
        lower = lower + offsets.reshape(*position.shape[:-1], 1)
    return lower.flatten(), weight.flatten()


def cloud_in_cell(theta: Tensor, cells: int, masses: Tensor | None, position: Tensor) -> Tensor:
    """``deposit`` without the argument checks; ``position`` is ``grid_position(theta, cells)``.

    Cell k's centre sits at position k + 1/2, so a particle at position p lands in cells
    floor(p - 1/2) and floor(p - 1/2) + 1, indices -1 .. M: it is deposited on M + 2 slots shifted
    by one, and the two ghost slots are folded back (periodicity) without a modulo per particle.
    """
    slot, upper_weight = bracket(position + 0.5, cells)
    lower_weight = 1 - upper_weight
    if masses is not None:
        masses = broadcast_masses(masses, theta).flatten()
        lower_weight, upper_weight = masses * lower_weight, masses * upper_weight
    batch = theta.shape[:-1]
    padded = torch.zeros(slot.numel() // theta.shape[-1] * (cells + 2), dtype=theta.dtype)
    padded = padded.to(theta.device)
    padded.index_add_(0, slot, lower_weight)
    padded[1:].index_add_(0, slot, upper_weight)  # slot + 1 without forming it
    padded = padded.reshape(*batch, cells + 2)
    rho = padded[..., 1:-1].clone()
    rho[..., 0] += padded[..., -1]
    rho[..., -1] += padded[..., 0]
    scale = cells / (2 * math.pi) / (theta.shape[-1] if masses is None else 1)
    return rho * scale


def interpolate_faces(values: Tensor, theta: Tensor, position: Tensor | None = None) -> Tensor:
    """Linear interpolation of face values (..., M) at theta_j = j h to the angles (..., n);
    ``position`` is ``grid_position(theta, M)`` if already computed (face j at position j)."""
    cells = values.shape[-1]
    position = grid_position(theta, cells) if position is None else position
    slot, weight = bracket(position, cells)  # floor in 0 .. M: two periodic copies appended
    padded = torch.cat([values, values[..., :2]], dim=-1).flatten()
    below = padded.index_select(0, slot)
    above = padded[1:].index_select(0, slot)
    return (below + weight * (above - below)).reshape(theta.shape)


class ParticleInCellVelocity:
    """theta' = v_M(theta) by deposit, FFT correlation and interpolation (module docstring).

    ``ParticleInCellVelocity(beta, cells, normalization, masses)(t, theta)`` follows the
    torchdiffeq convention ``f(t, x)`` on angles of shape (..., n) (unwrapped, so in R^n).
    """

    geometry = EUCLIDEAN

    def __init__(
        self,
        beta: float,
        cells: int,
        normalization: str = "softmax",
        masses: Tensor | None = None,
        *,
        device: torch.device | str | None = None,
    ) -> None:
        self.cells = check_int("cells", cells, minimum=2)
        self.velocity = CircleVelocity(beta, self.cells, normalization, device=device)
        self.masses = None if masses is None else check_simplex("masses", masses)

    def __call__(self, t: Tensor | float, theta: Tensor) -> Tensor:
        position = grid_position(theta, self.cells)
        rho = cloud_in_cell(theta, self.cells, self.masses, position)
        return interpolate_faces(self.velocity(rho), theta, position)


def check_angles(name: str, theta: object) -> Tensor:
    """Check that ``theta`` is a finite floating tensor of angles of shape (..., n), n >= 1."""
    if not isinstance(theta, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of angles (..., n), got {type(theta).__name__}"
        )
    if not theta.is_floating_point():
        raise TypeError(
            f"{name} must have a floating dtype (float32 or float64), got {theta.dtype}"
        )
    if theta.ndim < 1 or theta.shape[-1] < 1:
        raise ValueError(f"{name} must have shape (..., n) with n >= 1, got {tuple(theta.shape)}")
    if not bool(torch.isfinite(theta).all()):
        raise ValueError(f"{name} contains NaN or infinite angles")
    return theta


def broadcast_masses(masses: Tensor, theta: Tensor) -> Tensor:
    """``masses`` in theta's dtype, expanded to theta's shape (ValueError if they do not fit)."""
    try:
        return masses.to(theta).expand(theta.shape)
    except RuntimeError as error:
        raise ValueError(
            f"masses has shape {tuple(masses.shape)}, which does not broadcast to the angles' "
            f"shape {tuple(theta.shape)}"
        ) from error
