"""The vlasov_map scenario end to end, and the facts it rests on: the random densities' cell
averages, their samples, and the grid solution's characteristics carry rho_0 to rho_T."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import solvers
from scenarios import vlasov_map
from scenarios.harness.runner import run_scenario
from scenarios.vlasov_map import (
    VlasovMapConfig,
    cell_averages,
    characteristics,
    random_mixtures,
    sample_cells,
    w1_to,
)
from tests.scenarios.helpers import assert_metrics_written, assert_refused, assert_run_files

TINY = {
    "T": 0.5,
    "cells": 64,
    "characteristic_step": 0.1,
    "train_densities": 8,
    "test_densities": 2,
    "n": 32,
    "eval_ns": (32, 64),
    "depths": (1, 2),
    "d": 4,
    "heads": 1,
    "hidden": 8,
    "iterations": 40,
    "batch": 4,
}
"""A tiny run: 8 training densities of 32 tokens on 64 cells, depths 1 and 2, 40 Adam steps."""

STEMS = ("w1_vs_depth", "training", "example")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    config = VlasovMapConfig(**TINY)
    metrics = run_scenario("vlasov_map", config, root / "vlasov_map")
    return root / "vlasov_map", config, metrics


def test_run_writes_metrics_config_and_figures(tiny_run):
    out, config, metrics = tiny_run
    assert_run_files(out, metrics, STEMS)
    assert_metrics_written(out, config, metrics)
    assert len(vlasov_map.summary_lines(metrics)) == len(config.depths) + 2


def test_metrics_are_sane(tiny_run):
    """W1 in (0, pi) everywhere, the ratios are W1(rho_0, rho_T) over the model's W1, the
    target is read at the deepest model and the largest n."""
    _, config, metrics = tiny_run
    reference = metrics["w1_initial_final"]
    assert 0 < reference < math.pi
    for n in map(str, config.eval_ns):
        assert 0 < metrics["w1_flow_map"][n] < metrics["w1_identity"][n] < math.pi
    for entry in metrics["depths"].values():
        assert entry["parameters"] > 0
        for n, value in entry["w1_mean"].items():
            assert 0 < value < math.pi
            assert entry["ratio"][n] == pytest.approx(reference / value)
    deepest = metrics["depths"][str(max(config.depths))]
    assert metrics["deepest_w1_at_largest_n"] == deepest["w1_mean"][str(max(config.eval_ns))]
    assert metrics["target_met"] == (10 * metrics["deepest_w1_at_largest_n"] <= reference)


def test_cell_averages_are_the_mixtures_cell_means():
    """Unit mass and agreement with a fine midpoint rule on every cell."""
    mixtures = random_mixtures(3, 2, (1.0, 20.0), torch.Generator().manual_seed(1))
    cells, fine = 32, 400
    rho = cell_averages(mixtures, cells)
    h = 2 * math.pi / cells
    torch.testing.assert_close(rho.sum(-1) * h, torch.ones(3, dtype=torch.float64))
    theta = (torch.arange(cells * fine, dtype=torch.float64) + 0.5) * (h / fine)
    midpoint = mixtures.density(theta.expand(3, -1)).reshape(3, cells, fine).mean(-1)
    torch.testing.assert_close(rho, midpoint, rtol=1e-5, atol=0)


def sampling_bound(rho: torch.Tensor, n: int) -> np.ndarray:
    """J / sqrt(n), J = int sqrt(F (1 - F)) dtheta: E W1(mu_n, rho) on the line is at most this
    (Bobkov and Ledoux), and the circle's W1 is at most the line's."""
    h = 2 * math.pi / rho.shape[-1]
    cdf = torch.cumsum(rho * h, -1)
    return (torch.sqrt((cdf * (1 - cdf)).clamp_min(0)).sum(-1) * h / math.sqrt(n)).numpy()


def test_characteristics_carry_samples_of_rho_0_to_samples_of_rho_T():
    """Samples of rho_0 moved along the characteristics of the grid solution are samples of
    rho_T: W1 to rho_T, averaged over 16 clouds of 2000 tokens, lies below the i.i.d. sampling
    bound of rho_T and above a tenth of it, while the unmoved samples are far from rho_T; the
    samples of rho_0 obey the same bound against rho_0."""
    generator = torch.Generator().manual_seed(2)
    count, n, T, beta = 16, 2000, 1.0, 1.0
    rho0 = cell_averages(random_mixtures(count, 2, (1.0, 8.0), generator), 128)
    rho = solvers.solve_vlasov_circle(rho0, torch.linspace(0, T, 41, dtype=torch.float64), beta)
    theta = sample_cells(rho0, n, generator)
    moved = characteristics(rho, theta, T, beta)
    for cloud, density in ((theta, rho0), (moved, rho[-1])):
        bound = sampling_bound(density, n).mean()
        assert 0.1 * bound < w1_to(cloud, density).mean() < bound
    assert w1_to(theta, rho[-1]).mean() > 5 * sampling_bound(rho[-1], n).mean()


def test_characteristics_refuse_an_even_number_of_snapshots():
    rho = torch.full((4, 1, 16), 1 / (2 * math.pi), dtype=torch.float64)
    with pytest.raises(ValueError, match="2 s \\+ 1"):
        characteristics(rho, torch.zeros(1, 3, dtype=torch.float64), 1.0, 1.0)


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        (["heads=3"], "heads"),
        (["depths=4,2"], "depths"),
        (["kappa_min=9"], "kappa_min"),
        (["batch=1000"], "batch"),
        (["characteristic_step=5"], "characteristic_step"),
        (["beta=0"], "beta"),
    ],
)
def test_impossible_values_are_refused_and_nothing_written(tmp_path, capsys, setting, name):
    assert_refused("vlasov_map", setting, name, tmp_path, capsys)
