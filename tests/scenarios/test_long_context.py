"""The long_context scenario end to end on a tiny config, and its gamma_c analysis on curves with
a known crossing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import dynamics
from scenarios import long_context
from scenarios.harness.runner import run_scenario
from scenarios.long_context import (
    LongContextConfig,
    bootstrap_interval,
    critical_gamma,
    crossing,
    predicted_gamma_c,
)
from tests.scenarios.helpers import assert_metrics_written, assert_refused, assert_run_files

TINY = {
    "ns": (32, 64),
    "gammas": (1.0, 2.0, 8.0),
    "d": 12,
    "seeds": 2,
    "steps": 4,
    "bootstrap": 20,
    "dtype": "float64",
    "vlasov_cells": 64,
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "long_context"
    config = LongContextConfig(**TINY)
    return out, config, run_scenario("long_context", config, out)


def test_run_writes_metrics_and_figures(tiny_run):
    out, config, metrics = tiny_run
    assert_run_files(out, metrics, ("transition", "sharpness", "circle"))
    assert_metrics_written(out, config, metrics)
    assert len(long_context.summary_lines(metrics)) == 6
    assert metrics["peak_resident_memory_mb"] > 0 and len(metrics["wall_time_per_n_s"]) == 2


def test_observables_at_the_start_and_the_frozen_and_collapsed_ends(tiny_run):
    """At t = 0 the mean cosine is rho up to sampling; at T it rises with the collapse, most at
    the smallest gamma (attention spread over all tokens) and hardly at all at the largest."""
    _, config, metrics = tiny_run
    start, end = (np.array(metrics[key]["mean_cosine"]) for key in ("at_0", "at_T"))
    assert np.abs(start - config.rho).max() < 0.1
    assert (end >= start - 1e-12).all()
    assert (np.diff(end, axis=1) < 0).all()
    assert (end[:, 0] > 0.9).all() and (end[:, -1] - start[:, -1] < 0.05).all()
    ranks = np.array(metrics["at_T"]["effective_rank"])
    assert (ranks >= 1).all() and (ranks <= config.d).all()


def test_initial_clouds_have_the_stated_cosines():
    """<x_i, x_j> = rho + (1 - rho) <u_i, u_j> with u_i orthogonal to e_1: unit tokens whose
    first coordinate is sqrt(rho)."""
    config = LongContextConfig(**TINY)
    x0 = long_context.initial_clouds(config, 32)
    torch.testing.assert_close(x0.norm(dim=-1), torch.ones(2, 32, dtype=x0.dtype))
    torch.testing.assert_close(
        x0[..., 0], torch.full((2, 32), math.sqrt(config.rho), dtype=x0.dtype)
    )
    torch.testing.assert_close(x0, long_context.initial_clouds(config, 32), rtol=0, atol=0)


def logistic_curves(gammas, slopes, center=2.0):
    return np.stack([1 / (1 + np.exp(a * (gammas - center))) for a in slopes])


def test_crossing_of_curves_that_cross_at_a_known_gamma():
    """Logistic curves of increasing steepness all pass through 1/2 at gamma = 2; on a grid
    symmetric about 2 the differences are odd about 2, so linear interpolation finds 2 exactly."""
    gammas = np.linspace(1.0, 3.0, 9)
    curves = logistic_curves(gammas, [1.0, 2.0, 4.0])
    assert crossing(gammas, curves[0], curves[1]) == pytest.approx(2.0, abs=1e-12)
    assert critical_gamma(gammas, curves) == pytest.approx(2.0, abs=1e-12)
    assert crossing(gammas, curves[1], curves[0]) is None  # the steeper one must start above
    values = np.repeat(curves[:, :, None], 3, axis=2)  # every seed alike: a point interval
    boot = bootstrap_interval(gammas, values, 10, seed=0)
    assert boot["interval"] == pytest.approx([2.0, 2.0]) and boot["fraction_with_crossing"] == 1


def test_predicted_gamma_c_solves_its_balance_and_tends_to_the_equiangular_limit():
    config = LongContextConfig(**{**TINY, "d": 200, "rho": 0.25})
    gamma = predicted_gamma_c(config, 1000)
    u, k = gamma * (1 - config.rho), math.log(1000) / (config.d - 1)
    assert u == pytest.approx(1 + k * u * u / 2, rel=1e-12)
    wide = LongContextConfig(**{**TINY, "d": 4000, "rho": 0.25})
    assert predicted_gamma_c(wide, 64) == pytest.approx(1 / 0.75, rel=1e-3)
    assert predicted_gamma_c(LongContextConfig(**{**TINY, "d": 4}), 1000) is None


def test_the_fused_kernel_serves_the_default_dtype():
    """O(n d) memory at large n needs the fused attention kernel for the run's dtype."""
    x = long_context.initial_clouds(LongContextConfig(**{**TINY, "dtype": "float32"}), 8)
    assert dynamics.fused_kernel_serves(x)


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        (["ns=128,64"], "ns"),
        (["gammas=2,1"], "gammas"),
        (["method=dopri5"], "method"),
        (["rho=1"], "rho"),
        (["d=2"], "d"),
    ],
)
def test_impossible_values_are_refused_and_nothing_written(tmp_path, capsys, setting, name):
    assert_refused("long_context", setting, name, tmp_path, capsys)


