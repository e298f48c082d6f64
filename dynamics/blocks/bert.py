"""A post-LayerNorm BERT encoder, written out, and its layers read as vector fields.

The encoder of Devlin et al., "BERT: Pre-training of deep bidirectional transformers for language
understanding" (here at the size of all-MiniLM-L6-v2: Wang et al., "MiniLM: Deep self-attention
distillation for task-agnostic compression of pre-trained transformers"), on a batch of padded
token sequences x of shape (B, n, d) with a key mask m of shape (B, n) (True: a real token):

- embeddings: x_i = LN_0(E[w_i] + P[i] + S[s_i]) (word, position and token-type tables);
- layer k (post-norm):

      h = LN_1(x + A(x)),   y = LN_2(h + M(h)),

  with A the multi-head self-attention (Vaswani et al., "Attention is all you need"), for heads
  a = 1..H of width d_a = d / H,

      A(x)_i = W_O concat_a( sum_j softmax_j(<q^a_i, k^a_j> / sqrt(d_a) + b_j) v^a_j ) + b_O,

  b_j = 0 for real keys and -inf for padding (computed by one fused
  ``torch.nn.functional.scaled_dot_product_attention`` call with a boolean mask, so no n x n
  matrix is formed), M(h) = W_2 GELU(W_1 h + b_1) + b_2 with the exact GELU
  z Phi(z) (erf form), and LN(z) = gamma (z - mean z) / sqrt(var z + eps) + beta over the
  features of each token.

The same layer as a field (``BertBlockField``): F(x) = A(x) + M(x) in R^d with its two parts
exposed as ``attention_part`` and ``mlp_part``. The layer is then exactly one Lie-Trotter step of
size 1 of F with Euler sub-steps (``solvers.lie_trotter``), each sub-step followed by its
LayerNorm retraction:

      h = LN_1(x + 1 * f_attn(x)),   y = LN_2(h + 1 * f_mlp(h))   (``splitting_layer_step``),

exact for the plain field (``projection="none"``); with the projection P_x below, the same step
differs from the layer only through the radial parts that P_x removes (second order in the step).

The continuous flow of the layer runs x' = P_x F(x) for unit time and then applies the layer's
output LayerNorm: x_k = LN_2(Phi_1(x_{k-1})), where

    P_x v = v_c - <v_c, c_hat> c_hat,   v_c = v - mean(v) 1,   c_hat = c / |c|,  c = x - mean(x) 1,

removes from a velocity exactly the two directions every LayerNorm is blind to at x: the shift
along 1 and the scaling of the centred token (LN(a z + b 1) = LN(z) for a > 0), so that
LN(x + h v) = LN(x + h P_x v) + O(h^2) for any gain and bias. The flow keeps mean(x_i) and
|x_i - mean(x_i) 1| of every token fixed, i.e. it moves tokens on a sphere S^{d-2}, the
LayerNorm analogue of the post-LN sphere of ``TransformerBlock(norm="post")`` (which takes
LN(z) = z / |z|). Why not the plain field F in R^d normalised only at integer times
(``projection="none"``)? Measured on all-MiniLM-L6-v2, |M(x)| is about 1.5 |x| and its flow
multiplies token norms by up to 20 in one unit of time, so the inputs that A and M see leave the
scale at which they were trained; the projected flow keeps that scale. Why normalise at integer
times at all? The two LayerNorms of a layer have different gains and biases, so h and y lie on
different affine images {gamma s + beta : mean s = 0, |s|^2 = d} of one sphere: no single
manifold carries both retractions, and LN_2 at integer times puts the flow's state where the real
hidden state lies (and where the next layer reads it). LN_1 between the sub-steps has no
counterpart in a flow of the sum; the flow against the real layers measures what that costs.

The weights are read from a safetensors state dict with the names of Hugging Face's BertModel
(``dynamics.blocks.bert_weights``); padding tokens never influence real ones, and in the fields
their velocity is set to zero so they stay where they start.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dynamics.checks import check_choice, check_cloud
from dynamics.geometry.spaces import EUCLIDEAN

PARTS = ("block", "attention")
"""What a ``BertBlockField`` moves by: A + M (the layer), or A alone (attention only)."""

PROJECTIONS = ("layernorm", "none")
"""``BertBlockField``'s velocity: projected onto the directions LayerNorm sees, or as it is."""


