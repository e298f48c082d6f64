"""The kinds of vector field, as protocols shared by every field and every solver.

A field is a callable ``f(t, x)`` returning ``dx/dt`` with the shape of ``x`` (the torchdiffeq
convention). ``x`` is a token cloud of shape ``(..., n, d)``, or a tuple of such tensors for
second-order dynamics; leading dimensions are independent systems solved together. Every field of
``dynamics`` also declares ``geometry`` (``dynamics.SPHERE`` or ``dynamics.EUCLIDEAN``), where its
tokens live. Solvers check a field's kind with ``isinstance`` against these protocols:

- ``VectorField``: ``__call__(t, x)``, any state (what torchdiffeq's methods need);
- ``GeometricField``: a vector field with ``geometry`` (sphere-preserving steps need SPHERE);
- ``MomentumField``: (x, v) -> (v, -gamma(t) v + F(t, x)) on its geometry, with ``force(t, x)``
  = F and ``damping_factor(t, h)`` = exp(-int_t^{t+h} gamma), e.g. ``Accelerated``;
- ``SplitField``: f = f_attn + f_mlp with ``attention_part(t, x)`` and ``mlp_part(t, x)``, e.g.
  ``TransformerBlock``;
- ``HamiltonianField``: (x, p) -> (dH/dp, -dH/dx - alpha(t) p) with ``gradients(x, p)`` =
  (dH/dx, dH/dp), ``grad_x``, ``grad_p`` and ``damping_factor(t, h)`` = exp(-int_t^{t+h} alpha),
  e.g. ``HamiltonianAttention``.

A field that does not depend on t declares ``autonomous = True`` (``is_autonomous``): a solver may
then evaluate the systems of a batch at different times, each with its own steps.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import Tensor

from dynamics.geometry.spaces import Geometry

State = Tensor | tuple[Tensor, ...]


@runtime_checkable
class VectorField(Protocol):
    """Anything with ``__call__(t, x) -> dx/dt``; ``torch.nn.Module`` fields satisfy it."""

    def __call__(self, t: Tensor, x: State) -> State: ...


@runtime_checkable
class GeometricField(VectorField, Protocol):
    """A vector field that declares where its tokens live."""

    geometry: Geometry


@runtime_checkable
class MomentumField(GeometricField, Protocol):
    """x' = v, v' = -gamma(t) v + F(t, x) (tangent form on the sphere), on states (x, v)."""

    def force(self, t: Tensor, x: Tensor) -> Tensor:
        """F(t, x)."""
        ...

    def damping_factor(self, t: Tensor, h: Tensor) -> Tensor:
        """exp(-int_t^{t+h} gamma(s) ds)."""
        ...


@runtime_checkable
class SplitField(VectorField, Protocol):
    """f(t, x) = attention_part(t, x) + mlp_part(t, x), on tensor states."""

    def attention_part(self, t: Tensor, x: Tensor) -> Tensor:
        """f_attn(t, x)."""
        ...

    def mlp_part(self, t: Tensor, x: Tensor) -> Tensor:
        """f_mlp(t, x)."""
        ...


@runtime_checkable
class HamiltonianField(VectorField, Protocol):
    """x' = dH/dp, p' = -dH/dx - alpha(t) p, on states (x, p)."""

    def gradients(self, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
        """(dH/dx, dH/dp) in one evaluation."""
        ...

    def grad_x(self, x: Tensor, p: Tensor) -> Tensor:
        """dH/dx."""
        ...

    def grad_p(self, x: Tensor, p: Tensor) -> Tensor:
        """dH/dp."""
        ...

    def damping_factor(self, t: Tensor, h: Tensor) -> Tensor:
        """exp(-int_t^{t+h} alpha(s) ds)."""
        ...


def geometry_of(field: object) -> Geometry:
    """The ``geometry`` a wrapper takes from the field it wraps; TypeError if it declares none."""
    if not isinstance(field, GeometricField):
        raise TypeError(
            f"field {type(field).__name__} declares no geometry; give it an attribute geometry = "
            "dynamics.SPHERE or dynamics.EUCLIDEAN"
        )
    return field.geometry


def is_autonomous(field: object) -> bool:
    """Whether ``field`` declares ``autonomous = True``: f(t, x) does not depend on t."""
    return getattr(field, "autonomous", False) is True
