"""The context_consistency scenario end to end, and what it measures with: the mixtures' sampler,
the distances between output measures, and the linear-attention flow against its closure."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from scenarios import context_consistency
from scenarios.context_consistency import (
    MODELS,
    ContextConsistencyConfig,
    convergence,
    linear_outputs,
    mixture_centres,
    rate,
    sample,
)
from scenarios.harness.runner import run_scenario
from tests.scenarios.helpers import assert_metrics_written, assert_refused, assert_run_files

TINY = {
    "n": 16,
    "ns": (32, 64, 128),
    "exact_up_to": 64,
    "projections": 16,
    "test_measures": 2,
    "shared": 8,
    "d": 4,
    "hidden": 8,
    "ode_steps": 2,
    "layers": 2,
    "iterations": 3,
    "batch": 4,
}
"""A tiny run: width 4, three Adam steps, contexts of 16 to 128 tokens."""

STEMS = ("convergence", "training")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    config = ContextConsistencyConfig(**TINY)
    metrics = run_scenario("context_consistency", config, root / "context_consistency")
    return root / "context_consistency", config, metrics


def test_run_writes_metrics_config_and_figures(tiny_run):
    out, config, metrics = tiny_run
    assert_run_files(out, metrics, STEMS)
    assert_metrics_written(out, config, metrics)
    assert len(context_consistency.summary_lines(metrics)) == len(MODELS) + 2


def test_metrics_have_every_size_and_distance(tiny_run):
    """One map gap per size but the largest, one successive W2 per pair, exact W2 only while
    the larger cloud has at most exact_up_to tokens, and the more consistent model named."""
    _, config, metrics = tiny_run
    sizes = [config.n, *config.ns]
    assert metrics["sizes"] == sizes
    for kind in (*MODELS, "linear"):
        entry = metrics[kind]
        assert len(entry["map_gap"]) == len(sizes) - 1
        assert len(entry["sliced_w2_successive"]) == len(sizes) - 1
        assert len(entry["exact_w2_successive"]) == 2  # pairs (16, 32) and (32, 64)
        assert all(value > 0 for value in entry["map_gap"] + entry["exact_w2_successive"])
        assert entry["output_scale"] > 0
    for kind in MODELS:
        assert all(0 <= value <= 1 for value in metrics[kind]["accuracy"])
    assert len(metrics["linear"]["w2_to_closure"]) == len(sizes)
    assert metrics["more_consistent"] in MODELS


def test_the_mixtures_have_their_centres_and_spread():
    """Class c has c + 1 centres equally spaced at the radius; a one-component measure's samples
    have its centre as mean and spread^2 I as covariance (within 5 standard errors)."""
    labels, rotations = torch.tensor([0, 2]), torch.tensor([0.3, 1.0], dtype=torch.float64)
    centres = mixture_centres(labels, rotations, 3, 2.0)
    torch.testing.assert_close(centres.norm(dim=-1), torch.full((2, 3), 2.0, dtype=torch.float64))
    angles = torch.atan2(centres[1, :, 1], centres[1, :, 0])
    gaps = torch.remainder(angles.roll(-1) - angles, 2 * math.pi)
    torch.testing.assert_close(gaps, torch.full((3,), 2 * math.pi / 3, dtype=torch.float64))
    n, spread = 40_000, 0.5
    points = sample(labels, rotations, n, 3, 2.0, spread, torch.Generator().manual_seed(0))[0]
    error = spread / math.sqrt(n)
    torch.testing.assert_close(points.mean(0), centres[0, 0], rtol=0, atol=5 * error)
    covariance = torch.cov(points.T)
    eye = torch.eye(2, dtype=torch.float64)
    torch.testing.assert_close(
        covariance, spread**2 * eye, rtol=0, atol=5 * math.sqrt(2) * spread * error
    )


def test_map_gap_and_successive_distances_of_known_outputs():
    """Outputs shifted by c / sqrt(n): the map gap is |c| (n^{-1/2} - N^{-1/2}), and exact W2
    between successive translates of the same points is the shift between them."""
    config = ContextConsistencyConfig(**TINY)
    points = torch.randn(2, 128, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    shift = torch.tensor([3.0, 4.0, 0.0], dtype=torch.float64)
    sizes = (16, 32, 64, 128)
    outputs = {n: points[:, :16] + shift / math.sqrt(n) for n in sizes}
    found = convergence(config, outputs)
    expected = [5.0 * (n**-0.5 - 128**-0.5) for n in sizes[:-1]]
    np.testing.assert_allclose(found.map_gap, expected, rtol=1e-12)
    steps = [5.0 * (a**-0.5 - b**-0.5) for a, b in itertools.pairwise(sizes)]
    np.testing.assert_allclose(found.exact, steps[: len(found.exact)], rtol=1e-6)
    assert rate([1, 4, 16], np.array([1.0, 0.5, 0.25])) == pytest.approx(-0.5)
    assert rate([1], np.array([1.0])) is None


def test_linear_attention_converges_to_its_gaussian_closure_at_rate_one_half():
    """The linear-attention flow of n Gaussian samples against the exact mean-field Gaussian:
    the Bures W2 falls as n^{-1/2} (fitted over n = 64 .. 16384 on 8 measures, within 0.15)."""
    config = ContextConsistencyConfig(n=64, ns=(256, 1024, 4096, 16384), test_measures=8)
    _, closure = linear_outputs(config, torch.Generator().manual_seed(3))
    assert rate((config.n, *config.ns), closure) == pytest.approx(-0.5, abs=0.15)


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        (["heads=3"], "heads"),
        (["ns=256,128,512"], "ns"),
        (["shared=100"], "shared"),
        (["classes=1"], "classes"),
        (["spread=0"], "spread"),
    ],
)
def test_impossible_values_are_refused_and_nothing_written(tmp_path, capsys, setting, name):
    assert_refused("context_consistency", setting, name, tmp_path, capsys)
