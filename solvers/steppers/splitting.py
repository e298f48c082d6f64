"""Operator splitting of a transformer block f = f_attn + f_mlp: the sequential residual layer.

The field must expose ``attention_part(t, x)`` and ``mlp_part(t, x)`` with f = f_attn + f_mlp,
as ``dynamics.TransformerBlock`` does. Writing phi^A_h and phi^B_h for steps of size h of the
attention and MLP parts alone, each step is a composition of such sub-steps (McLachlan, Quispel,
"Splitting methods"):

- ``lie_trotter_step``: phi^B_h o phi^A_h with Euler sub-steps,

      y = x + h f_attn(t, x),   x <- y + h f_mlp(t, y),

  the standard sequential pre-norm residual transformer layer x + Attn(LN_1 x), then
  + MLP(LN_2 .), with branches scaled by h. Order 1: both the splitting (the commutator
  [f_attn, f_mlp] enters at h^2 per step) and the Euler sub-steps have local error O(h^2).
- ``strang_step``: phi^B_{h/2} o phi^A_h o phi^B_{h/2}, the "Macaron" layer (half MLP,
  attention, half MLP) of Lu et al., "Understanding and improving transformer from a
  multi-particle dynamic system point of view". The exact-sub-flow composition is symmetric and
  has order 2; it keeps order 2 only when every sub-flow is integrated to local error O(h^3), so
  each sub-step here is the explicit midpoint rule, for a part g over a step s from time t:

      x <- x + s g(t + s/2, x + (s/2) g(t, x)).

  Per step: 2 attention evaluations and 4 MLP evaluations (two per half step). With Euler
  sub-steps instead (Lu et al.'s residual Macaron layer) the composition is only order 1.

Time-dependent fields are split with t as a state variable that the MLP part advances
(tau' = 1 goes with f_mlp): the attention sub-step sees t frozen at its start time (t for
Lie-Trotter, t + h/2 for Strang), the MLP sub-steps run over [t, t + h] (Lie-Trotter) or
[t, t + h/2] and [t + h/2, t + h] (Strang). Autonomous blocks ignore t.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from dynamics.field import State, VectorField

PARTS = ("attention_part", "mlp_part")
"""The two methods a field must expose to be split."""


def check_split_field(name: str, field: VectorField, x0: State) -> None:
    """The state must be one cloud and the field must expose ``attention_part`` and
    ``mlp_part``."""
    if isinstance(x0, tuple):
        raise TypeError(f"method {name!r} integrates tensor states, got a tuple")
    missing = [part for part in PARTS if not callable(getattr(field, part, None))]
    if missing:
        raise TypeError(
            f"method {name!r} splits f = f_attn + f_mlp and needs a field with "
            f"attention_part(t, x) and mlp_part(t, x), such as dynamics.TransformerBlock; "
            f"{type(field).__name__} lacks {', '.join(missing)}"
        )


def _midpoint(part: Callable[[Tensor, Tensor], Tensor], t: Tensor, x: Tensor, s: Tensor) -> Tensor:
    """One explicit midpoint step of size s of x' = part(t, x). Order 2, two evaluations."""
    return x + s * part(t + s / 2, x + (s / 2) * part(t, x))


def lie_trotter_step(field: VectorField, t: Tensor, x: Tensor, h: Tensor) -> Tensor:
    """y = x + h f_attn(t, x);  x <- y + h f_mlp(t, y): one sequential residual layer. Order 1."""
    y = x + h * field.attention_part(t, x)
    return y + h * field.mlp_part(t, y)


def strang_step(field: VectorField, t: Tensor, x: Tensor, h: Tensor) -> Tensor:
    """Half MLP step, attention step, half MLP step (the Macaron layer), each by the explicit
    midpoint rule. Order 2; 2 attention and 4 MLP evaluations."""
    half = h / 2
    x = _midpoint(field.mlp_part, t, x, half)
    middle = t + half
    x = x + h * field.attention_part(middle, x + half * field.attention_part(middle, x))
    return _midpoint(field.mlp_part, middle, x, half)
