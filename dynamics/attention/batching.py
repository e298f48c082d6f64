"""Batch shapes of attention inputs: queries (..., n_q, e), keys (..., n_k, e), values
(..., n_k, e_v) and a key bias (..., n_k) broadcast over their leading dimensions, and flattened
to one batch dimension so that every product is one ``bmm``."""

from __future__ import annotations

from torch import Tensor


def broadcast_batch_shape(*tensors: Tensor) -> tuple[int, ...]:
    """The broadcast of the tensors' batch shapes (all dimensions but the last two).

    Written out because ``torch.broadcast_shapes`` imports sympy on first use (about 0.4 s and
    36 MiB of resident memory, torch 2.13).
    """
    shapes = [tuple(t.shape[:-2]) for t in tensors]
    ndim = max(len(shape) for shape in shapes)
    result = []
    for axis in range(-ndim, 0):
        sizes = {shape[axis] for shape in shapes if len(shape) >= -axis} - {1}
        if len(sizes) > 1:
            raise RuntimeError(f"batch shapes {shapes} do not broadcast")
        result.append(sizes.pop() if sizes else 1)
    return tuple(result)


def attention_batch_shape(
    q: Tensor, k: Tensor, v: Tensor | None, key_bias: Tensor | None
) -> tuple[int, ...]:
    """The common batch shape of queries, keys, values (or None) and a key bias (or None);
    ValueError if the bias is not (..., n_k)."""
    n_k = k.shape[-2]
    tensors = [q, k] if v is None else [q, k, v]
    if key_bias is not None:
        if key_bias.ndim < 1 or key_bias.shape[-1] != n_k:
            raise ValueError(f"key_bias has shape {tuple(key_bias.shape)}; expected (..., {n_k})")
        tensors.append(key_bias[..., None])  # batch shape first
    return broadcast_batch_shape(*tensors)


def flatten_batch(z: Tensor, batch_shape: tuple[int, ...]) -> Tensor:
    """z (..., a, b) broadcast to (*batch_shape, a, b) and flattened to (B, a, b) (a view where
    the layout allows)."""
    return z.expand(*batch_shape, *z.shape[-2:]).reshape(-1, *z.shape[-2:])
