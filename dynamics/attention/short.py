"""Softmax attention over few keys: a cache-sized tile of systems at a time, by batched products.

For queries q_i, keys k_j, values v_j and an optional key bias b_j it returns

    out_i = sum_j e^{s_ij - M_i} v_j / sum_j e^{s_ij - M_i},   s_ij = scale <q_i, k_j> + b_j,

with M_i = max_j s_ij, so that every exponent is <= 0 (no overflow at any scale) and each row's
largest term is 1 (no division by zero); M_i is a constant shift that cancels exactly, so it is
taken without gradient. The logits of ``TILE_ELEMENTS`` // (n_q n_k) systems are formed at once
(one ``bmm`` or ``baddbmm``), shifted and exponentiated in place, summed, and multiplied by the
values: memory O(n d) per system plus one tile of 1 MiB in float64. It is differentiable.

Over a handful of keys the fused ``scaled_dot_product_attention`` call pays a per-system
overhead that outweighs its arithmetic. ``short_attention_serves`` takes this path where it was
measured faster on the CPU without a derivative tracked (one thread, BENCHMARKS.md): float64
with at most 64 keys and heads at most 16 wide (0.41-1.03 of the fused call's time), float32 with
at most 8 keys and heads at most 32 wide (0.7-0.75). With a derivative tracked the fused
kernel's backward is the faster one but for heads 2 wide (``SHORT_LIMITS_WITH_GRAD``: forward and
backward in 0.76-0.90 of the fused kernel's time at n <= 32 in float64, 0.86 at n = 8 in float32;
1.04-5.3x at d >= 8).
"""

from __future__ import annotations

import torch
from torch import Tensor

from dynamics.attention.batching import attention_batch_shape, flatten_batch
from dynamics.attention.kernel_inputs import derivative_tracked, one_kernel_call

TILE_ELEMENTS = 1 << 17
"""Logits formed at once (1 MiB in float64): the fastest of 2^13..2^19 at n <= 64."""

SHORT_LIMITS = {torch.float64: (64, 16), torch.float32: (8, 32)}
"""Per dtype, the most keys and the widest head for which ``short_attention`` beats the fused
kernel on the CPU."""
SHORT_LIMITS_WITH_GRAD = {torch.float64: (32, 2), torch.float32: (8, 2)}
"""``SHORT_LIMITS`` with a derivative tracked (forward and backward timed)."""


def short_attention_serves(q: Tensor, k: Tensor, v: Tensor, key_bias: Tensor | None) -> bool:
    """Whether ``short_attention`` is the faster kernel for these inputs: CPU tensors for one
    kernel call (``one_kernel_call``), few keys and narrow heads (``SHORT_LIMITS``, or
    ``SHORT_LIMITS_WITH_GRAD`` when a derivative is tracked)."""
    if q.device.type != "cpu" or not one_kernel_call(q, k, v, key_bias):
        return False
    tracked = derivative_tracked(q, k, v, key_bias)
    keys, width = (SHORT_LIMITS_WITH_GRAD if tracked else SHORT_LIMITS).get(q.dtype, (0, 0))
    return k.shape[-2] <= keys and max(q.shape[-1], v.shape[-1]) <= width


def short_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    scale: float,
    causal: bool = False,
    key_bias: Tensor | None = None,
) -> Tensor:
    """out (..., n_q, e_v) of the module docstring for q (..., n_q, e), k (..., n_k, e),
    v (..., n_k, e_v) and key_bias (..., n_k) or None, over their broadcast batch shape; with
    ``causal`` query i sees keys j <= i only. Every row needs one finite logit."""
    n_q, n_k = q.shape[-2], k.shape[-2]
    batch_shape = attention_batch_shape(q, k, v, key_bias)
    q3 = flatten_batch(q, batch_shape)
    keys = flatten_batch(k, batch_shape).transpose(1, 2)
    v3 = flatten_batch(v, batch_shape)
    bias = None
    if key_bias is not None:  # (B, 1, n_k): broadcast over the queries by baddbmm
        bias = flatten_batch(key_bias[..., None, :].to(q.dtype), batch_shape)
    hidden = None
    if causal:
        rows = torch.arange(n_q, device=q.device)[:, None]
        hidden = torch.arange(n_k, device=q.device)[None, :] > rows
    parts = []
    step = max(1, TILE_ELEMENTS // (n_q * n_k))
    for start in range(0, max(q3.shape[0], 1), step):  # one empty tile for an empty batch
        part = slice(start, start + step)
        if bias is None:
            logits = torch.bmm(q3[part], keys[part]).mul_(scale)
        else:
            logits = torch.baddbmm(bias[part], q3[part], keys[part], alpha=scale)
        if hidden is not None:
            logits.masked_fill_(hidden, -torch.inf)
        logits.sub_(logits.detach().amax(-1, keepdim=True)).exp_()
        sums = logits.sum(-1, keepdim=True)
        parts.append(torch.bmm(logits, v3[part]).div_(sums))
    out = parts[0] if len(parts) == 1 else torch.cat(parts)
    return out.reshape(*batch_shape, n_q, v3.shape[-1])
