"""The clustering scenario end to end: files, metrics, and the physics they must show."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import dynamics
from scenarios import clustering
from scenarios.analysis import max_decrease
from scenarios.clustering import ClusteringConfig, make_figures, simulate, snapshot_indices
from scenarios.harness import DTYPES, config_to_dict, run_scenario
from scenarios.harness.output import STAGING_PREFIX
from tests.scenarios.helpers import TINY, assert_run_files, strict_json

STEMS = ("snapshots_softmax", "snapshots_uniform", "inner_products", "energy", "cluster_count")
ENERGY_TOL = 1e-6
"""Allowed dip of E_beta / E_max between output times: the exact flow never decreases it, and
LSODA at rtol 1e-6 / atol 1e-8 moves tokens by far less than this changes the energy."""


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One full run of the tiny config, figures included, shared by the file and metric tests."""
    root = tmp_path_factory.mktemp("tiny")
    config = ClusteringConfig(**TINY)
    metrics = run_scenario("clustering", config, root / "clustering")
    return root, config, metrics


def test_run_writes_metrics_config_and_every_figure(tiny_run):
    root, _, metrics = tiny_run
    assert_run_files(root / "clustering", metrics, STEMS)
    assert [path.name for path in root.iterdir()] == ["clustering"]  # no staging dir left
    assert not any(path.name.startswith(STAGING_PREFIX) for path in root.iterdir())


def test_json_files_are_strict_and_match_the_run(tiny_run):
    root, config, metrics = tiny_run
    written = strict_json((root / "clustering" / "metrics.json").read_text())
    assert written == json.loads(json.dumps(metrics))
    assert strict_json((root / "clustering" / "config.json").read_text()) == config_to_dict(config)
    assert written["parameters"] == config_to_dict(config)


def test_metrics_are_consistent(tiny_run):
    _, config, metrics = tiny_run
    assert set(metrics["runs"]) == {
        f"{norm}/beta={beta:g}" for norm in config.normalizations for beta in config.betas
    }
    times = np.linspace(0, config.T, config.num_times)
    assert metrics["snapshot_times"] == [times[i] for i in snapshot_indices(config)]
    for run in metrics["runs"].values():
        assert 1 <= run["final_cluster_count"] <= config.n
        assert -1.0 <= run["min_cosine_at_T"] <= 1.0
        assert 0.0 < run["initial_normalized_energy"] <= run["final_normalized_energy"] <= 1.0
        assert run["max_energy_decrease"] <= ENERGY_TOL
        assert run["max_norm_error"] < 1e-5
        single = run["time_to_single_cluster"]
        if single is not None:
            assert 0.0 <= single <= config.T
        if run["final_cluster_count"] == 1:
            assert single is not None


@pytest.mark.parametrize("normalization", ["softmax", "uniform"])
def test_energy_never_decreases_and_observables_are_in_range(normalization):
    config = ClusteringConfig(
        n=16, T=6.0, betas=(1.0, 4.0), normalizations=(normalization,), num_times=61
    )
    for result in simulate(config):
        energy = result.normalized_energy
        assert energy is not None and energy.shape == (config.num_times,)
        assert np.all((energy > 0) & (energy <= 1 + 1e-12))
        assert max_decrease(energy) <= ENERGY_TOL, result.key
        assert energy[-1] > energy[0] + 0.05, "the cloud should have clustered noticeably"
        assert np.all((result.cluster_counts >= 1) & (result.cluster_counts <= config.n))
        assert np.allclose(result.cosine_histogram.sum(axis=1), 1.0)
        assert np.all((result.min_cosines >= -1) & (result.min_cosines <= 1))


def test_tokens_in_a_hemisphere_collapse_to_one_cluster(monkeypatch):
    """Tokens in an open hemisphere converge to a single point (SA and USA, any beta)."""
    config = ClusteringConfig(n=8, T=12.0, betas=(1.0, 4.0), num_times=121, figures=False)
    generator = torch.Generator().manual_seed(3)
    cloud = dynamics.uniform_sphere(8, 3, generator=generator, dtype=torch.float64)
    folded = cloud.abs()  # every coordinate >= 0: the positive octant, inside a hemisphere
    monkeypatch.setattr(clustering, "initial_cloud", lambda config: folded)
    for result in simulate(config):
        metrics = result.metrics()
        assert metrics["time_to_single_cluster"] is not None, result.key
        assert metrics["final_cluster_count"] == 1
        assert metrics["min_cosine_at_T"] > 1 - config.cluster_tol
        assert metrics["final_normalized_energy"] == pytest.approx(1.0, abs=1e-3)


