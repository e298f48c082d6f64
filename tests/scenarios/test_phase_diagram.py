"""The phase_diagram scenario: the equiangular reference, its sweep, files and metrics."""

from __future__ import annotations

import json

import pytest
import torch

from scenarios.harness import run_scenario
from scenarios.harness.cli import main
from scenarios.harness.sweep import JOURNAL_FILE, SPEC_FILE, TABLE_FILE
from scenarios.phase_diagram import PhaseDiagramConfig, equiangular_cluster_time
from tests.reference import equiangular_rho

TINY = {
    "betas": (0.5, 2.0),
    "ds": (2, 64),
    "n": 8,
    "T": 6.0,
    "num_times": 61,
    "seeds": 4,
    "workers": 1,
}
"""Two betas x two dimensions, 4 seeds of 8 tokens: about a second."""


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("phase") / "phase_diagram"
    config = PhaseDiagramConfig(**TINY)
    return out, config, run_scenario("phase_diagram", config, out)


@pytest.mark.parametrize("normalization", ["softmax", "uniform"])
@pytest.mark.parametrize("beta", [0.0, 1.0, 4.0])
def test_equiangular_cluster_time_solves_the_equiangular_ode(beta, normalization):
    """rho(t*) = 1 - tol for the ODE solved to 1e-13 from rho(0) = 0."""
    n, tol = 16, 1e-2
    t_star = equiangular_cluster_time(n, beta, tol, normalization)
    times = torch.tensor([0.0, t_star], dtype=torch.float64)
    rho = equiangular_rho(n, beta, 0.0, times, normalization)
    # rho' = g(rho) >= 2 tol / (e^{beta tol} + n - 1) near 1 - tol (SA), so an error e in t*
    # moves rho(t*) by about g e: 1e-9 is a quadrature accurate to ~1e-8 in time.
    assert float(rho[-1]) == pytest.approx(1 - tol, abs=1e-9)


def test_run_writes_the_sweep_table_figures_and_metrics(tiny_run):
    out, _, metrics = tiny_run
    stems = (
        "phase_single_cluster_prob_beta_d",
        "line_time_to_single_cluster_beta",
        "line_pair_collision_fraction_at_T_beta",
        *(
            f"phase_{name}_t_beta"
            for name in (
                "single_cluster",
                "pair_collision_fraction",
                "span_dimension",
                "largest_cluster_fraction",
            )
        ),
    )
    expected = {"metrics.json", "config.json", "sweep"}
    expected |= {f"{stem}.{ext}" for stem in stems for ext in ("png", "pdf")}
    assert {path.name for path in out.iterdir()} == expected
    assert {path.name for path in (out / "sweep").iterdir()} == {
        SPEC_FILE,
        JOURNAL_FILE,
        TABLE_FILE,
    }
    for stem in stems:
        assert (out / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(metrics["figures"]) == sorted(stems)
    assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(metrics))


def test_metrics_summarize_the_table(tiny_run):
    out, config, metrics = tiny_run
    rows = [
        row
        for line in (out / "sweep" / JOURNAL_FILE).read_text().splitlines()
        for row in json.loads(line)["rows"]
    ]
    assert len(rows) == len(config.betas) * len(config.ds) * config.seeds
    assert {(p["beta"], p["d"]) for p in metrics["points"]} == {
        (b, d) for b in config.betas for d in config.ds
    }
    for point in metrics["points"]:
        group = [r for r in rows if (r["beta"], r["d"]) == (point["beta"], point["d"])]
        assert point["seeds"] == len(group) == config.seeds
        assert point["single_cluster_prob"] == sum(r["single_cluster"] for r in group) / 4


def test_large_d_follows_the_equiangular_prediction(tiny_run):
    """At d = 64 the tokens start nearly orthogonal: every seed clusters at about t*(beta)."""
    metrics = tiny_run[2]
    reference = metrics["reference_time_to_single_cluster"]
    for point in (p for p in metrics["points"] if p["d"] == 64):
        assert point["single_cluster_prob"] == 1.0
        t_star = reference[f"{point['beta']:g}"]
        # Output times are T / 60 = 0.1 apart, and inner products of size 1/sqrt(d) shift t.
        assert point["mean_time_to_single_cluster"] == pytest.approx(t_star, abs=0.25)
    assert reference["0.5"] < reference["2"]  # larger beta clusters later (SA)


def test_the_sweep_is_the_clustering_sweep_over_beta_and_d(tiny_run, tmp_path, capsys):
    """The scenario's table is what ``attnflow sweep clustering`` writes for the same grid."""
    out, _, _ = tiny_run
    direct = tmp_path / "direct"
    grid = ["--grid", "betas=0.5,2", "--grid", "d=2,64", "--seeds", "4"]
    shared = ["n=8", "T=6", "num_times=61", "normalizations=softmax", "cluster_tol=0.01"]
    solver = ["method=dopri5"]  # and the sweep's default tolerances, as the scenario
    out_args = ["--out", str(direct), "--workers", "1"]
    code = main(["sweep", "clustering", *grid, "--set", *shared, *solver, *out_args])
    assert code == 0, capsys.readouterr().err
    for name in (JOURNAL_FILE, TABLE_FILE):
        assert (direct / name).read_bytes() == (out / "sweep" / name).read_bytes()


REFUSALS = [
    ("ds=1,3", ["ds=1,3", "each an integer >= 2"]),
    ("betas=-1", ["betas=-1", ">= 0"]),
    ("seeds=0", ["seeds=0", ">= 1"]),
    ("normalization=softmx", ["'softmx'", "did you mean 'softmax'"]),
    ("num_times=1", ["num_times=1"]),
    ("T=0", ["T=0", "> 0"]),
]


@pytest.mark.parametrize(("assignment", "expected"), REFUSALS)
def test_refusals_name_the_field(assignment, expected, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "phase_diagram", "--set", assignment]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    for fragment in expected:
        assert fragment in err
    assert list(tmp_path.iterdir()) == []
