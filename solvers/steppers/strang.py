"""Strang splitting of f = f_attn + f_mlp: the Macaron layer (half MLP, attention, half MLP),
each sub-flow by the explicit midpoint rule. Order 2; 2 attention and 4 MLP evaluations per step.
See ``solvers.steppers.splitting``.
"""

from __future__ import annotations

from torch import Tensor

from dynamics.field import SplitField
from solvers.steppers.splitting import midpoint


def strang_step(field: SplitField, t: Tensor, x: Tensor, h: Tensor) -> Tensor:
    """Half MLP step, attention step, half MLP step (the Macaron layer), each by the explicit
    midpoint rule. Order 2; 2 attention and 4 MLP evaluations."""
    half = h / 2
    x = midpoint(field.mlp_part, t, x, half)
    middle = t + half
    x = x + h * field.attention_part(middle, x + half * field.attention_part(middle, x))
    return midpoint(field.mlp_part, middle, x, half)
