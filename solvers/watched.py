"""The field as a solver sees it: checked once, and watched so that a failed solve says where.

``Watched(field)`` is called like the field and passes every other attribute through (force,
geometry, ...), so the field's kind stays visible to the steppers. Its first evaluation checks
that dx/dt has the shape of x (no extra evaluation; later calls cost one flag test), and
with ``record_steps`` (for torchdiffeq solvers that call it), torchdiffeq's ``callback_step`` keeps
the last two steps tried (references only, no synchronization), which ``underflow_error`` turns
into one line when torchdiffeq's step size underflows.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchdiffeq._impl.odeint import SOLVERS

from dynamics.field import State


def _shape(state: object) -> object:
    if isinstance(state, Tensor):
        return tuple(state.shape)
    if isinstance(state, tuple):
        return tuple(_shape(part) for part in state)
    return type(state).__name__


class Watched:
    """``field`` with its first output's shape checked and the solver's latest step recorded."""

    def __init__(self, field: object, *, record_steps: bool = False) -> None:
        self.field = field
        self.checked = False
        self.steps: tuple[tuple[Tensor, State, Tensor], ...] = ()
        if record_steps:
            self.callback_step = self._record

    def __call__(self, t: Tensor, x: State) -> State:
        dx = self.field(t, x)
        if not self.checked:
            if _shape(dx) != _shape(x):
                raise ValueError(
                    f"field {type(self.field).__name__} returned dx/dt of shape {_shape(dx)} for "
                    f"x of shape {_shape(x)}; a vector field f(t, x) must return the shape of x"
                )
            self.checked = True
        return dx

    def _record(self, t0: Tensor, y0: State, dt: Tensor) -> None:
        """torchdiffeq's ``callback_step``, called before every step it tries."""
        self.steps = (*self.steps[-1:], (t0, y0, dt))

    def __getattr__(self, name: str) -> object:
        if name == "field":
            raise AttributeError(name)
        return getattr(self.field, name)


def watch_for_torchdiffeq(field: object, method: str) -> Watched:
    """``field`` watched, recording steps where torchdiffeq's ``method`` takes the callback."""
    return Watched(field, record_steps="callback_step" in SOLVERS[method].valid_callbacks())


def underflow_error(watched: Watched, method: str, rtol: float, atol: float) -> ValueError:
    """One line for torchdiffeq's "underflow in dt": where the step size collapsed and why. The
    field is evaluated there (at the start and end of the last two steps tried), on this failure
    path only: NaN/inf there is reported as the cause."""
    t0 = watched.steps[-1][0]
    with torch.no_grad():
        for t, y, dt in watched.steps:
            for time in (t, t + dt):
                dx = watched.field(time, y)
                parts = dx if isinstance(dx, tuple) else (dx,)
                if not all(bool(torch.isfinite(part).all()) for part in parts):
                    return ValueError(
                        f"method {method!r}: the field {type(watched.field).__name__} returned "
                        f"NaN or infinite values at t={float(time):.6g}; check the field and x0"
                    )
    return ValueError(
        f"method {method!r}: the step size underflowed at t={float(t0):.6g}: rtol={rtol:g}, "
        f"atol={atol:g} "
        "cannot be met there; loosen rtol/atol, or use another method (a fixed-step one such as "
        "'rk4' with step_size)"
    )
