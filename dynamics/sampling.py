"""Initial token clouds."""

from __future__ import annotations

import torch
from torch import Tensor

from dynamics.checks import check_int
from dynamics.sphere import normalize


def uniform_sphere(
    n: int,
    d: int,
    *,
    batch_shape: tuple[int, ...] = (),
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """n i.i.d. points uniform on S^{d-1} (normalized standard Gaussians), shape (*batch, n, d)."""
    n = check_int("n", n, minimum=1)
    d = check_int("d", d, minimum=2)
    gaussian = torch.randn((*batch_shape, n, d), generator=generator, dtype=dtype, device=device)
    return normalize(gaussian)
