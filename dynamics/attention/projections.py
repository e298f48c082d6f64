"""Query, key and value matrices of the single-head attention fields, checked and registered."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dynamics.checks import check_finite


def register_projections(
    module: nn.Module,
    d: int,
    query: Tensor | None,
    key: Tensor | None,
    value: Tensor | None,
    *,
    dtype: torch.dtype | None = None,
) -> None:
    """Register Q, K (k x d, equal k) and V (d x d) on ``module`` as ``query``, ``key``, ``value``.

    An omitted matrix is the d x d identity (of ``dtype``, torch's default when None). An
    ``nn.Parameter`` is registered as a trained parameter, any other tensor as a fixed buffer.
    Raises TypeError for a non-floating matrix and ValueError for a wrong shape or a NaN/inf entry.
    """
    eye = torch.eye(d, dtype=dtype)
    for name, matrix in (("query", query), ("key", key), ("value", value)):
        matrix = eye if matrix is None else matrix
        if not isinstance(matrix, Tensor) or not matrix.is_floating_point():
            raise TypeError(f"{name} must be a floating torch.Tensor or None, got {matrix!r}")
        rows_ok = matrix.ndim == 2 and (name != "value" or matrix.shape[0] == d)
        if not (rows_ok and matrix.shape[-1] == d):
            expected = f"({d}, {d})" if name == "value" else f"(k, {d})"
            raise ValueError(f"{name} has shape {tuple(matrix.shape)}; expected {expected}")
        check_finite(name, matrix)
        if isinstance(matrix, nn.Parameter):
            module.register_parameter(name, matrix)
        else:
            module.register_buffer(name, matrix)
    if module.query.shape[0] != module.key.shape[0]:
        rows = (module.query.shape[0], module.key.shape[0])
        raise ValueError(f"query has {rows[0]} rows and key has {rows[1]}; they must match")
