"""Trainable sequence classifiers: the ODE transformer and its discrete-layer twin.

Both read inputs of shape (batch, n, features) (n tokens of ``features`` numbers each) and share
the embedding and the readout:

    x_i(0) = E u_i + p_i                   (linear embedding E, learned positions p_i),
    logits = W LN((1/n) sum_i x_i(T)) + b  (mean pool, LayerNorm, linear map),

with x(0) put on the unit sphere (x_i / |x_i|) for post-norm blocks. With ``tokens=None`` there are
no positions (p_i = 0) and any n is accepted: the flow is then permutation-equivariant and depends
on the inputs only through their empirical measure (1/n) sum_i delta_{u_i}, so the model is a map
between measures that can be applied to contexts of any length. In between:

- ``ODETransformer`` solves x' = f(t, x) on [0, T] for one transformer block f
  (``dynamics.TransformerBlock``, autonomous, or ``dynamics.TimeDependent``
  with weights smooth in t) with ``solvers.integrate``: a fixed-step method with step T / L is an
  L-layer network with tied (or smoothly varying) weights, an adaptive one (dopri5) picks its own
  steps; the number of field evaluations of the last forward pass is ``nfe``. ``adjoint=True``
  backpropagates by the adjoint ODE (memory O(1) in the number of steps).
- ``DiscreteTransformer`` is the standard L-layer residual transformer with independent blocks,
  x_{l+1} = x_l + h f_l(x_l) (h = 1 for the usual network), or x_{l+1} = (x_l + h f_l(x_l)) /
  |x_l + h f_l(x_l)| for post-norm blocks: the Euler (projected Euler) step of the field f_l.

Momentum flows (``momentum``; SympFormer: Stein, Li, Steidl, "SympFormer: accelerated attention
blocks via inertial dynamics on density manifolds"). The same classifier can carry a second state
component, started at zero, and read out the positions x(T) only:

- ``"none"`` (default): the first-order flow x' = f(x) above;
- ``"heavy_ball"``: x' = v, v' = f(x) - gamma v, v(0) = 0 (``dynamics.Accelerated`` around the
  block, constant friction gamma = ``friction``), for the phase-space steppers
  (``symplectic_euler``: v <- e^{-gamma h} v + h f(x), x <- x + h v) or any torchdiffeq method;
- ``"hamiltonian"``: x' = dH/dp, p' = -dH/dx + MLP(LN x) - gamma p, p(0) = 0, with H the
  multi-head Hamiltonian attention energy of ``dynamics.HamiltonianBlock``
  (on LN_1 x; trainable Q, K and SPD metric B; kernel averaged over heads), for
  ``presymplectic_euler`` (p <- e^{-gamma h} p - h (dH/dx - MLP(LN x)), x <- x + h dH/dp(x,
  p_new)), ``tao`` or any torchdiffeq method.

``nfe`` counts evaluations as ``solvers.METHODS`` does: a force F(x) for the phase-space steppers,
each of dH/dx and dH/dp for the Hamiltonian ones (so a ``presymplectic_euler`` step costs 2), a call
of the field for torchdiffeq's methods.

With tied blocks f_l = f and h = T / L the two are the same function (``tests/solvers/learning/
test_transformers.py`` checks it to rounding). Parameter budgets, with P the parameters of one block
and E those of the embedding and readout: the autonomous ODE transformer has P + E, a time-dependent
one with K basis functions K P + E, the L-layer discrete transformer L P + E; so K = L compares like
with like.

The OT-Transformer regulariser (Kan, Li, Osher, "OT-Transformer: a continuous-time transformer
architecture with optimal transport regularization") is returned with ``kinetic=True``: per input,
K = int_0^T (1/n) sum_i |f_i(t, x(t))|^2 dt, carried by the solver as an extra state
(``solvers.kinetic``); the discrete twin returns its Euler value sum_l h (1/n) sum_i |f_l(x_l)_i|^2.

The models compose a block of ``dynamics`` with the solvers, so they live in ``solvers`` (as
torchdyn's NeuralODE sits with its solvers): ``dynamics`` never imports ``solvers``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dynamics.blocks.time_dependent import BASES, TimeDependent
from dynamics.blocks.transformer import TransformerBlock
from dynamics.checks import check_choice, check_int, check_real
from dynamics.geometry.sphere import normalize
from dynamics.momentum.accelerated import Accelerated
from dynamics.momentum.hamiltonian_block import HamiltonianBlock
from solvers.contracts import MethodLike, check_method, check_step_size
from solvers.integration import integrate
from solvers.kinetic import integrate_with_kinetic, kinetic_rate
from solvers.learning.counting import counted

MOMENTA = ("none", "heavy_ball", "hamiltonian")


class _TokenClassifier(nn.Module):
    """Embedding and readout shared by both models; subclasses define ``flow``."""

    def __init__(
        self,
        features: int,
        tokens: int | None,
        classes: int,
        d: int,
        heads: int,
        hidden: int | None,
        norm: str,
        activation: str,
    ) -> None:
        super().__init__()
        self.features = check_int("features", features, minimum=1)
        self.tokens = None if tokens is None else check_int("tokens", tokens, minimum=1)
        self.classes = check_int("classes", classes, minimum=2)
        self.d = check_int("d", d, minimum=1)
        self.heads = check_int("heads", heads, minimum=1)
        self.hidden = 4 * self.d if hidden is None else check_int("hidden", hidden, minimum=1)
        self.norm = norm
        self.activation = activation
        self.embedding = nn.Linear(features, d)
        if tokens is not None:
            self.positions = nn.Parameter(0.02 * torch.randn(tokens, d))
        self.final_norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, classes)

    def _block(self) -> TransformerBlock:
        return TransformerBlock(
            self.d, self.heads, self.hidden, norm=self.norm, activation=self.activation
        )

    def embed(self, inputs: Tensor) -> Tensor:
        """x(0) = E u + p (E u without positions), shape (batch, n, d); on the unit sphere for
        post-norm blocks."""
        if not isinstance(inputs, Tensor) or not inputs.is_floating_point():
            raise TypeError(f"inputs must be a floating torch.Tensor, got {inputs!r:.80}")
        tokens = inputs.shape[1] if self.tokens is None and inputs.ndim == 3 else self.tokens
        if inputs.ndim != 3 or inputs.shape[1:] != (tokens, self.features) or tokens < 1:
            expected = "n >= 1" if self.tokens is None else self.tokens
            raise ValueError(
                f"inputs has shape {tuple(inputs.shape)}; expected (batch, {expected}, "
                f"{self.features})"
            )
        x = self.embedding(inputs)
        if self.tokens is not None:
            x = x + self.positions
        return normalize(x) if self.norm == "post" else x

    def readout(self, x: Tensor) -> Tensor:
        """logits = W LN(mean_i x_i) + b, shape (batch, classes)."""
        return self.head(self.final_norm(x.mean(-2)))

    def flow(self, inputs: Tensor, *, kinetic: bool = False) -> tuple[Tensor, Tensor | None]:
        raise NotImplementedError

    def forward(self, inputs: Tensor, *, kinetic: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Logits, shape (batch, classes); with ``kinetic`` also K per input, shape (batch,)."""
        states, energy = self.flow(inputs, kinetic=kinetic)
        logits = self.readout(states[-1])
        return (logits, energy[-1]) if kinetic else logits

    def parameter_count(self) -> int:
        """The number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


class ODETransformer(_TokenClassifier):
    """Embedding -> the flow of one transformer block on [0, T] -> pooled readout (module doc).

    Args:
        features: numbers per input token.
        tokens: tokens per input (n; the number of learned positions), or None: no positions,
            any n, a permutation-equivariant map of the inputs' empirical measure.
        classes: output classes.
        d: token width.
        heads: attention heads (dividing ``d``).
        hidden: MLP hidden width (4 d when None).
        T: final time (depth) of the flow.
        norm: "pre" or "post" (``dynamics.blocks.transformer``).
        activation: the MLP's nonlinearity.
        time_basis: None for an autonomous block, else "legendre" or "cosine": weights W(t) =
            sum_{k < basis_size} c_k phi_k(t) (``dynamics.blocks.time_dependent``).
        basis_size: K, the number of basis functions (with ``time_basis``).
        method, step_size, rtol, atol, adjoint: the solver, as for ``solvers.integrate``; the
            method must accept the block (``solvers.check_method``, checked here): e.g. a
            splitting method (lie_trotter, strang) for momentum="none", symplectic_euler for
            "heavy_ball", presymplectic_euler or tao for "hamiltonian".
        momentum: "none" (x' = f(x)), "heavy_ball" or "hamiltonian" (the momentum flows of the
            module docstring, momentum 0 at t = 0; "hamiltonian" needs norm="pre" and no
            time_basis).
        friction: gamma >= 0, the constant friction of the momentum flows.

    Attributes:
        field: the field whose flow is solved: the block (or time-dependent block) for "none",
            ``Accelerated`` around it for "heavy_ball", a ``HamiltonianBlock`` for
            "hamiltonian".
        nfe: field evaluations in the last ``flow``/``forward`` call (the adjoint's backward
            evaluations are not included).
    """

    def __init__(
        self,
        features: int,
        tokens: int | None,
        classes: int,
        *,
        d: int = 64,
        heads: int = 4,
        hidden: int | None = None,
        T: float = 1.0,
        norm: str = "pre",
        activation: str = "gelu",
        time_basis: str | None = None,
        basis_size: int = 1,
        method: MethodLike = "dopri5",
        step_size: float | None = None,
        rtol: float = 1e-3,
        atol: float = 1e-4,
        adjoint: bool = False,
        momentum: str = "none",
        friction: float = 1.0,
    ) -> None:
        super().__init__(features, tokens, classes, d, heads, hidden, norm, activation)
        self.T = check_real("T", T, minimum=0.0, strict=True)
        self.momentum = check_choice("momentum", momentum, MOMENTA)
        self.friction = check_real("friction", friction, minimum=0.0)
        if momentum == "hamiltonian":
            block = self._hamiltonian_block(time_basis, basis_size)
        else:
            block = self._block()
            if time_basis is not None:
                check_choice("time_basis", time_basis, BASES)
                block = TimeDependent(block, basis=time_basis, size=basis_size, T=self.T)
            elif basis_size != 1:
                raise ValueError(
                    f"basis_size={basis_size!r} needs a time_basis ({', '.join(BASES)})"
                )
            if momentum == "heavy_ball":
                block = Accelerated(block, damping="heavy_ball", gamma=self.friction)
        self.field = block
        # Not registered as a submodule: the block's weights appear once in the state dict.
        object.__setattr__(self, "_counted", counted(block))
        check_method(method, block)
        if not isinstance(adjoint, bool):
            raise TypeError(f"adjoint={adjoint!r} must be a bool")
        self.solver_options = {
            "method": method,
            "step_size": check_step_size(method, step_size),
            "rtol": check_real("rtol", rtol, minimum=0.0, strict=True),
            "atol": check_real("atol", atol, minimum=0.0, strict=True),
            "adjoint": adjoint,
        }
        self.nfe = 0

    def _hamiltonian_block(self, time_basis: str | None, basis_size: int) -> HamiltonianBlock:
        if self.norm != "pre":
            raise ValueError(
                f"momentum='hamiltonian' needs norm='pre' (its attention acts on R^d); "
                f"got norm={self.norm!r}"
            )
        if time_basis is not None or basis_size != 1:
            raise ValueError(
                f"momentum='hamiltonian' has an autonomous block; time_basis={time_basis!r} and "
                f"basis_size={basis_size!r} need momentum='none' or 'heavy_ball'"
            )
        return HamiltonianBlock(
            self.d, self.heads, self.hidden, activation=self.activation, friction=self.friction
        )

    def flow(
        self, inputs: Tensor, *, kinetic: bool = False, times: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Token states at ``times`` (default [0, T]), shape (len(times), batch, n, d), and with
        ``kinetic`` the kinetic energy K at those times, shape (len(times), batch). Momentum flows
        return the positions x only, and have no ``kinetic``."""
        x0 = self.embed(inputs)
        if times is None:  # in x0's dtype: T rounded to float32 could add a step in float64
            times = torch.tensor([0.0, self.T], dtype=x0.dtype)
        times = torch.as_tensor(times, dtype=x0.dtype, device=x0.device)
        self._counted.reset()
        if self.momentum != "none":
            if kinetic:
                raise ValueError(
                    f"kinetic=True needs momentum='none'; the {self.momentum!r} flow does not "
                    "carry the kinetic energy"
                )
            state = (x0, torch.zeros_like(x0))
            states = integrate(self._counted, state, times, **self.solver_options)[0]
            self.nfe = self._counted.nfe
            return states, None
        if kinetic:
            states, energy = integrate_with_kinetic(self._counted, x0, times, **self.solver_options)
        else:
            states, energy = integrate(self._counted, x0, times, **self.solver_options), None
        self.nfe = self._counted.nfe
        return states, energy


