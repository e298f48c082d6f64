"""The vector-field protocol shared by every field and every solver.

A field is a callable ``f(t, x)`` returning ``dx/dt`` with the shape of ``x`` (the torchdiffeq
convention). ``x`` is a token cloud of shape ``(..., n, d)``, or a tuple of such tensors for
second-order dynamics; leading dimensions are independent systems solved together.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import Tensor

State = Tensor | tuple[Tensor, ...]


@runtime_checkable
class VectorField(Protocol):
    """Anything with ``__call__(t, x) -> dx/dt``; ``torch.nn.Module`` fields satisfy it."""

    def __call__(self, t: Tensor, x: State) -> State: ...
