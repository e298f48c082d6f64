"""Attention by streaming over key blocks with a running log-sum-exp (no n x n tensor held).

For queries q_i, keys k_j, values v_j and an optional key bias b_j it returns, for every query,

    out_i = sum_j e^{s_ij} v_j / sum_j e^{s_ij},   lse_i = log sum_j e^{s_ij},
    s_ij = scale <q_i, k_j> + b_j,

keeping a running maximum M_i so that only e^{s_ij - M_i} <= 1 is ever exponentiated (the online
softmax of Milakov and Gimelshein, "Online normalizer calculation for softmax"). Memory is
O(n d + block): queries and keys are tiled so that one tile holds at most ``block_elements``
logits.

A bias b_j = log m_j weighs key j by a mass m_j >= 0 (weighted clouds, Sinkhorn potentials). A zero
mass gives b_j = -inf and e^{s_ij} = 0; a tile whose logits of row i are all -inf is shifted by the
dtype's lowest finite value instead of its maximum, so that no -inf - (-inf) arises. Every row
needs one finite logit.

Each tile costs one matrix product for the logits (``baddbmm`` onto the bias), an in-place shift
and ``exp_``, and one accumulating product ``acc += e^{s - M} [v, 1]``: the values carry an extra
column of ones, so the same product also accumulates the row sums. The running maximum is a
constant shift that cancels exactly, so it is taken without gradient; derivatives of ``out`` and
``lse`` are unaffected.

``attention_with_lse`` returns the same pair from one fused ``scaled_dot_product_attention`` call
when no derivative is needed (the inference fast path), and falls back to ``streaming_attention``
otherwise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from dynamics.attention.batching import attention_batch_shape, flatten_batch
from dynamics.attention.kernel_inputs import derivative_tracked, one_kernel_call
from dynamics.attention.short import short_attention, short_attention_serves

# At most 2^19 logits per tile (2 MiB in float32), so that a tile stays in cache between its
# product, shift, exponential and accumulation: the fastest of 2^17..2^22 for n = 4096,
# d in {3, 64} on a 2-core CPU (BENCHMARKS.md). Smaller tiles pay more Python overhead.
BLOCK_ELEMENTS = 1 << 19
_MIN_KEY_BLOCK = 256


def _tiles(batch_size: int, n_queries: int, n_keys: int, block_elements: int) -> tuple[int, int]:
    """Query-chunk and key-block sizes whose product (times the batch) fits ``block_elements``."""
    per_system = max(1, block_elements // max(batch_size, 1))
    key_block = min(n_keys, max(1, per_system // n_queries))
    if key_block >= min(n_keys, _MIN_KEY_BLOCK):
        return n_queries, key_block
    key_block = min(n_keys, _MIN_KEY_BLOCK)
    return max(1, per_system // key_block), key_block


def streaming_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor | None,
    *,
    scale: float,
    causal: bool = False,
    block_elements: int = BLOCK_ELEMENTS,
    key_bias: Tensor | None = None,
) -> tuple[Tensor | None, Tensor]:
    """Softmax attention and its row log-sum-exp, streamed over key blocks.

    Shapes: ``q`` (..., n_q, e), ``k`` (..., n_k, e), ``v`` (..., n_k, e_v) or None (then only the
    log-sum-exp is computed), ``key_bias`` (..., n_k) or None. Returns ``(out, lse)`` with ``out``
    (..., n_q, e_v) or None and ``lse`` (..., n_q). With ``causal`` query i sees keys j <= i only.
    """
    n_q, n_k = q.shape[-2], k.shape[-2]
    batch_shape = attention_batch_shape(q, k, v, key_bias)
    # Flatten the batch so that every product is one bmm / baddbmm; the scale goes into q once.
    q3 = flatten_batch(q * scale, batch_shape)
    k3 = flatten_batch(k, batch_shape)
    b3 = None
    if key_bias is not None:  # (B, 1, n_k): broadcast over the queries by baddbmm
        b3 = flatten_batch(key_bias.to(q3)[..., None, :], batch_shape)
    ones = k3.new_ones((k3.shape[0], n_k, 1))
    if v is None:
        v3 = ones
    else:
        v3 = flatten_batch(v, batch_shape)
        v3 = torch.cat((v3, ones.to(v3.dtype)), dim=-1)
    q_chunk, key_block = _tiles(q3.shape[0], n_q, n_k, block_elements)
    if q_chunk >= n_q:
        out, lse = _stream_query_chunk(q3, k3, v3, b3, causal, 0, key_block)
    else:  # outputs preallocated: chunk results kept in a list would fragment the heap
        out = q3.new_empty((q3.shape[0], n_q, v3.shape[-1] - 1))
        lse = q3.new_empty((q3.shape[0], n_q))
        for q_start in range(0, n_q, q_chunk):
            q_end = min(q_start + q_chunk, n_q)
            out[:, q_start:q_end], lse[:, q_start:q_end] = _stream_query_chunk(
                q3[:, q_start:q_end], k3, v3, b3, causal, q_start, key_block
            )
    lse = lse.reshape(*batch_shape, n_q)
    if v is None:
        return None, lse
    return out.reshape(*batch_shape, n_q, v.shape[-1]), lse


def _stream_query_chunk(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    bias: Tensor | None,
    causal: bool,
    q_start: int,
    key_block: int,
) -> tuple[Tensor, Tensor]:
    """One query chunk: q (B, n_q, e) already scaled, k (B, n_k, e), v (B, n_k, e_v + 1),
    bias (B, 1, n_k) or None."""
    n_q = q.shape[-2]
    lowest = torch.finfo(q.dtype).min
    key_end = min(k.shape[-2], q_start + n_q) if causal else k.shape[-2]
    query_index = torch.arange(q_start, q_start + n_q, device=q.device)[:, None]
    running_max: Tensor | None = None
    acc = q.new_empty(0)
    for k_start in range(0, key_end, key_block):
        k_end = min(k_start + key_block, key_end)
        keys = k[:, k_start:k_end].transpose(-1, -2)
        if bias is None:
            weights = torch.bmm(q, keys)
        else:
            weights = torch.baddbmm(bias[..., k_start:k_end], q, keys)
        if causal and k_end - 1 > q_start:
            key_index = torch.arange(k_start, k_end, device=q.device)[None, :]
            weights.masked_fill_(key_index > query_index, -torch.inf)
        block_max = weights.detach().amax(-1).clamp_min_(lowest)  # all -inf: shift finite
        new_max = block_max if running_max is None else torch.maximum(running_max, block_max)
        weights.sub_(new_max[..., None]).exp_()
        if running_max is None:
            acc = torch.bmm(weights, v[:, k_start:k_end])
        else:
            decay = torch.exp(running_max - new_max)
            acc = acc.mul_(decay[..., None]).baddbmm_(weights, v[:, k_start:k_end])
        running_max = new_max
    assert running_max is not None  # key_end >= 1: n_k >= 1, and q_start + n_q >= 1
    running_sum = acc[..., -1]
    lse = running_max + torch.log(running_sum)
    out = acc[..., :-1] / running_sum[..., None]
    return out, lse


def attention_with_lse(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    scale: float,
    causal: bool = False,
    key_bias: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """``streaming_attention(q, k, v, ...)``, by one fused attention call where that is exact.

    The fused path runs when no derivative is being tracked (grad mode off or no input requiring
    grad, no forward-mode dual), for float32/float64, and when its normalizers stay well inside the
    dtype's range; in every other case this is ``streaming_attention``. Both agree to rounding.

    Trick: ``scaled_dot_product_attention`` returns only normalized outputs, so one extra key is
    appended whose logit for query i is a chosen a_i, and the values get two extra columns:
    [v_j, 1, 0] for the real keys and [0, 0, 1] for the extra one. With Z_i = sum_j e^{s_ij} and
    D_i = Z_i + e^{a_i} the call returns sum_j e^{s_ij} v_j / D_i, u_i = Z_i / D_i and
    w_i = e^{a_i} / D_i, hence out_i = (sum_j e^{s_ij} v_j / D_i) / u_i and
    lse_i = a_i + log u_i - log w_i, with no cancellation. a_i = |scale| |q_i| max_j |k_j| +
    max_j b_j bounds every logit of row i (Cauchy-Schwarz), so w_i >= 1 / (n_k + 1); if some u_i
    falls below sqrt(tiny) (a_i far above lse_i) the streaming path is used instead. A key bias
    enters as one more coordinate of queries and keys (``_with_key_bias``). For ``causal`` a dummy
    query is prepended as well, so that the causal mask of the (n + 1) x (n + 1) call lets query i
    see the extra key and keys 0..i. Memory stays O(n d) with torch's CPU kernel, which tiles
    (measured in BENCHMARKS.md); on CUDA it depends on the kernel torch selects (not measured).
    """
    options = {"scale": scale, "causal": causal, "key_bias": key_bias}
    fused_serves = fused_kernel_serves(q) and one_kernel_call(q, k, v, key_bias)
    if not fused_serves or derivative_tracked(q, k, v, key_bias):
        return streaming_attention(q, k, v, **options)
    try:
        fused = _fused_attention_lse(q, k, v, **options)
    except NotImplementedError:  # e.g. forward-mode AD through the fused kernel
        fused = None
    if fused is None:
        return streaming_attention(q, k, v, **options)
    return fused


def _with_key_bias(q: Tensor, k: Tensor, key_bias: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    """q' = [scale q, 1] and k' = [k, b] over the common batch shape, so that
    <q'_i, k'_j> = scale <q_i, k_j> + b_j."""
    batch_shape = attention_batch_shape(q, k, None, key_bias)
    q = (q * scale).expand(*batch_shape, *q.shape[-2:])
    k = k.expand(*batch_shape, *k.shape[-2:])
    bias = key_bias.to(k).expand(*batch_shape, k.shape[-2])
    return torch.cat((q, torch.ones_like(q[..., :1])), -1), torch.cat((k, bias[..., None]), -1)


def _fused_attention_lse(
    q: Tensor, k: Tensor, v: Tensor, *, scale: float, causal: bool, key_bias: Tensor | None
) -> tuple[Tensor, Tensor] | None:
    """The augmented fused call of ``attention_with_lse``; None where it would lose accuracy."""
    key_norm = torch.linalg.vector_norm(k, dim=-1).amax(-1, keepdim=True)
    bound = abs(scale) * torch.linalg.vector_norm(q, dim=-1) * key_norm
    if key_bias is not None:
        bound = bound + key_bias.to(bound).amax(-1, keepdim=True)
        q, k = _with_key_bias(q, k, key_bias, scale)
        scale = 1.0
    n_q, n_k, e, e_v = q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1]
    batch_shape = attention_batch_shape(q, k, v, None)
    width = _fused_width(e + 1, e_v + 2, q.device)
    dummy = 1 if causal else 0
    q_aug = q.new_zeros((*batch_shape, n_q + dummy, width))
    q_aug[..., dummy:, :e] = q * scale
    q_aug[..., dummy:, e] = bound
    k_aug = q.new_zeros((*batch_shape, n_k + 1, width))
    k_aug[..., 1:, :e] = k
    k_aug[..., 0, e] = 1.0
    v_aug = q.new_zeros((*batch_shape, n_k + 1, width))
    v_aug[..., 1:, :e_v] = v
    v_aug[..., 1:, e_v] = 1.0
    v_aug[..., 0, e_v + 1] = 1.0
    flat = (-1, 1, n_q + dummy, width)  # the fused kernels take (batch, heads, n, width)
    result = F.scaled_dot_product_attention(
        q_aug.reshape(flat),
        k_aug.reshape(-1, 1, n_k + 1, width),
        v_aug.reshape(-1, 1, n_k + 1, width),
        scale=1.0,
        is_causal=causal,
    ).reshape(*batch_shape, n_q + dummy, width)[..., dummy:, :]
    keys_part, extra_part = result[..., e_v], result[..., e_v + 1]
    floor = torch.finfo(q.dtype).tiny ** 0.5
    if not bool(((keys_part >= floor) & (extra_part >= floor)).all()):
        return None
    lse = bound.expand(*batch_shape, n_q) + torch.log(keys_part) - torch.log(extra_part)
    return result[..., :e_v] / keys_part[..., None], lse


def fused_kernel_serves(x: Tensor) -> bool:
    """Whether a fused ``scaled_dot_product_attention`` kernel (O(n d) memory) takes ``x``.

    torch's CPU flash kernel takes float32 and float64; on CUDA the fused kernels take float32 but
    not float64, for which only the math kernel exists, and it forms the n x n matrix.
    """
    if x.dtype not in (torch.float32, torch.float64):
        return False
    return x.device.type == "cpu" or (x.device.type == "cuda" and x.dtype == torch.float32)


def _fused_width(e: int, e_v: int, device: torch.device) -> int:
    """One head width for q, k and v (the fused kernels need equal widths; GPU ones a multiple
    of 8). Zero padding changes no logit <q_i, k_j> and no kept output column."""
    width = max(e, e_v)
    return width if device.type == "cpu" else -(-width // 8) * 8


def softmax_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    scale: float,
    causal: bool = False,
    key_bias: Tensor | None = None,
) -> Tensor:
    """out_i = sum_j e^{s_ij} v_j / sum_j e^{s_ij}, s_ij = scale <q_i, k_j> + b_j, in O(n d)
    memory (b = ``key_bias``, shape (..., n_k), or 0).

    Over few keys where it is faster (``short_attention_serves``) by ``short_attention``, a tile
    of systems at a time; else one fused ``scaled_dot_product_attention`` call on inputs
    zero-padded to a common width where a fused kernel serves (``fused_kernel_serves``), else
    ``streaming_attention``. The bias enters the fused call as one more coordinate of queries and
    keys (``_with_key_bias``).
    """
    if short_attention_serves(q, k, v, key_bias):
        return short_attention(q, k, v, scale=scale, causal=causal, key_bias=key_bias)
    if not fused_kernel_serves(q):
        return streaming_attention(q, k, v, scale=scale, causal=causal, key_bias=key_bias)[0]
    if key_bias is not None:
        q, k = _with_key_bias(q, k, key_bias, scale)
        scale = 1.0
    if causal and scale == 0:  # the fused kernel scales the masked -inf logits too: 0 * -inf
        q, scale = torch.zeros_like(q), 1.0
    e, e_v = q.shape[-1], v.shape[-1]
    width = _fused_width(e, e_v, q.device)
    if width != e or width != e_v:
        q, k = (F.pad(z, (0, width - e)) for z in (q, k))
        v = F.pad(v, (0, width - e_v))
    out = F.scaled_dot_product_attention(q, k, v, scale=scale, is_causal=causal)
    return out[..., :e_v]
