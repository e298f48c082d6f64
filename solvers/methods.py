"""The table of integration methods: each one's order, source and what it preserves.

Methods from torchdiffeq are passed through to it; ours exist only where torchdiffeq has none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from dynamics.field import State, VectorField
from solvers.steppers.phase_space import (
    check_phase_space,
    leapfrog_step,
    nesterov_layer_step,
    symplectic_euler_step,
)
from solvers.steppers.sphere import check_on_sphere, exponential_euler_step, projected_euler_step
from solvers.steppers.splitting import check_split_field, lie_trotter_step, strang_step
from solvers.steppers.tao import (
    check_presymplectic,
    check_tao,
    presymplectic_euler_step,
    tao_step,
)

Stepper = Callable[[VectorField, Tensor, State, Tensor], State]
Precondition = Callable[[str, VectorField, State], None]


@dataclass(frozen=True)
class Method:
    """One integration method.

    Attributes:
        order: global order of accuracy p (error O(h^p)); None where it depends on options.
        adaptive: chooses its own steps from rtol/atol (else fixed steps from ``step_size``).
        source: "torchdiffeq" or "attnflow" (our own stepper).
        preserves: the invariant kept exactly by construction ("" for none).
        stepper: the one-step map for our own methods; None for torchdiffeq's.
        check: for our own methods, raises TypeError/ValueError when the field or the initial
            state is not one the stepper takes (called as check(name, field, x0)).
        evaluations: field (or force) evaluations per step; None where adaptive or unknown.
            For splitting methods, evaluations of the more-used part (one evaluation of each
            part costs one field evaluation).
    """

    order: int | None
    adaptive: bool
    source: str
    preserves: str = ""
    stepper: Stepper | None = None
    check: Precondition | None = None
    evaluations: int | None = None


def _torchdiffeq(order: int | None, adaptive: bool, evaluations: int | None = None) -> Method:
    return Method(order=order, adaptive=adaptive, source="torchdiffeq", evaluations=evaluations)


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
        preserves="sphere",
        stepper=projected_euler_step,
        check=check_on_sphere,
        evaluations=1,
    ),
    "exponential_euler": Method(
        order=1,
        adaptive=False,
        source="attnflow",
        preserves="sphere",
        stepper=exponential_euler_step,
        check=check_on_sphere,
        evaluations=1,
    ),
    "symplectic_euler": Method(
        order=1,
        adaptive=False,
        source="attnflow",
        preserves="symplectic form (conformally with friction); on the sphere |x| = 1, <x, v> = 0",
        stepper=symplectic_euler_step,
        check=check_phase_space,
        evaluations=1,
    ),
    "leapfrog": Method(
        order=2,
        adaptive=False,
        source="attnflow",
        preserves=(
            "symplectic form (conformally with friction), time reversibility; on the sphere "
            "|x| = 1, <x, v> = 0"
        ),
        stepper=leapfrog_step,
        check=check_phase_space,
        evaluations=1,
    ),
    "nesterov_layer": Method(
        order=1,
        adaptive=False,
        source="attnflow",
        preserves="on the sphere |x| = 1, <x, v> = 0",
        stepper=nesterov_layer_step,
        check=check_phase_space,
        evaluations=1,
    ),
    "lie_trotter": Method(
        order=1,
        adaptive=False,
        source="attnflow",
        stepper=lie_trotter_step,
        check=check_split_field,
        evaluations=1,
    ),
    "strang": Method(
        order=2,
        adaptive=False,
        source="attnflow",
        stepper=strang_step,
        check=check_split_field,
        evaluations=4,
    ),
    "tao": Method(
        order=2,
        adaptive=False,
        source="attnflow",
        preserves=(
            "with carried copies (x, p, y, q): the extended symplectic form (conformally with "
            "friction), time reversibility"
        ),
        stepper=tao_step,
        check=check_tao,
        evaluations=4,
    ),
    "presymplectic_euler": Method(
        order=1,
        adaptive=False,
        source="attnflow",
        stepper=presymplectic_euler_step,
        check=check_presymplectic,
        evaluations=2,
    ),
}
