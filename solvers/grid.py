"""The step grid shared by every fixed-step method, ours and torchdiffeq's, and the loop that
drives our one-step maps over it.

Each output interval [t_k, t_{k+1}] is cut into m_k = ceil(|t_{k+1} - t_k| / step_size) equal steps
(one step when ``step_size`` is None), so steps land exactly on every output time: no output is
interpolated, and L layers on [0, T] are ``t = linspace(0, T, L + 1)`` with ``step_size=None``.
A solve takes at most ``MAX_STEPS`` steps; a grid with more is refused before any work.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from dynamics.field import State

MAX_STEPS = 10**8
"""The step budget of one fixed-step solve. Beyond it a solve is a mistake rather than a plan: the
grid alone holds 0.8 GB of float64 times, and 10^8 field evaluations take hours on any cloud."""


def steps_per_interval(t: Tensor, step_size: float | None) -> list[int]:
    """m_k for each output interval of the time grid ``t``; ValueError when they add up to more
    than ``MAX_STEPS``."""
    if step_size is None:
        counts = [1] * (len(t) - 1)
    else:
        ratios = [span / step_size for span in (t[1:] - t[:-1]).abs().tolist()]
        # Round before the ceiling so that a span of exactly m steps is not cut into m + 1; a
        # ratio over the budget (up to inf) is capped before the ceiling, which takes ints only.
        counts = [
            max(1, math.ceil(round(ratio, 9))) if ratio <= MAX_STEPS else MAX_STEPS + 1
            for ratio in ratios
        ]
    total = sum(counts)
    if total > MAX_STEPS:
        steps = f"{sum(ratios):.3g} steps" if step_size is not None else f"{total} steps"
        raise ValueError(
            f"step_size={step_size} on t from {float(t[0]):g} to {float(t[-1]):g} makes {steps}, "
            f"over the budget of {MAX_STEPS:.0e} steps per solve (solvers.grid.MAX_STEPS); use a "
            "larger step_size or fewer output times"
        )
    return counts


def step_grid(t: Tensor, step_size: float | None) -> Tensor:
    """All step times: ``t`` with each interval subdivided into its m_k equal steps."""
    counts = steps_per_interval(t, step_size)
    pieces = [
        t[k] + (t[k + 1] - t[k]) * torch.arange(m, dtype=t.dtype, device=t.device) / m
        for k, m in enumerate(counts)
    ]
    return torch.cat([*pieces, t[-1:]])


def fixed_steps(
    step: Callable[[object, Tensor, State, Tensor], State],
    field: object,
    x0: State,
    t: Tensor,
    step_size: float | None,
) -> State:
    """The states at every time of ``t`` from x0 by x <- step(field, t_k, x, t_{k+1} - t_k) over
    the step grid; shape (len(t), *x0.shape), a tuple of such for tuple states."""
    grid = step_grid(t, step_size)
    states, x, index = [x0], x0, 0
    for count in steps_per_interval(t, step_size):
        for _ in range(count):
            x = step(field, grid[index], x, grid[index + 1] - grid[index])
            index += 1
        states.append(x)
    if isinstance(x0, tuple):
        return tuple(torch.stack(parts) for parts in zip(*states, strict=True))
    return torch.stack(states)
