"""The metastability scenario end to end, and the facts it relies on: the plateau definition,
the linear-stability growth rates, and the energy of point clusters."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dynamics import CircleVelocity, log_interaction_energy
from scenarios import metastability
from scenarios.harness.runner import run_scenario
from scenarios.metastability import (
    MetastabilityConfig,
    cluster_mass_energy,
    first_plateau,
    growth_rates,
    most_unstable_mode,
    output_times,
    plateaus,
)
from tests.scenarios.helpers import (
    assert_metrics_written,
    assert_refused,
    assert_run_files,
)

TINY = {"n": 16, "seeds": 2, "betas": (4.0, 16.0), "T": 100.0, "num_times": 31}
"""A tiny run: 2 clouds of 16 tokens on the circle, two betas, to t = 100."""

STEMS = ("cluster_counts", "first_plateau", "energy_staircase")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    config = MetastabilityConfig(**TINY)
    metrics = run_scenario("metastability", config, root / "metastability")
    return root / "metastability", config, metrics


def test_run_writes_metrics_config_and_figures(tiny_run):
    out, config, metrics = tiny_run
    assert_run_files(out, metrics, STEMS)
    assert_metrics_written(out, config, metrics)
    assert len(metastability.summary_lines(metrics)) == len(config.betas) + 1


def test_metrics_are_sane(tiny_run):
    """SA increases the energy (up to the solver's tolerance), plateau counts lie in [1, n],
    their times are ordered, and the fit is reported."""
    _, config, metrics = tiny_run
    assert set(metrics["betas"]) == {"4", "16"}
    for entry in metrics["betas"].values():
        assert entry["max_energy_decrease"] < 1e-6
        assert all(0 < energy <= 1 + 1e-12 for energy in entry["final_normalized_energy"])
        for count, start, end in zip(
            entry["first_plateau_counts"],
            entry["first_plateau_start"],
            entry["first_plateau_end"],
            strict=True,
        ):
            if count is not None:
                assert 1 <= count <= config.n
                assert end >= config.plateau_factor * start * (1 - 1e-12)
        assert entry["linear_stability_mode"] == most_unstable_mode(entry["beta"])
    assert metrics["reference_exponent"] == 0.5
    assert set(metrics["fit"]) == {"exponent", "prefactor", "sqrt_beta_coefficient", "betas_used"}


def test_plateau_definition_on_a_synthetic_series():
    """t = 0, then geometric times 1 .. 10^4, 9 per decade (a factor 1.29 per interval): the
    count 30 (t <= 1.29) -> 12 (t = 1.67) -> 5 (held 2.15 .. 46.4, a factor 21.5) -> 4 (held
    59.9 .. 215, a factor 3.6) -> 3 (held 278 .. 10^4). With factor 3 the plateaus are 5, 4 and
    the final 3; with factor 10 only 5 and 3. t = 0 is never part of a plateau: the count 30
    holds over the positive times 1 .. 1.29 only, a plateau for factor 1.25 but not for 1.5."""
    times = np.concatenate([[0.0], np.logspace(0, 4, 37)])
    counts = np.select(
        [times < 1.5, times < 2, times <= 50, times <= 250],
        [30, 12, 5, 4],
        default=3,
    )
    found = plateaus(times, counts, 3.0)
    assert [int(counts[a]) for a, _ in found] == [5, 4, 3]
    for a, b in found:
        assert times[b] >= 3 * times[a]
        assert (counts[a : b + 1] == counts[a]).all()
        assert b + 1 == len(counts) or counts[b + 1] != counts[a]
    assert [int(counts[a]) for a, _ in plateaus(times, counts, 10.0)] == [5, 3]
    assert counts[first_plateau(times, counts, 3.0)[0]] == 5
    assert first_plateau(times, counts, 1.25) == (1, 2)
    assert first_plateau(times, counts, 1.5)[0] == 4
    assert first_plateau(times, np.arange(len(times))[::-1], 1.1) is None


def test_output_times_are_geometric_from_t_min():
    config = MetastabilityConfig(t_min=0.5, T=500.0, num_times=5)
    times = output_times(config).numpy()
    np.testing.assert_allclose(times, [0.0, 0.5, 5.0, 50.0, 500.0], rtol=1e-14)


@pytest.mark.parametrize("beta", [4.0, 16.0])
def test_growth_rates_are_those_of_the_linearised_vlasov_equation(beta):
    """For rho = (1 + eps cos k theta) / (2 pi) the SA face velocity is
    v(theta) = -eps (k / beta) (I_k / I_0) sin(k theta) + O(eps^2), so the continuity equation
    gives d(delta rho)/dt = lambda_k delta rho with the rates of ``growth_rates``: checked
    against ``CircleVelocity`` on exact cell averages (M = 2048, eps = 1e-4). On the grid both
    the cell averages of cos(k theta) and the kernel's cell integrals carry the factor
    sinc(k h / 2) = sin(k h / 2) / (k h / 2) (1 - 1.1e-4 at k = 12), divided out here."""
    cells, eps = 2048, 1e-4
    h = 2 * math.pi / cells
    faces = h * torch.arange(cells, dtype=torch.float64)
    modes = np.arange(1, 13)
    velocity = CircleVelocity(beta, cells)
    measured = []
    for k in modes:
        averages = (torch.sin(k * (faces + h)) - torch.sin(k * faces)) / (k * h)
        v = velocity((1 + eps * averages) / (2 * math.pi))
        ratio = -v / (eps * (k / beta) * torch.sin(k * faces))
        sinc = math.sin(k * h / 2) / (k * h / 2)
        rate = k**2 * float(ratio[cells // (4 * k)]) / beta  # where sin(k theta) = 1
        measured.append(rate / sinc**2)
    # measured <= 5e-7: O(eps) terms and rounding
    np.testing.assert_allclose(growth_rates(beta, modes), measured, rtol=1e-5)


def test_most_unstable_mode_is_about_sqrt_two_beta():
    """Bessel tables: (k^2 / 4) I_k(4) / I_0(4) = 0.568, 0.664, 0.501 for k = 2, 3, 4, so
    k*(4) = 3; for large beta k* is within one of sqrt(2 beta)."""
    np.testing.assert_allclose(growth_rates(4.0, [2, 3, 4]), [0.5683, 0.6644, 0.5013], rtol=1e-3)
    assert most_unstable_mode(4.0) == 3
    for beta in (16.0, 64.0, 256.0, 700.0):
        assert abs(most_unstable_mode(beta) - math.sqrt(2 * beta)) <= 1


def test_point_clusters_have_energy_sum_of_squared_masses():
    """Clusters of 2, 3 and 5 of n = 10 tokens at 120 degrees, beta = 64: E / E_max =
    sum_c m_c^2 = 0.38 up to e^{-beta (1 - cos 120deg)} = e^{-96}."""
    third = 2 * math.pi / 3
    angles = torch.tensor([0.0] * 2 + [third] * 3 + [2 * third] * 5, dtype=torch.float64)
    x = torch.stack([angles.cos(), angles.sin()], -1)
    beta = 64.0
    energy = math.exp(float(log_interaction_energy(x, beta)) - beta + math.log(2 * beta))
    assert float(cluster_mass_energy(x, 1e-3)) == pytest.approx(0.38, abs=1e-12)
    assert energy == pytest.approx(0.38, rel=1e-9)


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        (["betas=0"], "betas"),
        (["betas=4,4"], "betas"),
        (["T=0.5"], "T"),
        (["plateau_factor=1"], "plateau_factor"),
        (["num_times=2"], "num_times"),
        (["method=lsoda"], "method"),
        (["cluster_tol=0"], "cluster_tol"),
        (["normalization=sinkhorn"], "normalization"),
    ],
)
def test_impossible_values_are_refused_and_nothing_written(tmp_path, capsys, setting, name):
    assert_refused("metastability", setting, name, tmp_path, capsys)


@pytest.mark.slow
def test_first_plateau_count_grows_like_root_beta(tmp_path):
    """4 clouds of 48 tokens, beta = 4, 16, 64 to t = 1000: the fitted exponent of the mean
    first-plateau count against beta is 1/2 within 0.2 (the default run measured 0.44)."""
    config = MetastabilityConfig(
        n=48, betas=(4.0, 16.0, 64.0), T=1000.0, num_times=91, figures=False
    )
    metrics = run_scenario("metastability", config, tmp_path / "metastability")
    assert metrics["fit"]["exponent"] == pytest.approx(0.5, abs=0.2)
