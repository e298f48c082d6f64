"""Rényi centers on hand-made clouds, and the parking predictions against closed forms and
sampling."""

from __future__ import annotations

import math

import pytest
import torch

import dynamics
from dynamics import (
    RENYI_PARKING_CONSTANT,
    circle_renyi_center_mean,
    circle_strong_center_mean,
    renyi_centers,
    renyi_parking_mean,
    strong_renyi_centers,
)
from tests.reference import F64


def circle(angles: list[float]) -> torch.Tensor:
    theta = torch.tensor(angles, dtype=F64)
    return torch.stack([theta.cos(), theta.sin()], -1)


def test_centers_on_a_hand_made_line():
    """Points 0, 0.5, 1.2, 0.9, 3, 1.9 on a line with delta = 1: 0 is a center; 0.5 is within 1
    of it; 1.2 is a center (1.2 from 0); 0.9 is within 1 of both; 3 is a center; 1.9 is 1.9 from
    0 and 0.7 from 1.2: not a center. Strong: 0, and 3 (1.1 from every earlier point); 1.2 is a
    center but 0.7 from 0.5, so not strong."""
    x = torch.tensor([0.0, 0.5, 1.2, 0.9, 3.0, 1.9], dtype=F64)[:, None]
    assert renyi_centers(x, 1.0).tolist() == [True, False, True, False, True, False]
    assert strong_renyi_centers(x, 1.0).tolist() == [True, False, False, False, True, False]


def test_centers_on_the_circle_use_the_chord_and_the_order():
    """delta = 2 sin(0.3) is the chord of the arc 0.6: angles 0, 0.59 (inside), 0.61 (outside),
    and then 1.0 (0.39 from the center at 0.61: out), 1.3 (0.69 from it: a center)."""
    x = circle([0.0, 0.59, 0.61, 1.0, 1.3])
    delta = 2 * math.sin(0.3)
    assert renyi_centers(x, delta).tolist() == [True, False, True, False, True]
    assert strong_renyi_centers(x, delta).tolist() == [True, False, False, False, False]
    reversed_order = renyi_centers(x.flip(0), delta).flip(0)
    assert reversed_order.tolist() == [True, False, True, False, True]


def test_centers_are_batched_and_follow_the_device_of_the_input(generator):
    x = dynamics.uniform_sphere(30, 3, batch_shape=(2, 4), generator=generator, dtype=F64)
    found = renyi_centers(x, 0.7)
    assert found.shape == (2, 4, 30) and found.dtype == torch.bool
    assert torch.equal(found[1, 2], renyi_centers(x[1, 2], 0.7))
    strong = strong_renyi_centers(x.float(), 0.7)
    assert not (strong & ~found).any()  # every strong center is a center
    assert found[..., 0].all() and strong[..., 0].all()


@pytest.mark.parametrize(
    ("x", "expected"),
    [(0.5, 0.0), (1.0, 1.0), (1.7, 1.0), (2.5, 1 + 2 * 0.5 / 1.5), (3.0, 2.0)],
)
def test_parking_mean_on_short_segments(x, expected):
    """M = 0 below one car, 1 on [1, 2), and 1 + 2 (x - 2) / (x - 1) on [2, 3]."""
    assert renyi_parking_mean(x) == pytest.approx(expected, abs=1e-9)


def test_parking_mean_grows_like_renyis_constant():
    """M(x) = c x + c - 1 up to an error that decays faster than any power of 1 / x."""
    for x in (12.0, 30.0):
        assert renyi_parking_mean(x) == pytest.approx(
            RENYI_PARKING_CONSTANT * (x + 1) - 1, abs=1e-6
        )


def test_circle_predictions_match_sampled_clouds():
    """Uniform clouds on S^1: mean counts of centers (saturated: n = 1000 tokens for about 4.5
    centers) and strong centers against the predictions, within 4 standard errors."""
    clouds = dynamics.uniform_sphere(
        1000, 2, batch_shape=(64,), generator=torch.Generator().manual_seed(5), dtype=F64
    )
    delta = 1.0
    for found, expected in (
        (renyi_centers(clouds, delta), circle_renyi_center_mean(delta)),
        (strong_renyi_centers(clouds, delta), circle_strong_center_mean(delta, 1000)),
    ):
        counts = found.sum(-1).double()
        error = counts.std() / math.sqrt(len(counts))
        assert abs(counts.mean() - expected) < 4 * error


def test_circle_prediction_tends_to_two_pi_c_over_the_arc():
    arc = 2 * math.asin(0.05 / 2)
    assert circle_renyi_center_mean(0.05) == pytest.approx(
        2 * math.pi * RENYI_PARKING_CONSTANT / arc, rel=1e-6
    )
    assert circle_strong_center_mean(0.05, 10**9) == pytest.approx(math.pi / arc, rel=1e-9)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: renyi_centers(torch.zeros(3, 2), 0.0), ValueError, "delta=0.0"),
        (lambda: renyi_centers([[0.0]], 1.0), TypeError, "x must be a torch.Tensor"),
        (lambda: renyi_parking_mean(-1.0), ValueError, "x=-1.0"),
        (lambda: circle_renyi_center_mean(2.5), ValueError, "delta=2.5"),
        (lambda: circle_strong_center_mean(0.5, 0), ValueError, "n=0"),
    ],
)
def test_bad_input_is_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()
