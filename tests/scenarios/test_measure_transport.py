"""The measure_transport scenario: the loss's gradient against finite differences, the pairs'
closed forms, the context-free baseline, and a tiny run end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from scenarios import measure_transport
from scenarios.harness.runner import run_scenario
from scenarios.measure_transport import (
    MeasureTransportConfig,
    centres,
    sample_pairs,
    spread,
    transport_loss,
)
from tests.reference import F64
from tests.scenarios.helpers import assert_metrics_written, assert_refused, assert_run_files

pytestmark = pytest.mark.filterwarnings("ignore:There is a performance drop:UserWarning")

TINY = {
    "pairs": 2, "n": 16, "eval_n": 16, "pieces": 2, "hidden": 8, "train_steps": 3,
    "sweep_steps": 2, "sweep_pairs": (1, 2), "sweep_pieces": (1, 2), "compare_iterations": (1, 2),
}  # fmt: skip
"""A tiny run: 2 pairs of 16 points, 2 pieces, a few optimiser steps per run."""

STEMS = ("paths", "training", "sweeps")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "measure_transport"
    config = MeasureTransportConfig(**TINY)
    return out, config, run_scenario("measure_transport", config, out)


def test_run_writes_metrics_config_and_figures(tiny_run):
    out, config, metrics = tiny_run
    assert_run_files(out, metrics, STEMS)
    assert_metrics_written(out, config, metrics)
    assert len(measure_transport.summary_lines(metrics)) == 5
    for kind in ("attention", "mlp"):
        assert len(metrics["main"][kind]["w2_per_pair"]) == config.pairs
    assert metrics["w2_against_pairs"]["pairs"] == [1, 2]
    assert len(metrics["w2_against_pieces"]["attention_mean"]) == 2
    assert len(metrics["sinkhorn_iterations"]["w2_mean"]) == 2
    assert metrics["spread"] == pytest.approx(spread(config.pairs, config.std))


def test_the_mlp_flow_ignores_the_context_and_attention_does_not(tiny_run):
    """The in-context map of the MLP flow is the same for every context (ratio 0); attention's
    moves with the context."""
    _, _, metrics = tiny_run
    lipschitz = metrics["lipschitz_w1"]
    assert lipschitz["mlp"]["max_queries"] == 0.0
    assert lipschitz["attention"]["max_queries"] > 1e-3
    assert all(ratio > 0 for ratio in lipschitz["attention"]["outputs"])


@pytest.mark.parametrize("loss", ["w2", "sinkhorn"])
def test_loss_gradient_matches_finite_differences(loss, generator):
    """d loss / d X through POT's torch backend against central differences, every coordinate.
    W2^2 is piecewise quadratic in X (locally constant optimal plan), so the differences are
    exact up to rounding; the Sinkhorn divergence runs to a 1e-9 marginal error."""
    pairs, n = (2, 7) if loss == "w2" else (1, 5)  # POT's log-domain Sinkhorn loops in Python
    outputs = torch.randn(pairs, n, 2, generator=generator, dtype=F64)
    targets = torch.randn(pairs, n - 1, 2, generator=generator, dtype=F64)
    reg = 1.0
    point = outputs.clone().requires_grad_()
    (gradient,) = torch.autograd.grad(transport_loss(point, targets, loss, reg).sum(), point)
    h = 1e-6
    numeric = torch.zeros_like(outputs)
    for index in np.ndindex(*outputs.shape):
        step = torch.zeros_like(outputs)
        step[index] = h
        up, down = (transport_loss(outputs + s, targets, loss, reg).sum() for s in (step, -step))
        numeric[index] = (up - down) / (2 * h)
    assert float(gradient.abs().max()) > 0.1
    tolerance = 1e-7 if loss == "w2" else 1e-5
    torch.testing.assert_close(gradient, numeric, rtol=tolerance, atol=tolerance)


def test_w2_loss_is_zero_on_the_target_and_symmetric_in_labels(generator):
    sources, targets = sample_pairs(3, 10, 0.25, generator, F64)
    assert float(transport_loss(targets, targets, "w2", 0.1).abs().max()) < 1e-12
    shuffled = targets[:, torch.randperm(10, generator=generator)]
    torch.testing.assert_close(
        transport_loss(sources, shuffled, "w2", 0.1), transport_loss(sources, targets, "w2", 0.1)
    )


def test_pairs_share_a_component_and_targets_share_none():
    """Every source holds the component at 0; no two target components coincide, so no map that
    ignores the context (T_# mu_k always holds the same half T_# A) pushes every mu_k onto nu_k."""
    source, target = centres(5)
    torch.testing.assert_close(source[:, 0], torch.zeros(5, 2, dtype=F64))
    gaps = torch.cdist(target.reshape(-1, 2), target.reshape(-1, 2))
    assert float(gaps[~torch.eye(10, dtype=torch.bool)].min()) > 0.5


def test_spread_is_the_rms_distance_to_the_mean(generator):
    """sqrt(|c_1 - c_2|^2 / 4 + 2 s^2) against 200000 samples (Monte Carlo error ~ 0.2%)."""
    _, targets = sample_pairs(3, 200_000, 0.25, generator, F64)
    rms = (targets - targets.mean(1, keepdim=True)).pow(2).sum(-1).mean(1).sqrt()
    torch.testing.assert_close(rms, torch.full((3,), spread(3, 0.25), dtype=F64), rtol=1e-2, atol=0)
    assert spread(3, 0.25) == pytest.approx(math.sqrt(10 / 4 + 2 * 0.25**2))


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        (["n=15"], "n"),
        (["loss=kl"], "loss"),
        (["pairs=0"], "pairs"),
        (["sweep_pieces=2,2"], "sweep_pieces"),
    ],
)
def test_impossible_values_are_refused_and_nothing_written(tmp_path, capsys, setting, name):
    assert_refused("measure_transport", setting, name, tmp_path, capsys)


def test_sinkhorn_loss_and_kinetic_penalty_train(tmp_path):
    """The Sinkhorn-divergence loss with the kinetic penalty: the training W2 falls."""
    config = MeasureTransportConfig(
        **{**TINY, "train_steps": 8, "loss": "sinkhorn", "sinkhorn_reg": 1.0, "kinetic": 0.1,
           "figures": False, "sweep_pairs": (1,), "sweep_pieces": (1,), "compare_iterations": (1,)}
    )  # fmt: skip
    key = ("attention", config.pairs, config.pieces, 1)
    _, run = measure_transport.train_run(config, key, config.train_steps)
    assert run.history[-3:].mean() < run.history[:3].mean()


@pytest.mark.slow
def test_defaults_meet_the_targets(tmp_path):
    """At the defaults: held-out W2 < 0.05 spread for the attention flow on every pair, > 0.3
    for the MLP flow (about 4 minutes)."""
    metrics = run_scenario(
        "measure_transport", MeasureTransportConfig(figures=False), tmp_path / "out"
    )
    assert all(metrics["targets"].values()), metrics["main"]
