"""Sinkhorn attention with a fixed number of iterations: 1 is softmax, many reach the converged
scaling at Sinkhorn's linear rate, every iterate depends on the measure only."""

from __future__ import annotations

import pytest
import torch

from dynamics import SelfAttention, sinkhorn_attention, sinkhorn_matrix, uniform_sphere
from tests.reference import F64

pytestmark = pytest.mark.filterwarnings("ignore:There is a performance drop:UserWarning")


def random_masses(n: int, generator: torch.Generator) -> torch.Tensor:
    masses = torch.rand(n, generator=generator, dtype=F64) + 0.1
    return masses / masses.sum()


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("manifold", ["sphere", "euclidean"])
def test_one_iteration_is_softmax_attention(weighted, manifold, generator):
    d, n = 4, 17
    x = uniform_sphere(n, d, batch_shape=(2,), generator=generator, dtype=F64)
    query, key, value = (torch.randn(2, d, d, generator=generator, dtype=F64) for _ in range(3))
    masses = random_masses(n, generator) if weighted else None
    options = {"beta": 3.0, "query": query, "key": key, "value": value, "heads": 2}
    one = SelfAttention(
        d, normalization="sinkhorn", sinkhorn_fixed_iters=1, manifold=manifold, **options
    )
    softmax = SelfAttention(d, normalization="softmax", manifold=manifold, **options)
    torch.testing.assert_close(
        one(0.0, x, masses=masses), softmax(0.0, x, masses=masses), rtol=1e-13, atol=1e-14
    )


def test_one_iteration_matrix_is_the_row_softmax(generator):
    q, k = (torch.randn(9, 3, generator=generator, dtype=F64) for _ in range(2))
    log_masses = torch.log(random_masses(9, generator))
    p = sinkhorn_matrix(q, k, scale=2.0, log_marginals=log_masses, fixed_iters=1)
    expected = log_masses.exp()[:, None] * torch.softmax(2.0 * q @ k.T + log_masses, -1)
    torch.testing.assert_close(p, expected, rtol=1e-13, atol=1e-15)


def test_iterations_converge_linearly_to_the_converged_scaling(generator):
    """|P_k - P| falls geometrically with k (Sinkhorn's linear rate): each doubling of k at least
    squares the error's ratio to the first one, down to 1e-10 at k = 64."""
    q, k = (uniform_sphere(30, 3, generator=generator, dtype=F64) for _ in range(2))
    v = torch.randn(30, 2, generator=generator, dtype=F64)
    converged = sinkhorn_attention(q, k, v, scale=4.0, tol=1e-14)
    iterations = [1, 2, 4, 8, 16, 32, 64]
    errors = torch.stack(
        [
            (sinkhorn_attention(q, k, v, scale=4.0, fixed_iters=it) - converged).abs().max()
            for it in iterations
        ]
    )
    assert bool((errors.diff() < 0).all()), errors
    assert float(errors[0]) > 1e-2  # softmax is far from doubly stochastic here
    assert float(errors[-1]) < 1e-10
    ratios = errors / errors[0]
    assert bool((ratios[2:] <= ratios[1:-1] ** 2 * 1.01).all()), ratios  # geometric in k


def test_rows_exact_columns_approach_their_marginals(generator):
    q, k = (uniform_sphere(25, 3, generator=generator, dtype=F64) for _ in range(2))
    column_errors = []
    for it in (1, 3, 9, 27):
        p = sinkhorn_matrix(q, k, scale=4.0, fixed_iters=it)
        torch.testing.assert_close(p.sum(-1), torch.ones(25, dtype=F64), rtol=0, atol=1e-13)
        column_errors.append(float((p.sum(-2) - 1).abs().max()))
    assert column_errors == sorted(column_errors, reverse=True), column_errors
    assert column_errors[0] > 0.1 and column_errors[-1] < 1e-6


@pytest.mark.parametrize("iterations", [1, 2, 5])
def test_every_iterate_depends_on_the_measure_only(iterations, generator):
    """Token 0 split into two coincident copies sharing its mass: the same field."""
    d, n = 3, 10
    x = uniform_sphere(n, d, generator=generator, dtype=F64)
    masses = random_masses(n, generator)
    field = SelfAttention(
        d, beta=3.0, normalization="sinkhorn", sinkhorn_fixed_iters=iterations,
        query=torch.randn(d, d, generator=generator, dtype=F64),
    )  # fmt: skip
    split = torch.cat([x[:1], x])
    split_masses = torch.cat([masses[:1] / 2, masses[:1] / 2, masses[1:]])
    torch.testing.assert_close(
        field(0.0, split, masses=split_masses)[1:], field(0.0, x, masses=masses),
        rtol=1e-12, atol=1e-13,
    )  # fmt: skip


def test_gradient_through_fixed_iterations(generator):
    q, k, v = (torch.randn(6, 2, generator=generator, dtype=F64) for _ in range(3))
    inputs = tuple(z.requires_grad_() for z in (q, k, v))
    assert torch.autograd.gradcheck(
        lambda a, b, c: sinkhorn_attention(a, b, c, scale=1.5, fixed_iters=3), inputs
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sinkhorn_fixed_iters": 0}, ValueError, "sinkhorn_fixed_iters=0 must be >= 1"),
        ({"sinkhorn_fixed_iters": 2.5}, TypeError, "sinkhorn_fixed_iters"),
        (
            {"sinkhorn_fixed_iters": 3, "sinkhorn_tol": 1e-6},
            ValueError,
            "sinkhorn_fixed_iters=3 runs a fixed number of iterations without a tolerance",
        ),
    ],
)
def test_bad_fixed_iterations_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        SelfAttention(3, normalization="sinkhorn", **kwargs)
