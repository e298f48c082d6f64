"""The layers scenario end to end: files, metrics, orders, and refused configs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dynamics
from scenarios import layers
from scenarios.harness.runner import run_scenario
from scenarios.layers import LAYER_RULES, VARIANTS, LayersConfig, fitted_order
from tests.scenarios.helpers import (
    assert_metrics_written,
    assert_refused,
    assert_run_files,
)

TINY = {"n": 6, "d": 4, "hidden": 8, "T": 1.0, "depths": (8, 16, 32), "fit_from": 8}
"""A tiny run: 6 tokens in R^4 / on S^3, a block of width 4, 8 to 32 layers on [0, 1]."""

STEMS = ("errors", "clusters")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    config = LayersConfig(**TINY)
    metrics = run_scenario("layers", config, root / "layers")
    return root / "layers", config, metrics


def test_run_writes_metrics_config_and_figures(tiny_run):
    out, config, metrics = tiny_run
    assert_run_files(out, metrics, STEMS)
    assert_metrics_written(out, config, metrics)
    assert len(layers.summary_lines(metrics)) == sum(1 + len(r) for r in LAYER_RULES.values())


def test_fitted_orders_are_the_methods_orders(tiny_run):
    """Even on three depths the observed order of every rule is within 0.2 of its order
    (measured on this config: 0.93 to 1.05 for the order-1 rules, 2.00 to 2.03 for Strang)."""
    _, config, metrics = tiny_run
    for variant in VARIANTS:
        entry = metrics[variant]
        assert set(entry["layers"]) == set(LAYER_RULES[variant])
        assert 1 <= entry["flow_cluster_count"] <= config.n
        for found in entry["layers"].values():
            for name, order in found["fitted_order"].items():
                assert order == pytest.approx(found["expected_order"], abs=0.2), name
            assert all(1 <= count <= config.n for count in found["cluster_counts"])
            assert len(found["distances"]["w2"]) == len(config.depths)


def test_w2_is_at_most_the_token_error(tiny_run):
    """W2 minimises over couplings, the identity coupling among them, so W2 <= RMS_i |X_i - x_i|
    <= max_i |X_i - x_i|."""
    _, _, metrics = tiny_run
    for variant in VARIANTS:
        for found in metrics[variant]["layers"].values():
            w2, worst = (np.array(found["distances"][name]) for name in ("w2", "max_token"))
            assert (w2 <= worst * (1 + 1e-9)).all()


def test_the_block_and_cloud_are_reproducible_from_the_seed():
    config = LayersConfig(**TINY)
    first, second = (layers.make_block(config, "euclidean") for _ in range(2))
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(layers.initial_cloud(config), layers.initial_cloud(config))
    assert dynamics.cluster_count(layers.initial_cloud(config)).item() == config.n


def test_fitted_order_is_minus_the_log_log_slope():
    depths = (4, 8, 16, 32)
    errors = 3.0 * np.array(depths, dtype=float) ** -1.5
    assert fitted_order(depths, errors, 8) == pytest.approx(1.5, abs=1e-12)
    assert fitted_order(depths, np.array([1.0, 0.5, 0.0, 0.0]), 8) is None


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        (["heads=3"], "heads"),
        (["depths=8,4"], "depths"),
        (["fit_from=2048"], "fit_from"),
        (["activation=swish"], "activation"),
        (["T=0"], "T"),
    ],
)
def test_impossible_values_are_refused_and_nothing_written(tmp_path, capsys, setting, name):
    assert_refused("layers", setting, name, tmp_path, capsys)
