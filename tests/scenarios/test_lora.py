"""The lora scenario end to end: files, metrics, and the facts it relies on."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from scenarios import lora
from scenarios.harness.runner import run_scenario
from scenarios.lora import LoraConfig
from tests.scenarios.helpers import (
    assert_metrics_written,
    assert_refused,
    assert_run_files,
)

TINY = {
    "n": 6,
    "systems": 2,
    "ranks": (2,),
    "eps": (1e-3, 0.3),
    "T": 4.0,
    "num_times": 21,
    "fit_time": 1.0,
}
"""A tiny run: 2 clouds of 6 tokens on S^2, rank 2, two sizes, T = 4 (one rank: the figures'
rows are per rank, and drawing them is most of the run's time)."""

STEMS = ("paths", "deviation", "gronwall", "time_to_deviation", "clusters")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "lora"
    config = LoraConfig(**TINY)
    return out, config, run_scenario("lora", config, out)


@pytest.fixture(scope="module")
def tiny_results() -> lora.Results:
    return lora.simulate(LoraConfig(**{**TINY, "figures": False}))


def test_run_writes_metrics_config_and_figures(tiny_run):
    out, config, metrics = tiny_run
    assert_run_files(out, metrics, STEMS)
    assert_metrics_written(out, config, metrics)
    assert len(lora.summary_lines(metrics)) == 1 + len(config.ranks)


def test_metrics_are_sane(tiny_run):
    _, config, metrics = tiny_run
    fit = metrics["gronwall"]
    assert 0 < fit["L"] < 50 / config.fit_time and fit["C"] > 0
    assert fit["C_envelope"] >= fit["C"] and 0 < fit["fraction_under"] <= 1
    assert fit["holds"] == (fit["fraction_under"] == 1.0)
    for key in ("time_to_deviation", "ari", "final_w2", "never_deviated"):
        assert set(metrics[key]) == {"2"}
        assert all(set(row) == {"0.001", "0.3"} for row in metrics[key].values())
    assert all(-1 <= value <= 1 for value in metrics["ari"]["2"].values())
    time = metrics["time_to_deviation"]["2"]["0.3"]
    assert time is None or 0 < time <= config.T
    assert metrics["final_w2"]["2"]["0.001"] < metrics["final_w2"]["2"]["0.3"]
    counts = metrics["final_cluster_count"]
    assert 1 <= counts["base"] <= config.n
    # between 1e-3 and 0.3 the response is no longer linear, but it still grows with eps
    assert all(slope > 0 for slope in metrics["eps_slope_at_fit_time"].values())


def test_perturbations_have_rank_r_and_relative_size_eps():
    """Every perturbed matrix is I + Delta with rank(Delta) = r and |Delta|_F / |I|_F = eps."""
    config = LoraConfig(**{**TINY, "ranks": (1, 3)})
    weights = lora.perturbed_weights(config, config.eps, torch.Generator().manual_seed(0))
    identity = torch.eye(config.d, dtype=torch.float64)
    for matrices in weights.values():
        assert matrices.shape == (2, 2, config.systems, config.d, config.d)
        delta = matrices - identity
        for i, rank in enumerate(config.ranks):
            # (I + Delta) - I carries rounding errors of I's size: a relative rank tolerance
            assert bool((torch.linalg.matrix_rank(delta[i], rtol=1e-9) == rank).all())
        relative = torch.linalg.matrix_norm(delta) / math.sqrt(config.d)
        expected = torch.tensor(config.eps, dtype=torch.float64)[None, :, None]
        torch.testing.assert_close(relative, expected.expand_as(relative), rtol=1e-12, atol=0)


def test_deviation_is_zero_at_eps_zero_and_linear_in_small_eps():
    """eps = 0 solves the base field itself (same weights, same steps: identical trajectories).
    For small eps, y - x = eps z(t) + O(eps^2) with z the linearised response, so doubling eps
    doubles max_i |x_i - y_i| at a fixed time, up to a relative O(eps) term."""
    config = LoraConfig(**{**TINY, "ranks": (1, 3)})
    base, perturbed = lora.solve(config, (0.0, 1e-5, 2e-5))
    assert torch.equal(perturbed[:, :, 0], base[:, None].expand_as(perturbed[:, :, 0]))
    deviation = lora.max_deviation(base, perturbed)  # (times, ranks, eps, systems)
    early = deviation[5]  # t = 1
    ratio = early[:, 2] / early[:, 1]
    torch.testing.assert_close(ratio, torch.full_like(ratio, 2.0), rtol=1e-3, atol=0)


def test_w2_is_at_most_the_largest_token_deviation(tiny_results):
    """W2^2 <= sum_i |x_i - y_i|^2 / n (the identity coupling) <= max_i |x_i - y_i|^2; both are
    0 at the common start."""
    assert np.all(tiny_results.w2[0] == 0) and np.all(tiny_results.max_deviation[0] == 0)
    assert np.all(tiny_results.w2 <= tiny_results.max_deviation + 1e-12)
    assert np.all(tiny_results.w2[1:] > 0)


def test_the_gronwall_fit_recovers_an_exact_exponential(tiny_results):
    """Curves R(t) = C (e^{L t} - 1) exactly (times eps) give back L and C, every point sits on
    the envelope and the bound holds; one curve raised by 10% after the fit window breaks it."""
    config = LoraConfig(**TINY)
    t = tiny_results.times[:, None, None, None]
    eps = np.asarray(config.eps)[None, None, :, None]
    exact = 0.01 * 0.5 * np.expm1(1.5 * t) * np.ones_like(tiny_results.max_deviation)
    fit = lora.fit_gronwall(config, tiny_results.times, exact * eps)
    reported = fit.metrics(config.fit_time)
    assert reported["L"] == pytest.approx(1.5, rel=1e-4)
    assert reported["C"] == pytest.approx(0.01 * 0.5, rel=1e-4)
    assert fit.K_envelope == pytest.approx(fit.K, rel=1e-4)
    assert fit.worst_ratio == pytest.approx(1.0, rel=1e-4)
    raised = exact.copy()
    raised[-1, 0, 0, 0] *= 1.1
    broken = lora.fit_gronwall(config, tiny_results.times, raised * eps)
    assert broken.fraction_under < 1 and broken.worst_ratio == pytest.approx(1.1, rel=1e-3)


def test_first_crossing():
    curves = np.array([[0.0, 0.0], [0.05, 0.2], [0.3, 0.1], [0.01, 0.0]])
    times = np.array([0.0, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(lora.first_crossing(curves, times, 0.1), [2.0, 1.0])
    assert np.isinf(lora.first_crossing(curves, times, 0.5)).all()


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        (["ranks=0"], "ranks"),
        (["ranks=1,4"], "ranks"),
        (["ranks=1,1"], "ranks"),
        (["eps=0,0.1"], "eps"),
        (["eps=0.1,0.1"], "eps"),
        (["threshold=0"], "threshold"),
        (["fit_time=30"], "fit_time"),
        (["num_times=2"], "num_times"),
        (["beta=-1"], "beta"),
    ],
)
def test_impossible_values_are_refused_and_nothing_written(tmp_path, capsys, setting, name):
    assert_refused("lora", setting, name, tmp_path, capsys)
