"""Energies and cluster counts against their definitions and the energy identities."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

import dynamics
from dynamics import (
    SelfAttention,
    cluster_count,
    cluster_labels,
    interaction_energy,
    log_interaction_energy,
    min_pairwise_cosine,
    pairwise_cosines,
    uniform_sphere,
)
from solvers import integrate
from tests.reference import F64


def test_energy_matches_its_definition(generator):
    x = uniform_sphere(30, 4, batch_shape=(3,), generator=generator, dtype=F64)
    beta, n = 2.5, 30
    dense = torch.exp(beta * x @ x.transpose(-1, -2)).sum((-1, -2)) / (2 * beta * n * n)
    torch.testing.assert_close(interaction_energy(x, beta), dense, rtol=1e-13, atol=0)


def test_log_energy_is_exact_where_the_energy_overflows(generator):
    x = uniform_sphere(40, 3, generator=generator, dtype=F64)
    beta = 1e3
    single = log_interaction_energy(x.float(), beta)
    assert torch.isfinite(single)
    torch.testing.assert_close(single.double(), log_interaction_energy(x, beta), rtol=1e-6, atol=0)
    with pytest.raises(ValueError, match=r"beta=1000.*log-space"):
        interaction_energy(x.float(), beta)
    with warnings.catch_warnings(), pytest.raises(ValueError, match=r"smaller beta or the log"):
        warnings.simplefilter("error")  # no warning about a tensor that requires grad
        interaction_energy(x.clone().requires_grad_(), beta)


def test_energy_needs_positive_beta(generator):
    x = uniform_sphere(4, 3, generator=generator)
    with pytest.raises(ValueError, match=r"beta=0.0 must be > 0"):
        interaction_energy(x, 0.0)


@pytest.mark.parametrize("normalization", ["softmax", "uniform"])
@pytest.mark.parametrize("beta", [0.5, 4.0])
def test_energy_rate_identity(normalization, beta, generator):
    """USA: dE/dt = (1/n) sum_i |x_i'|^2.  SA: dE/dt = (1/n) sum_i Zbar_i |x_i'|^2,
    Zbar_i = (1/n) sum_j e^{beta <x_i, x_j>}; dE/dt is the directional derivative along x'."""
    n = 25
    x = uniform_sphere(n, 3, generator=generator, dtype=F64)
    velocity = SelfAttention(3, beta=beta, normalization=normalization)(0.0, x)
    x = x.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(interaction_energy(x, beta), x)
    rate = (gradient * velocity).sum()
    speed2 = velocity.pow(2).sum(-1)
    if normalization == "softmax":
        speed2 = speed2 * torch.exp(beta * x @ x.T).mean(-1)
    torch.testing.assert_close(rate, speed2.mean(), rtol=1e-12, atol=0)
    assert rate > 0


@pytest.mark.parametrize("normalization", ["softmax", "uniform"])
def test_energy_never_decreases_along_the_flow(normalization, generator):
    x0 = uniform_sphere(32, 3, batch_shape=(4,), generator=generator, dtype=F64)
    beta = 3.0
    t = torch.linspace(0.0, 4.0, 101, dtype=F64)
    xs = integrate(
        SelfAttention(3, beta=beta, normalization=normalization), x0, t, rtol=1e-8, atol=1e-10
    )
    energy = log_interaction_energy(xs, beta)
    assert (energy[1:] - energy[:-1]).min() > -1e-10
    assert (energy[-1] - energy[0]).min() > 0.1  # it actually moved


def test_pairwise_cosines_are_a_gram_of_directions(generator):
    x = 3.0 * uniform_sphere(10, 5, generator=generator, dtype=F64)
    cosines = pairwise_cosines(x)
    torch.testing.assert_close(cosines.diagonal(), torch.ones(10, dtype=F64))
    torch.testing.assert_close(cosines, cosines.T)
    assert min_pairwise_cosine(x) == cosines.min()