class DiscreteTransformer(_TokenClassifier):
    """Embedding -> L residual layers x <- x + h f_l(x) with independent blocks -> readout.

    Args:
        features, tokens, classes, d, heads, hidden, norm, activation: as for ``ODETransformer``.
        layers: L, the number of blocks.
        step: h, the residual scale (1 for the usual transformer; T / L to match an ODE
            transformer on [0, T]).

    Attributes:
        blocks: the L blocks f_0, ..., f_{L-1}, evaluated at times t_l = l h.
    """

    def __init__(
        self,
        features: int,
        tokens: int | None,
        classes: int,
        *,
        layers: int = 4,
        d: int = 64,
        heads: int = 4,
        hidden: int | None = None,
        step: float = 1.0,
        norm: str = "pre",
        activation: str = "gelu",
    ) -> None:
        super().__init__(features, tokens, classes, d, heads, hidden, norm, activation)
        self.layers = check_int("layers", layers, minimum=1)
        self.step = check_real("step", step, minimum=0.0, strict=True)
        self.blocks = nn.ModuleList(self._block() for _ in range(self.layers))

    @classmethod
    def tied(cls, model: ODETransformer, layers: int) -> DiscreteTransformer:
        """The L-layer network with step T / L whose blocks, embedding and readout are copies of
        ``model``'s (an autonomous block): ``model`` solved by L Euler steps."""
        if not isinstance(model.field, TransformerBlock):
            raise TypeError("tied needs an ODETransformer with an autonomous block (no time_basis)")
        layers = check_int("layers", layers, minimum=1)
        network = cls(
            model.features,
            model.tokens,
            model.classes,
            layers=layers,
            d=model.d,
            heads=model.heads,
            hidden=model.hidden,
            step=model.T / layers,
            norm=model.norm,
            activation=model.activation,
        ).to(next(model.parameters()))
        block_state = model.field.state_dict()
        shared = {k: v for k, v in model.state_dict().items() if not k.startswith("field.")}
        for index in range(layers):
            shared |= {f"blocks.{index}.{key}": value for key, value in block_state.items()}
        network.load_state_dict(shared)
        return network

    def flow(self, inputs: Tensor, *, kinetic: bool = False) -> tuple[Tensor, Tensor | None]:
        """States after 0..L layers, shape (L + 1, batch, n, d), and with ``kinetic`` the Euler
        kinetic energy after 0..L layers, shape (L + 1, batch)."""
        x = self.embed(inputs)
        energy = x.new_zeros(x.shape[0])
        states, energies = [x], [energy]
        for index, block in enumerate(self.blocks):
            velocity = block(torch.tensor(index * self.step, dtype=x.dtype, device=x.device), x)
            x = x + self.step * velocity
            if self.norm == "post":
                x = normalize(x)
            states.append(x)
            if kinetic:
                energy = energy + self.step * kinetic_rate(velocity)[..., 0, 0]
                energies.append(energy)
        return torch.stack(states), torch.stack(energies) if kinetic else None
