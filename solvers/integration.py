"""``integrate``: the one entry point from a field and an initial cloud to a trajectory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch
import torchdiffeq
from torch import Tensor, nn

from dynamics.checks import check_real
from dynamics.field import State, VectorField, is_autonomous
from solvers.checks import (
    check_adaptive_dtype,
    check_field,
    check_finite_trajectory,
    check_nonzero_tokens,
    check_rtol,
)
from solvers.contracts import MethodLike, check_method, check_step_size, resolve
from solvers.ensemble import TABLEAUS, solve_ensemble
from solvers.grid import fixed_steps, step_grid
from solvers.methods import Method
from solvers.watched import Watched, underflow_error, watch_for_torchdiffeq


def integrate(
    field: VectorField,
    x0: State,
    t: Tensor | Sequence[float],
    *,
    method: MethodLike = "dopri5",
    step_size: float | None = None,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    adjoint: bool = False,
) -> State:
    """Solve x' = field(t, x), x(t[0]) = x0, and return x at every time in ``t``.

    Args:
        field: a vector field ``f(t, x)`` (see ``dynamics.field``) returning the shape of x
            (checked at its first evaluation).
        x0: a cloud of shape (..., n, d), or a tuple of such for second-order dynamics. Leading
            dimensions are independent systems: an adaptive method controls each system's error
            separately, so solving a batch together is as accurate as solving each system alone.
            With "dopri5", an autonomous field (``dynamics.is_autonomous``), a tensor
            x0 with leading dimensions, increasing times and no gradient to track, each system
            also takes its own steps (``solvers.solve_ensemble``: the same steps as its solo
            solve); otherwise the batch shares torchdiffeq's steps, those of its hardest system
            (the error norm is the largest per-system RMS). Adaptive methods take float32 or
            float64, fixed-step ones any floating dtype; a field on the sphere needs nonzero
            tokens; an empty x0 gives an empty trajectory.
        t: strictly monotone output times; they take ``x0``'s dtype and device.
        method: a name in ``solvers.METHODS``, or a method with options
            (``solvers.configure("tao", omega=10.0)``). The method's contract (field kind,
            geometry, state shape and values) is checked once, before any work
            (``solvers.check_method``).
        step_size: fixed-step methods only: each output interval is cut into
            ceil(length / step_size) equal steps (one step when None), at most
            ``solvers.grid.MAX_STEPS`` in all, see ``solvers.grid``.
        rtol, atol: adaptive methods only: relative and absolute error tolerances; rtol at least
            ``solvers.checks.RTOL_EPS_FRACTION`` of the dtype's eps (2.2e-18 in float64, 1.2e-9
            in float32).
        adjoint: backpropagate by the adjoint ODE (torchdiffeq methods, ``nn.Module`` fields):
            memory O(1) in the number of steps.

    Returns:
        The trajectory, shape (len(t), *x0.shape); a tuple of such for tuple states.

    Raises:
        TypeError, ValueError: bad input, in one line naming it; ValueError also when the state
            becomes NaN or infinite (naming the first output time where it did) or an adaptive
            step size underflows (naming the time).
    """
    check_field(field)
    configured = resolve(method)
    _check_state(x0)
    times = _check_times(t, x0)
    step_size = check_step_size(configured, step_size)
    rtol = check_real("rtol", rtol, minimum=0.0, strict=True)
    atol = check_real("atol", atol, minimum=0.0, strict=True)
    if not isinstance(adjoint, bool):
        raise TypeError(f"adjoint={adjoint!r} must be a bool")
    check_method(configured, field, x0)
    spec = configured.spec
    check_adaptive_dtype(configured.name, spec, times.dtype)
    if spec.adaptive:
        check_rtol(rtol, times.dtype)
    check_nonzero_tokens(field, x0)
    if spec.stepper is not None and adjoint:
        raise ValueError(
            f"adjoint=True needs a torchdiffeq method; {configured.name!r} is our own stepper "
            "and backpropagates through its steps"
        )
    parts = x0 if isinstance(x0, tuple) else (x0,)
    if any(part.numel() == 0 for part in parts):
        empty = tuple(part.expand(len(times), *part.shape).clone() for part in parts)
        return empty if isinstance(x0, tuple) else empty[0]
    if spec.stepper is not None:
        step = partial(spec.stepper, **configured.options)
        trajectory = fixed_steps(step, Watched(field), x0, times, step_size)
    elif _per_system_steps(field, x0, times, configured.name, adjoint):
        trajectory = _integrate_ensemble(field, x0, times, configured.name, rtol, atol)
    else:
        trajectory = _integrate_torchdiffeq(
            field, x0, times, configured.name, spec, step_size, rtol, atol, adjoint
        )
    return check_finite_trajectory(trajectory, times, configured.name)


def _check_state(x0: object) -> None:
    parts = x0 if isinstance(x0, tuple) else (x0,)
    for part in parts:
        if not isinstance(part, torch.Tensor) or not part.is_floating_point():
            found = part.dtype if isinstance(part, Tensor) else type(part).__name__
            raise TypeError(f"x0 must be a floating torch.Tensor or a tuple of them, got {found}")
        if not bool(torch.isfinite(part).all()):
            raise ValueError("x0 contains NaN or infinite values")


def _check_times(t: object, x0: State) -> Tensor:
    reference = x0[0] if isinstance(x0, tuple) else x0
    try:
        times = torch.as_tensor(t, dtype=reference.dtype, device=reference.device)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"t must be a 1-D sequence or tensor of times, got {t!r}") from error
    if times.ndim != 1 or len(times) < 2:
        raise ValueError(f"t must be 1-D with at least 2 times, got shape {tuple(times.shape)}")
    if not bool(torch.isfinite(times).all()):
        largest = torch.finfo(times.dtype).max
        raise ValueError(
            f"t contains NaN or infinite times in x0's dtype {times.dtype}; times must be finite "
            f"and within +-{largest:.3g}"
        )
    steps = times[1:] - times[:-1]
    if not (bool((steps > 0).all()) or bool((steps < 0).all())):
        raise ValueError("t must be strictly increasing or strictly decreasing")
    return times


def _integrate_torchdiffeq(
    field: VectorField,
    x0: State,
    t: Tensor,
    method: str,
    spec: Method,
    step_size: float | None,
    rtol: float,
    atol: float,
    adjoint: bool,
) -> State:
    options: dict = {}
    if spec.adaptive:
        options["norm"] = _per_system_rms(x0)
    else:
        options["grid_constructor"] = lambda func, y0, times: step_grid(times, step_size)
    watched = watch_for_torchdiffeq(field, method)
    if adjoint:
        if not isinstance(field, nn.Module):
            raise TypeError("adjoint=True needs the field to be a torch.nn.Module")
        solve = partial(torchdiffeq.odeint_adjoint, adjoint_params=tuple(field.parameters()))
    else:
        solve = torchdiffeq.odeint
    try:
        return solve(watched, x0, t, method=method, rtol=rtol, atol=atol, options=options)
    except AssertionError as error:
        if not str(error).startswith("underflow in dt"):
            raise
        raise underflow_error(watched, method, rtol, atol) from None


def _per_system_steps(
    field: VectorField, x0: State, times: Tensor, method: str, adjoint: bool
) -> bool:
    """Whether ``solve_ensemble`` can solve this batch: see ``integrate``'s x0."""
    if method not in TABLEAUS or adjoint or not is_autonomous(field) or isinstance(x0, tuple):
        return False
    if x0.ndim < 3 or x0[..., 0, 0].numel() < 2 or not bool((times[1:] > times[:-1]).all()):
        return False
    parameters = field.parameters() if isinstance(field, nn.Module) else ()
    tracked = x0.requires_grad or any(p.requires_grad for p in parameters)
    return not (torch.is_grad_enabled() and tracked)


