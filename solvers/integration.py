"""``integrate``: the one entry point from a field and an initial cloud to a trajectory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch
import torchdiffeq
from torch import Tensor, nn

from dynamics.checks import check_real
from dynamics.field import State, VectorField
from solvers.contracts import MethodLike, check_method, check_step_size, resolve
from solvers.grid import fixed_steps, step_grid
from solvers.methods import Method


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
        field: a vector field ``f(t, x)`` (see ``dynamics.field``).
        x0: a cloud of shape (..., n, d), or a tuple of such for second-order dynamics. Leading
            dimensions are independent systems: an adaptive method controls each system's error
            separately (the error norm is the largest per-system RMS), so solving a batch together
            is as accurate as solving each system alone.
        t: strictly monotone output times; they take ``x0``'s dtype and device.
        method: a name in ``solvers.METHODS``, or a method with options
            (``solvers.configure("tao", omega=10.0)``). The method's contract (field kind,
            geometry, state shape and values) is checked once, before any work
            (``solvers.check_method``).
        step_size: fixed-step methods only: each output interval is cut into
            ceil(length / step_size) equal steps (one step when None), see ``solvers.grid``.
        rtol, atol: adaptive methods only: relative and absolute error tolerances.
        adjoint: backpropagate by the adjoint ODE (torchdiffeq methods, ``nn.Module`` fields):
            memory O(1) in the number of steps.

    Returns:
        The trajectory, shape (len(t), *x0.shape); a tuple of such for tuple states.
    """
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
    if spec.stepper is not None:
        if adjoint:
            raise ValueError(
                f"adjoint=True needs a torchdiffeq method; {configured.name!r} is our own stepper "
                "and backpropagates through its steps"
            )
        step = partial(spec.stepper, **configured.options)
        return fixed_steps(step, field, x0, times, step_size)
    return _integrate_torchdiffeq(
        field, x0, times, configured.name, spec, step_size, rtol, atol, adjoint
    )


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
        raise ValueError("t contains NaN or infinite times")
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
    if adjoint:
        if not isinstance(field, nn.Module):
            raise TypeError("adjoint=True needs the field to be a torch.nn.Module")
        solve = torchdiffeq.odeint_adjoint
    else:
        solve = torchdiffeq.odeint
    return solve(field, x0, t, method=method, rtol=rtol, atol=atol, options=options)


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
