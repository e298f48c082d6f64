"""Attention by streaming over key blocks with a running log-sum-exp (no n x n tensor held).

For queries q_i, keys k_j and values v_j it returns, for every query,

    out_i = sum_j e^{s_ij} v_j / sum_j e^{s_ij},   lse_i = log sum_j e^{s_ij},
    s_ij = scale <q_i, k_j>,

keeping a running maximum m_i so that only e^{s_ij - m_i} <= 1 is ever exponentiated (the online
softmax of Milakov and Gimelshein, "Online normalizer calculation for softmax"). Memory is
O(n d + block): queries and keys are tiled so that one tile holds at most ``block_elements``
logits.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

BLOCK_ELEMENTS = 1 << 22
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
) -> tuple[Tensor | None, Tensor]:
    """Softmax attention and its row log-sum-exp, streamed over key blocks.

    Shapes: ``q`` (..., n_q, e), ``k`` (..., n_k, e), ``v`` (..., n_k, e_v) or None (then only the
    log-sum-exp is computed). Returns ``(out, lse)`` with ``out`` (..., n_q, e_v) or None and
    ``lse`` (..., n_q). With ``causal`` query i sees keys j <= i only.
    """
    batch_size = math.prod(q.shape[:-2])
    n_q, n_k = q.shape[-2], k.shape[-2]
    q_chunk, key_block = _tiles(batch_size, n_q, n_k, block_elements)
    outs, lses = [], []
    for q_start in range(0, n_q, q_chunk):
        q_end = min(q_start + q_chunk, n_q)
        out, lse = _stream_query_chunk(
            q[..., q_start:q_end, :], k, v, scale, causal, q_start, key_block
        )
        outs.append(out)
        lses.append(lse)
    lse = torch.cat(lses, dim=-1)
    out = None if v is None else torch.cat(outs, dim=-2)
    return out, lse


def _stream_query_chunk(
    q: Tensor,
    k: Tensor,
    v: Tensor | None,
    scale: float,
    causal: bool,
    q_start: int,
    key_block: int,
) -> tuple[Tensor | None, Tensor]:
    n_q = q.shape[-2]
    key_end = min(k.shape[-2], q_start + n_q) if causal else k.shape[-2]
    running_max = torch.full(q.shape[:-1], -torch.inf, dtype=q.dtype, device=q.device)
    running_sum = torch.zeros_like(running_max)
    acc = None if v is None else q.new_zeros((*q.shape[:-1], v.shape[-1]))
    query_index = torch.arange(q_start, q_start + n_q, device=q.device)[:, None]
    for k_start in range(0, key_end, key_block):
        k_end = min(k_start + key_block, key_end)
        logits = scale * (q @ k[..., k_start:k_end, :].transpose(-1, -2))
        if causal and k_end - 1 > q_start:
            key_index = torch.arange(k_start, k_end, device=q.device)[None, :]
            logits = logits.masked_fill(key_index > query_index, -torch.inf)
        new_max = torch.maximum(running_max, logits.amax(-1))
        weights = torch.exp(logits - new_max[..., None])
        decay = torch.exp(running_max - new_max)
        running_sum = running_sum * decay + weights.sum(-1)
        if acc is not None:
            acc = acc * decay[..., None] + weights @ v[..., k_start:k_end, :]
        running_max = new_max
    lse = running_max + torch.log(running_sum)
    out = None if acc is None else acc / running_sum[..., None]
    return out, lse
