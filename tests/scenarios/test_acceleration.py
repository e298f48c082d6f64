"""The acceleration scenario end to end: files, metrics, and the facts it must show."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import dynamics
import solvers
from scenarios import acceleration
from scenarios.acceleration import (
    FLOWS,
    LAYERS,
    AccelerationConfig,
    layer_curve,
    linear_problem,
    sphere_problem,
)
from scenarios.harness import figure_style, new_figure, run_scenario
from scenarios.harness.curve_plots import GAP_CEILING, draw_gap
from tests.scenarios.helpers import (
    assert_metrics_written,
    assert_refused,
    assert_run_files,
)

TINY = {
    "n": 6,
    "systems": 2,
    "linear_n": 200,
    "T": 4.0,
    "num_times": 21,
    "steps": (0.5, 1.0),
    "max_evaluations": 16,
}
"""A tiny run: 2 clouds of 6 tokens on S^2, 200 Gaussian tokens in R^2, flows to T = 4."""

STEMS = ("sphere_gap", "sphere_clusters", "linear_gap", "linear_moments", "evaluations")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    config = AccelerationConfig(**TINY)
    metrics = run_scenario("acceleration", config, root / "acceleration")
    return root / "acceleration", config, metrics


def test_run_writes_metrics_config_and_figures(tiny_run):
    out, config, metrics = tiny_run
    assert_run_files(out, metrics, STEMS)
    assert_metrics_written(out, config, metrics)
    lines = acceleration.summary_lines(metrics)
    assert len(lines) == 2 * (len(FLOWS) + len(LAYERS))


def test_metrics_are_sane(tiny_run):
    _, config, metrics = tiny_run
    for problem in ("sphere", "linear"):
        assert set(metrics[problem]["flows"]) == set(FLOWS)
        assert set(metrics[problem]["layers"]) == set(LAYERS)
        for entry in metrics[problem]["flows"].values():
            assert 0.0 <= entry["final_gap"] < 1.0
        for entry in metrics[problem]["layers"].values():
            assert set(entry["by_step"]) == {"0.5", "1"}
            cost = entry["best_evaluations_to_target"]
            assert cost is None or 0 < cost <= config.max_evaluations
        assert metrics[problem]["layers"]["plain"]["speedup_over_plain"] in (1.0, None)
    counts = [entry["final_mean_cluster_count"] for entry in metrics["sphere"]["flows"].values()]
    assert all(1.0 <= count <= config.n for count in counts)


def test_particle_moments_follow_the_moment_ode(tiny_run):
    """The moment ODE is exact for the sample's own moments (solver tolerance), within sampling
    error of the law's moments, and the flow map is linear (residual at rounding level)."""
    _, _, metrics = tiny_run
    moments = metrics["linear"]["moments"]
    assert moments["sampling_bound"] == pytest.approx(4 / math.sqrt(200))
    for kind in FLOWS:
        assert moments[kind]["empirical_deviation"] < 1e-6
        assert moments[kind]["population_deviation"] < moments["sampling_bound"]
        assert moments[kind]["linear_map_residual"] < 1e-10


@pytest.mark.parametrize("make_problem", [sphere_problem, linear_problem])
def test_plain_flows_decrease_their_gap(make_problem):
    """SA on the sphere increases E_beta and x' = -Mx is gradient descent of tr(M^2)/4, so the
    plain flow's relative gap never increases."""
    config = AccelerationConfig(**TINY)
    problem = make_problem(config)
    times = acceleration.flow_times(config)
    xs = acceleration.solve(config, problem.field, problem.x0, times, "dopri5")
    gap = problem.gap(xs)
    assert gap[0].item() == 1.0
    assert (gap[1:] - gap[:-1]).max().item() <= 1e-12
    assert gap[-1].item() < 0.5


def test_layer_curve_counts_evaluations_and_matches_explicit_layers():
    """The plain sphere layer at step h is x <- (x + h f(x)) / |x + h f(x)|, one evaluation each."""
    config = AccelerationConfig(**TINY)
    problem = sphere_problem(config)
    curve = layer_curve(config, problem, "plain", 0.5)
    np.testing.assert_array_equal(curve.axis, np.arange(config.max_evaluations + 1))
    x, gaps = problem.x0, [dynamics.relative_energy_gap(problem.x0, config.beta)]
    for _ in range(config.max_evaluations):
        x = dynamics.normalize(x + 0.5 * problem.field(0.0, x))
        gaps.append(dynamics.relative_energy_gap(x, config.beta))
    expected = torch.stack(gaps).mean(-1) / gaps[0].mean()
    np.testing.assert_allclose(curve.gap, expected.numpy(), rtol=1e-12)
    assert solvers.METHODS["projected_euler"].evaluations == 1


def test_a_diverging_layer_run_is_reported_not_raised():
    """Euler layers of x' = -Mx with a step far beyond stability blow up: the curve is NaN from
    there on, the metrics say diverged, and the JSON stays strict."""
    config = AccelerationConfig(**{**TINY, "steps": (64.0,), "max_evaluations": 60})
    curve = layer_curve(config, linear_problem(config), "plain", 64.0)
    assert curve.diverged
    entry = curve.metrics(config.target)
    assert entry["diverged"] and entry["final_gap"] is None
    json.dumps(entry, allow_nan=False)


def test_a_diverged_curve_is_drawn_up_to_the_ceiling_and_labelled(tmp_path):
    """A gap that climbs to 1e300 and then NaN is drawn up to its last value below the ceiling,
    ends in an x on the ceiling, and the log-scaled figure still saves."""
    gap = np.array([1.0, 0.5, 10.0, 1e200, 1e300, np.nan])
    with figure_style():
        fig = new_figure(3.0, 2.0)
        ax = fig.subplots()
        draw_gap(ax, np.arange(6.0), gap, "layers")
        ax.set_yscale("log")
        ax.legend()
        fig.savefig(tmp_path / "gap.png")
    line, cross = ax.get_lines()
    np.testing.assert_array_equal(line.get_ydata(), [1.0, 0.5, 10.0])
    assert line.get_label() == "layers (diverged)"
    assert (cross.get_xdata()[0], cross.get_ydata()[0]) == (3.0, GAP_CEILING)


def test_a_run_whose_layers_all_diverge_still_draws_its_figures(tmp_path):
    config = AccelerationConfig(**{**TINY, "steps": (16.0,), "max_evaluations": 40})
    metrics = run_scenario("acceleration", config, tmp_path / "acceleration")
    assert metrics["linear"]["layers"]["plain"]["by_step"]["16"]["diverged"]
    assert_run_files(tmp_path / "acceleration", metrics, STEMS)


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        (["normalization=sinkhorn"], "normalization"),
        (["steps=0.5,-1"], "steps"),
        (["target=1"], "target"),
        (["gamma=0"], "gamma"),
        (["linear_n=1"], "linear_n"),
        (["max_evaluations=0"], "max_evaluations"),
    ],
)
def test_impossible_values_are_refused_and_nothing_written(tmp_path, capsys, setting, name):
    assert_refused("acceleration", setting, name, tmp_path, capsys)
