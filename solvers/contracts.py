"""The one check of a method against a field and a state, and the methods' options.

A method is named (``"leapfrog"``) or configured with options (``configure("tao", omega=10.0)``).
``check_method`` pairs it with a field, and with an initial state when given, by the contract the
method declares in ``solvers.METHODS``: field kind (``dynamics.field`` protocols), geometry, state
shape, then the state's values. ``integrate`` runs it once, before any work; scenario configs and
``ODETransformer`` run the same check at validation and construction. Every refusal is one line
naming the method, the field's class and the methods that would accept that field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dynamics.checks import check_real
from dynamics.field import (
    GeometricField,
    HamiltonianField,
    MomentumField,
    SplitField,
    State,
    VectorField,
)
from solvers.methods import METHODS, STATE_PARTS, Method


@dataclass(frozen=True)
class Configured:
    """A method of ``solvers.METHODS`` with every option set (defaults filled in); build it with
    ``configure``."""

    name: str
    options: Mapping[str, float]

    def __post_init__(self) -> None:
        declared = _spec(self.name).options
        if set(self.options) != set(declared):
            raise ValueError(
                f"method {self.name!r} takes the options ({', '.join(declared) or 'none'}), got "
                f"({', '.join(self.options) or 'none'}); build it with solvers.configure"
            )

    @property
    def spec(self) -> Method:
        """The method's table entry."""
        return METHODS[self.name]


MethodLike = str | Configured


def configure(name: str, **options: float) -> Configured:
    """``name`` with ``options`` (each a positive real, e.g. Tao's ``omega``); the others keep
    their defaults. ValueError for an unknown method or option."""
    spec = _spec(name)
    for option, value in options.items():
        if option not in spec.options:
            accepted = ", ".join(spec.options) or "none"
            raise ValueError(
                f"method {name!r} has no option {option}={value!r}; its options: {accepted}"
            )
        options[option] = check_real(option, value, minimum=0.0, strict=True)
    return Configured(name, {**spec.options, **options})


def resolve(method: object) -> Configured:
    """A method name or a ``Configured`` method, as a ``Configured`` method."""
    return method if isinstance(method, Configured) else configure(method)


def _spec(name: object) -> Method:
    if not isinstance(name, str) or name not in METHODS:
        raise ValueError(f"method={name!r} is unknown; valid methods: {', '.join(METHODS)}")
    return METHODS[name]


# The states a field of each kind evolves (any other field: one tensor x).
_KIND_STATES = {MomentumField: ("(x, v)",), HamiltonianField: ("(x, p)", "(x, p, y, q)")}


def field_states(field: object) -> tuple[str, ...]:
    """The state shapes ``field`` evolves, by its kind: (x, v) for a momentum field, (x, p) or
    (x, p, y, q) for a Hamiltonian one, a tensor x otherwise."""
    for kind, states in _KIND_STATES.items():
        if isinstance(field, kind):
            return states
    return ("x",)


def accepts(spec: Method, field: object) -> bool:
    """Whether the method's declared field kind, states and geometry admit ``field``."""
    if not isinstance(field, spec.accepts):
        return False
    if spec.states and not set(spec.states) & set(field_states(field)):
        return False
    return spec.geometry is None or field.geometry == spec.geometry


def methods_for(field: object) -> tuple[str, ...]:
    """The names of the methods in ``solvers.METHODS`` that accept this field."""
    return tuple(name for name, spec in METHODS.items() if accepts(spec, field))


# What each field kind needs, for the refusal message.
_NEEDS = {
    VectorField: "needs a vector field f(t, x)",
    GeometricField: "needs a vector field that declares its geometry",
    MomentumField: (
        "needs a momentum field with force(t, x), damping_factor(t, h) and geometry, such as "
        "dynamics.Accelerated"
    ),
    SplitField: (
        "splits f = f_attn + f_mlp and needs a field with attention_part(t, x) and "
        "mlp_part(t, x), such as dynamics.TransformerBlock"
    ),
    HamiltonianField: (
        "needs a Hamiltonian field with gradients, grad_x, grad_p, damping_factor, such as "
        "dynamics.HamiltonianAttention"
    ),
}
_MEMBERS = {
    VectorField: ("__call__",),
    GeometricField: ("__call__", "geometry"),
    MomentumField: ("__call__", "force", "damping_factor", "geometry"),
    SplitField: ("__call__", "attention_part", "mlp_part"),
    HamiltonianField: ("__call__", "gradients", "grad_x", "grad_p", "damping_factor"),
}


def _refusal(name: str, spec: Method, field: object) -> str:
    cls = type(field).__name__
    if not isinstance(field, spec.accepts):
        missing = [member for member in _MEMBERS[spec.accepts] if not hasattr(field, member)]
        what = f"{cls} lacks {', '.join(missing)}"
        needs = _NEEDS[spec.accepts]
    elif spec.states and not set(spec.states) & set(field_states(field)):
        needs = f"integrates states {' or '.join(spec.states)}"
        what = f"{cls} evolves {' or '.join(field_states(field))}"
    else:
        geometry = spec.geometry.name
        needs = f"needs a field with geometry {geometry} (dynamics.{geometry.upper()})"
        what = f"{cls} has geometry {field.geometry.name}"
    accepting = ", ".join(methods_for(field)) or "none"
    return f"method {name!r} {needs}; {what}; methods accepting {cls}: {accepting}"


def check_state_shape(name: str, spec: Method, x0: object) -> None:
    """TypeError unless ``x0`` has one of the method's declared state shapes."""
    if not spec.states:
        return
    if spec.states == ("x",):
        if isinstance(x0, tuple):
            raise TypeError(f"method {name!r} integrates tensor states, got a tuple")
        return
    if isinstance(x0, tuple) and len(x0) in {STATE_PARTS[state] for state in spec.states}:
        return
    found = f"a tuple of {len(x0)}" if isinstance(x0, tuple) else "a tensor"
    prefix = "" if isinstance(x0, tuple) else "a tuple "
    accepted = " or ".join(spec.states)
    raise TypeError(
        f"method {name!r} integrates states {accepted}: x0 must be {prefix}{accepted}, got {found}"
    )


def check_method(method: MethodLike, field: object, x0: State | None = None) -> Configured:
    """Check that ``method`` accepts ``field`` (and the initial state ``x0`` when given), by the
    contract the method declares in ``solvers.METHODS``; return it configured.

    Raises ValueError for an unknown method or option or bad state values, TypeError for a field
    of the wrong kind or geometry or a state of the wrong shape: one line naming the method, the
    field's class and the methods that accept that field.
    """
    configured = resolve(method)
    spec = configured.spec
    if not accepts(spec, field):
        raise TypeError(_refusal(configured.name, spec, field))
    if x0 is not None:
        check_state_shape(configured.name, spec, x0)
        if spec.check_state is not None:
            spec.check_state(configured.name, field, x0)
    return configured


def check_step_size(method: MethodLike, step_size: float | None) -> float | None:
    """``step_size`` checked for ``method``: None, or a real > 0 for a fixed-step method."""
    configured = resolve(method)
    if step_size is None:
        return None
    step_size = check_real("step_size", step_size, minimum=0.0, strict=True)
    if configured.spec.adaptive:
        raise ValueError(
            f"step_size={step_size:g} applies to fixed-step methods; the adaptive method "
            f"{configured.name!r} chooses its own steps from rtol and atol"
        )
    return step_size
