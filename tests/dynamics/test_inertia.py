"""The positive-eigenvalue count from the Bunch-Kaufman factorisation against eigvalsh."""

from __future__ import annotations

import pytest
import torch

import dynamics


def symmetric(shape: tuple[int, ...], generator: torch.Generator, dtype: torch.dtype):
    a = torch.randn(shape, generator=generator, dtype=torch.float64)
    return ((a + a.mT) / 2).to(dtype)


def eigenvalue_count(matrix: torch.Tensor) -> torch.Tensor:
    """The reference: #{eigvalsh > 0}, in float64."""
    return (torch.linalg.eigvalsh(matrix.double()) > 0).sum(-1)


def block_starts(pivots: torch.Tensor) -> torch.Tensor:
    """(matrix, k) of every 2 x 2 block (rows k, k + 1) in LAPACK's lower convention: negative
    pivots come in consecutive pairs, one pair per block."""
    starts = []
    for index, row in enumerate(pivots.reshape(-1, pivots.shape[-1]).tolist()):
        k = 0
        while k < len(row):
            if row[k] < 0:
                assert row[k + 1] == row[k]
                starts.append((index, k))
                k += 1
            k += 1
    return torch.tensor(starts, dtype=torch.long).reshape(-1, 2)


def resolved_signs(matrix: torch.Tensor) -> torch.Tensor:
    """Whether every eigenvalue of each matrix is at least 1e-4 of its largest in modulus (its
    sign is then beyond float32 rounding)."""
    values = torch.linalg.eigvalsh(matrix.double()).abs()
    return values.amin(-1) >= 1e-4 * values.amax(-1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_count_equals_eigvalsh_on_indefinite_matrices_with_two_by_two_pivots(dtype):
    """Random symmetric matrices of every size up to 12, and the same with their diagonal scaled
    by 1e-2 (the off-diagonal entries dominate, so Bunch-Kaufman takes 2 x 2 pivots: checked)."""
    generator = torch.Generator().manual_seed(0)
    two_by_two_blocks = 0
    for m in range(1, 13):
        matrices = symmetric((64, m, m), generator, dtype)
        weak_diagonal = matrices.clone()
        weak_diagonal.diagonal(0, -2, -1).mul_(1e-2)
        for batch in (matrices, weak_diagonal):
            counts = dynamics.positive_eigenvalue_count(batch)
            assert counts.dtype == torch.long and counts.shape == (64,)
            resolved = resolved_signs(batch)  # no eigenvalue within 1e-4 |A| of 0
            assert resolved.sum() >= 56
            assert torch.equal(counts[resolved], eigenvalue_count(batch)[resolved])
            factors, pivots, _ = torch.linalg.ldl_factor_ex(batch)
            blocks = block_starts(pivots)
            a11, a22 = (
                factors[blocks[:, 0], blocks[:, 1], blocks[:, 1]],
                factors[blocks[:, 0], blocks[:, 1] + 1, blocks[:, 1] + 1],
            )
            a21 = factors[blocks[:, 0], blocks[:, 1] + 1, blocks[:, 1]]
            assert bool((a11 * a22 - a21 * a21 < 0).all())  # one eigenvalue of each sign
            two_by_two_blocks += len(blocks)
    assert two_by_two_blocks > 1000  # the 2 x 2 path is exercised


def test_count_is_batched_over_leading_dimensions():
    generator = torch.Generator().manual_seed(1)
    matrices = symmetric((3, 5, 7, 7), generator, torch.float64)
    counts = dynamics.positive_eigenvalue_count(matrices)
    assert counts.shape == (3, 5)
    assert torch.equal(counts, eigenvalue_count(matrices))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_count_on_singular_matrices(dtype):
    """Exactly singular: zero rows and columns, the all-ones matrix J (eigenvalues m, 0, ...)
    and -J; rank-deficient Q diag(lambda) Q^T shifted by +-1e-3, which moves every zero
    eigenvalue to +-1e-3 and keeps the others' signs."""
    generator = torch.Generator().manual_seed(2)
    m = 9
    padded = torch.zeros(m, m, dtype=dtype)
    inner = symmetric((5, 5), generator, dtype)
    padded[1::2, 1::2] = inner[:4, :4]  # zero rows and columns 0, 2, 4, 6, 8
    assert int(dynamics.positive_eigenvalue_count(padded)) == int(eigenvalue_count(inner[:4, :4]))
    ones = torch.ones(m, m, dtype=dtype)
    assert int(dynamics.positive_eigenvalue_count(ones)) == 1
    assert int(dynamics.positive_eigenvalue_count(-ones)) == 0
    assert int(dynamics.positive_eigenvalue_count(torch.zeros(m, m, dtype=dtype))) == 0
    for rank in range(m + 1):
        basis = torch.linalg.qr(torch.randn(32, m, m, generator=generator, dtype=torch.float64))[0]
        values = torch.zeros(32, m, dtype=torch.float64)
        values[:, :rank] = torch.randn(32, rank, generator=generator, dtype=torch.float64)
        values[:, :rank] += values[:, :rank].sign()  # |lambda| >= 1 off the kernel
        singular = basis @ torch.diag_embed(values) @ basis.mT
        positive = (values > 0).sum(-1)
        eye = torch.eye(m, dtype=torch.float64)
        for shift, kernel in ((1e-3, m - rank), (-1e-3, 0)):
            counts = dynamics.positive_eigenvalue_count((singular + shift * eye).to(dtype))
            assert torch.equal(counts, positive + kernel)


def test_count_refuses_what_is_not_a_square_floating_matrix():
    with pytest.raises(TypeError, match=r"matrix must be a floating torch\.Tensor"):
        dynamics.positive_eigenvalue_count(torch.eye(3, dtype=torch.long))
    with pytest.raises(TypeError, match="list"):
        dynamics.positive_eigenvalue_count([[1.0]])
    with pytest.raises(ValueError, match=r"square.*\(2, 3\)"):
        dynamics.positive_eigenvalue_count(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"\(3,\)"):
        dynamics.positive_eigenvalue_count(torch.zeros(3))


def test_eigenvalue_sign_count_in_batches_equals_the_factorisation_count():
    """The GPU path (eigvalsh in batches, here of 7 matrices) against the CPU's inertia, on
    matrices whose eigenvalues are at least 1e-4 of the largest from 0."""
    generator = torch.Generator().manual_seed(5)
    matrices = symmetric((2, 30, 9, 9), generator, torch.float64)
    counts = dynamics.eigenvalue_sign_count(matrices, batch=7)
    assert counts.shape == (2, 30) and counts.dtype == torch.long
    resolved = resolved_signs(matrices)
    assert resolved.sum() >= 50
    assert torch.equal(counts[resolved], dynamics.positive_eigenvalue_count(matrices)[resolved])
