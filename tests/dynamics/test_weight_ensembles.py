"""Random weight ensembles: their stated laws (moments, symmetry), value scaling, seeding."""

from __future__ import annotations

import math

import pytest
import torch

import dynamics

DRAWS = 4000


def draws(d: int, query_key: str, value: str = "identity", seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return dynamics.sample_weights(
        d, query_key, value, batch_shape=(DRAWS,), generator=generator, dtype=torch.float64
    )


@pytest.mark.parametrize(
    ("query_key", "squared_frobenius"),
    [("gaussian", lambda d: d * d), ("wigner", lambda d: d * d), ("goe", lambda d: d * (d + 1))],
)
def test_interaction_has_the_stated_frobenius_norm(query_key, squared_frobenius):
    """E|A|_F^2 as stated; 4000 draws put the mean within a few percent (4 sigma)."""
    d = 5
    norms = draws(d, query_key)[:, 0].square().sum((-1, -2))
    sigma = float(norms.std()) / math.sqrt(DRAWS)
    assert float(norms.mean()) == pytest.approx(squared_frobenius(d), abs=4 * sigma)


def test_gaussian_logits_have_unit_variance_for_unit_vectors():
    """<Qx, Ky> = x^T A y has mean 0 and variance |x|^2 |y|^2 = 1."""
    d = 6
    a = draws(d, "gaussian")[:, 0]
    x = torch.zeros(d, dtype=torch.float64)
    x[0] = 1.0
    y = torch.full((d,), d**-0.5, dtype=torch.float64)
    logits = x @ a @ y
    assert float(logits.mean()) == pytest.approx(0.0, abs=4 / math.sqrt(DRAWS))
    # The variance of a sample variance of near-Gaussian data is about 2 / DRAWS.
    assert float(logits.var()) == pytest.approx(1.0, abs=4 * math.sqrt(2 / DRAWS))


def test_wigner_and_goe_are_symmetric_with_their_diagonal_variances():
    d = 4
    for query_key, diagonal in (("wigner", 1.0), ("goe", 2.0)):
        a = draws(d, query_key)[:, 0]
        assert torch.equal(a, a.transpose(-1, -2))
        tolerance = 4 * math.sqrt(2 / DRAWS) * 2
        assert float(a.diagonal(0, -2, -1).var()) == pytest.approx(diagonal, abs=tolerance)
        assert float(a[:, 0, 1].var()) == pytest.approx(1.0, abs=tolerance)


@pytest.mark.parametrize(
    ("query_key", "c"),
    [("identity", 1.0), ("gaussian", 5**0.5), ("wigner", 5**0.5), ("goe", 6**0.5)],
)
def test_values_are_scaled_to_the_identity_frobenius_norm(query_key, c):
    """E|V|_F^2 = d; V = +-A^T / c, c^2 = E|A|_F^2 / d, for plus_ktq and minus_ktq."""
    d = 5
    for value in ("gaussian", "plus_ktq"):
        v = draws(d, query_key, value)[:, 1]
        norms = v.square().sum((-1, -2))
        sigma = float(norms.std()) / math.sqrt(DRAWS) + 1e-12
        assert float(norms.mean()) == pytest.approx(d, abs=4 * sigma)
    plus, minus = draws(d, query_key, "plus_ktq"), draws(d, query_key, "minus_ktq")
    assert torch.equal(plus[:, 0], minus[:, 0])  # the same draws of A
    assert torch.equal(plus[:, 1], -minus[:, 1])
    torch.testing.assert_close(plus[:, 1] * c, plus[:, 0].transpose(-1, -2), rtol=1e-14, atol=0)


def test_identity_draws_nothing_and_seeds_reproduce():
    generator = torch.Generator().manual_seed(3)
    state = generator.get_state()
    w = dynamics.sample_weights(3, batch_shape=(2,), generator=generator)
    assert torch.equal(generator.get_state(), state)
    assert torch.equal(w, torch.eye(3).expand(2, 2, 3, 3))
    assert torch.equal(draws(3, "goe", "gaussian", seed=7), draws(3, "goe", "gaussian", seed=7))
    assert not torch.equal(draws(3, "goe", seed=7), draws(3, "goe", seed=8))
    w32 = dynamics.sample_weights(3, "wigner", dtype=torch.float32)
    assert w32.dtype == torch.float32 and w32.shape == (2, 3, 3)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"query_key": "gauss"}, "query_key"),
        ({"value": "minus"}, "value"),
        ({"batch_shape": (-1,)}, "batch_shape"),
        ({"dtype": torch.int64}, "dtype"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, fragment):
    with pytest.raises((TypeError, ValueError), match=fragment):
        dynamics.sample_weights(3, **kwargs)
