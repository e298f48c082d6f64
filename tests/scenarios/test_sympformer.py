"""The sympformer scenario end to end: files, metrics, and the facts it must show."""

from __future__ import annotations

import pytest
import torch

from scenarios import sympformer
from scenarios.harness import run_scenario
from scenarios.sympformer import FLOWS, LAYERS, SympformerConfig
from tests.scenarios.helpers import (
    assert_metrics_written,
    assert_refused,
    assert_run_files,
)

TINY = {
    "n": 6,
    "d": 2,
    "systems": 2,
    "T": 2.0,
    "num_times": 21,
    "steps": (0.05, 0.2),
    "max_evaluations": 24,
    "target": 0.5,
}
"""A tiny run: 2 clouds of 6 Gaussian tokens in R^2, flows to T = 2, 24 evaluations per layer."""

STEMS = ("energy", "clusters", "hamiltonian")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    config = SympformerConfig(**TINY)
    metrics = run_scenario("sympformer", config, root / "sympformer")
    return root / "sympformer", config, metrics


def test_run_writes_metrics_config_and_figures(tiny_run):
    out, config, metrics = tiny_run
    assert_run_files(out, metrics, STEMS)
    assert_metrics_written(out, config, metrics)
    assert len(sympformer.summary_lines(metrics)) == len(FLOWS) + len(LAYERS) + 1


def test_metrics_are_sane(tiny_run):
    _, config, metrics = tiny_run
    assert set(metrics["flows"]) == set(FLOWS)
    assert set(metrics["layers"]) == set(LAYERS)
    for entry in metrics["flows"].values():
        assert 0.0 <= entry["final_gap"] < 1.0  # every flow lowers the potential U
        assert 1.0 <= entry["final_mean_cluster_count"] <= config.n
    costs = {"euler": 1, "leapfrog": 1, "tao": 4, "presymplectic_euler": 2}
    for entry in metrics["layers"].values():
        assert entry["evaluations_per_step"] == costs[entry["method"]]
        assert set(entry["by_step"]) == {"0.05", "0.2"}
        cost = entry["best_evaluations_to_target"]
        assert cost is None or 0 < cost <= config.max_evaluations
        if cost is not None:  # a whole number of steps
            assert cost % entry["evaluations_per_step"] == 0
    assert metrics["layers"]["plain"]["speedup_over_plain"] in (1.0, None)
    claim = metrics["claim"]
    assert claim["fewer_evaluations_than_plain"] in (True, False, None)
    assert "oracle calls" in claim["statement"]
    assert metrics["overdamped_check"] < 1e-12


def test_h_never_increases_along_the_damped_hamiltonian_flow(tiny_run):
    _, _, metrics = tiny_run
    ham = metrics["hamiltonian"]
    assert ham["flow_finite"] and ham["flow_non_increasing"]
    assert ham["flow_max_relative_increase"] <= sympformer.H_TOLERANCE
    assert ham["flow_final_H"] < ham["flow_initial_H"] < 0  # starts at rest: H(0) = U(0) < 0


def test_plain_field_is_the_overdamped_limit_and_decreases_u():
    """F(x) = -B grad U / z (B = I), and U never increases along the plain flow."""
    config = SympformerConfig(**TINY)
    problem = sympformer.make_problem(config)
    assert sympformer.overdamped_residual(problem) < 1e-12
    times = sympformer.flow_times(config)
    xs, ps = sympformer.trajectory(config, problem, "plain", times, "dopri5")
    assert ps is None
    gap = sympformer.potential_gap(problem, xs)
    assert gap[0].item() == 1.0
    assert (gap[1:] - gap[:-1]).max().item() <= 1e-12


def test_layer_run_counts_tao_evaluations():
    """A Tao layer costs 4 evaluations: 24 evaluations are 6 steps from t0 (7 states)."""
    config = SympformerConfig(**TINY)
    problem = sympformer.make_problem(config)
    curve, xs, ps = sympformer.layer_run(config, problem, "hamiltonian/tao", 0.05)
    assert curve.axis.tolist() == [0, 4, 8, 12, 16, 20, 24]
    assert xs.shape[0] == ps.shape[0] == 7
    torch.testing.assert_close(ps[0], torch.zeros_like(ps[0]))


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        (["c_log=0"], "c_log"),
        (["steps=0.1,-1"], "steps"),
        (["target=1"], "target"),
        (["max_evaluations=3"], "max_evaluations"),
        (["n=1"], "n"),
        (["scale=0"], "scale"),
        (["cluster_tol=0"], "cluster_tol"),
    ],
)
def test_impossible_values_are_refused_and_nothing_written(tmp_path, capsys, setting, name):
    assert_refused("sympformer", setting, name, tmp_path, capsys)