@dataclass(frozen=True)
class BertConfig:
    """Sizes of a BERT encoder (the fields of Hugging Face's config.json that it reads)."""

    vocab_size: int = 30522
    hidden_size: int = 384
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    num_hidden_layers: int = 6
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12

    @classmethod
    def from_dict(cls, values: dict[str, object]) -> BertConfig:
        """The config from a parsed config.json; refuses an activation other than exact GELU."""
        activation = values.get("hidden_act", "gelu")
        if activation != "gelu":
            raise ValueError(f"hidden_act={activation!r} is not supported; expected 'gelu' (erf)")
        names = cls.__dataclass_fields__
        return cls(**{name: values[name] for name in names if name in values})


def check_mask(mask: Tensor | None, x: Tensor) -> Tensor:
    """A boolean key mask of shape x.shape[:-1] (True: a real token); all True when None."""
    if mask is None:
        return torch.ones(x.shape[:-1], dtype=torch.bool, device=x.device)
    if mask.shape != x.shape[:-1]:
        raise ValueError(f"mask has shape {tuple(mask.shape)}, expected {tuple(x.shape[:-1])}")
    return mask.to(device=x.device, dtype=torch.bool)


class BertEmbeddings(nn.Module):
    """x_i = LN_0(E[w_i] + P[i] + S[s_i]) for token ids w (B, n) and token types s (0 if None)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, ids: Tensor, token_types: Tensor | None = None) -> Tensor:
        positions = torch.arange(ids.shape[-1], device=ids.device)
        if token_types is None:
            token_types = torch.zeros_like(ids)
        summed = (
            self.word_embeddings(ids)
            + self.position_embeddings(positions)
            + self.token_type_embeddings(token_types)
        )
        return self.LayerNorm(summed)


class BertSelfAttention(nn.Module):
    """A(x) of the module docstring (query, key, value and output maps with biases)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        d, heads = config.hidden_size, config.num_attention_heads
        if d % heads:
            raise ValueError(f"num_attention_heads={heads} must divide hidden_size={d}")
        self.heads = heads
        self.query, self.key, self.value, self.output = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """A(x) for x (..., n, d) and a key mask (..., n)."""
        mask = check_mask(mask, x)
        *batch, n, d = x.shape
        width = d // self.heads

        def split(z: Tensor) -> Tensor:  # (..., n, d) -> (..., heads, n, width)
            return z.reshape(*batch, n, self.heads, width).transpose(-2, -3)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        mixed = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[..., None, None, :])
        return self.output(mixed.transpose(-2, -3).reshape(x.shape))


class BertLayer(nn.Module):
    """One post-norm layer y = LN_2(h + M(h)), h = LN_1(x + A(x)) (module docstring)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        d, eps = config.hidden_size, config.layer_norm_eps
        self.attention = BertSelfAttention(config)
        self.norm1 = nn.LayerNorm(d, eps=eps)
        self.inner = nn.Linear(d, config.intermediate_size)
        self.outer = nn.Linear(config.intermediate_size, d)
        self.norm2 = nn.LayerNorm(d, eps=eps)

    def mlp(self, h: Tensor) -> Tensor:
        """M(h) = W_2 GELU(W_1 h + b_1) + b_2, GELU(z) = z Phi(z) (exact, erf)."""
        return self.outer(F.gelu(self.inner(h)))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        h = self.norm1(x + self.attention(x, mask))
        return self.norm2(h + self.mlp(h))


class BertEncoder(nn.Module):
    """Embeddings and ``num_hidden_layers`` post-norm layers; ``hidden_states`` returns all."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.layers = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))

    def hidden_states(
        self, ids: Tensor, mask: Tensor | None = None, token_types: Tensor | None = None
    ) -> Tensor:
        """x_0 = embeddings and x_k = layer_k(x_{k-1}): shape (L + 1, B, n, d)."""
        x = self.embeddings(ids, token_types)
        mask = check_mask(mask, x)
        states = [x]
        for layer in self.layers:
            states.append(layer(states[-1], mask))
        return torch.stack(states)

    def forward(
        self, ids: Tensor, mask: Tensor | None = None, token_types: Tensor | None = None
    ) -> Tensor:
        """The last hidden state x_L, shape (B, n, d)."""
        return self.hidden_states(ids, mask, token_types)[-1]


def mean_pool(x: Tensor, mask: Tensor) -> Tensor:
    """The sentence embedding sum_i m_i x_i / sum_i m_i over real tokens, shape (..., d)."""
    weights = mask.to(x.dtype)[..., None]
    return (weights * x).sum(-2) / weights.sum(-2).clamp_min(1.0)


