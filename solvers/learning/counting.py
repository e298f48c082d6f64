"""Counting a field's evaluations without hiding its kind.

``counted(field)`` wraps a field in the counter of its kind (``dynamics.field`` protocols), so the
wrapper is a ``SplitField``, ``MomentumField`` or ``HamiltonianField`` exactly when the field is,
and every method accepting the field accepts the wrapper. ``nfe`` counts as ``solvers.METHODS``
does: a call of the field, of ``force``, ``gradients``, ``grad_x`` or ``grad_p`` is one
evaluation; of the split parts, the more-used part's calls (one of each part is one field
evaluation). The friction (``damping_factor``, ``friction``) is passed through uncounted.
"""

from __future__ import annotations

from collections import Counter

from torch import Tensor, nn

from dynamics.field import HamiltonianField, MomentumField, SplitField, State


class CountedField(nn.Module):
    """f(t, x), counted; the field is a submodule, so ``adjoint=True`` sees its parameters."""

    def __init__(self, field: nn.Module) -> None:
        super().__init__()
        self.field = field
        self.geometry = field.geometry
        self.calls: Counter[str] = Counter()

    @property
    def nfe(self) -> int:
        """Field evaluations since the last ``reset``."""
        attention, mlp = self.calls["attention_part"], self.calls["mlp_part"]
        return sum(self.calls.values()) - attention - mlp + max(attention, mlp)

    def reset(self) -> None:
        """Set the count to zero."""
        self.calls.clear()

    def _count(self, name: str) -> None:
        self.calls[name] += 1

    def forward(self, t: Tensor, x: State) -> State:
        self._count("forward")
        return self.field(t, x)


class CountedSplit(CountedField):
    """A counted ``SplitField``."""

    def attention_part(self, t: Tensor, x: Tensor) -> Tensor:
        self._count("attention_part")
        return self.field.attention_part(t, x)

    def mlp_part(self, t: Tensor, x: Tensor) -> Tensor:
        self._count("mlp_part")
        return self.field.mlp_part(t, x)


class CountedMomentum(CountedField):
    """A counted ``MomentumField``."""

    def force(self, t: Tensor, x: Tensor) -> Tensor:
        self._count("force")
        return self.field.force(t, x)

    def damping_factor(self, t: Tensor, h: Tensor) -> Tensor:
        return self.field.damping_factor(t, h)


class CountedHamiltonian(CountedField):
    """A counted ``HamiltonianField``."""

    def gradients(self, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
        self._count("gradients")
        return self.field.gradients(x, p)

    def grad_x(self, x: Tensor, p: Tensor) -> Tensor:
        self._count("grad_x")
        return self.field.grad_x(x, p)

    def grad_p(self, x: Tensor, p: Tensor) -> Tensor:
        self._count("grad_p")
        return self.field.grad_p(x, p)

    def damping_factor(self, t: Tensor, h: Tensor) -> Tensor:
        return self.field.damping_factor(t, h)


def counted(field: nn.Module) -> CountedField:
    """The counter of ``field``'s kind around ``field``."""
    for kind, counter in (
        (SplitField, CountedSplit),
        (MomentumField, CountedMomentum),
        (HamiltonianField, CountedHamiltonian),
    ):
        if isinstance(field, kind):
            return counter(field)
    return CountedField(field)
