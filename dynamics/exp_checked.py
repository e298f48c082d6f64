"""Leaving log space safely: e^{log_value} with a clear error instead of a silent inf."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def exp_or_raise(log_value: Tensor, *, what: str, beta: float) -> Tensor:
    """Return e^{log_value}, or raise ValueError naming ``beta`` if it overflows the dtype."""
    limit = math.log(torch.finfo(log_value.dtype).max)
    if log_value.numel() and bool((log_value > limit).any()):
        peak = float(log_value.max())
        raise ValueError(
            f"beta={beta:g}: {what} reaches e^{peak:.1f}, beyond {log_value.dtype}'s largest value "
            f"e^{limit:.1f}; use a smaller beta, float64 (up to e^709.8), or the log-space quantity"
        )
    return torch.exp(log_value)
