"""Transformer blocks as vector fields: multi-head attention, a feed-forward MLP, and their sum.

A block is the field of one residual layer read in continuous time. With ``norm="pre"`` it is the
parallel pre-norm block (Wang and Komatsuzaki's GPT-J form),

    f(t, x) = Attn(LN_1 x) + MLP(LN_2 x),

so that L Euler steps of size h = T / L, x <- x + h f(x), are an L-layer residual pre-norm
transformer with parallel blocks and residual branches scaled by h. The sequential block
x + Attn(LN_1 x) + MLP(LN_2(x + Attn(LN_1 x))) is not a field but a Lie-Trotter splitting of
f = f_attn + f_mlp; the two parts are therefore exposed as ``attention_part(t, x)`` and
``mlp_part(t, x)``, and ``forward`` is their sum, so a splitting solver can step them in turn.

With ``norm="post"`` the LayerNorm is the radial retraction onto the unit sphere S^{d-1} (as in
``SelfAttention(manifold="sphere")``): with u = x / |x|,

    f(t, x) = P_u(Attn(u) + MLP(u)),   P_u v = v - <u, v> u,

tangent to the sphere, so the ``projected_euler`` step x <- (x + h f) / |x + h f| is a post-norm
residual layer (with the radial part of the update removed, which changes it at second order in
h only).

Attention is standard multi-head attention (Vaswani et al., "Attention is all you need") with
trainable query, key, value and output projections: for heads h = 1..H of width d_h = d / H,

    Attn(x)_i = W_O concat_h( sum_j softmax_j(<q^h_i, k^h_j> / sqrt(d_h)) v^h_j ) + b_O,

q^h = W_Q^h x + b_Q^h and likewise for k, v. It is computed by one fused
``scaled_dot_product_attention`` call (``dynamics.softmax_attention``), so memory is
O(n d). Without biases it is ``SelfAttention(manifold="euclidean", beta=1/sqrt(d_h))`` with
query W_Q^h, key W_K^h and value W_O^h W_V^h (W_O^h the columns of W_O that read head h).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dynamics.attention.streaming import softmax_attention
from dynamics.checks import check_choice, check_cloud, check_int
from dynamics.geometry.spaces import EUCLIDEAN, SPHERE
from dynamics.geometry.sphere import normalize, project_tangent

ACTIVATIONS = {"gelu": F.gelu, "relu": F.relu, "tanh": torch.tanh}
NORMS = ("pre", "post")


class MultiHeadAttention(nn.Module):
    """The multi-head attention field Attn(x) of the module docstring; ``t`` is unused.

    Args:
        d: token dimension.
        heads: number of heads H; must divide ``d``.
        bias: learn the biases b_Q, b_K, b_V, b_O (else they are zero).
    """

    geometry = EUCLIDEAN

    def __init__(self, d: int, heads: int, *, bias: bool = True) -> None:
        super().__init__()
        self.d = check_int("d", d, minimum=1)
        self.heads = check_int("heads", heads, minimum=1)
        if d % heads:
            raise ValueError(f"heads={heads} must divide d={d}; choose a divisor of d")
        if not isinstance(bias, bool):
            raise TypeError(f"bias={bias!r} must be a bool")
        self.qkv = nn.Linear(d, 3 * d, bias=bias)
        self.out = nn.Linear(d, d, bias=bias)

    def extra_repr(self) -> str:
        return f"d={self.d}, heads={self.heads}"

    def forward(self, t: Tensor, x: Tensor) -> Tensor:
        """Attn(x) for a cloud ``x`` of shape (..., n, d)."""
        check_cloud("x", x, d=self.d, weights_of=self)
        n, width = x.shape[-2], self.d // self.heads
        # (..., n, 3 d) -> (3, batch, heads, n, width): rows of W_Q, W_K, W_V, head-major in each.
        q, k, v = self.qkv(x).reshape(-1, n, 3, self.heads, width).permute(2, 0, 3, 1, 4)
        mixed = softmax_attention(q, k, v, scale=width**-0.5)
        return self.out(mixed.transpose(1, 2).reshape(x.shape))


class FeedForward(nn.Module):
    """The MLP field MLP(x) = W_2 sigma(W_1 x + b_1) + b_2, token by token; ``t`` is unused.

    Args:
        d: token dimension.
        hidden: width of the hidden layer.
        activation: sigma, one of "gelu", "relu", "tanh".
        bias: learn b_1 and b_2 (else they are zero).
    """

    geometry = EUCLIDEAN

    def __init__(self, d: int, hidden: int, *, activation: str = "gelu", bias: bool = True) -> None:
        super().__init__()
        self.d = check_int("d", d, minimum=1)
        self.hidden = check_int("hidden", hidden, minimum=1)
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        if not isinstance(bias, bool):
            raise TypeError(f"bias={bias!r} must be a bool")
        self.inner = nn.Linear(d, hidden, bias=bias)
        self.outer = nn.Linear(hidden, d, bias=bias)

    def extra_repr(self) -> str:
        return f"activation={self.activation!r}"

    def forward(self, t: Tensor, x: Tensor) -> Tensor:
        """MLP(x) for a cloud ``x`` of shape (..., n, d)."""
        check_cloud("x", x, d=self.d, weights_of=self)
        return self.outer(ACTIVATIONS[self.activation](self.inner(x)))


class TransformerBlock(nn.Module):
    """The transformer-block field f = f_attn + f_mlp of the module docstring.

    Args:
        d: token dimension.
        heads: attention heads (dividing ``d``).
        hidden: width of the MLP's hidden layer (commonly 4 d).
        norm: "pre" (LayerNorms inside the field, euclidean) or "post" (tokens on S^{d-1},
            tangent field); see the module docstring.
        activation: the MLP's nonlinearity ("gelu", "relu", "tanh").
        bias: learn the biases of every linear map.

    Attributes:
        geometry: ``EUCLIDEAN`` for "pre", ``SPHERE`` for "post".
    """

    autonomous = True

    def __init__(
        self,
        d: int,
        heads: int,
        hidden: int,
        *,
        norm: str = "pre",
        activation: str = "gelu",
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.norm = check_choice("norm", norm, NORMS)
        self.geometry = EUCLIDEAN if norm == "pre" else SPHERE
        self.d = self.geometry.check_dimension(d)
        self.attention = MultiHeadAttention(d, heads, bias=bias)
        self.mlp = FeedForward(d, hidden, activation=activation, bias=bias)
        if norm == "pre":
            self.norm1 = nn.LayerNorm(d)
            self.norm2 = nn.LayerNorm(d)

    def extra_repr(self) -> str:
        return f"norm={self.norm!r}"

    def _part(self, branch: nn.Module, layer_norm: str, t: Tensor, x: Tensor) -> Tensor:
        check_cloud("x", x, d=self.d, weights_of=self)
        if self.norm == "pre":
            return branch(t, getattr(self, layer_norm)(x))
        u = normalize(x)
        return project_tangent(u, branch(t, u))

    def attention_part(self, t: Tensor, x: Tensor) -> Tensor:
        """f_attn(x) = Attn(LN_1 x) ("pre") or P_u Attn(u), u = x / |x| ("post")."""
        return self._part(self.attention, "norm1", t, x)

    def mlp_part(self, t: Tensor, x: Tensor) -> Tensor:
        """f_mlp(x) = MLP(LN_2 x) ("pre") or P_u MLP(u), u = x / |x| ("post")."""
        return self._part(self.mlp, "norm2", t, x)

    def forward(self, t: Tensor, x: Tensor) -> Tensor:
        """f(t, x) = f_attn(x) + f_mlp(x) for a cloud ``x`` of shape (..., n, d)."""
        return self.attention_part(t, x) + self.mlp_part(t, x)