def layernorm_tangent(x: Tensor, v: Tensor) -> Tensor:
    """P_x v = v_c - <v_c, c_hat> c_hat, v_c = v - mean(v) 1, c_hat = (x - mean(x) 1) / |...|:
    the part of v that changes LN(x + h v) at first order in h, for every gain and bias."""
    centred = x - x.mean(-1, keepdim=True)
    direction = centred / torch.linalg.vector_norm(centred, dim=-1, keepdim=True).clamp_min(1e-30)
    v = v - v.mean(-1, keepdim=True)
    return v - (v * direction).sum(-1, keepdim=True) * direction


class BertBlockField(nn.Module):
    """One BERT layer as a field on padded token clouds (module docstring):

        f(t, x) = m * (f_attn(x) + f_mlp(x)),  f_attn = A, f_mlp = M   (``parts="block"``),
        f(t, x) = m * A(x)                                            (``parts="attention"``),

    m the mask broadcast over features (padding tokens do not move). ``attention_part`` and
    ``mlp_part`` let ``solvers.lie_trotter`` / ``strang`` split it; ``normalize`` is the
    LayerNorm that ends a unit of time (LN_2 for the block, LN_1 for attention alone).

    With ``projection="layernorm"`` each part is projected, f_attn = m * P_x A(x) and
    f_mlp = m * P_x M(x) (``layernorm_tangent``), so the flow keeps every token's mean and
    centred norm; with ``projection="none"`` the parts are m * A(x) and m * M(x).

    Args:
        layer: the ``BertLayer`` whose weights the field uses (shared, not copied).
        mask: key mask (B, n) of the clouds it will move, True for real tokens.
        parts: "block" or "attention".
        projection: "layernorm" or "none".
    """

    geometry = EUCLIDEAN

    def __init__(
        self, layer: BertLayer, mask: Tensor, *, parts: str = "block", projection: str = "layernorm"
    ) -> None:
        super().__init__()
        self.layer = layer
        self.parts = check_choice("parts", parts, PARTS)
        self.projection = check_choice("projection", projection, PROJECTIONS)
        self.register_buffer("mask", mask.to(torch.bool), persistent=False)

    def extra_repr(self) -> str:
        return f"parts={self.parts!r}, projection={self.projection!r}"

    def _velocity(self, x: Tensor, v: Tensor) -> Tensor:
        if self.projection == "layernorm":
            v = layernorm_tangent(x, v)
        return self.mask[..., None].to(x.dtype) * v

    def attention_part(self, t: Tensor, x: Tensor) -> Tensor:
        """f_attn(x) = m * P_x A(x) (or m * A(x) without projection)."""
        check_cloud("x", x, weights_of=self)
        return self._velocity(x, self.layer.attention(x, self.mask))

    def mlp_part(self, t: Tensor, x: Tensor) -> Tensor:
        """f_mlp(x) = m * P_x M(x) (or m * M(x)); zero for ``parts="attention"``."""
        if self.parts == "attention":
            return torch.zeros_like(x)
        return self._velocity(x, self.layer.mlp(x))

    def forward(self, t: Tensor, x: Tensor) -> Tensor:
        """f_attn(x) + f_mlp(x), with P_x (linear) applied once to the sum A(x) + M(x)."""
        if self.parts == "attention":
            return self.attention_part(t, x)
        check_cloud("x", x, weights_of=self)
        return self._velocity(x, self.layer.attention(x, self.mask) + self.layer.mlp(x))

    def normalize(self, x: Tensor) -> Tensor:
        """The LayerNorm applied at each integer time: LN_2 (block) or LN_1 (attention)."""
        return (self.layer.norm2 if self.parts == "block" else self.layer.norm1)(x)


def splitting_layer_step(field: BertBlockField, x: Tensor) -> Tensor:
    """One Lie-Trotter step of size 1 with each Euler sub-step followed by its LayerNorm:

        h = LN_1(x + f_attn(x)),   y = LN_2(h + f_mlp(h)),

    which is the BERT layer itself on the real tokens for ``parts="block"``,
    ``projection="none"``."""
    zero = torch.zeros((), dtype=x.dtype, device=x.device)
    h = field.layer.norm1(x + field.attention_part(zero, x))
    return field.layer.norm2(h + field.mlp_part(zero, h))
