"""The relative energy gap 1 - E_beta / E_max: its definition, and accuracy near consensus."""

from __future__ import annotations

import math

import pytest
import torch

import dynamics.observables.energy_gap
from dynamics import interaction_energy, relative_energy_gap, uniform_sphere
from tests.reference import F64


@pytest.mark.parametrize("beta", [0.5, 4.0, 30.0])
def test_gap_is_one_minus_the_normalised_energy(beta, generator):
    x = uniform_sphere(40, 5, batch_shape=(3,), generator=generator, dtype=F64)
    expected = 1 - interaction_energy(x, beta) / (math.exp(beta) / (2 * beta))
    torch.testing.assert_close(relative_energy_gap(x, beta), expected, rtol=1e-12, atol=0)


def test_gap_of_two_nearby_tokens_is_exact_where_the_energy_ratio_rounds_to_one():
    """Two unit tokens at angle theta: gap = (1/2)(1 - e^{-2 beta sin^2(theta / 2)}), about
    beta theta^2 / 4 = 5e-19 at theta = 1e-9, beta = 2, far below float64's 1e-16."""
    theta, beta = 1e-9, 2.0
    x = torch.tensor([[1.0, 0.0], [math.cos(theta), math.sin(theta)]], dtype=F64)
    exact = -0.5 * math.expm1(-2 * beta * math.sin(theta / 2) ** 2)
    assert relative_energy_gap(x, beta).item() == pytest.approx(exact, rel=1e-6)
    naive = 1 - interaction_energy(x, beta).item() / (math.exp(beta) / (2 * beta))
    assert abs(naive - exact) > 0.5 * exact  # the naive ratio keeps no correct digit here


def test_gap_near_consensus_of_a_large_cloud_keeps_its_digits(generator):
    """Tokens within 1e-9 of one point: the gap is ~ (beta/2) mean |x_i - x_j|^2 ~ 1e-18, which
    a matrix-product distance (|x|^2 + |y|^2 - 2<x, y>) would bury under 1e-16 of rounding."""
    centre = torch.tensor([0.0, 0.0, 1.0], dtype=F64)
    offsets = 1e-9 * torch.randn(60, 3, generator=generator, dtype=F64)
    x = (centre + offsets) / torch.linalg.vector_norm(centre + offsets, dim=-1, keepdim=True)
    squared = (x[:, None, :] - x[None, :, :]).pow(2).sum(-1)
    exact = -torch.expm1(-0.5 * 2.0 * squared).mean()
    assert relative_energy_gap(x, 2.0).item() == pytest.approx(exact.item(), rel=1e-9)


def test_blocks_of_rows_give_the_same_gap(generator, monkeypatch):
    x = uniform_sphere(50, 3, batch_shape=(2,), generator=generator, dtype=F64)
    whole = relative_energy_gap(x, 3.0)
    monkeypatch.setattr(
        dynamics.observables.energy_gap, "_BLOCK_ELEMENTS", 2 * 50 * 7
    )  # blocks of 7 rows
    torch.testing.assert_close(relative_energy_gap(x, 3.0), whole, rtol=1e-14, atol=0)


def test_consensus_has_no_gap_and_bad_beta_is_refused():
    x = torch.tensor([[0.6, 0.8]] * 5)
    assert relative_energy_gap(x, 1.0).item() == 0.0
    with pytest.raises(ValueError, match=r"beta=0.0 must be > 0"):
        relative_energy_gap(x, 0.0)