def _integrate_ensemble(
    field: VectorField, x0: Tensor, times: Tensor, method: str, rtol: float, atol: float
) -> Tensor:
    """``solve_ensemble`` with ``integrate``'s error: a step size underflow is a ValueError."""
    try:
        return solve_ensemble(field, x0, times, rtol=rtol, atol=atol, method=method)
    except RuntimeError as error:
        if "underflow" not in str(error):
            raise
        raise ValueError(
            f"method {method!r}: the step size of a system underflowed: rtol={rtol:g}, "
            f"atol={atol:g} cannot be met there, or the field returned NaN or infinite values; "
            "check the field and x0, loosen rtol/atol, or use a fixed-step method with step_size"
        ) from None


def _per_system_rms(x0: State) -> Callable[[State], Tensor]:
    """Error norm: the largest RMS over independent systems (leading dims) and state parts."""
    reference = x0[0] if isinstance(x0, tuple) else x0
    batch_dims = reference.ndim - 2

    def rms(tensor: Tensor) -> Tensor:
        return tensor.pow(2).flatten(batch_dims).mean(-1).sqrt().max()

    def norm(state: State) -> Tensor:
        parts = state if isinstance(state, tuple) else (state,)
        return torch.stack([rms(part) for part in parts]).max()

    return norm
