"""The field as a solver sees it: checked once, and watched so that a failed solve says where.

``Watched(field)`` is called like the field and passes every other attribute through (force,
geometry, ...), so the field's kind stays visible to the steppers. The first call of each
evaluation (f itself, force, attention_part, mlp_part, grad_x, grad_p, gradients) checks that the
result has the shape of the state it was given (no extra evaluation; later calls cost a set
lookup). With ``record_steps`` (torchdiffeq solvers that call it), torchdiffeq's
``callback_step`` keeps the last two steps tried (references only, no synchronization), which
``underflow_error`` turns into one line when torchdiffeq's step size underflows.
"""

from __future__ import annotations

from functools import partial

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


# Each evaluation of a field kind (``dynamics.field``) and the positions of the arguments whose
# shapes its result must have: f(t, x) -> x, force(t, x) -> x, gradients(x, p) -> (x, p), ...
_EVALUATIONS = {
    "__call__": (1,),
    "force": (1,),
    "attention_part": (1,),
    "mlp_part": (1,),
    "grad_x": (0,),
    "grad_p": (1,),
    "gradients": (0, 1),
}


class Watched:
    """``field`` with each evaluation's first result checked and the solver's steps recorded."""

    def __init__(self, field: object, *, record_steps: bool = False) -> None:
        self.field = field
        self.checked: set[str] = set()
        self.steps: tuple[tuple[Tensor, State, Tensor], ...] = ()
        if record_steps:
            self.callback_step = self._record

    def __call__(self, t: Tensor, x: State) -> State:
        if "__call__" in self.checked:
            return self.field(t, x)
        return self._check("__call__", self.field, t, x)

    def _check(self, name: str, evaluation: object, *args: object) -> object:
        result = evaluation(*args)
        positions = _EVALUATIONS[name]
        state = tuple(args[i] for i in positions) if len(positions) > 1 else args[positions[0]]
        if _shape(result) != _shape(state):
            what = type(self.field).__name__ + ("" if name == "__call__" else f".{name}")
            raise ValueError(
                f"field {what} returned shape {_shape(result)} for a state of shape "
                f"{_shape(state)}; each evaluation of a field must return the shape of its state"
            )
        self.checked.add(name)
        return result

    def _record(self, t0: Tensor, y0: State, dt: Tensor) -> None:
        """torchdiffeq's ``callback_step``, called before every step it tries."""
        self.steps = (*self.steps[-1:], (t0, y0, dt))

    def __getattr__(self, name: str) -> object:
        if name in ("field", "checked"):
            raise AttributeError(name)
        attribute = getattr(self.field, name)
        if name in _EVALUATIONS and name not in self.checked:
            return partial(self._check, name, attribute)
        return attribute


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
