"""Clustering sweeps with random weights per seed (and redraws), their time series, and the
plots of those series (``attnflow plot phase DIR --x t``)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

import dynamics
import solvers
from scenarios.clustering import ClusteringConfig, sweep_point
from scenarios.clustering.sweep import initial_clouds, weight_generator
from scenarios.harness import ConfigError, run_scenario
from scenarios.harness.cli import main
from scenarios.harness.sweep import JOURNAL_FILE, plan_sweep
from scenarios.phase_diagram import PhaseDiagramConfig

SMALL = {"n": 6, "d": 3, "T": 2.0, "num_times": 9, "betas": (2.0,), "method": "dopri5"}
SMALL |= {"normalizations": ("softmax",), "rtol": 1e-8, "atol": 1e-10}


def solo(config, seed, weights, times):
    """Seed ``seed`` solved alone with SelfAttention(query=A^T, key=I, value=V)."""
    x0 = initial_clouds(config, [seed])[0]
    eye = torch.eye(config.d, dtype=x0.dtype)
    field = dynamics.SelfAttention(
        config.d, beta=config.betas[0], query=weights[0].T, key=eye, value=weights[1]
    )
    return solvers.integrate(field, x0, times, rtol=1e-11, atol=1e-13)


def test_random_weights_give_each_seed_its_solo_solve():
    """Each seed's final statistics are those of its own solve with its own weights."""
    config = ClusteringConfig(**SMALL, query_key="goe", value="gaussian")
    result = sweep_point(config, [3, 4])
    times = torch.linspace(0.0, config.T, config.num_times, dtype=torch.float64)
    for row in result.rows:
        weights = dynamics.sample_weights(
            3, "goe", "gaussian", generator=weight_generator(row["seed"]), dtype=torch.float64
        )
        final = solo(config, row["seed"], weights, times)[-1]
        expected = float(dynamics.min_pairwise_cosine(final))
        # rtol 1e-8 against 1e-11: the cosines agree to the looser solve's ~1e-7.
        assert row["min_cosine_at_T"] == pytest.approx(expected, abs=1e-6)
        assert row["pair_collision_fraction_at_T"] == float(dynamics.pair_collision_fraction(final))


def test_a_redraw_restarts_with_the_next_draw_of_each_seed():
    """redraw_period = T / 2: the first half with the first draw, the second with the next."""
    config = ClusteringConfig(**SMALL, query_key="gaussian", value="plus_ktq", redraw_period=1.0)
    row = sweep_point(config, [5]).rows[0]
    generator = weight_generator(5)
    first, second = (
        dynamics.sample_weights(3, "gaussian", "plus_ktq", generator=generator, dtype=torch.float64)
        for _ in range(2)
    )
    half = solo(config, 5, first, torch.tensor([0.0, 1.0], dtype=torch.float64))[-1]
    eye = torch.eye(3, dtype=torch.float64)
    field = dynamics.SelfAttention(3, beta=2.0, query=second[0].T, key=eye, value=second[1])
    times = torch.tensor([1.0, 2.0], dtype=torch.float64)
    final = solvers.integrate(field, half, times, rtol=1e-11, atol=1e-13)[-1]
    expected = float(dynamics.min_pairwise_cosine(final))
    assert row["min_cosine_at_T"] == pytest.approx(expected, abs=1e-6)
    unchanged = sweep_point(replace(config, redraw_period=0.0), [5]).rows[0]
    assert unchanged["min_cosine_at_T"] != pytest.approx(expected, abs=1e-6)


def test_series_are_the_seed_means_at_every_time():
    """At T the kept series equal the rows' means; P(single cluster) starts at 0."""
    config = ClusteringConfig(**{**SMALL, "betas": (0.5, 4.0)})
    result = sweep_point(config, [0, 1, 2])
    assert [run["beta"] for run in result.series] == [0.5, 4.0]
    for run in result.series:
        rows = [row for row in result.rows if row["beta"] == run["beta"]]
        assert len(run["t"]) == len(run["single_cluster"]) == config.num_times
        assert run["single_cluster"][-1] == sum(row["single_cluster"] for row in rows) / 3
        collisions = sum(row["pair_collision_fraction_at_T"] for row in rows) / 3
        assert run["pair_collision_fraction"][-1] == pytest.approx(collisions, abs=1e-15)
        assert run["single_cluster"][0] == 0.0
        assert all(1 <= value <= 3 for value in run["span_dimension"])


def test_a_run_refuses_random_weights_and_redraws_need_them():
    with pytest.raises(ConfigError, match="query_key='wigner'"):
        run_scenario("clustering", ClusteringConfig(query_key="wigner"), None)
    with pytest.raises(ValueError, match="redraw_period=1"):
        ClusteringConfig(redraw_period=1.0)


def test_phase_diagram_with_random_weights_and_the_time_plots(tmp_path, capsys):
    """A tiny GOE phase diagram writes the time series; attnflow plot draws them by t."""
    config = PhaseDiagramConfig(
        betas=(1.0, 3.0),
        ds=(3,),
        n=6,
        T=2.0,
        num_times=9,
        seeds=2,
        workers=1,
        query_key="goe",
        figures=False,
    )
    out = tmp_path / "phase"
    metrics = run_scenario("phase_diagram", config, out)
    assert "pair-collision fraction" in metrics["paper_statistic"]
    entries = [json.loads(line) for line in (out / "sweep" / JOURNAL_FILE).read_text().splitlines()]
    assert all(len(entry["series"]) == 1 for entry in entries)
    sweep = str(out / "sweep")
    args = ["plot", "phase", sweep, "--x", "t", "--value", "pair_collision_fraction"]
    assert main([*args, "--y", "beta"]) == 0, capsys.readouterr().err
    assert main(args) == 0, capsys.readouterr().err
    for stem in ("phase_pair_collision_fraction_t_beta", "line_pair_collision_fraction_t"):
        assert (out / "sweep" / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["plot", "phase", sweep, "--x", "t", "--value", "collisions"]) == 2
    assert "series kept: single_cluster, pair_collision_fraction" in capsys.readouterr().err


def test_a_sweep_refuses_random_weights_with_a_method_without_per_seed_weights():
    with pytest.raises(ConfigError, match="method='rk4' is not accepted with random weights"):
        plan_sweep("clustering", ["betas=1"], 2, ["query_key=gaussian", "method=rk4"])