def groups(k: int, per_group: int, spread: float, generator: torch.Generator) -> torch.Tensor:
    """k tight groups around the vertices of a cross-polytope (pairwise angle >= 90 degrees)."""
    centres = torch.cat([torch.eye(3), -torch.eye(3)])[:k].to(F64)
    noise = spread * torch.randn(k, per_group, 3, generator=generator, dtype=F64)
    return torch.nn.functional.normalize(centres[:, None] + noise, dim=-1).reshape(-1, 3)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_cluster_count_finds_separated_groups(k, generator):
    x = groups(k, 7, 1e-3, generator)
    assert cluster_count(x, tol=1e-2) == k
    labels = cluster_labels(x, tol=1e-2)
    assert labels.tolist() == [7 * (i // 7) for i in range(7 * k)]  # smallest index per group


def test_cluster_rule_is_single_linkage():
    angles = torch.linspace(0.0, 1.0, 21, dtype=F64)  # neighbours 0.05 rad apart, ends 1 rad apart
    arc = torch.stack([torch.cos(angles), torch.sin(angles)], dim=-1)
    assert cluster_count(arc, tol=1 - math.cos(0.06)) == 1
    assert cluster_count(arc, tol=1 - math.cos(0.04)) == 21


def test_cluster_count_is_batched(generator):
    x = torch.stack([groups(2, 5, 1e-3, generator), groups(3, 5, 1e-3, generator)[:10]])
    assert cluster_count(x).tolist() == [2, 2]
    x = torch.stack([groups(1, 6, 1e-3, generator), groups(3, 2, 1e-3, generator)])
    assert cluster_count(x).tolist() == [1, 3]


def test_cluster_tol_and_collision_cosine_must_be_meaningful(generator):
    """Links need cos > 1 - tol: tol in (0, 2] (beyond 2 it is 2); cosines lie in [-1, 1]."""
    x = uniform_sphere(3, 3, generator=generator)
    with pytest.raises(ValueError, match=r"tol=-1.0 must be > 0"):
        cluster_count(x, tol=-1.0)
    with pytest.raises(ValueError, match=r"tol=3.0 must be <= 2"):
        cluster_count(x, tol=3.0)
    with pytest.raises(ValueError, match=r"cosine=2.0 must be <= 1"):
        dynamics.pair_collision_fraction(x, cosine=2.0)


@pytest.mark.parametrize(
    "observable",
    [
        cluster_labels,
        dynamics.cluster_count,
        dynamics.pairwise_cosines,
        dynamics.min_pairwise_cosine,
        dynamics.pair_collision_fraction,
        dynamics.span_dimension,
        dynamics.largest_cluster_fraction,
        lambda x: dynamics.relative_energy_gap(x, 2.0),
    ],
)
@pytest.mark.parametrize("bad", [0.0, float("nan"), float("inf"), 1e200])
def test_observables_of_directions_refuse_a_token_without_one(bad, observable, generator):
    """A zero token made span_dimension count 1 in R^3, pair_collision_fraction miss its pairs and
    the cosines NaN; a token of norm beyond the dtype (1e200 squared) has no direction either."""
    x = uniform_sphere(5, 3, batch_shape=(2,), generator=generator, dtype=F64)
    x[1, 2] = bad
    with pytest.raises(ValueError, match=r"x token 2 of batch index \(1,\) has no direction"):
        observable(x)


def test_directions_are_the_unit_tokens(generator):
    x = torch.randn(3, 4, 5, generator=generator, dtype=F64)
    unit = dynamics.directions("x", x)
    torch.testing.assert_close(unit * torch.linalg.vector_norm(x, dim=-1, keepdim=True), x)
    torch.testing.assert_close(torch.linalg.vector_norm(unit, dim=-1), torch.ones(3, 4, dtype=F64))


@pytest.mark.parametrize("shape", [(3,), (0, 3), (4, 0), (2, 4, 0)])
def test_a_cloud_needs_a_token_and_a_dimension(shape):
    """check_cloud, which every field and observable reads its tokens through, refuses clouds
    with no token or no coordinate (d = 0 made every observable an empty or vacuous number)."""
    with pytest.raises(
        ValueError, match=r"x must have shape \(\.\.\., n, d\) with n >= 1 and d >= 1"
    ):
        dynamics.check_cloud("x", torch.zeros(shape))
    with pytest.raises(ValueError, match=r"n >= 1 and d >= 1"):
        dynamics.min_pairwise_cosine(torch.zeros(shape))
