"""Leaving log space safely: e^{log_value} with a clear error instead of a silent inf."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def exp_or_raise(
    log_value: Tensor, *, what: str, beta: float, factor: Tensor | None = None
) -> Tensor:
    """Return e^{log_value}, or ``factor`` e^{log_value} (broadcast) when given; raise ValueError
    naming ``beta`` where that overflows the dtype (a NaN or infinite ``factor`` is passed on).
    """
    value = torch.exp(log_value)
    if factor is not None:
        value = factor * value
    overflow = torch.isinf(value) if factor is None else torch.isinf(value) & factor.isfinite()
    if value.numel() and bool(overflow.any()):
        dtype = value.dtype
        limit = math.log(torch.finfo(dtype).max)
        magnitude = log_value if factor is None else log_value + factor.abs().log()
        peak = float(magnitude.detach().where(overflow, -math.inf).max())
        wider = ", float64 (up to e^709.8)," if dtype != torch.float64 else ""
        raise ValueError(
            f"beta={beta:g}: {what} reaches e^{peak:.1f}, beyond {dtype}'s largest value "
            f"e^{limit:.1f}; use a smaller beta{wider} or the log-space quantity"
        )
    return value
