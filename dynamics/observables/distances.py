"""Wasserstein distances between token clouds and densities, through POT (Python Optimal Transport).

Conventions: angles are in radians and distances on the circle are geodesic (arc length), so two
point masses at angles a and b are at W_p = min(|a - b| mod 2 pi, 2 pi - |a - b| mod 2 pi). POT's
circle solvers work on [0, 1) (the circle of length 1); this module rescales by 2 pi both ways.
Every function returns the distance itself, W_p = (min_pi int d^p dpi)^{1/p}, never its p-th
power, as a tensor in the input's dtype and device: 0-dimensional for one pair, of the batch shape
for batched circle inputs.

- ``wasserstein_circle``: W_p between two discrete measures on the circle
  (``ot.wasserstein_circle``, the binary search of Hundrieser, Klatt, Munk, "The statistics of
  circular optimal transport").
- ``w1_particles_grid``: W1 between a discrete measure and a piecewise-constant grid density,
  computed exactly from the cumulative distribution functions (see its docstring).
- ``wasserstein1``, ``wasserstein2``: W1, W2 between two clouds in R^d by the exact linear program
  (``ot.emd2``), O(n^3).
- ``sliced_wasserstein2``: the sliced W2 of Rabin, Peyre, Delon, Bernot, "Wasserstein barycenter
  and its application to texture mixing" (``ot.sliced_wasserstein_distance``) for large clouds.
"""

from __future__ import annotations

import math

import ot
import torch
from torch import Tensor

from dynamics.attention.weighted import check_simplex
from dynamics.checks import check_cloud, check_int, check_real

TWO_PI = 2 * math.pi


def wasserstein_circle(
    angles_a: Tensor,
    angles_b: Tensor,
    p: float = 1.0,
    *,
    weights_a: Tensor | None = None,
    weights_b: Tensor | None = None,
) -> Tensor:
    """W_p between sum_i a_i delta_{theta_i} and sum_j b_j delta_{phi_j} on the circle (radians).

        W_p^p = inf_c int_0^1 |F_a^{-1}(q) - (F_b - c)^{-1}(q)|^p dq   (POT's positions in [0, 1)),

    times 2 pi. Args: angles (..., n) and (..., m) in radians (any real values, taken mod 2 pi)
    with the same leading (batch) dims; weights of the same shapes summing to 1 (uniform when
    omitted); p >= 1. POT's binary search stops at a tolerance of 1e-14 on the optimal shift c
    (POT 0.9.7's exact p = 1 routine ``wasserstein1_circle`` drops the arc before the first
    point: it returns 0.4 for delta_{0.5} against delta_{0.6}, so it is not used). Returns W_p
    of the batch shape.
    """
    p = check_real("p", p, minimum=1.0)
    a, b = (
        check_circle_measure(*pair) for pair in (("angles_a", angles_a), ("angles_b", angles_b))
    )
    if a.shape[:-1] != b.shape[:-1]:
        raise ValueError(
            f"angles_a {tuple(a.shape)} and angles_b {tuple(b.shape)} must have the same batch "
            "dimensions (all but the last)"
        )
    batch = a.shape[:-1]
    columns = [
        None if w is None else check_weights(name, w, x).reshape(-1, x.shape[-1]).T
        for name, w, x in (("weights_a", weights_a, a), ("weights_b", weights_b, b))
    ]
    u, v = (torch.remainder(x / TWO_PI, 1.0).reshape(-1, x.shape[-1]).T for x in (a, b))
    cost = ot.wasserstein_circle(u, v, columns[0], columns[1], p=p, eps=1e-14)
    return (cost ** (1 / p) * TWO_PI).reshape(batch)


