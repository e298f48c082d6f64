"""The mean-field attention velocity on the circle, by FFT convolution on a uniform grid.

On the circle (d = 2, tokens x = (cos theta, sin theta), Q = K = V = I) the tangent component of
the self-attention field of Geshkovski, Letrouit, Polyanskiy, Rigollet, "A mathematical
perspective on Transformers" is, for a probability density rho(phi) on [0, 2 pi),

    SA  ("softmax"): v[rho](theta) = N(theta) / D(theta),
    USA ("uniform"): v[rho](theta) = N(theta),

    N(theta) = int e^{beta cos(phi - theta)} sin(phi - theta) rho(phi) dphi,
    D(theta) = int e^{beta cos(phi - theta)} rho(phi) dphi,

since <x_j, e_theta(theta_i)> = sin(theta_j - theta_i) with e_theta = (-sin theta, cos theta) and
<x_i, x_j> = cos(theta_j - theta_i). For the empirical measure of n tokens this is exactly
``SelfAttention(2, beta=beta, normalization=...)``'s velocity written in angles.

Grid: M cells [k h, (k + 1) h), h = 2 pi / M, carrying cell averages rho_k; the velocity is returned
at the cell faces theta_j = j h (face j is the left face of cell j), where a finite-volume scheme
needs it. For the piecewise-constant density the face values are exact circular correlations

    N_j = sum_m s_m rho_{j+m},   s_m = int_{m h}^{(m+1) h} e^{beta cos u} sin u du,

and likewise D_j with c_m = int_{cell m} e^{beta cos u} du, computed in O(M log M) by one FFT per
kernel. s_m has the closed form [-e^{beta cos u} / beta] (cos a - cos b at beta = 0); c_m is found
by Gauss-Legendre quadrature with 8 + ceil(|beta| h) nodes per cell (error below 1e-14 relative;
checked against the closed forms 2 pi I_0(beta) and s_m in the tests). For a smooth density the
face values differ from the velocity of rho itself by O(h^2).

Large beta: both kernels carry the factor e^{|beta|} = max e^{beta cos u}, which is divided out
(e^{beta cos u - |beta|} <= 1): for SA it cancels in N / D; for USA it is multiplied back at the
end (ValueError if e^{|beta|} overflows the dtype). The convolutions run in float64 whatever rho's
dtype, and the result is cast back. An FFT correlation is accurate to about 1e-16 of its largest
value, so where D_j is that small (no mass within reach of the kernel) the computed N_j and D_j are
rounding noise; the exact values satisfy D_j >= |N_j| (|sin| <= 1) and D_j >= 0, and the computed
ones are clamped to that cone, so |v_j| <= 1 for SA and |v_j| <= e^{|beta|} D_j for USA always.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from dynamics.checks import check_choice, check_int, check_real
from dynamics.exp_checked import exp_or_raise

CIRCLE_NORMALIZATIONS = ("softmax", "uniform")


def circle_kernels(
    beta: float, cells: int, *, device: torch.device | str | None = None
) -> tuple[Tensor, Tensor]:
    """The cell integrals (c_m, s_m), m = 0 .. M-1, of the scaled kernels, in float64:

    c_m = int_{m h}^{(m+1) h} e^{beta cos u - |beta|} du,
    s_m = int_{m h}^{(m+1) h} e^{beta cos u - |beta|} sin u du,   h = 2 pi / M.
    """
    beta = check_real("beta", beta)
    cells = check_int("cells", cells, minimum=2)
    h = 2 * math.pi / cells
    faces = h * torch.arange(cells + 1, dtype=torch.float64, device=device)
    scale = abs(beta)
    if beta == 0.0:
        sine = torch.cos(faces[:-1]) - torch.cos(faces[1:])
    else:
        # [-e^{beta cos u - |beta|} / beta] between the faces, the exponent written without
        # cancellation (beta cos u - |beta| = -2 beta sin^2(u/2) or 2 beta cos^2(u/2)) and the
        # difference taken of expm1 for accuracy
        half = torch.sin(faces / 2) if beta > 0 else torch.cos(faces / 2)
        primitive = torch.expm1(-2 * scale * half**2) / beta
        sine = primitive[:-1] - primitive[1:]
    nodes, weights = np.polynomial.legendre.leggauss(8 + math.ceil(scale * h))
    nodes = torch.as_tensor(nodes, dtype=torch.float64, device=device)
    weights = torch.as_tensor(weights, dtype=torch.float64, device=device)
    u = faces[:-1, None] + 0.5 * h * (nodes + 1)
    cosine = torch.exp(beta * torch.cos(u) - scale) @ weights * (0.5 * h)
    return cosine, sine


class CircleVelocity:
    """The face velocities v_j of densities on M cells (see the module docstring), with the
    kernels' spectra computed once: ``CircleVelocity(beta, M, normalization)(rho)``.

    Args:
        beta: inverse temperature.
        cells: M, the number of cells.
        normalization: "softmax" (SA) or "uniform" (USA).
        device: where the kernels live; the call moves them to rho's device if needed.
    """

    def __init__(
        self,
        beta: float,
        cells: int,
        normalization: str = "softmax",
        *,
        device: torch.device | str | None = None,
    ) -> None:
        self.beta = check_real("beta", beta)
        self.cells = check_int("cells", cells, minimum=2)
        self.normalization = check_choice("normalization", normalization, CIRCLE_NORMALIZATIONS)
        cosine, sine = circle_kernels(self.beta, self.cells, device=device)
        # sum_m w_m rho_{j+m} has the spectrum conj(w^) rho^ (a correlation)
        self.spectra = torch.stack([torch.fft.rfft(cosine), torch.fft.rfft(sine)]).conj()

    def __call__(self, rho: Tensor) -> Tensor:
        """Face velocities (..., M) for cell averages ``rho`` of shape (..., M)."""
        check_density("rho", rho, self.cells)
        spectra = self.spectra.to(rho.device)
        transform = torch.fft.rfft(rho.to(torch.float64), dim=-1)[..., None, :]
        cosine, sine = torch.fft.irfft(spectra * transform, n=self.cells, dim=-1).unbind(-2)
        cosine = cosine.clamp_min(0)
        sine = torch.maximum(torch.minimum(sine, cosine), -cosine)
        if self.normalization == "softmax":
            velocity = torch.where(cosine > 0, sine / cosine.clamp_min(1e-300), 0.0)
        else:
            scale = torch.tensor(abs(self.beta), dtype=rho.dtype)
            growth = exp_or_raise(scale, what="the uniform kernel's scale e^|beta|", beta=self.beta)
            velocity = sine * float(growth)
        return velocity.to(rho.dtype)


def circle_velocity(rho: Tensor, beta: float, normalization: str = "softmax") -> Tensor:
    """v[rho] at the M cell faces theta_j = 2 pi j / M for cell averages rho of shape (..., M).

    SA: v = N / D, USA: v = N, with N, D the kernel correlations of the module docstring. The
    result has rho's shape, dtype and device. Build a ``CircleVelocity`` once to evaluate many
    densities with the same beta and M.
    """
    check_density("rho", rho)
    return CircleVelocity(beta, rho.shape[-1], normalization, device=rho.device)(rho)


def check_density(name: str, rho: object, cells: int | None = None) -> Tensor:
    """Check that ``rho`` is a floating tensor of cell values of shape (..., M), M >= 2."""
    if not isinstance(rho, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (..., M), got {type(rho).__name__}"
        )
    if not rho.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype (float32 or float64), got {rho.dtype}")
    if rho.ndim < 1 or rho.shape[-1] < 2:
        raise ValueError(
            f"{name} must have shape (..., M) with M >= 2 cells, got {tuple(rho.shape)}"
        )
    if cells is not None and rho.shape[-1] != cells:
        raise ValueError(f"{name} has {rho.shape[-1]} cells, expected M={cells}")
    return rho
