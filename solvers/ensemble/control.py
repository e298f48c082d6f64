"""Per-system error norms and step-size choices: every function maps (S,)-tensors to (S,)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

SAFETY = 0.9
IFACTOR = 10.0
DFACTOR = 0.2


def rms(z: Tensor) -> Tensor:
    """Per-system root mean square of z (S, m) over its m entries."""
    return z.pow(2).mean(-1).sqrt()


def error_ratio(error: Tensor, y0: Tensor, y1: Tensor, rtol: float, atol: float) -> Tensor:
    """RMS over each system's entries of error / (atol + rtol max(|y0|, |y1|)), as torchdiffeq."""
    return rms(error / (atol + rtol * torch.maximum(y0.abs(), y1.abs())))


def step_factor(ratio: Tensor, order: int) -> Tensor:
    """torchdiffeq's controller: h <- h min(10, max(0.9 ratio^(-1/order), dfactor)), where
    dfactor is 1 after an accepted step (ratio <= 1) and 0.2 after a rejected one; 10 at ratio 0."""
    shrink = torch.where(ratio <= 1, 1.0, DFACTOR)
    factor = torch.maximum(SAFETY * ratio.pow(-1.0 / order), shrink).clamp(max=IFACTOR)
    return torch.where(ratio == 0, IFACTOR, factor)


def initial_step(
    evaluate: Callable[[Tensor, Tensor], Tensor],
    t0: Tensor,
    y0: Tensor,
    f0: Tensor,
    order: int,
    rtol: float,
    atol: float,
) -> Tensor:
    """Hairer, Norsett, Wanner, "Solving ODEs I", II.4, per system (torchdiffeq's
    ``_select_initial_step`` with the per-system norm); one evaluation of the field.

    ``y0``, ``f0`` are (S, m), ``t0`` is (S,); ``evaluate(t, y)`` returns the field on (S, m)."""
    scale = atol + y0.abs() * rtol
    d0, d1 = rms(y0 / scale), rms(f0 / scale)
    h0 = torch.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / d1).to(t0.dtype)
    f1 = evaluate(t0 + h0, y0 + h0.to(y0.dtype)[:, None] * f0)
    d2 = (rms((f1 - f0) / scale) / h0.to(y0.dtype)).to(t0.dtype)
    d12 = torch.maximum(d1.to(t0.dtype), d2)
    h1 = torch.where(
        d12 <= 1e-15, torch.clamp(h0 * 1e-3, min=1e-6), (0.01 / d12).pow(1.0 / (order + 1))
    )
    return torch.minimum(100 * h0, h1)
