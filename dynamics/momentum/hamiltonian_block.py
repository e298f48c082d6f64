"""A trainable multi-head Hamiltonian attention block: the momentum flow of the Hamiltonian
ODE transformer (``solvers.learning.transformers.ODETransformer(momentum="hamiltonian")``).

Stein, Li, Steidl, "SympFormer: accelerated attention blocks via inertial dynamics on density
manifolds". Tokens carry positions x_i and momenta p_i in R^d. The attention reads the
layer-normed positions u_i = LN_1(x_i) (a trainable LayerNorm, as in a pre-norm block). For heads
h = 1..H of width d_h = d / H, queries q^h_i = Q_h u_i and keys k^h_j = K_h u_j (Q_h, K_h the
d_h rows of the trainable d x d matrices Q, K that read head h; no biases), logits
S^h_ij = <q^h_i, k^h_j> / sqrt(d_h), the kernel averaged over heads and its normaliser

    E_ij = (1/H) sum_h exp(S^h_ij),   z_i = (1/n) sum_j E_ij,

the Hamiltonian is that of ``dynamics.HamiltonianAttention`` with this kernel,

    H(X, P) = sum_i p_i^T B p_i / (2 z_i) - (1/(2n)) sum_ij E_ij,

with a trainable symmetric positive definite metric B = L L^T + eps I (L a trainable d x d matrix,
eps > 0 fixed), so B is SPD for every value of L, with eigenvalues >= eps. As a function of
(U, P), at H = 1, it is the Hamiltonian of ``HamiltonianAttention`` with query Q, key K, value B
(``tests/dynamics/momentum/test_hamiltonian_block.py`` checks it).

Why LN_1: without it the attention force -dH/dx, of size z_i |dS/dx| with z_i ~ exp(S), pushes
the tokens up the interaction energy (1/2) sum_i z_i without bound in R^d, and training diverged
(MNIST-1D, d = 32: NaN within two epochs); with it |u_i| <= sqrt(d) |w|_inf + |b| bounds the
logits, so z_i and the force stay bounded, as the softmax bounds the plain block's attention.

The block adds its MLP as an external force on the momenta, evaluated at the pre-normed position
(as the MLP of a pre-norm ``dynamics.TransformerBlock``),

    F(x)_i = MLP(LN x_i),

and a constant friction gamma >= 0 (the heavy-ball friction of ``dynamics.Accelerated``):

    x_i' = dH/dp_i = B p_i / z_i,   p_i' = -dH/dx_i + F(x)_i - gamma p_i.

F is not a gradient, so H is not conserved; it still depends on x only, so the explicit
momentum-first steppers (``presymplectic_euler``, ``tao`` of ``solvers.steppers``) apply to it
unchanged: they read ``grad_x`` as the negative of the force on p, and this block's ``grad_x`` is
dH/dx - F(x) (``attention_gradients`` gives the pure Hamiltonian gradients).

The SympFormer authors' own blocks (github.com/ViktorAJStein/SympFormer) differ: B = I with the
value and output matrices in the force, the MLP as a separate Nesterov-type step rather than a
force, a LayerNorm on the momentum stream, learned initial momenta and the eta(t) friction. This
block keeps one Hamiltonian vector field, so that the Hamiltonian steppers of ``solvers.steppers``
and the energy identity above apply to it as they are.

Closed form of dH/dx. dH/du is that of ``dynamics.HamiltonianAttention`` at u (the same functions of
``dynamics.momentum.hamiltonian_attention``: two attention calls, memory O(n d)), and dH/dx follows
through the LayerNorm u = w * n + b, n = (x - mean(x)) / sigma, sigma^2 = var(x) + eps_LN (per
token; the backward pass of LayerNorm), with g = w * dH/du_l,

    dH/dx_l = (g - mean(g) - n mean(g * n)) / sigma.

The friction is ``dynamics.momentum.friction``'s with c_log = 0, c_lin = gamma.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.func import grad

from dynamics.blocks.transformer import FeedForward
from dynamics.checks import check_cloud, check_int, check_phase_state, check_real
from dynamics.geometry.spaces import EUCLIDEAN
from dynamics.momentum.friction import DampedHamiltonianField
from dynamics.momentum.hamiltonian_attention import (
    attention_grad_p,
    attention_hamiltonian,
    attention_hamiltonian_gradients,
    attention_log_normalizer,
)


class HamiltonianBlock(DampedHamiltonianField, nn.Module):
    """The field (x, p) -> (x', p') of the module docstring; ``t`` is unused (autonomous).

    Args:
        d: token dimension.
        heads: number of heads H; must divide ``d``.
        hidden: width of the MLP's hidden layer.
        activation: the MLP's nonlinearity ("gelu", "relu", "tanh").
        friction: gamma >= 0, the constant friction on the momenta.
        eps: the floor eps > 0 of the metric B = L L^T + eps I.

    Parameters: ``attention_norm`` (LN_1), ``query`` and ``key`` (``nn.Linear(d, d, bias=False)``,
    rows head-major), ``metric_factor`` L (initialised to sqrt(1 - eps) I, so B = I at
    initialisation; eps < 1), ``norm`` (the LayerNorm before the MLP) and ``mlp``.
    """

    geometry = EUCLIDEAN

    def __init__(
        self,
        d: int,
        heads: int,
        hidden: int,
        *,
        activation: str = "gelu",
        friction: float = 1.0,
        eps: float = 1e-3,
    ) -> None:
        super().__init__()
        self.d = check_int("d", d, minimum=1)
        self.heads = check_int("heads", heads, minimum=1)
        if d % heads:
            raise ValueError(f"heads={heads} must divide d={d}; choose a divisor of d")
        self.init_damping(0.0, check_real("friction", friction, minimum=0.0), 1.0)
        self.eps = check_real("eps", eps, minimum=0.0, strict=True)
        if self.eps >= 1:
            raise ValueError(f"eps={eps!r} must be in (0, 1): B starts at the identity")
        self.attention_norm = nn.LayerNorm(d)
        self.query = nn.Linear(d, d, bias=False)
        self.key = nn.Linear(d, d, bias=False)
        self.metric_factor = nn.Parameter(math.sqrt(1 - self.eps) * torch.eye(d))
        self.norm = nn.LayerNorm(d)
        self.mlp = FeedForward(d, hidden, activation=activation)

    def extra_repr(self) -> str:
        return f"d={self.d}, heads={self.heads}, friction={self.c_lin:g}, eps={self.eps:g}"

    # --- the Hamiltonian and its gradients -----------------------------------------------------

    def metric(self) -> Tensor:
        """B = L L^T + eps I, symmetric positive definite for every L (symmetrised after the
        product, so B = B^T exactly in floating point)."""
        factor = self.metric_factor
        product = factor @ factor.T
        identity = torch.eye(self.d, dtype=factor.dtype, device=factor.device)
        return 0.5 * (product + product.T) + self.eps * identity

    def _matrices(self) -> tuple[Tensor, Tensor, Tensor]:
        """(Q, K, B) as ``dynamics.momentum.hamiltonian_attention``'s functions take them."""
        return self.query.weight, self.key.weight, self.metric()

    def _check_state(self, x: Tensor, p: Tensor) -> None:
        """x and p as ``DampedHamiltonianField`` takes them, in the dtype of the weights."""
        check_phase_state(x, p, d=self.d, weights_of=self)

    def log_normalizer(self, x: Tensor) -> Tensor:
        """log z_i = logsumexp_{h,j} S^h_ij - log(n H) at u = LN_1(x), shape (..., n)."""
        check_cloud("x", x, d=self.d, weights_of=self)
        u = self.attention_norm(x)
        return attention_log_normalizer(u, self.query.weight, self.key.weight, self.heads)

    def hamiltonian(self, x: Tensor, p: Tensor) -> Tensor:
        """H(X, P) = sum_i p_i^T B p_i / (2 z_i) - (1/2) sum_i z_i, shape (...)."""
        self._check_state(x, p)
        return attention_hamiltonian(self.attention_norm(x), p, *self._matrices(), self.heads)

    def grad_x_autograd(self, x: Tensor, p: Tensor) -> Tensor:
        """dH/dx by ``torch.func.grad`` of ``hamiltonian`` (summed over leading dims)."""
        return grad(lambda y: self.hamiltonian(y, p).sum())(x)

    def attention_gradients(self, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
        """(dH/dx, dH/dp) of the Hamiltonian alone, dH/dx by the closed form of the module
        docstring, from one set of logits."""
        self._check_state(x, p)
        norm = self.attention_norm
        sigma = torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + norm.eps)
        normalized = (x - x.mean(-1, keepdim=True)) / sigma
        grad_u, grad_p = self.normalized_gradients(norm(x), p)
        g = grad_u * norm.weight
        projection = normalized * (g * normalized).mean(-1, keepdim=True)
        return (g - g.mean(-1, keepdim=True) - projection) / sigma, grad_p

    def normalized_gradients(self, u: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
        """(dH/du, dH/dp) with H as a function of the normalised positions u = LN_1(x)
        (``attention_hamiltonian_gradients`` of ``dynamics.momentum.hamiltonian_attention``: O(n d)
        memory)."""
        return attention_hamiltonian_gradients(u, p, *self._matrices(), self.heads)

    def mlp_force(self, x: Tensor) -> Tensor:
        """F(x) = MLP(LN x), token by token."""
        return self.mlp(None, self.norm(x))

    def gradients(self, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
        """(dH/dx - F(x), dH/dp): the negative force on p and the velocity of x."""
        grad_x, grad_p = self.attention_gradients(x, p)
        return grad_x - self.mlp_force(x), grad_p

    def grad_x(self, x: Tensor, p: Tensor) -> Tensor:
        """dH/dx - F(x), the negative of the (undamped) force on the momenta."""
        return self.gradients(x, p)[0]

    def grad_p(self, x: Tensor, p: Tensor) -> Tensor:
        """dH/dp_i = B p_i / z_i (one projection of queries and keys, no MLP)."""
        self._check_state(x, p)
        return attention_grad_p(self.attention_norm(x), p, *self._matrices(), self.heads)
