"""The phase-diagram scenario's simulation: the clustering sweep over (beta, d), its per-point
summaries, and the equiangular reference time (see ``scenarios.phase_diagram``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from scenarios.harness.config import format_value
from scenarios.harness.sweep import run_sweep
from scenarios.harness.sweep_results import Cell, SweepResults, load_results
from scenarios.phase_diagram.config import PhaseDiagramConfig, sweep_of

SWEEP_DIR = "sweep"
PROBABILITY = "single_cluster_prob"
TIME = "time_to_single_cluster"
COLLISIONS = "pair_collision_fraction_at_T"
AT_T = (COLLISIONS, "span_dimension_at_T", "largest_cluster_fraction_at_T")
"""Per-seed statistics at T whose mean over seeds each point summary reports."""
PAPER_STATISTIC = (
    "The phase diagrams of 'A mathematical perspective on Transformers' (the authors' "
    "phase-diagrams.py) plot the pair-collision fraction: the fraction of pairs i < j with "
    "<x_i, x_j> > 0.999, averaged over the systems, over (t, beta) (here "
    "pair_collision_fraction, and pair_collision_fraction_at_T at T). single_cluster_prob is "
    "the fraction of seeds whose tokens form one cluster (single linkage at cos > 1 - "
    "cluster_tol): a stricter event, since one cluster can hold pairs below 0.999."
)
_QUADRATURE_NODES = 128


def simulate(config: PhaseDiagramConfig, out_dir: Path) -> SweepResults:
    """Sweep (beta, d) into ``out_dir/sweep`` and read its table back."""
    run_sweep(sweep_of(config), Path(out_dir) / SWEEP_DIR, workers=config.workers or None)
    return load_results(Path(out_dir) / SWEEP_DIR)


def metrics(config: PhaseDiagramConfig, results: SweepResults) -> dict[str, object]:
    """Per-point summaries, the equiangular reference time per beta, where the table is."""
    reference = {
        float(beta): equiangular_cluster_time(
            config.n, beta, config.cluster_tol, config.normalization
        )
        for beta in config.betas
    }
    return {
        "points": _point_summaries(results.cells),
        "reference_time_to_single_cluster": {format_value(b): t for b, t in reference.items()},
        "sweep_dir": SWEEP_DIR,
        "paper_statistic": PAPER_STATISTIC,
    }


def equiangular_rate(rho: np.ndarray, n: int, beta: float, normalization: str) -> np.ndarray:
    """g(rho) = rho' of the equiangular ODE (see the module docstring), for rho in [0, 1]."""
    common = 2.0 * (1.0 - rho) * ((n - 1) * rho + 1.0)
    if normalization == "softmax":
        # e^{beta rho} / (e^beta + (n - 1) e^{beta rho}) = 1 / (e^{beta (1 - rho)} + n - 1)
        return common / (np.exp(beta * (1.0 - rho)) + n - 1)
    return common * np.exp(beta * rho) / n


def equiangular_cluster_time(
    n: int, beta: float, cluster_tol: float, normalization: str = "softmax"
) -> float:
    """t* = int_0^{1 - cluster_tol} d rho / g(rho): the time the equiangular solution from
    rho(0) = 0 takes to reach 1 - cluster_tol (Gauss-Legendre, 128 nodes; the integrand is
    smooth and positive there)."""
    nodes, weights = np.polynomial.legendre.leggauss(_QUADRATURE_NODES)
    top = 1.0 - cluster_tol
    rho = (nodes + 1.0) * top / 2.0
    return float(np.sum(weights * top / 2.0 / equiangular_rate(rho, n, beta, normalization)))


def _point_summaries(cells: tuple[Cell, ...]) -> list[dict[str, object]]:
    """Per (beta, d): the fraction of seeds with one cluster at T, the mean time to it (None if
    no seed formed one) and the means over seeds of the statistics at T (``AT_T``)."""
    summaries = []
    for cell in cells:
        time = cell.columns[TIME]
        summaries.append(
            {
                "beta": cell.keys["beta"],
                "d": cell.keys["d"],
                PROBABILITY: cell.columns["single_cluster"].mean,
                f"mean_{TIME}": time.mean if time.defined else None,
                "seeds": time.seeds,
                **{f"mean_{name}": cell.columns[name].mean for name in AT_T},
            }
        )
    return summaries


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """The single-cluster probability as a table: rows d, columns beta."""
    points = metrics["points"]
    betas = sorted({point["beta"] for point in points})
    ds = sorted({point["d"] for point in points})
    value = {(point["beta"], point["d"]): point[PROBABILITY] for point in points}
    lines = ["P(single cluster at T)  beta: " + " ".join(f"{b:>5g}" for b in betas)]
    for d in ds:
        cells = " ".join("    -" if (b, d) not in value else f"{value[(b, d)]:5.2f}" for b in betas)
        lines.append(f"{'d = ' + str(d):>22}        {cells}")
    reference = metrics["reference_time_to_single_cluster"]
    lines.append(
        "equiangular t*(beta), d -> inf: "
        + ", ".join(
            f"{b}: {t:.3g}" if math.isfinite(t) else f"{b}: inf" for b, t in reference.items()
        )
    )
    return lines
