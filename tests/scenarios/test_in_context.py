"""The in-context scenario end to end: files, metrics, and the least-squares facts it must show."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scenarios import in_context
from scenarios.harness import run_scenario
from scenarios.in_context import (
    FLOW_METHODS,
    LAYER_METHODS,
    InContextConfig,
    closed_form_predictions,
    flow_predictions,
    layer_curve,
    make_tasks,
)
from tests.scenarios.helpers import (
    assert_metrics_written,
    assert_refused,
    assert_run_files,
)

TINY = {
    "d": 2,
    "n_context": 6,
    "n_queries": 3,
    "tasks": 4,
    "max_layers": 12,
    "num_times": 25,
    "rtol": 1e-8,
    "atol": 1e-10,
}
"""A tiny run: 4 two-dimensional tasks with 6 context points, 12 layers, flows to T = 12."""

STEMS = ("layers", "flow")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    config = InContextConfig(**TINY)
    metrics = run_scenario("in_context", config, root / "in_context")
    return root / "in_context", config, metrics


def test_run_writes_metrics_config_and_figures(tiny_run):
    out, config, metrics = tiny_run
    assert_run_files(out, metrics, STEMS)
    assert_metrics_written(out, config, metrics)


def test_metrics_are_sane(tiny_run):
    _, config, metrics = tiny_run
    assert metrics["resolved"]["T"] == config.max_layers * config.step
    assert set(metrics["layers"]) == set(LAYER_METHODS)
    assert set(metrics["flows"]) == set(FLOW_METHODS)
    for kind, limit in (("layers", config.max_layers), ("flows", metrics["resolved"]["T"])):
        for entry in metrics[kind].values():
            assert 0.0 <= entry["final_relative_error"] < 1.0
            first = entry["first_below_target"]
            assert first is None or 0 < first <= limit
    assert isinstance(metrics["layers"]["gd"]["first_below_target"], int | None)
    assert metrics["ols_layer_error"] < 1e-10
    assert metrics["flow_closed_form_deviation"] < 1e-6
    lines = in_context.summary_lines(metrics)
    assert len(lines) == len(LAYER_METHODS) + len(FLOW_METHODS) + 1


def test_flow_matches_the_closed_form():
    config = InContextConfig(tasks=8, max_layers=16, num_times=33)
    tasks = make_tasks(config)
    flow = flow_predictions(config, tasks, "gradient_flow")
    closed = closed_form_predictions(config, tasks)
    assert flow.shape == closed.shape == (33, 8, config.n_queries)
    assert float((flow - closed).abs().max()) < 1e-6


def test_euler_layers_are_explicit_gradient_descent():
    config = InContextConfig(tasks=8, max_layers=20, eta=0.3, step=1.5)
    tasks = make_tasks(config)
    curve = layer_curve(config, tasks, "gd")
    x, y, xq = tasks.x_context, tasks.y_context[..., None], tasks.x_query
    w = torch.zeros(config.tasks, config.d, 1, dtype=torch.float64)
    errors = [1.0]
    baseline = tasks.ols.pow(2).mean()
    for _ in range(config.max_layers):
        gradient = x.transpose(-1, -2) @ (x @ w - y) / config.n_context
        w = w - config.eta * config.step * gradient
        errors.append(float(((xq @ w)[..., 0] - tasks.ols).pow(2).mean() / baseline))
    np.testing.assert_array_equal(curve.axis, np.arange(config.max_layers + 1))
    np.testing.assert_allclose(curve.gap, errors, rtol=1e-8, atol=1e-20)


def test_momentum_layers_need_fewer_layers_than_gradient_descent():
    """On the defaults (condition number ~4): heavy ball (both steppers) and the Nesterov layer
    reach the target in fewer layers than GD (10); Nesterov's r / (t + t0) friction stepped by
    leapfrog does not (17): its vanishing friction suits convex, not strongly convex, losses."""
    config = InContextConfig()
    tasks = make_tasks(config)
    depth = {
        name: layer_curve(config, tasks, name).first_below(config.target) for name in LAYER_METHODS
    }
    assert depth["gd"] is not None
    for name in ("heavy_ball/leapfrog", "heavy_ball/nesterov_layer", "nesterov/nesterov_layer"):
        assert depth[name] is not None and depth[name] < depth["gd"], depth
    assert depth["nesterov/leapfrog"] > depth["gd"], depth


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        (["n_context=3"], "n_context"),
        (["eta=0"], "eta"),
        (["step=-1"], "step"),
        (["T=-2"], "T"),
        (["gamma=-0.5"], "gamma"),
        (["target=1.5"], "target"),
    ],
)
def test_impossible_values_are_refused_and_nothing_written(tmp_path, capsys, setting, name):
    assert_refused("in_context", setting, name, tmp_path, capsys)