def test_circle_particles_approach_the_vlasov_limit(tiny_run):
    """On S^1 the gap between particles and the mean-field density at the same beta is within
    the sampling error of the mean cosine of n tokens (about 2 / sqrt(n) at worst here)."""
    _, config, metrics = tiny_run
    gaps = metrics["circle"]["max_gap_per_n"]
    assert len(gaps) == len(config.ns)
    assert all(gap < 2 / math.sqrt(n) for gap, n in zip(gaps, config.ns, strict=True))


def test_von_mises_mean_cosine_is_the_squared_bessel_ratio():
    """For rho = e^{kappa cos theta} / (2 pi I_0(kappa)), int e^{i theta} rho = I_1 / I_0, so
    the mean cosine is (I_1(kappa) / I_0(kappa))^2; the midpoint rule on a periodic analytic
    integrand converges geometrically in the number of cells."""
    config = LongContextConfig(**{**TINY, "vlasov_cells": 512, "circle_kappa": 2.0})
    kappa = torch.tensor(2.0, dtype=torch.float64)
    expected = float((torch.special.i1(kappa) / torch.special.i0(kappa)) ** 2)
    rho = long_context.circle_density(config)
    assert float(long_context.density_mean_cosine(rho)) == pytest.approx(expected, rel=1e-10)


def test_sweep_rows_are_the_run_seed_by_seed():
    """A sweep point's row of seed s is the run's observables at T of its first cloud with
    seed = s, for every n, gamma and the scalable-softmax rule, whatever the other seeds."""
    config = LongContextConfig(**{**TINY, "vlasov_cells": 0, "gammas": (1.0, 8.0)})
    rows = long_context.sweep_point(config, [0, 1])
    assert len(rows) == len(config.ns) * (len(config.gammas) + 1) * 2
    alone = long_context.sweep_point(config, [1])
    for row, single in zip([r for r in rows if r["seed"] == 1], alone, strict=True):
        assert [row[key] for key in ("seed", "n", "gamma", "rule")] == [
            single[key] for key in ("seed", "n", "gamma", "rule")
        ]
        for name in long_context.OBSERVABLES:
            assert row[name] == pytest.approx(single[name], rel=1e-12), name
    result = long_context.simulate(config)
    for row in (r for r in rows if r["seed"] == 0):
        i = config.ns.index(row["n"])
        for name in long_context.OBSERVABLES:
            if row["rule"] == "gamma":
                expected = result.final[name][i, config.gammas.index(row["gamma"]), 0]
            else:
                expected = result.scalable[name][i, 0]
            assert row[name] == pytest.approx(expected, rel=1e-10), (row, name)


def test_a_grid_over_gammas_is_refused_naming_set_instead(tmp_path, capsys):
    """A point holds one value of a --grid key, and a run needs two or more gammas (it fits
    gamma_c across them): the grid is refused before any point, pointing to --set."""
    from scenarios.harness.cli import main

    code = main(["sweep", "long_context", "--grid", "gammas=1,2", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "each point takes one value of gammas" in err and "--set gammas=1,2" in err
    assert list(tmp_path.iterdir()) == []
