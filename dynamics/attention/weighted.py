"""Weighted clouds: tokens x_i carrying masses m_i >= 0 with sum_i m_i = 1.

A weighted cloud (x, m), x of shape (..., n, d) and m of shape (..., n), is the empirical measure
mu = sum_i m_i delta_{x_i}; the plain cloud is the case m_i = 1/n. Attention fields take the masses
as a keyword, ``field(t, x, masses=m)``, and weigh every key j by m_j (``SelfAttention``,
``LinearAttention``). A token of multiplicity k in a cloud of n tokens is one token of mass k/n:
both give the same field.

Along the flow the masses ride on the particles (Lagrangian): mu_t = sum_i m_i delta_{x_i(t)} with
fixed m_i solves the continuity equation d/dt mu + div(mu X[mu]) = 0, so a solver integrates only
x, through the field ``WithMasses(field, m)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dynamics.field import geometry_of


def simplex_tolerance(dtype: torch.dtype) -> float:
    """How far from 1 a sum of probabilities may be: sqrt(eps) of the dtype (1.5e-8 in float64,
    3.5e-4 in float32), far above the rounding of a sum of n <= 10^8 terms, far below any
    deliberate error."""
    return torch.finfo(dtype).eps ** 0.5


def check_simplex(name: str, p: object, *, size: int | None = None) -> Tensor:
    """Check that ``p`` is a floating tensor of shape (..., size), finite, >= 0, and that each of
    its last-axis slices sums to 1 within ``simplex_tolerance``; return it."""
    if not isinstance(p, Tensor) or not p.is_floating_point():
        got = p.dtype if isinstance(p, Tensor) else type(p).__name__
        raise TypeError(f"{name} must be a floating torch.Tensor of shape (..., n), got {got}")
    if p.ndim < 1 or p.shape[-1] < 1 or (size is not None and p.shape[-1] != size):
        expected = "(..., n) with n >= 1" if size is None else f"(..., {size})"
        raise ValueError(f"{name} has shape {tuple(p.shape)}; expected {expected}")
    if not bool(torch.isfinite(p).all()) or bool((p < 0).any()):
        raise ValueError(
            f"{name} must be finite and >= 0, got values from {float(p.min()):g} to "
            f"{float(p.max()):g}"
        )
    total = p.sum(-1)
    tol = simplex_tolerance(p.dtype)
    if bool(((total - 1).abs() > tol).any()):
        raise ValueError(
            f"{name} must sum to 1 over its last axis (within {tol:.1g} in {p.dtype}), got sums "
            f"from {float(total.min()):.10g} to {float(total.max()):.10g}"
        )
    return p


def check_masses(masses: object, x: Tensor) -> Tensor:
    """Check masses (..., n) for the cloud ``x`` (..., n, d); return them in x's dtype.

    Accepted: a floating tensor on x's device, of shape (n,) or (*b, n) with b broadcasting to
    x's batch shape (so that the field keeps x's shape), finite, >= 0, summing to 1 over the n
    tokens within ``simplex_tolerance`` of the coarser of their dtype and x's (float32 masses of a
    float64 cloud sum to 1 to float32 rounding). A zero mass is allowed: that token feels the
    field and exerts none.
    """
    n, batch = x.shape[-2], tuple(x.shape[:-2])
    if isinstance(masses, Tensor) and masses.ndim >= 1:
        shape = tuple(masses.shape)
        leading = shape[:-1]
        fits = len(leading) <= len(batch) and all(
            a in (1, b) for a, b in zip(reversed(leading), reversed(batch), strict=False)
        )
        if shape[-1] != n or not fits:
            raise ValueError(
                f"masses has shape {shape}; expected ({n},) or (..., {n}) broadcasting to the "
                f"cloud's batch shape {batch}"
            )
        if masses.device != x.device:
            raise ValueError(f"masses are on {masses.device} but the cloud x is on {x.device}")
        if masses.is_floating_point() and torch.finfo(masses.dtype).eps < torch.finfo(x.dtype).eps:
            masses = masses.to(x.dtype)
    return check_simplex("masses", masses, size=n).to(x.dtype)


class WithMasses(nn.Module):
    """The field f(t, x) = field(t, x, masses=masses) of a weighted cloud with fixed masses.

    Solvers call ``f(t, x)``; this wrapper carries the masses m (shape (..., n), see
    ``check_masses``) along, so ``integrate(WithMasses(field, m), x0, t)`` evolves the measure
    sum_i m_i delta_{x_i(t)} (masses fixed on Lagrangian particles). ``field`` is any field with a
    ``masses`` keyword (``SelfAttention``, ``LinearAttention``). The masses are a buffer: they
    follow ``.to(dtype)`` and ``.to(device)`` like the field's weights.
    """

    def __init__(self, field: nn.Module, masses: Tensor) -> None:
        super().__init__()
        if not callable(field):
            raise TypeError(f"field must be a vector field f(t, x), got {type(field).__name__}")
        self.field = field
        self.geometry = geometry_of(field)
        self.register_buffer("masses", check_simplex("masses", masses))

    def extra_repr(self) -> str:
        return f"n={self.masses.shape[-1]}"

    def forward(self, t: Tensor, x: Tensor) -> Tensor:
        """field(t, x, masses=masses)."""
        return self.field(t, x, masses=self.masses)
