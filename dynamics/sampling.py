"""Initial token clouds: samples of initial measures on S^{d-1} and R^d.

Every sampler returns a tensor of shape (*batch_shape, n, d) of i.i.d. points (the uniform empirical
measure; masses, where wanted, are given separately, see ``dynamics.attention.weighted``), draws all
its randomness from ``generator`` (same seed, same cloud) and uses ``dtype`` and ``device``, which
default to those of the tensor arguments (else torch's defaults). ``batch_shape`` is a tuple of
sizes >= 0, ``generator`` a ``torch.Generator`` or None and ``dtype`` a real floating dtype or None;
anything else is refused in one line naming the argument.
"""

from __future__ import annotations

import math
from numbers import Integral

import torch
from torch import Tensor

from dynamics.attention.weighted import check_simplex
from dynamics.checks import check_int, check_real
from dynamics.geometry.sphere import normalize, project_tangent

# Deterministic repulsion that spreads k > 2 d centres on S^{d-1} (``spread_directions``): a
# large Riesz exponent approaches the max-min-angle (Tammes) problem; at s = 64 the minimum angle
# came within 1% of the best known for every k in 7..13, 24, 30 on S^2 (s = 8: within 5.5%).
_REPULSION_EXPONENT = 64.0
_REPULSION_SEED = 0
_REPULSION_STEPS = 2000


def uniform_sphere(
    n: int,
    d: int,
    *,
    batch_shape: tuple[int, ...] = (),
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """n i.i.d. points uniform on S^{d-1} (normalized standard Gaussians), shape (*batch, n, d)."""
    n = check_int("n", n, minimum=1)
    d = check_int("d", d, minimum=2)
    batch_shape = _check_sampling(batch_shape, generator, dtype)
    gaussian = torch.randn((*batch_shape, n, d), generator=generator, dtype=dtype, device=device)
    return normalize(gaussian)


def _as_tensor(
    name: str,
    value: object,
    ndim: int,
    dtype: torch.dtype | None,
    device: torch.device | str | None,
) -> Tensor:
    """``value`` (a tensor or nested sequence of reals) as a finite floating tensor with ``ndim``
    dimensions, in ``dtype``/``device`` (default: the tensor's own, else torch's default)."""
    if isinstance(value, Tensor):
        if not (value.is_floating_point() or value.dtype in (torch.int32, torch.int64)):
            raise TypeError(f"{name} must be a real tensor, got dtype {value.dtype}")
        dtype = dtype or (value.dtype if value.is_floating_point() else None)
        tensor = value.to(dtype=dtype or torch.get_default_dtype(), device=device or value.device)
    else:
        try:
            tensor = torch.as_tensor(value, dtype=dtype or torch.get_default_dtype(), device=device)
        except (TypeError, ValueError, RuntimeError) as error:
            raise TypeError(
                f"{name}={value!r} must be a tensor or a sequence of real numbers"
            ) from error
    if tensor.ndim != ndim:
        expected = {0: "a scalar", 1: "shape (d,)", 2: "shape (k, d)"}[ndim]
        raise ValueError(f"{name} has shape {tuple(tensor.shape)}; expected {expected}")
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} must be finite, got {tensor.tolist()}")
    return tensor


def _unit_rows(name: str, directions: Tensor) -> Tensor:
    """directions / |directions| row-wise; ValueError for a zero row or d < 2."""
    if directions.shape[-1] < 2:
        raise ValueError(f"{name} lives in R^{directions.shape[-1]}; the sphere needs d >= 2")
    norms = torch.linalg.vector_norm(directions, dim=-1)
    if bool((norms == 0).any()):
        raise ValueError(f"{name} must be nonzero (it is normalized to a unit vector)")
    return directions / norms[..., None]


def _check_dtype(dtype: object) -> None:
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(
            f"dtype={dtype!r} must be a real floating torch.dtype (torch.float32, torch.float64, "
            "...) or None for torch's default"
        )


def _check_sampling(batch_shape: object, generator: object, dtype: object) -> tuple[int, ...]:
    """The arguments every sampler shares, checked; ``batch_shape`` as a tuple of ints."""
    _check_dtype(dtype)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator={generator!r} must be a torch.Generator or None")
    if not isinstance(batch_shape, tuple | list | torch.Size):
        raise TypeError(f"batch_shape={batch_shape!r} must be a tuple of integers >= 0")
    for size in batch_shape:
        if isinstance(size, bool) or not isinstance(size, Integral):
            raise TypeError(f"batch_shape={tuple(batch_shape)!r} must hold integers >= 0")
        if size < 0:
            raise ValueError(f"batch_shape={tuple(batch_shape)!r} must hold integers >= 0")
    return tuple(int(size) for size in batch_shape)