def w1_particles_grid(angles: Tensor, rho: Tensor, *, weights: Tensor | None = None) -> Tensor:
    """W1 (radians) between the particles ``angles`` (..., n) and the piecewise-constant density
    with cell averages ``rho`` (..., M) on the cells [k h, (k + 1) h), h = 2 pi / M.

    On the circle W1(mu, nu) = min_c int_0^{2 pi} |F_mu(theta) - F_nu(theta) - c| dtheta (Delon,
    Salomon, Sobolevski, "Fast transport optimization for Monge costs on the circle"). Here
    G = F_mu - F_nu is exactly piecewise linear between the merged breakpoints (particles and cell
    faces), the optimal c is a median of G under d theta, found by bisection on the exact
    distribution function of G to machine precision, and the integral is summed in closed form.
    Exact for the piecewise-constant density, unlike treating each cell as a point mass at its
    centre, which moves mass by up to h/2 and biases W1 by up to h/4. ``rho`` is normalised to
    mass 1 (h sum rho); ``weights`` (..., n) sum to 1 (uniform when omitted).
    """
    angles = check_circle_measure("angles", angles)
    if not isinstance(rho, Tensor) or not rho.is_floating_point() or rho.ndim < 1:
        raise TypeError(f"rho must be a floating torch.Tensor of shape (..., M), got {rho!r}")
    if rho.shape[:-1] != angles.shape[:-1] or rho.shape[-1] < 1:
        raise ValueError(
            f"rho {tuple(rho.shape)} must have M >= 1 cells and the batch dimensions of angles "
            f"{tuple(angles.shape)}"
        )
    mass = rho.sum(-1, keepdim=True)
    if bool((rho < 0).any()) or not bool((mass > 0).all()):
        raise ValueError("rho must be nonnegative with positive mass on every system")
    cells, n = rho.shape[-1], angles.shape[-1]
    h = TWO_PI / cells
    weights = (
        torch.full_like(angles, 1 / n)
        if weights is None
        else check_weights("weights", weights, angles)
    )
    density = (rho / mass).to(torch.float64) / h  # cell averages of a unit-mass density
    cdf_faces = torch.nn.functional.pad(torch.cumsum(density * h, -1), (1, 0))
    faces = h * torch.arange(cells + 1, dtype=torch.float64, device=rho.device)
    positions = torch.remainder(angles.to(torch.float64), TWO_PI)
    # breakpoints: the particles (F_mu jumps by their weight) and the faces (no jump)
    points = torch.cat([positions, faces[:-1].expand(*positions.shape[:-1], cells)], -1)
    jumps = torch.cat([weights.to(points), torch.zeros_like(points[..., n:])], -1)
    points, order = torch.sort(points, dim=-1)
    empirical = torch.cumsum(torch.gather(jumps, -1, order), -1)  # F_mu on [point_s, point_s+1)
    ends = torch.cat([points[..., 1:], torch.full_like(points[..., :1], TWO_PI)], -1)
    lengths = ends - points

    def grid_cdf(theta: Tensor) -> Tensor:
        cell = torch.clamp((theta / h).floor().long(), 0, cells - 1)
        return torch.gather(cdf_faces, -1, cell) + torch.gather(density, -1, cell) * (
            theta - torch.gather(faces.expand_as(cdf_faces), -1, cell)
        )

    # G is linear on each segment, from start to stop
    start, stop = empirical - grid_cdf(points), empirical - grid_cdf(ends)
    low, high = torch.minimum(start, stop), torch.maximum(start, stop)
    spread = (high - low).clamp_min(torch.finfo(torch.float64).tiny)

    def measure_below(c: Tensor) -> Tensor:  # |{theta : G(theta) <= c}|
        return (lengths * ((c[..., None] - low) / spread).clamp(0, 1)).sum(-1)

    lower, upper = low.min(-1).values, high.max(-1).values
    for _ in range(200):
        middle = 0.5 * (lower + upper)
        below = measure_below(middle) < math.pi
        lower, upper = torch.where(below, middle, lower), torch.where(below, upper, middle)
        if bool(((upper - lower) <= 4 * torch.finfo(torch.float64).eps).all()):
            break
    median = 0.5 * (lower + upper)[..., None]
    return segment_abs_integral(start - median, stop - median, lengths).sum(-1).to(rho.dtype)


def segment_abs_integral(start: Tensor, stop: Tensor, length: Tensor) -> Tensor:
    """int_0^L |g| for g linear from ``start`` to ``stop`` on [0, L]: L (|s|^2 + |e|^2) /
    (2 (|s| + |e|)) when the signs differ, L |s + e| / 2 otherwise."""
    same = start * stop >= 0
    magnitude = start.abs() + stop.abs()
    crossing = length * (start**2 + stop**2) / (2 * magnitude.clamp_min(1e-300))
    return torch.where(same, length * (start + stop).abs() / 2, crossing)


def wasserstein1(
    x: Tensor, y: Tensor, *, masses_x: Tensor | None = None, masses_y: Tensor | None = None
) -> Tensor:
    """W1 between sum_i a_i delta_{x_i} and sum_j b_j delta_{y_j} in R^d:

        W1 = min_{pi in Pi(a, b)} sum_ij pi_ij |x_i - y_j|   (exact LP, ``ot.emd2``).

    Arguments, cost and derivatives as for ``wasserstein2``.
    """
    return _exact_cost(x, y, masses_x, masses_y, squared=False)