def test_larger_beta_keeps_softmax_tokens_apart_longer():
    """SA on the defaults: beta = 1 reaches one cluster, beta = 4 and 9 stay metastable."""
    config = ClusteringConfig(normalizations=("softmax",), figures=False)
    results = simulate(config)
    finals = [int(result.cluster_counts[-1]) for result in results]
    assert finals[0] == 1 and finals[1] > 1 and finals[2] > 1
    assert finals == sorted(finals), f"cluster counts at T should not shrink with beta: {finals}"
    assert results[0].metrics()["time_to_single_cluster"] is not None
    assert results[2].metrics()["time_to_single_cluster"] is None


def test_beta_zero_is_the_same_flow_for_softmax_and_uniform():
    """At beta = 0 both normalizations give every weight 1/n; energy is then not reported."""
    config = ClusteringConfig(n=8, T=3.0, betas=(0.0,), num_times=31)
    softmax, uniform = simulate(config)
    assert softmax.normalized_energy is None and uniform.normalized_energy is None
    assert softmax.metrics()["final_normalized_energy"] is None
    np.testing.assert_allclose(softmax.min_cosines, uniform.min_cosines, atol=1e-5)
    np.testing.assert_array_equal(softmax.cluster_counts, uniform.cluster_counts)


def test_the_same_initial_cloud_starts_every_run(tiny_config):
    results = simulate(tiny_config)
    expected = clustering.initial_cloud(tiny_config).numpy()
    for result in results:
        np.testing.assert_allclose(result.snapshots[0], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("d", "options"),
    [(2, {"dtype": "float32", "method": "dopri5"}), (6, {"method": "rk4", "step_size": 0.05})],
)
def test_circle_and_higher_dimensions_run_and_draw(d, options):
    config = ClusteringConfig(n=6, d=d, T=1.0, betas=(1.0,), num_times=11, **options)
    results = simulate(config)
    for result in results:
        assert result.snapshots.shape == (len(snapshot_indices(config)), 6, d)
        assert 1 <= result.metrics()["final_cluster_count"] <= 6
        assert result.metrics()["max_energy_decrease"] <= 1e-5  # float32 rounding
    figures = make_figures(config, results)  # drawn (flat panels), not saved
    assert sorted(figures) == sorted(STEMS)
    title = figures["snapshots_softmax"].get_suptitle()
    assert ("circle" in title) if d == 2 else ("first two coordinates" in title)


def test_max_decrease_and_snapshot_indices():
    assert max_decrease(np.array([0.1, 0.2, 0.15, 0.3])) == pytest.approx(0.05)
    assert max_decrease(np.array([0.1, 0.2, 0.3])) == 0.0
    config = ClusteringConfig(T=15.0, num_times=301)
    assert snapshot_indices(config) == (0, 10, 40, 100, 300)
    config = ClusteringConfig(T=2.0, num_times=5, snapshot_times=(2.0, 0.0, 0.9, 1.1))
    assert snapshot_indices(config) == (0, 2, 4)  # nearest output times, sorted, distinct


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("beta", [0.5, 30.0, 1e20])
def test_normalized_energy_is_one_at_a_point_cluster_and_one_over_n_at_huge_beta(dtype, beta):
    """E_beta / E_max = sum_ij e^{beta (<u_i, u_j> - 1)} / n^2: 1 at a point cluster for any
    beta, and 1/n (the diagonal) for distinct tokens once beta >> 1 / min_ij |u_i - u_j|^2, in
    a sweep's observables and a run's report alike (no overflow of e^beta)."""
    config = ClusteringConfig(
        n=6, T=0.1, num_times=2, betas=(beta,), normalizations=("softmax",), dtype=dtype
    )
    point = torch.ones(2, 6, 3, dtype=DTYPES[dtype]) / math.sqrt(3)
    observe = clustering.sweep.observables(config, beta)
    assert observe(point)["energy"].tolist() == pytest.approx([1.0, 1.0], rel=1e-6)
    if beta == 1e20:
        spread = clustering.initial_cloud(config).expand(2, 6, 3)
        assert observe(spread)["energy"].tolist() == pytest.approx([1 / 6, 1 / 6], rel=1e-6)
        (result,) = simulate(config)
        assert result.normalized_energy.tolist() == pytest.approx([1 / 6, 1 / 6], rel=1e-6)


def test_a_diverged_fixed_step_run_is_one_line_naming_the_time(tmp_path, capsys):
    from scenarios.harness.cli import main

    setting = ["n=8", "betas=1", "num_times=5", "figures=false", "T=1e300", "method=euler"]
    assert main(["run", "clustering", "--set", *setting, "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "diverged" in err and "t = 2.5e+299" in err
    assert list(tmp_path.iterdir()) == []
