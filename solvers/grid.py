"""The step grid shared by every fixed-step method, ours and torchdiffeq's.

Each output interval [t_k, t_{k+1}] is cut into m_k = ceil(|t_{k+1} - t_k| / step_size) equal steps
(one step when ``step_size`` is None), so steps land exactly on every output time: no output is
interpolated, and L layers on [0, T] are ``t = linspace(0, T, L + 1)`` with ``step_size=None``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def steps_per_interval(t: Tensor, step_size: float | None) -> list[int]:
    """m_k for each output interval of the time grid ``t``."""
    if step_size is None:
        return [1] * (len(t) - 1)
    spans = (t[1:] - t[:-1]).abs().tolist()
    # Round before the ceiling so that a span of exactly m steps is not cut into m + 1.
    return [max(1, math.ceil(round(span / step_size, 9))) for span in spans]


def step_grid(t: Tensor, step_size: float | None) -> Tensor:
    """All step times: ``t`` with each interval subdivided into its m_k equal steps."""
    counts = steps_per_interval(t, step_size)
    pieces = [
        t[k] + (t[k + 1] - t[k]) * torch.arange(m, dtype=t.dtype, device=t.device) / m
        for k, m in enumerate(counts)
    ]
    return torch.cat([*pieces, t[-1:]])
