"""The inertia of symmetric matrices from a factorisation, without their eigenvalues.

Sylvester's law of inertia: A and S A S^T have as many positive eigenvalues for any invertible S.
The Bunch-Kaufman factorisation A = P L D L^T P^T (LAPACK ``sytrf``, ``torch.linalg.ldl_factor``;
J. R. Bunch, L. Kaufman, "Some stable methods for calculating inertia and solving symmetric
linear systems") has L unit lower triangular and D block diagonal with 1 x 1 and 2 x 2 blocks, so
#{eigenvalues of A > 0} = #{1 x 1 blocks > 0} + #{2 x 2 blocks}: a Bunch-Kaufman 2 x 2 block has a
negative determinant, hence exactly one positive eigenvalue. The factorisation costs m^3 / 3
flops with no iteration, several times less than ``eigvalsh`` at m = 32 on the CPU. On a GPU a
batched ``ldl_factor`` is a loop of one cuSOLVER call per matrix while ``eigvalsh`` is one batched
Jacobi solve (measured on an H200, 2048 matrices 32 x 32 in float64: 1.66 s against 1.65 ms), so
there the count is read off ``eigvalsh``, in batches of ``EIGVALSH_BATCH`` matrices.
"""

from __future__ import annotations

import torch
from torch import Tensor

EIGVALSH_BATCH = 8192
"""Matrices per ``eigvalsh`` call off the CPU: cuSOLVER's batched syev stopped with an internal
error on 65536 matrices of 32 x 32 and on 262144 of 2 x 2 (float64, H200), and ran 16384."""


def positive_eigenvalue_count(matrix: Tensor) -> Tensor:
    """#{k : lambda_k(A) > 0} for symmetric A of shape (..., m, m), shape (...), dtype long.

    Only the lower triangle is read (A is taken symmetric); by the Bunch-Kaufman inertia on the
    CPU, by ``eigvalsh`` on other devices. A zero eigenvalue counts as not
    positive; eigenvalues within rounding of 0 (about eps max |lambda|) may fall either way.
    """
    if not isinstance(matrix, Tensor) or not matrix.is_floating_point():
        raise TypeError(f"matrix must be a floating torch.Tensor, got {type(matrix).__name__}")
    if matrix.ndim < 2 or matrix.shape[-1] != matrix.shape[-2]:
        raise ValueError(f"matrix must have shape (..., m, m) (square), got {tuple(matrix.shape)}")
    if matrix.device.type != "cpu":
        return eigenvalue_sign_count(matrix)
    factors, pivots, _ = torch.linalg.ldl_factor_ex(matrix)
    # LAPACK's lower convention: pivots[k] > 0 marks a 1 x 1 block D_kk; pivots[k] = pivots[k + 1]
    # < 0 a 2 x 2 block on rows k, k + 1. Bunch-Kaufman takes the 2 x 2 block [[a11, l], [l, arr]],
    # |l| = lambda, only when |a11| sigma < alpha lambda^2 and |arr| < alpha sigma (alpha =
    # (1 + sqrt 17) / 8 < 1), so a11 arr < alpha^2 lambda^2 < lambda^2: its determinant is
    # negative, one eigenvalue of each sign. Each 2 x 2 block holds two negative pivots.
    one_by_one = pivots > 0
    positive_ones = (one_by_one & (factors.diagonal(0, -2, -1) > 0)).sum(-1)
    return positive_ones.long() + (~one_by_one).sum(-1) // 2


def eigenvalue_sign_count(matrix: Tensor, batch: int = EIGVALSH_BATCH) -> Tensor:
    """#{k : lambda_k(A) > 0} read off ``eigvalsh`` (lower triangle), ``batch`` matrices per
    call, shape (...), dtype long."""
    flat = matrix.reshape(-1, *matrix.shape[-2:])
    counts = [(torch.linalg.eigvalsh(part) > 0).sum(-1) for part in flat.split(batch)]
    return torch.cat(counts).reshape(matrix.shape[:-2])
