"""Checks of ``integrate``'s inputs and output beyond the method contracts (``solvers.contracts``).

Each refusal is one ValueError/TypeError naming the argument, the value and what is accepted.
Costs: ``check_nonzero_tokens`` one norm of x0 per solve; ``check_finite_trajectory`` one
reduction per output time (over the returned trajectory, after the solve); the others none.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dynamics.checks import first_token
from dynamics.field import State
from dynamics.geometry.spaces import SPHERE
from solvers.methods import Method

ADAPTIVE_DTYPES = (torch.float32, torch.float64)
"""The state dtypes of the adaptive methods: their step control needs times and error estimates
finer than float16's eps of 1e-3 (in float16 the step size underflows at once)."""

RTOL_EPS_FRACTION = 0.01
"""rtol must be at least this fraction of the state dtype's eps: 2.2e-18 in float64, 1.2e-9 in
float32. Tighter tolerances ask for accuracy far below what the state can hold and only shrink
the steps until they underflow (rtol=1e-30 ran for ever); the default 1e-7 (0.84 eps in float32)
and the reference solves at rtol=1e-13 in float64 stay well above it."""


def check_field(field: object) -> None:
    """TypeError unless ``field`` is callable as f(t, x)."""
    if not callable(field):
        raise TypeError(
            f"field={field!r} must be a vector field, a callable f(t, x) returning dx/dt; "
            f"got {type(field).__name__}"
        )


def check_adaptive_dtype(name: str, spec: Method, dtype: torch.dtype) -> None:
    """TypeError for an adaptive method on a state dtype outside ``ADAPTIVE_DTYPES``."""
    if spec.adaptive and dtype not in ADAPTIVE_DTYPES:
        raise TypeError(
            f"x0 has dtype {dtype}; the adaptive method {name!r} takes float32 or float64 states "
            "(convert x0, or use a fixed-step method such as 'euler' or 'rk4' with step_size)"
        )


def check_rtol(rtol: float, dtype: torch.dtype) -> float:
    """``rtol`` unless it is below ``RTOL_EPS_FRACTION`` of ``dtype``'s eps (ValueError)."""
    floor = RTOL_EPS_FRACTION * torch.finfo(dtype).eps
    if rtol < floor:
        wider = "" if dtype == torch.float64 else ", or float64 states for tighter tolerances"
        raise ValueError(
            f"rtol={rtol:g} is finer than a {dtype} state can resolve; use rtol >= {floor:.2g} "
            f"(eps/{1 / RTOL_EPS_FRACTION:g}){wider}"
        )
    return rtol


def check_nonzero_tokens(field: object, x0: State) -> None:
    """ValueError if ``field`` lives on the sphere and a token of x0 (of x, for (x, v) states) is
    zero: it has no direction x_i / |x_i|."""
    if getattr(field, "geometry", None) != SPHERE:
        return
    x = x0[0] if isinstance(x0, tuple) else x0
    zero = torch.linalg.vector_norm(x, dim=-1) == 0
    if bool(zero.any()):
        raise ValueError(
            f"x0 {first_token(zero)} is zero; {type(field).__name__} lives on the sphere, where "
            "each token needs a direction x_i / |x_i|: give nonzero tokens"
        )


class DivergedError(ValueError):
    """A solve whose state became NaN or infinite. ``trajectory`` is what the solver returned
    (non-finite from output index ``index`` on), for callers that study divergence itself."""

    def __init__(self, message: str, trajectory: State, index: int) -> None:
        super().__init__(message)
        self.trajectory = trajectory
        self.index = index


def check_finite_trajectory(trajectory: State, t: Tensor, method: str) -> State:
    """``trajectory`` (len(t), ...) unless it holds NaN/inf; then ``DivergedError`` (a
    ValueError) naming the first output time where one appeared."""
    parts = trajectory if isinstance(trajectory, tuple) else (trajectory,)
    finite = torch.stack([torch.isfinite(part).flatten(1).all(1) for part in parts]).all(0)
    if not bool(finite.all()):
        k = int((~finite).nonzero()[0])
        where = (
            f"was NaN or infinite at the first output time t[0]={float(t[0]):g}"
            if k == 0
            else f"became NaN or infinite by output time t[{k}]={float(t[k]):g} (finite at "
            f"t[{k - 1}]={float(t[k - 1]):g})"
        )
        raise DivergedError(
            f"method {method!r}: the state {where}; the field returned "
            "non-finite values or the steps were too large for it: check the field and x0, or "
            "take smaller steps",
            trajectory,
            k,
        )
    return trajectory