def _wood_cosines(
    kappa: Tensor, d: int, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """W = <x, mu> and sqrt(1 - W^2) for x ~ vMF(mu, kappa) on S^{d-1}, one per entry of kappa.

    Wood, "Simulation of the von Mises Fisher distribution" (1994), rejection sampling with
    b = (d - 1) / (2 kappa + sqrt(4 kappa^2 + (d - 1)^2)): propose Z ~ Beta((d-1)/2, (d-1)/2),
    W = (1 - (1 + b) Z) / (1 - (1 - b) Z), and accept when
    kappa W + (d - 1) log(1 - x0 W) - c >= log U, x0 = (1 - b) / (1 + b),
    c = kappa x0 + (d - 1) log(1 - x0^2), U ~ U(0, 1). With Z = A / (A + B), A and B independent
    chi^2_{d-1} (squared norms of standard Gaussians), the quantities are written without
    cancellation: W = (B - b A) / (b A + B), 1 -+ W = 2 (b A or B) / (b A + B), and the test is
    2 kappa b (B - A) / ((1 + b)(b A + B)) + (d - 1) log((1 + b)(A + B) / (2 (b A + B))) >= log U.
    kappa = 0 gives b = 1, W = (B - A) / (A + B), always accepted: the uniform law's <x, mu>.
    """
    m = d - 1
    b = m / (2 * kappa + torch.sqrt(4 * kappa * kappa + m * m))
    cosine = torch.empty(kappa.shape, dtype=kappa.dtype, device=kappa.device)
    sine = torch.empty_like(cosine)
    pending = torch.arange(kappa.numel(), device=kappa.device)
    kappa_flat, b_flat = kappa.reshape(-1), b.reshape(-1)
    options = {"generator": generator, "dtype": kappa.dtype, "device": kappa.device}
    while pending.numel():
        chi = torch.randn((2, pending.numel(), m), **options).square().sum(-1)
        a, c = chi[0], chi[1]
        uniform = torch.rand(pending.numel(), **options)
        kp, bp = kappa_flat[pending], b_flat[pending]
        denominator = bp * a + c
        log_ratio = 2 * kp * bp * (c - a) / ((1 + bp) * denominator) + m * torch.log(
            (1 + bp) * (a + c) / (2 * denominator)
        )
        accept = log_ratio >= torch.log(uniform)
        done = pending[accept]
        a, c, denominator = a[accept], c[accept], denominator[accept]
        cosine.view(-1)[done] = (c - bp[accept] * a) / denominator
        sine.view(-1)[done] = 2 * torch.sqrt(bp[accept] * a * c) / denominator
        pending = pending[~accept]
    return cosine, sine


def _von_mises_fisher_rows(
    mean_directions: Tensor, kappa: Tensor, generator: torch.Generator | None
) -> Tensor:
    """One vMF sample per row of the unit ``mean_directions`` (..., d), concentrations (...):
    x = W mu + sqrt(1 - W^2) u, u uniform on the unit sphere of mu's orthogonal complement (a
    projected Gaussian; projected twice, as in Gram-Schmidt with reorthogonalization, so that u
    stays orthogonal to mu to rounding when the Gaussian is nearly parallel to it)."""
    cosine, sine = _wood_cosines(kappa, mean_directions.shape[-1], generator)
    gaussian = torch.randn(
        mean_directions.shape,
        generator=generator,
        dtype=mean_directions.dtype,
        device=mean_directions.device,
    )
    tangent = project_tangent(mean_directions, project_tangent(mean_directions, gaussian))
    tangent = normalize(tangent)
    return cosine[..., None] * mean_directions + sine[..., None] * tangent


def von_mises_fisher(
    n: int,
    mean_direction: Tensor,
    kappa: float,
    *,
    batch_shape: tuple[int, ...] = (),
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """n i.i.d. points of the von Mises-Fisher law on S^{d-1}, shape (*batch, n, d).

    Density proportional to e^{kappa <x, mu>} with respect to the uniform measure, mu the unit
    ``mean_direction`` (shape (d,), normalized here), ``kappa`` >= 0 (0: uniform). The mean is
    E[x] = A_d(kappa) mu with A_d(kappa) = I_{d/2}(kappa) / I_{d/2 - 1}(kappa). Sampled by Wood's
    rejection algorithm ("Simulation of the von Mises Fisher distribution", 1994), vectorised:
    every round redraws only the rejected proposals (acceptance above 1/2 for every d, kappa).
    """
    n = check_int("n", n, minimum=1)
    kappa = check_real("kappa", kappa, minimum=0.0)
    batch_shape = _check_sampling(batch_shape, generator, dtype)
    mu = _unit_rows(
        "mean_direction", _as_tensor("mean_direction", mean_direction, 1, dtype, device)
    )
    shape = (*batch_shape, n)
    kappas = torch.full(shape, kappa, dtype=mu.dtype, device=mu.device)
    return _von_mises_fisher_rows(mu.expand(*shape, mu.shape[-1]), kappas, generator)


def sphere_mixture(
    n: int,
    directions: Tensor,
    kappas: Tensor | float,
    weights: Tensor | None = None,
    *,
    batch_shape: tuple[int, ...] = (),
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """n i.i.d. points of the mixture sum_c w_c vMF(mu_c, kappa_c) on S^{d-1}, shape (*batch, n, d).

    ``directions``: (k, d), the mean directions mu_c (normalized here); ``kappas``: one
    concentration >= 0 for all components or k of them; ``weights``: (k,), >= 0, summing to 1
    (equal weights when omitted). Each point picks its component c with probability w_c, then is
    drawn from vMF(mu_c, kappa_c) (``von_mises_fisher``); the mean is sum_c w_c A_d(kappa_c) mu_c.
    """
    n = check_int("n", n, minimum=1)
    batch_shape = _check_sampling(batch_shape, generator, dtype)
    mu = _unit_rows("directions", _as_tensor("directions", directions, 2, dtype, device))
    k = mu.shape[0]
    if k < 1:
        raise ValueError("directions must hold at least one direction, got shape (0, d)")
    if isinstance(kappas, int | float):
        kappas = [check_real("kappas", kappas, minimum=0.0)] * k
    kappa = _as_tensor("kappas", kappas, 1, mu.dtype, mu.device)
    if kappa.shape != (k,) or bool((kappa < 0).any()):
        raise ValueError(f"kappas must be one real >= 0 or {k} of them, got {kappa.tolist()}")
    if weights is None:
        weights = torch.full((k,), 1.0 / k, dtype=mu.dtype, device=mu.device)
    weights = check_simplex(
        "weights", _as_tensor("weights", weights, 1, mu.dtype, mu.device), size=k
    )
    shape = (*batch_shape, n)
    count = math.prod(shape)
    component = torch.multinomial(weights, count, replacement=True, generator=generator)
    component = component.reshape(shape)
    return _von_mises_fisher_rows(mu[component], kappa[component], generator)


def gaussian(
    n: int,
    mean: Tensor,
    covariance: Tensor,
    *,
    batch_shape: tuple[int, ...] = (),
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """n i.i.d. points of N(mean, covariance) in R^d, shape (*batch, n, d).

    x = mean + R z with z standard normal and R = U diag(sqrt(lambda)) from the eigendecomposition
    covariance = U diag(lambda) U^T, so R R^T = covariance; a positive semi-definite (singular)
    covariance is accepted and gives a degenerate Gaussian on an affine subspace: eigenvalues
    below d eps max(lambda), zero up to the rounding of ``eigh``, are set to 0 (their square roots
    would otherwise scatter the samples by sqrt(eps) off the subspace).
    """
    n = check_int("n", n, minimum=1)
    batch_shape = _check_sampling(batch_shape, generator, dtype)
    mean = _as_tensor("mean", mean, 1, dtype, device)
    d = mean.shape[0]
    if d < 1:
        raise ValueError("mean has shape (0,); expected (d,) with d >= 1")
    covariance = _as_tensor("covariance", covariance, 2, mean.dtype, mean.device)
    if covariance.shape != (d, d):
        raise ValueError(f"covariance has shape {tuple(covariance.shape)}; expected ({d}, {d})")
    tol = torch.finfo(mean.dtype).eps ** 0.5 * float(covariance.abs().max())
    if float((covariance - covariance.T).abs().max()) > tol:
        raise ValueError("covariance must be symmetric")
    eigenvalues, vectors = torch.linalg.eigh(covariance)
    lowest = float(eigenvalues.min())
    if lowest < -tol:
        raise ValueError(f"covariance must be positive semi-definite, got eigenvalue {lowest:g}")
    rounding = d * torch.finfo(mean.dtype).eps * float(eigenvalues.abs().max())
    root = vectors * eigenvalues.where(eigenvalues > rounding, 0.0).sqrt()
    z = torch.randn((*batch_shape, n, d), generator=generator, dtype=mean.dtype, device=mean.device)
    return mean + z @ root.T


def spread_directions(
    k: int,
    d: int,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """k unit vectors of R^d, shape (k, d), spread to a large minimum pairwise angle.

    Deterministic: for k <= d + 1 the vertices of a regular simplex (pairwise cosine -1/(k - 1),
    the largest possible minimum angle); for d = 2 the k-th roots of unity (angle 2 pi / k,
    optimal); for d + 1 < k <= 2 d vertices +-e_i of the cross-polytope (angle pi / 2, optimal by
    Rankin, "The closest packing of spherical caps in n dimensions": at most d + 1 points have
    pairwise obtuse angles); otherwise a minimum of the Riesz energy sum_{i<j} |x_i - x_j|^{-s},
    s = 64, by projected gradient descent from a fixed random start (near the best known: a
    regular icosahedron for k = 12, d = 3, for instance).
    """
    k = check_int("k", k, minimum=1)
    d = check_int("d", d, minimum=2)
    _check_dtype(dtype)
    if k == 1:
        directions = torch.eye(1, d, dtype=torch.float64)
    elif k <= d + 1:
        # The centred standard basis e_i - (1/k) 1 of R^k, in an orthonormal basis of 1^perp.
        centred = torch.eye(k, dtype=torch.float64) - 1.0 / k
        simplex = normalize(centred @ torch.linalg.svd(centred).U[:, : k - 1])
        directions = torch.nn.functional.pad(simplex, (0, d - (k - 1)))
    elif d == 2:
        angles = 2 * math.pi * torch.arange(k, dtype=torch.float64) / k
        directions = torch.stack([torch.cos(angles), torch.sin(angles)], dim=-1)
    elif k <= 2 * d:
        directions = torch.cat([torch.eye(d), -torch.eye(d)]).to(torch.float64)[:k]
    else:
        directions = _riesz_repulsion(k, d)
    return directions.to(dtype=dtype or torch.get_default_dtype(), device=device)


def _riesz_repulsion(k: int, d: int) -> Tensor:
    """Projected gradient descent on the Riesz s-energy over (S^{d-1})^k, with steps of a
    decreasing fraction of the nearest-neighbour distance, from a seeded uniform start."""
    start = torch.Generator().manual_seed(_REPULSION_SEED)
    x = normalize(torch.randn(k, d, generator=start, dtype=torch.float64))
    s = _REPULSION_EXPONENT
    off_diagonal = ~torch.eye(k, dtype=torch.bool)
    for step in range(_REPULSION_STEPS):
        difference = x[:, None, :] - x[None, :, :]
        distance = torch.linalg.vector_norm(difference, dim=-1).where(off_diagonal, 1.0)
        nearest = distance.where(off_diagonal, math.inf).amin()
        # -grad_i E = s sum_j (x_i - x_j) / |x_i - x_j|^{s+2}, scaled by the nearest distance.
        weight = ((nearest / distance) ** (s + 2)).where(off_diagonal, 0.0)
        force = project_tangent(x, (weight[..., None] * difference).sum(1))
        size = torch.linalg.vector_norm(force, dim=-1, keepdim=True).amax()
        rate = 0.1 * nearest * (1.0 - step / _REPULSION_STEPS)
        x = normalize(x + rate * force / size)
    return x


def separated_groups(
    n: int,
    k: int,
    d: int,
    *,
    spread: float,
    batch_shape: tuple[int, ...] = (),
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """n points on S^{d-1} in k well-separated groups, shape (*batch, n, d).

    The centres are ``spread_directions(k, d)``; token i belongs to group floor(i k / n) (groups
    contiguous, sizes differing by at most one) and is drawn from vMF(centre, kappa) with
    kappa = (d - 1) / spread^2. For small ``spread`` (radians) the
    angle theta to the centre then has E[theta^2] ~ 2 (1 - A_d(kappa)) ~ (d - 1) / kappa =
    spread^2: ``spread`` is the groups' root-mean-square angular radius.
    """
    n = check_int("n", n, minimum=1)
    k = check_int("k", k, minimum=1)
    d = check_int("d", d, minimum=2)
    spread = check_real("spread", spread, minimum=0.0, strict=True)
    if k > n:
        raise ValueError(f"k={k} groups need at least k tokens, got n={n}")
    batch_shape = _check_sampling(batch_shape, generator, dtype)
    centres = spread_directions(k, d, dtype=dtype, device=device)
    group = torch.arange(n, device=centres.device) * k // n
    shape = (*batch_shape, n)
    kappa = torch.full(shape, (d - 1) / spread**2, dtype=centres.dtype, device=centres.device)
    return _von_mises_fisher_rows(centres[group].expand(*shape, d), kappa, generator)
