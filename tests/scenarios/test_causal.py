"""The causal scenario end to end on a tiny config: files, the fixed first token, the Rényi
counts, the energies, the S^2 runs; refused configs."""

from __future__ import annotations

import numpy as np
import pytest

from scenarios import causal
from scenarios.causal import CausalConfig
from scenarios.harness.runner import run_scenario
from tests.scenarios.helpers import assert_metrics_written, assert_refused, assert_run_files

TINY = {
    "n": 16,
    "betas": (9.0, 16.0),
    "figure_beta": 16.0,
    "seeds": 2,
    "t_min": 1.0,
    "T": 30.0,
    "num_times": 31,
    "small_time": 500.0,
    "atlas_time": 10.0,
}
STEMS = ("angles", "clusters", "plateaus", "energy", "atlas")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "causal"
    config = CausalConfig(**TINY)
    return out, config, run_scenario("causal", config, out)


def test_run_writes_metrics_and_figures(tiny_run):
    out, config, metrics = tiny_run
    assert_run_files(out, metrics, STEMS)
    assert_metrics_written(out, config, metrics)
    lines = causal.summary_lines(metrics)
    assert len(lines) == len(config.betas) + 4 + len(causal.VALUE_MATRICES)


def test_first_token_never_moves_and_attracts_every_token(tiny_run):
    """The causal first token attends to itself only: x_1' = 0, so it stays to the rounding of
    the stored unit tokens, at every beta and with both normalizations; at small beta every
    token ends within the cluster tolerance of it."""
    _, config, metrics = tiny_run
    for entry in metrics["betas"].values():
        assert entry["first_token_displacement"] < 1e-15
    for normalization in causal.simulation.NORMALIZATIONS:
        entry = metrics["small_beta"][f"{normalization}/causal"]
        assert entry["first_token_displacement"] < 1e-15
        assert entry["final_max_gap_to_first"] < config.cluster_tol
        assert all(t is not None for t in entry["time_to_one_cluster"])


def test_renyi_counts_and_energies(tiny_run):
    """Strong centers are among the centers; the full flow raises the energy (up to the
    solver's interpolation), the first plateau exists for some seed."""
    _, config, metrics = tiny_run
    for entry in metrics["betas"].values():
        centers, strong = (
            np.array(entry[key]) for key in ("renyi_centers", "strong_renyi_centers")
        )
        assert (strong >= 1).all() and (strong <= centers).all() and (centers <= config.n).all()
        assert entry["full"]["max_energy_decrease"] < 1e-6
        assert entry["strong_center_stay"]["tokens"] == strong.sum()
    assert any(
        count is not None
        for entry in metrics["betas"].values()
        for count in entry["causal"]["first_plateau_counts"]
    )


def test_value_matrices_send_the_tokens_where_their_spectra_say(tiny_run):
    """V = I: the first token stays, so it is on its closed-form path to rounding; a V with a simple
    top eigenvalue (positive definite or not) carries the first token to +-e_1 along
    e^{tV} x_1 / |e^{tV} x_1|, which the solve follows to its tolerance."""
    _, _, metrics = tiny_run
    atlas = metrics["atlas"]
    assert atlas["identity"]["first_token_oja_error"] < 1e-15
    for name in causal.VALUE_MATRICES:
        assert atlas[name]["first_token_oja_error"] < 1e-4
    assert atlas["top"]["fraction_at_top_poles"] > 0.9
    assert atlas["indefinite"]["fraction_at_top_poles"] > 0.9


def test_plateaus_start_no_earlier_than_t_min(tiny_run):
    _, config, metrics = tiny_run
    for entry in metrics["betas"].values():
        for start in entry["causal"]["first_plateau_start"]:
            assert start is None or start >= config.t_min


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        (["figure_beta=5"], "figure_beta"),
        (["betas=1,4", "figure_beta=4"], "delta_scale"),
        (["t_min=2000"], "T"),
        (["t_first=3"], "t_min"),
        (["small_beta=0"], "small_beta"),
    ],
)
def test_impossible_values_are_refused_and_nothing_written(tmp_path, capsys, setting, name):
    assert_refused("causal", setting, name, tmp_path, capsys)


def test_sweep_rows_match_the_run_seed_by_seed():
    """A sweep point of seeds (0, 1) with seeds=1 clouds: the row of seed s is the run of the
    config with seed = s (its first cloud), here checked on the Rényi counts and the plateau."""
    single = {**TINY, "betas": (16.0,), "seeds": 1}
    rows = causal.sweep_point(CausalConfig(**single), [0, 1])
    assert len(rows) == 2 * 2
    for seed in (0, 1):
        alone = causal.simulate(CausalConfig(**{**single, "seed": seed}))
        entry = causal.beta_metrics(CausalConfig(**{**single, "seed": seed}), alone, 16.0)
        found = [row for row in rows if row["seed"] == seed and row["mask"] == "causal"]
        assert found[0]["renyi_centers"] == entry["renyi_centers"][0]
        assert found[0]["strong_renyi_centers"] == entry["strong_renyi_centers"][0]
        assert found[0]["first_plateau_count"] == entry["causal"]["first_plateau_counts"][0]
