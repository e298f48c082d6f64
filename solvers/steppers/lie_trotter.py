"""Lie-Trotter splitting of f = f_attn + f_mlp: the sequential residual transformer layer.

    y = x + h f_attn(t, x),   x <- y + h f_mlp(t, y).

Order 1; one evaluation of each part per step. See ``solvers.steppers.splitting``.
"""

from __future__ import annotations

from torch import Tensor

from dynamics.field import SplitField


def lie_trotter_step(field: SplitField, t: Tensor, x: Tensor, h: Tensor) -> Tensor:
    """y = x + h f_attn(t, x);  x <- y + h f_mlp(t, y): one sequential residual layer. Order 1."""
    y = x + h * field.attention_part(t, x)
    return y + h * field.mlp_part(t, y)
