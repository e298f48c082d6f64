"""Geometry as a value: where a field's tokens live, and the maps the steppers need there.

Every field exposes ``geometry``, one of the two values below (copies and pickles stay the same
object); steppers and wrappers read it and never a string.

- ``SPHERE`` (``Sphere``): tokens on S^{d-1} (post-LayerNorm). P_x v = v - <x, v> x, retraction
  x / |x|, geodesic step exp_x(v) = cos|v| x + sin|v| v/|v|, free motion along great circles.
- ``EUCLIDEAN`` (``Euclidean``): tokens in R^d. Every map is the identity or a straight line.

Both also give the acceleration of the forced second-order equation x'' = a on the space: a
itself in R^d, P_x a - |v|^2 x on the sphere (the centripetal term keeps |x| = 1, <x, v> = 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor

from dynamics.checks import check_choice, check_int
from dynamics.geometry.sphere import exp_map, geodesic_flow, normalize, project_tangent


@dataclass(frozen=True)
class Sphere:
    """The unit sphere S^{d-1} (row-wise over the last dimension)."""

    name: ClassVar[str] = "sphere"

    def __reduce__(self) -> str:
        """Copies and pickles are ``SPHERE`` itself."""
        return "SPHERE"

    def check_dimension(self, d: object) -> int:
        """``d`` if tokens in R^d can live on S^{d-1} and move there: d >= 2, else ValueError."""
        d = check_int("d", d, minimum=1)
        if d < 2:
            raise ValueError(
                f"d={d} is not accepted on the sphere: S^0 = {{-1, 1}} has no tangent "
                "directions to move along; use d >= 2, or tokens in R^d (euclidean)"
            )
        return d

    def project(self, x: Tensor, v: Tensor) -> Tensor:
        """P_x v = v - <x, v> x."""
        return project_tangent(x, v)

    def retract(self, x: Tensor) -> Tensor:
        """x / |x|."""
        return normalize(x)

    def exp(self, x: Tensor, v: Tensor) -> Tensor:
        """exp_x(v) = cos|v| x + sin|v| v / |v| for tangent v."""
        return exp_map(x, v)

    def free_flow(self, x: Tensor, v: Tensor, h: Tensor | float) -> tuple[Tensor, Tensor]:
        """(x(h), v(h)) of x' = v, v' = -|v|^2 x: the great circle through x with velocity v."""
        return geodesic_flow(x, v, h)

    def acceleration(self, x: Tensor, v: Tensor, a: Tensor) -> Tensor:
        """x'' for the force a: P_x a - |v|^2 x."""
        return project_tangent(x, a) - (v * v).sum(-1, keepdim=True) * x


@dataclass(frozen=True)
class Euclidean:
    """R^d: no constraint."""

    name: ClassVar[str] = "euclidean"

    def __reduce__(self) -> str:
        """Copies and pickles are ``EUCLIDEAN`` itself."""
        return "EUCLIDEAN"

    def check_dimension(self, d: object) -> int:
        """``d`` if it is an integer >= 1, else TypeError/ValueError."""
        return check_int("d", d, minimum=1)

    def project(self, x: Tensor, v: Tensor) -> Tensor:
        """v."""
        return v

    def retract(self, x: Tensor) -> Tensor:
        """x."""
        return x

    def exp(self, x: Tensor, v: Tensor) -> Tensor:
        """x + v."""
        return x + v

    def free_flow(self, x: Tensor, v: Tensor, h: Tensor | float) -> tuple[Tensor, Tensor]:
        """(x + h v, v): a straight line."""
        return x + h * v, v

    def acceleration(self, x: Tensor, v: Tensor, a: Tensor) -> Tensor:
        """x'' for the force a: a."""
        return a


Geometry = Sphere | Euclidean

SPHERE = Sphere()
EUCLIDEAN = Euclidean()

GEOMETRIES: dict[str, Geometry] = {SPHERE.name: SPHERE, EUCLIDEAN.name: EUCLIDEAN}
"""The user-facing names (``manifold="sphere"``) and their geometry values."""


def geometry_named(manifold: str) -> Geometry:
    """The geometry value of ``manifold`` ("sphere" or "euclidean"); ValueError otherwise."""
    return GEOMETRIES[check_choice("manifold", manifold, GEOMETRIES)]
