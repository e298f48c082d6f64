"""The Vlasov equation of attention on the circle, by conservative finite volumes.

The mean-field limit of the attention dynamics on the circle (``dynamics.mean_field.circle``) is the
continuity equation

    d rho / dt + d/dtheta (rho v[rho]) = 0,   theta in [0, 2 pi) periodic.

On M cells [k h, (k + 1) h), h = 2 pi / M, the cell averages rho_k evolve by

    d rho_k / dt = -(F_{k+1} - F_k) / h,   F_j = v_j rho_j^{up},

with v_j the face velocity of ``CircleVelocity`` at theta_j = j h (face j is the left face of cell
j) and rho_j^{up} the upwind value there: the right edge value of cell j - 1 if v_j >= 0, else the
left edge value of cell j. Reconstructions (``scheme``):

- "upwind": edge values rho_k (first order);
- "minmod" / "van_leer": MUSCL, edge values rho_k -+ sigma_k / 2 with the limited slope
  sigma_k = L(rho_k - rho_{k-1}, rho_{k+1} - rho_k), L(a, b) = minmod(a, b) or the van Leer
  harmonic mean 2ab / (a + b) (0 when ab <= 0). Second order where rho is smooth and away from its
  extrema, where the limiter clips to first order (van Leer, "Towards the ultimate conservative
  difference scheme. V. A second-order sequel to Godunov's method").

Time: the strong-stability-preserving Runge-Kutta methods of Shu and Osher ("Efficient
implementation of essentially non-oscillatory shock-capturing schemes"), "ssp_rk2" (Heun) and
"ssp_rk3", convex combinations of forward Euler steps. Step: dt = min(cfl h / max_j |v_j|, time to
the next output), with max |v| over the whole batch at the step's start; outputs are hit exactly.

Invariants. Mass h sum_k rho_k: the fluxes telescope, so it is conserved up to rounding (about
1e-15 per step in float64). Positivity: both limiters keep edge values between neighbouring cell
averages, so a forward Euler step loses at most 2 (dt / h) max|v| rho_k from cell k and keeps
rho_k >= 0 when the CFL number (dt / h) max|v| <= 1/2; SSP stages inherit this. The step takes
max|v| at its start, and the default cfl = 0.4 leaves 25% margin for the velocity's change within
one step (for SA, |v| <= 1 always).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from dynamics.checks import check_choice, check_int, check_real
from dynamics.mean_field.circle import CircleVelocity, check_density

SCHEMES = ("upwind", "minmod", "van_leer")
SSP_STEPPERS = ("ssp_rk2", "ssp_rk3")

Operator = Callable[[Tensor], Tensor]


def limited_slopes(rho: Tensor, scheme: str) -> Tensor:
    """sigma_k = L(rho_k - rho_{k-1}, rho_{k+1} - rho_k) on the periodic grid (0 for "upwind")."""
    if scheme == "upwind":
        return torch.zeros_like(rho)
    left = rho - torch.roll(rho, 1, dims=-1)
    right = torch.roll(rho, -1, dims=-1) - rho
    same_sign = left * right > 0
    if scheme == "minmod":
        slope = torch.sign(left) * torch.minimum(left.abs(), right.abs())
    else:
        slope = 2 * left * right / torch.where(same_sign, left + right, 1.0)
    return torch.where(same_sign, slope, 0.0)


def flux_divergence(rho: Tensor, velocity: Tensor, scheme: str) -> Tensor:
    """-(F_{k+1} - F_k) / h: the finite-volume right-hand side for face velocities ``velocity``."""
    cells = rho.shape[-1]
    half_slope = 0.5 * limited_slopes(rho, scheme)
    right_edge = torch.roll(rho + half_slope, 1, dims=-1)  # cell j - 1's value at face j
    left_edge = rho - half_slope  # cell j's value at face j
    flux = torch.where(velocity >= 0, velocity * right_edge, velocity * left_edge)
    return (flux - torch.roll(flux, -1, dims=-1)) * (cells / (2 * torch.pi))


def ssp_step(operator: Operator, rho: Tensor, rate: Tensor, dt: float, stepper: str) -> Tensor:
    """One SSP Runge-Kutta step of rho' = operator(rho) (Shu-Osher form); ``rate`` is
    operator(rho), computed by the caller."""
    first = rho + dt * rate
    if stepper == "ssp_rk2":
        return 0.5 * rho + 0.5 * (first + dt * operator(first))
    second = 0.75 * rho + 0.25 * (first + dt * operator(first))
    return rho / 3 + (2 / 3) * (second + dt * operator(second))


def solve_vlasov_circle(
    rho0: Tensor,
    t: Tensor | Sequence[float],
    beta: float,
    normalization: str = "softmax",
    *,
    scheme: str = "van_leer",
    stepper: str = "ssp_rk3",
    cfl: float = 0.4,
    max_steps: int = 1_000_000,
) -> Tensor:
    """Solve d rho/dt + d/dtheta(rho v[rho]) = 0 on the circle from the cell averages ``rho0``.

    Args:
        rho0: nonnegative cell averages of shape (..., M) on the cells [k h, (k + 1) h),
            h = 2 pi / M; leading dimensions are independent densities solved together. A
            probability density has h sum_k rho_k = 1 (the USA velocity scales with the mass).
        t: strictly increasing output times, t[0] the initial time.
        beta: inverse temperature.
        normalization: "softmax" (SA) or "uniform" (USA), see ``dynamics.mean_field.circle``.
        scheme: "upwind", "minmod" or "van_leer" (see the module docstring).
        stepper: "ssp_rk2" or "ssp_rk3".
        cfl: the CFL number (dt / h) max|v|, in (0, 1/2] (positivity needs <= 1/2).
        max_steps: ValueError if reaching t[-1] would take more steps than this.

    Returns:
        rho at every time in ``t``, shape (len(t), *rho0.shape), rho0's dtype and device.
    """
    check_density("rho0", rho0)
    if not bool(torch.isfinite(rho0).all()) or bool((rho0 < 0).any()):
        raise ValueError("rho0 must be finite and nonnegative (cell averages of a density)")
    times = check_output_times(t)
    scheme = check_choice("scheme", scheme, SCHEMES)
    stepper = check_choice("stepper", stepper, SSP_STEPPERS)
    cfl = check_real("cfl", cfl, minimum=0.0, strict=True)
    if cfl > 0.5:
        raise ValueError(f"cfl={cfl!r} must be in (0, 0.5]: positivity needs (dt/h) max|v| <= 1/2")
    max_steps = check_int("max_steps", max_steps, minimum=1)
    cells = rho0.shape[-1]
    velocity = CircleVelocity(beta, cells, normalization, device=rho0.device)
    h = 2 * torch.pi / cells

    def operator(rho: Tensor) -> Tensor:
        return flux_divergence(rho, velocity(rho), scheme)

    states, rho, now, steps = [rho0], rho0, times[0], 0
    for target in times[1:]:
        while now < target:
            face_velocity = velocity(rho)
            speed = float(face_velocity.abs().max())
            dt = target - now if speed == 0 else min(cfl * h / speed, target - now)
            if target - (now + dt) < 1e-12 * max(1.0, abs(target)):
                dt = target - now
            rate = flux_divergence(rho, face_velocity, scheme)
            rho = ssp_step(operator, rho, rate, dt, stepper)
            now = target if dt == target - now else now + dt
            steps += 1
            if steps > max_steps:
                raise ValueError(
                    f"max_steps={max_steps} reached at t={now:g} before t={target:g}; the "
                    f"velocity reaches {speed:.3g} (dt = {dt:.3g}): raise max_steps or cfl"
                )
        states.append(rho)
    return torch.stack(states)


def check_output_times(t: object) -> list[float]:
    """``t`` as a list of at least two finite, strictly increasing times."""
    try:
        times = torch.as_tensor(t, dtype=torch.float64, device="cpu")
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"t must be a 1-D sequence or tensor of times, got {t!r}") from error
    if times.ndim != 1 or len(times) < 2:
        raise ValueError(f"t must be 1-D with at least 2 times, got shape {tuple(times.shape)}")
    if not bool(torch.isfinite(times).all()) or not bool((times[1:] > times[:-1]).all()):
        raise ValueError(f"t must be finite and strictly increasing, got {times.tolist()}")
    return times.tolist()
