"""The table of integration methods and the contract each one declares.

Each ``Method`` states its order, evaluations per step, whether it is adaptive, what it preserves,
the kind of field it accepts (a protocol of ``dynamics.field``), the geometry it needs, the state
shapes it integrates and its options. ``solvers.check_method`` reads these declarations; nothing
else decides which field a method takes. Methods from torchdiffeq are passed through to it; ours
(``solvers.steppers``, one module each) exist only where torchdiffeq has none. Adding a stepper is
one module there plus one row here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dynamics.field import (
    GeometricField,
    HamiltonianField,
    MomentumField,
    SplitField,
    State,
    VectorField,
)
from dynamics.geometry.spaces import SPHERE, Geometry
from solvers.steppers.exponential_euler import exponential_euler_step
from solvers.steppers.leapfrog import leapfrog_step
from solvers.steppers.lie_trotter import lie_trotter_step
from solvers.steppers.nesterov_layer import nesterov_layer_step
from solvers.steppers.presymplectic_euler import presymplectic_euler_step
from solvers.steppers.projected_euler import projected_euler_step
from solvers.steppers.state_checks import check_on_sphere, check_phase_space
from solvers.steppers.strang import strang_step
from solvers.steppers.symplectic_euler import symplectic_euler_step
from solvers.steppers.tao import TAO_OMEGA, tao_step

Stepper = Callable[..., State]
"""``step(field, t, state, h, **options) -> state`` after one step of size h."""
StateCheck = Callable[[str, Any, State], None]

STATE_PARTS: dict[str, int] = {"x": 1, "(x, v)": 2, "(x, p)": 2, "(x, p, y, q)": 4}
"""The state shapes a method may declare, and their number of tensors ("x": one tensor)."""


@dataclass(frozen=True)
class Method:
    """One integration method and its contract.

    Attributes:
        order: global order of accuracy p (error O(h^p)); None where it depends on options.
        adaptive: chooses its own steps from rtol/atol (else fixed steps from ``step_size``).
        source: "torchdiffeq" or "attnflow" (our own stepper).
        evaluations: field (or force, or gradient) evaluations per step; None where adaptive or
            unknown. For splitting methods, evaluations of the more-used part (one evaluation of
            each part costs one field evaluation).
        preserves: the invariant kept exactly by construction ("" for none).
        accepts: the field kind, a protocol of ``dynamics.field``.
        geometry: the geometry the field must declare (None: any).
        states: the state shapes accepted (keys of ``STATE_PARTS``); empty: any state.
        options: option names and defaults, each a positive real (``solvers.configure``).
        stepper: the one-step map for our own methods; None for torchdiffeq's.
        check_state: for our own methods, a check of the initial state's values beyond its shape
            (unit rows, tangent velocities), called as check_state(name, field, x0).
    """

    order: int | None
    adaptive: bool
    source: str
    evaluations: int | None = None
    preserves: str = ""
    accepts: type = VectorField
    geometry: Geometry | None = None
    states: tuple[str, ...] = ()
    options: Mapping[str, float] = field(default_factory=dict)
    stepper: Stepper | None = None
    check_state: StateCheck | None = None


def _torchdiffeq(order: int | None, adaptive: bool, evaluations: int | None = None) -> Method:
    return Method(order=order, adaptive=adaptive, source="torchdiffeq", evaluations=evaluations)


_ON_SPHERE = "|x| = 1, <x, v> = 0 on the sphere"

# Measured here: torchdiffeq's dopri8 misses its tolerance on attention fields (error 1e-7 at
# rtol=1e-10, 2e-9 at rtol=1e-13, against 3e-11 and 6e-14 for dopri5), so reference solutions use
# dopri5 at a tight tolerance.
METHODS: dict[str, Method] = {
    "dopri8": _torchdiffeq(8, adaptive=True),
    "dopri5": _torchdiffeq(5, adaptive=True),
    "bosh3": _torchdiffeq(3, adaptive=True),
    "fehlberg2": _torchdiffeq(2, adaptive=True),
    "adaptive_heun": _torchdiffeq(2, adaptive=True),
    "euler": _torchdiffeq(1, adaptive=False, evaluations=1),
    "midpoint": _torchdiffeq(2, adaptive=False, evaluations=2),
    "heun2": _torchdiffeq(2, adaptive=False, evaluations=2),
    "heun3": _torchdiffeq(3, adaptive=False, evaluations=3),
    "rk4": _torchdiffeq(4, adaptive=False, evaluations=4),
    "explicit_adams": _torchdiffeq(4, adaptive=False),
    "implicit_adams": _torchdiffeq(4, adaptive=False),
    "fixed_adams": _torchdiffeq(4, adaptive=False),
    "scipy_solver": _torchdiffeq(None, adaptive=True),
    "projected_euler": Method(
        order=1,
        adaptive=False,
        source="attnflow",
        evaluations=1,
        preserves="sphere",
        accepts=GeometricField,
        geometry=SPHERE,
        states=("x",),
        stepper=projected_euler_step,
        check_state=check_on_sphere,
    ),
    "exponential_euler": Method(
        order=1,
        adaptive=False,
        source="attnflow",
        evaluations=1,
        preserves="sphere",
        accepts=GeometricField,
        geometry=SPHERE,
        states=("x",),
        stepper=exponential_euler_step,
        check_state=check_on_sphere,
    ),
    "symplectic_euler": Method(
        order=1,
        adaptive=False,
        source="attnflow",
        evaluations=1,
        preserves=f"symplectic form (conformally with friction); {_ON_SPHERE}",
        accepts=MomentumField,
        states=("(x, v)",),
        stepper=symplectic_euler_step,
        check_state=check_phase_space,
    ),
    "leapfrog": Method(
        order=2,
        adaptive=False,
        source="attnflow",
        evaluations=1,
        preserves=(
            f"symplectic form (conformally with friction), time reversibility; {_ON_SPHERE}"
        ),
        accepts=MomentumField,
        states=("(x, v)",),
        stepper=leapfrog_step,
        check_state=check_phase_space,
    ),
    "nesterov_layer": Method(
        order=1,
        adaptive=False,
        source="attnflow",
        evaluations=1,
        preserves=_ON_SPHERE,
        accepts=MomentumField,
        states=("(x, v)",),
        stepper=nesterov_layer_step,
        check_state=check_phase_space,
    ),
    "lie_trotter": Method(
        order=1,
        adaptive=False,
        source="attnflow",
        evaluations=1,
        accepts=SplitField,
        states=("x",),
        stepper=lie_trotter_step,
    ),
    "strang": Method(
        order=2,
        adaptive=False,
        source="attnflow",
        evaluations=4,
        accepts=SplitField,
        states=("x",),
        stepper=strang_step,
    ),
    "tao": Method(
        order=2,
        adaptive=False,
        source="attnflow",
        evaluations=4,
        preserves=(
            "with carried copies (x, p, y, q): the extended symplectic form (conformally with "
            "friction), time reversibility"
        ),
        accepts=HamiltonianField,
        states=("(x, p)", "(x, p, y, q)"),
        options={"omega": TAO_OMEGA},
        stepper=tao_step,
    ),
    "presymplectic_euler": Method(
        order=1,
        adaptive=False,
        source="attnflow",
        evaluations=2,
        accepts=HamiltonianField,
        states=("(x, p)",),
        stepper=presymplectic_euler_step,
    ),
}
