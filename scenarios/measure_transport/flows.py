"""The trained flows: attention + MLP fields with weights piecewise constant in time, and the
context-free MLP flow.

A flow with K time pieces has one field f_p per piece [p T / K, (p + 1) T / K) and moves the
weighted cloud (x, m) by x' = f_p(x; mu_t) there (the weights of a transformer flow held constant
on each piece, as in Geshkovski, Rigollet, Ruiz-Balet, "Measure-to-measure interpolation using
Transformers"). Two kinds of field:

- ``"attention"``: f(x)_i = Attn_mu(x_i) + MLP(x_i), with Attn the multi-head self-attention
  field of ``dynamics.SelfAttention`` in R^2 (trainable query, key, value per head; softmax,
  or Sinkhorn with a fixed or converged number of iterations) and MLP a one-hidden-layer
  perceptron ``dynamics.FeedForward``;
- ``"mlp"``: f(x)_i = MLP(x_i) alone: every token moves by a map that ignores the context.

Each piece is solved by ``steps`` steps of a fixed-step method (``solvers.integrate``); a piece's
in-context map is ``solvers.InContextMap``, and the flow's is their composition (the context of
piece p + 1 is the push-forward by piece p). The OT-Transformer kinetic energy (Kan, Li, Osher,
"OT-Transformer: a continuous-time transformer architecture with optimal transport
regularization") is carried by ``solvers.integrate_with_kinetic`` and summed over the pieces.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

import dynamics
import solvers

KINDS = ("attention", "mlp")


class AttentionMLP(nn.Module):
    """f(t, x; m) = Attn_mu(x) + MLP(x) in R^2, mu = sum_j m_j delta_{x_j} (module docstring);
    without attention, MLP(x) alone (the masses are then unused)."""

    geometry = dynamics.EUCLIDEAN

    def __init__(
        self,
        *,
        attention: bool,
        heads: int,
        hidden: int,
        beta: float,
        sinkhorn_iterations: int,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        self.mlp = dynamics.FeedForward(2, hidden, activation="tanh")
        self.attention = None
        if attention:
            query, key, value = (
                nn.Parameter(0.5 * torch.randn(heads, 2, 2, generator=generator)) for _ in range(3)
            )
            options = {"normalization": "softmax"}
            if sinkhorn_iterations > 1:
                options = {"normalization": "sinkhorn", "sinkhorn_fixed_iters": sinkhorn_iterations}
            elif sinkhorn_iterations == 0:
                options = {"normalization": "sinkhorn"}
            self.attention = dynamics.SelfAttention(
                2, beta=beta, query=query, key=key, value=value, heads=heads,
                manifold="euclidean", **options,
            )  # fmt: skip

    def forward(self, t: Tensor, x: Tensor, *, masses: Tensor | None = None) -> Tensor:
        """dx/dt at the weighted cloud (x, masses)."""
        velocity = self.mlp(t, x)
        if self.attention is not None:
            velocity = velocity + self.attention(t, x, masses=masses)
        return velocity


class PiecewiseFlow(nn.Module):
    """x(0) -> x(T) through K pieces of constant weights (module docstring).

    Args:
        kind: "attention" or "mlp".
        pieces: K.
        T: the final time.
        steps: fixed steps per piece, of ``method``.
        method: a fixed-step torchdiffeq method (rk4, midpoint, euler).
        heads, hidden, beta: the fields' attention heads, MLP width and inverse temperature.
        sinkhorn_iterations: 1 for softmax attention, k >= 2 for k Sinkhorn iterations, 0 for
            Sinkhorn iterated to convergence.
        generator: draws the initial weights (the MLP's from torch's global generator, which the
            runner seeds).
    """

    def __init__(
        self,
        kind: str,
        *,
        pieces: int,
        T: float,
        steps: int,
        method: str,
        heads: int,
        hidden: int,
        beta: float,
        sinkhorn_iterations: int,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        self.kind = dynamics.check_choice("kind", kind, KINDS)
        self.T, self.steps, self.method = T, steps, method
        self.fields = nn.ModuleList(
            AttentionMLP(
                attention=kind == "attention",
                heads=heads,
                hidden=hidden,
                beta=beta,
                sinkhorn_iterations=sinkhorn_iterations,
                generator=generator,
            )
            for _ in range(pieces)
        )

    @property
    def piece_length(self) -> float:
        return self.T / len(self.fields)

    def _options(self) -> dict[str, object]:
        return {"method": self.method, "step_size": self.piece_length / self.steps}

    def forward(self, x: Tensor, *, kinetic: bool = False) -> tuple[Tensor, Tensor]:
        """x(T) for clouds x (..., n, 2) of uniform masses, and the kinetic energy K(T) per cloud
        (zeros of the batch shape unless ``kinetic``)."""
        energy = x.new_zeros(x.shape[:-2])
        times = [0.0, self.piece_length]
        for field in self.fields:
            if kinetic:
                path, energies = solvers.integrate_with_kinetic(field, x, times, **self._options())
                energy = energy + energies[-1]
            else:
                path = solvers.integrate(field, x, times, **self._options())
            x = path[-1]
        return x, energy

    def paths(self, x: Tensor, points_per_piece: int) -> tuple[Tensor, Tensor]:
        """The times (K points_per_piece + 1,) and the cloud at those times, (times, ..., n, 2)."""
        local = torch.linspace(0, self.piece_length, points_per_piece + 1, dtype=x.dtype)
        states, times = [x[None]], [torch.zeros(1, dtype=x.dtype)]
        for p, field in enumerate(self.fields):
            path = solvers.integrate(field, states[-1][-1], local, **self._options())
            states.append(path[1:])
            times.append(p * self.piece_length + local[1:])
        return torch.cat(times), torch.cat(states)

    def in_context(self, context: Tensor, queries: Tensor) -> Tensor:
        """T_mu(queries) for the context measure mu of uniform masses on ``context``: the
        composition of the pieces' in-context maps (``solvers.InContextMap``)."""
        for field in self.fields:
            piece = solvers.InContextMap(field, context, T=self.piece_length, **self._options())
            queries, context = piece(queries), piece.push_forward()[0]
        return queries