def wasserstein2(
    x: Tensor,
    y: Tensor,
    *,
    masses_x: Tensor | None = None,
    masses_y: Tensor | None = None,
    squared: bool = False,
) -> Tensor:
    """W2 (not squared) between sum_i a_i delta_{x_i} and sum_j b_j delta_{y_j} in R^d:

        W2^2 = min_{pi in Pi(a, b)} sum_ij pi_ij |x_i - y_j|^2   (exact LP, ``ot.emd2``).

    x (n, d), y (m, d), masses (n,), (m,) summing to 1 (uniform when omitted). One pair at a time
    (the LP has no batched solver); O(n^3) time and O(n m) memory: use ``sliced_wasserstein2``
    beyond a few thousand points. Differentiable in x and y through POT's torch backend.
    ``squared=True`` returns W2^2 itself (a loss: its gradient stays finite where W2 = 0).
    """
    cost = _exact_cost(x, y, masses_x, masses_y, squared=True)
    return cost if squared else cost.clamp_min(0).sqrt()


def _exact_cost(
    x: Tensor, y: Tensor, masses_x: Tensor | None, masses_y: Tensor | None, *, squared: bool
) -> Tensor:
    """min_pi sum_ij pi_ij c(x_i, y_j), c = |x_i - y_j| or (``squared``) its square, by
    ``ot.emd2``. The distances are taken from the differences x_i - y_j, not
    |x|^2 + |y|^2 - 2 <x, y> (``ot.dist``), so that coinciding points cost 0 exactly."""
    x, y = check_pair(x, y)
    a, b = (
        torch.full_like(z[:, 0], 1 / len(z)) if m is None else check_weights(name, m, z[:, 0]).to(x)
        for name, m, z in (("masses_x", masses_x, x), ("masses_y", masses_y, y))
    )
    distances = torch.cdist(x, y, compute_mode="donot_use_mm_for_euclid_dist")
    return ot.emd2(a, b, distances.square() if squared else distances)


def sliced_wasserstein2(
    x: Tensor,
    y: Tensor,
    *,
    projections: int = 256,
    seed: int = 0,
    masses_x: Tensor | None = None,
    masses_y: Tensor | None = None,
) -> Tensor:
    """The sliced W2 (not squared) by Monte Carlo over ``projections`` random directions:

        SW2^2 = mean_k W2^2(<theta_k, .>_# mu, <theta_k, .>_# nu),   theta_k uniform on S^{d-1}.

    Each projection is 1-Lipschitz, so SW2 <= W2 for every draw of the directions. O((n + m)
    log(n + m)) per projection. x (n, d), y (m, d); ``seed`` fixes the directions.
    """
    x, y = check_pair(x, y)
    projections = check_int("projections", projections, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    a, b = (
        None if m is None else check_weights(name, m, z[:, 0]).to(x)
        for name, m, z in (("masses_x", masses_x, x), ("masses_y", masses_y, y))
    )
    return ot.sliced_wasserstein_distance(x, y, a, b, n_projections=projections, p=2, seed=seed)


def check_circle_measure(name: str, angles: object) -> Tensor:
    """A finite floating tensor of angles (..., n), n >= 1."""
    if not isinstance(angles, Tensor) or not angles.is_floating_point() or angles.ndim < 1:
        raise TypeError(
            f"{name} must be a floating torch.Tensor of angles (..., n), got {angles!r}"
        )
    if angles.shape[-1] < 1 or not bool(torch.isfinite(angles).all()):
        raise ValueError(f"{name} must hold n >= 1 finite angles, got shape {tuple(angles.shape)}")
    return angles


def check_weights(name: str, weights: object, points: Tensor) -> Tensor:
    """Weights of ``points``' shape (..., n), >= 0 and summing to 1 on each system."""
    weights = check_simplex(name, weights)
    if weights.shape != points.shape:
        raise ValueError(f"{name} has shape {tuple(weights.shape)}; expected {tuple(points.shape)}")
    return weights


def check_pair(x: object, y: object) -> tuple[Tensor, Tensor]:
    """Two unbatched clouds (n, d), (m, d) of one dimension d and one dtype."""
    x, y = check_cloud("x", x), check_cloud("y", y)
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(
            f"x {tuple(x.shape)} and y {tuple(y.shape)} must be single clouds (n, d), (m, d); "
            "one pair per call"
        )
    if x.shape[-1] != y.shape[-1] or x.dtype != y.dtype:
        raise ValueError(
            f"x ({tuple(x.shape)}, {x.dtype}) and y ({tuple(y.shape)}, {y.dtype}) must share d "
            "and dtype"
        )
    return x, y
