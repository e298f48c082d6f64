"""The mean_field scenario end to end, and the facts it relies on: the initial cell averages and
samples are the same law, the power-law fit, the three solvers agreeing on a small problem."""

from __future__ import annotations

import math

import pytest
import torch

import dynamics
from scenarios import mean_field
from scenarios.harness.runner import run_scenario
from scenarios.mean_field import (
    MeanFieldConfig,
    initial_angles,
    initial_cells,
    mixture_density,
)
from tests.scenarios.helpers import (
    assert_metrics_written,
    assert_refused,
    assert_run_files,
)

TINY = {
    "exact_ns": (50, 400),
    "pic_ns": (50, 400, 4000),
    "seeds": 2,
    "cells": 128,
    "T": 1.0,
    "num_times": 3,
    "heatmap_times": 21,
    "paths": 4,
}
"""A tiny run: clouds of 50 and 400 exact particles, up to 4000 PIC particles, 128 cells."""

STEMS = ("density", "w1_vs_n", "w1_vs_time")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    config = MeanFieldConfig(**TINY)
    metrics = run_scenario("mean_field", config, root / "mean_field")
    return root / "mean_field", config, metrics


def test_run_writes_metrics_config_and_figures(tiny_run):
    out, config, metrics = tiny_run
    assert_run_files(out, metrics, STEMS)
    assert_metrics_written(out, config, metrics)
    assert len(mean_field.summary_lines(metrics)) == 3


def test_metrics_are_sane(tiny_run):
    """Mass kept to rounding, rho >= 0, W1 positive and falling with n, and PIC within a small
    fraction of the sampling error of the exact particles moved from the same clouds."""
    _, config, metrics = tiny_run
    assert metrics["times"] == pytest.approx([0.0, 0.5, 1.0])
    assert metrics["grid"]["mass_error"] < 1e-12
    assert metrics["grid"]["min_density"] >= 0
    for method, sizes in (("exact", config.exact_ns), ("pic", config.pic_ns)):
        entry = metrics[method]
        assert entry["n"] == list(sizes)
        final = entry["w1_final_mean"]
        assert all(0 < value < 1 for value in final)
        assert final[-1] < final[0]
        assert -1.5 < entry["slope"] < 0 and -1.5 < entry["slope_at_t0"] < 0
        for run in entry["runs"].values():
            assert len(run["w1_mean"]) == config.num_times and run["seconds"] >= 0
    assert set(metrics["pic_vs_exact_w1"]) == {"50", "400"}
    for n, value in metrics["pic_vs_exact_w1"].items():
        assert value < 0.02 * metrics["exact"]["runs"][n]["w1_mean"][-1]


def test_initial_cells_are_the_cell_averages_of_the_mixture():
    """Unit mass, and agreement with a fine midpoint rule on every cell."""
    config = MeanFieldConfig(cells=64, kappas=(30.0, 2.0))
    cells = initial_cells(config)
    h = 2 * math.pi / config.cells
    assert float(cells.sum() * h) == pytest.approx(1.0, abs=1e-13)
    fine = 400
    theta = (torch.arange(config.cells * fine, dtype=torch.float64) + 0.5) * (h / fine)
    midpoint = mixture_density(config, theta).reshape(config.cells, fine).mean(-1)
    torch.testing.assert_close(cells, midpoint, rtol=1e-5, atol=0)


def test_samples_follow_the_initial_density():
    """E W1(mu_n, rho_0) <= J / sqrt(n), J = int_0^{2 pi} sqrt(F (1 - F)) dtheta (Bobkov and
    Ledoux for the line; the circle's W1 is at most the line's): the mean over 16 clouds of
    n = 5000 samples lies below J / sqrt(n) and above a tenth of it (sampling from another law
    would leave W1 of order one)."""
    config = MeanFieldConfig(seeds=16)
    cells = initial_cells(config)
    h = 2 * math.pi / config.cells
    cdf = torch.cumsum(cells * h, 0)
    bound = float(torch.sqrt(cdf * (1 - cdf)).sum() * h) / math.sqrt(5000)
    angles = initial_angles(config, 5000)
    w1 = dynamics.w1_particles_grid(angles, cells.expand(config.seeds, -1))
    assert 0.1 * bound < float(w1.mean()) < bound


def test_clouds_are_reproducible_and_shared_by_size():
    config = MeanFieldConfig(seeds=2)
    torch.testing.assert_close(initial_angles(config, 30), initial_angles(config, 30))
    assert not torch.equal(initial_angles(config, 30)[..., :20], initial_angles(config, 20))
    other = MeanFieldConfig(seeds=2, seed=1)
    assert not torch.equal(initial_angles(config, 30), initial_angles(other, 30))


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        (["kappas=1"], "kappas"),
        (["weights=0.5,0.6"], "weights"),
        (["exact_ns=100"], "exact_ns"),
        (["pic_ns=10,10"], "pic_ns"),
        (["step_size=0"], "step_size"),
        (["paths=1000"], "paths"),
        (["normalization=sinkhorn"], "normalization"),
        (["cells=8"], "cells"),
        (["beta=0"], "beta"),
    ],
)
def test_impossible_values_are_refused_and_nothing_written(tmp_path, capsys, setting, name):
    assert_refused("mean_field", setting, name, tmp_path, capsys)


@pytest.mark.slow
def test_pic_error_decays_as_one_over_root_n():
    """8 clouds of 10^3 .. 10^5 PIC particles on 1024 cells, t = 0 and t = 1: the fitted exponent
    of W1 against n is -1/2 within 0.15 (the standard error of the fit is about 0.04)."""
    config = MeanFieldConfig(
        exact_ns=(50, 100),
        pic_ns=(1000, 10_000, 100_000),
        seeds=8,
        T=1.0,
        num_times=2,
        heatmap_times=2,
        paths=0,
        figures=False,
    )
    runs = mean_field.simulate(config).runs["pic"]
    for index in (0, -1):
        assert runs.fit(index)[0] == pytest.approx(-0.5, abs=0.15)
