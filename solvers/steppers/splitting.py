"""Operator splitting of a transformer block f = f_attn + f_mlp: the sequential residual layer.

The field is a ``dynamics.SplitField``: ``attention_part(t, x)`` and ``mlp_part(t, x)`` with f =
f_attn + f_mlp, as ``dynamics.TransformerBlock`` and ``dynamics.TimeDependent`` around it have.
Writing phi^A_h and phi^B_h for steps of size h of the attention and MLP parts alone, each step is a
composition of such sub-steps (McLachlan, Quispel, "Splitting methods"):

- ``lie_trotter`` (``solvers.steppers.lie_trotter``): phi^B_h o phi^A_h with Euler sub-steps,

      y = x + h f_attn(t, x),   x <- y + h f_mlp(t, y),

  the standard sequential pre-norm residual transformer layer x + Attn(LN_1 x), then
  + MLP(LN_2 .), with branches scaled by h. Order 1: both the splitting (the commutator
  [f_attn, f_mlp] enters at h^2 per step) and the Euler sub-steps have local error O(h^2).
- ``strang`` (``solvers.steppers.strang``): phi^B_{h/2} o phi^A_h o phi^B_{h/2}, the "Macaron" layer
  (half MLP, attention, half MLP) of Lu et al., "Understanding and improving transformer from a
  multi-particle dynamic system point of view". The exact-sub-flow composition is symmetric and has
  order 2; it keeps order 2 only when every sub-flow is integrated to local error O(h^3), so each
  sub-step here is the explicit midpoint rule, for a part g over a step s from time t:

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


def midpoint(part: Callable[[Tensor, Tensor], Tensor], t: Tensor, x: Tensor, s: Tensor) -> Tensor:
    """One explicit midpoint step of size s of x' = part(t, x). Order 2, two evaluations."""
    return x + s * part(t + s / 2, x + (s / 2) * part(t, x))
