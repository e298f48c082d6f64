"""What the attention kernels' dispatch reads from its inputs (queries, keys, values and an
optional key bias): whether they can go to one kernel together, and whether a derivative is
tracked through them."""

from __future__ import annotations

import torch
from torch import Tensor


def _present(*tensors: Tensor | None) -> tuple[Tensor, ...]:
    """The given tensors, without the Nones (an absent key bias)."""
    return tuple(t for t in tensors if t is not None)


def one_kernel_call(q: Tensor, k: Tensor, v: Tensor, key_bias: Tensor | None) -> bool:
    """Whether q, k, v share q's dtype and device, and the key bias (if any) q's device: what a
    single kernel call needs (a bias of another floating dtype is converted to q's)."""
    same_dtype = k.dtype == q.dtype and v.dtype == q.dtype
    return same_dtype and all(t.device == q.device for t in _present(k, v, key_bias))


def derivative_tracked(*tensors: Tensor | None) -> bool:
    """Whether autograd records an operation on these tensors (grad mode on and one of them
    requires grad)."""
    return torch.is_grad_enabled() and any(t.requires_grad for t in _present(*tensors))
