"""Phase diagram of clustering: probability of a single cluster and time to it, against beta and d.

The clustering scenario (``scenarios.clustering``: n tokens uniform on S^{d-1}, Q = K = V = I, SA or
USA dynamics) swept over the inverse temperature beta and the dimension d with the sweep machinery
(``scenarios.sweep``): every (beta, d) point solves all ``seeds`` initial clouds as one batched
solve. Measured per point: the fraction of seeds whose tokens form a single cluster by time T
(single linkage, cos > 1 - ``cluster_tol``), and the time at which they first do.

Reference curve (Geshkovski, Letrouit, Polyanskiy, Rigollet, "A mathematical perspective on
Transformers"): when all pairwise inner products start equal to rho(0), they stay equal, and rho
follows the equiangular ODE

    SA:  rho' = 2 e^{beta rho} (1 - rho) ((n - 1) rho + 1) / (e^beta + (n - 1) e^{beta rho})
    USA: rho' = (2 / n) e^{beta rho} (1 - rho) ((n - 1) rho + 1).

For large d, n uniform tokens are nearly orthogonal (inner products of size 1/sqrt(d)), so the
equiangular solution from rho(0) = 0 predicts the time to a single cluster: the time t* at which
rho reaches 1 - cluster_tol (every pair is then linked). Since rho' = g(rho) > 0 on [0, 1), the
time is t* = int_0^{1 - tol} d rho / g(rho), computed by Gauss-Legendre quadrature
(``equiangular_cluster_time``). The figures: a heat map of the single-cluster probability over
(beta, d), and the mean time to a single cluster against beta per d (band: one standard error over
the seeds that reached one cluster by T) with t*(beta) drawn over it.

The sweep's table (``sweep/``: ``sweep.json``, ``results.jsonl``, ``results.csv``) is written
beside the figures; ``attnflow plot phase OUT/sweep ...`` draws other views of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes

from scenarios import sweep, sweep_plots
from scenarios.clustering import NORMALIZATIONS
from scenarios.config import config_to_dict, did_you_mean, format_value
from scenarios.style import save_figure
from scenarios.validation import check_seed, is_int, is_real, require, require_distinct

NAME = "phase_diagram"
SWEEP_DIR = "sweep"
PROBABILITY = "single_cluster_prob"
TIME = "time_to_single_cluster"
_QUADRATURE_NODES = 128


@dataclass(frozen=True)
class PhaseDiagramConfig:
    """Parameters of the phase-diagram scenario; every field can be set with ``--set KEY=VALUE``."""

    betas: tuple[float, ...] = field(
        default=(0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0),
        metadata={"help": "inverse temperatures beta >= 0 (the x axis)"},
    )
    ds: tuple[int, ...] = field(
        default=(2, 3, 4, 8, 32),
        metadata={"help": "token dimensions d >= 2, tokens on S^{d-1} (the y axis)"},
    )
    n: int = field(default=32, metadata={"help": "number of tokens"})
    T: float = field(default=20.0, metadata={"help": "final time (> 0)"})
    num_times: int = field(
        default=201,
        metadata={"help": "output times on [0, T] (>= 2): the resolution of the time to cluster"},
    )
    seeds: int = field(
        default=16, metadata={"help": "initial clouds per (beta, d), solved as one batch (>= 1)"}
    )
    seed: int = field(default=0, metadata={"help": "first seed: seeds are seed, seed + 1, ..."})
    normalization: str = field(
        default="softmax", metadata={"help": "attention normalization: softmax (SA) or uniform"}
    )
    cluster_tol: float = field(
        default=1e-2,
        metadata={"help": "tokens with cosine > 1 - cluster_tol are linked (0 < cluster_tol < 1)"},
    )
    rtol: float = field(default=1e-6, metadata={"help": "relative tolerance of dopri5"})
    atol: float = field(default=1e-8, metadata={"help": "absolute tolerance of dopri5"})
    workers: int = field(
        default=0,
        metadata={"help": "processes solving points (0: one per CPU core; 1: in this process)"},
    )
    figures: bool = field(
        default=True,
        metadata={"help": "write the figures (false: only the sweep table and the JSON files)"},
    )

    def validate(self) -> None:
        """Raise ValueError naming the first impossible field (the points are checked by the
        clustering scenario's config, through the sweep planner)."""
        for name in ("betas", "ds"):
            values = getattr(self, name)
            require(isinstance(values, tuple) and values, name, values, "a non-empty list")
            require_distinct(name, values)
        for beta in self.betas:
            require(is_real(beta) and beta >= 0, "betas", self.betas, "numbers beta >= 0")
        for d in self.ds:
            require(is_int(d) and d >= 2, "ds", self.ds, "integers d >= 2")
        require(is_int(self.seeds) and self.seeds >= 1, "seeds", self.seeds, "an integer >= 1")
        check_seed(self.seed)
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization={self.normalization!r} is not accepted"
                f"{did_you_mean(str(self.normalization), NORMALIZATIONS)}; "
                f"choose one of {', '.join(NORMALIZATIONS)}"
            )
        require(
            is_real(self.cluster_tol) and 0 < self.cluster_tol < 1,
            "cluster_tol",
            self.cluster_tol,
            "a number in (0, 1)",
        )
        require(is_int(self.workers) and self.workers >= 0, "workers", self.workers, ">= 0")
        require(isinstance(self.figures, bool), "figures", self.figures, "true or false")
        sweep_of(self)  # every point's clustering config (n, T, num_times, tolerances, betas)


Config = PhaseDiagramConfig
"""The scenario's config class (the name every scenario module exports)."""


def sweep_of(config: PhaseDiagramConfig) -> sweep.Sweep:
    """The clustering sweep over (betas, d) of ``config`` (ConfigError if a point is invalid)."""
    shared = {
        "n": config.n,
        "T": config.T,
        "num_times": config.num_times,
        "normalizations": (config.normalization,),
        "seed": config.seed,
        "cluster_tol": config.cluster_tol,
        "method": "dopri5",
        "rtol": config.rtol,
        "atol": config.atol,
    }
    return sweep.plan_sweep(
        "clustering",
        [f"betas={format_value(config.betas)}", f"d={format_value(config.ds)}"],
        config.seeds,
        [f"{key}={format_value(value)}" for key, value in shared.items()],
    )


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


def run(config: PhaseDiagramConfig, out_dir: Path) -> dict[str, object]:
    """Sweep (beta, d) into ``out_dir/sweep``, draw the figures, return the metrics."""
    out_dir = Path(out_dir)
    sweep.run_sweep(sweep_of(config), out_dir / SWEEP_DIR, workers=config.workers or None)
    results = sweep_plots.load_results(out_dir / SWEEP_DIR)
    reference = {
        float(beta): equiangular_cluster_time(
            config.n, beta, config.cluster_tol, config.normalization
        )
        for beta in config.betas
    }
    figures = []
    if config.figures:
        probability = sweep_plots.heat_map(
            results, "beta", "d", sweep_plots.resolve_value(results, PROBABILITY)
        )
        stem = f"phase_{PROBABILITY}_beta_d"
        save_figure(probability, out_dir / stem)
        figures.append(stem)

        def draw_reference(ax: Axes) -> None:
            betas = np.linspace(min(config.betas), max(config.betas), 200)
            times = np.array(
                [
                    equiangular_cluster_time(config.n, b, config.cluster_tol, config.normalization)
                    for b in betas
                ]
            )
            shown = times <= 1.5 * config.T
            label = "equiangular ODE from ρ(0) = 0 (d → ∞)"
            ax.plot(betas[shown], times[shown], color="black", linestyle="--", label=label)
            ax.axhline(
                config.T, color="0.5", linewidth=0.8, linestyle=":", label=f"T = {config.T:g}"
            )

        value = sweep_plots.resolve_value(results, TIME)
        times = sweep_plots.line_plot(results, "beta", value, decorate=draw_reference)
        stem = f"line_{TIME}_beta"
        save_figure(times, out_dir / stem)
        figures.append(stem)
    return {
        "scenario": NAME,
        "parameters": config_to_dict(config),
        "points": _point_summaries(results.rows),
        "reference_time_to_single_cluster": {format_value(b): t for b, t in reference.items()},
        "sweep_dir": SWEEP_DIR,
        "figures": figures,
    }


def _point_summaries(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Per (beta, d): the fraction of seeds with one cluster at T and the mean time to it."""
    points: dict[tuple, list[dict]] = {}
    for row in rows:
        points.setdefault((row["beta"], row["d"]), []).append(row)
    summaries = []
    for (beta, d), group in points.items():
        times = [row[TIME] for row in group if row[TIME] is not None]
        summaries.append(
            {
                "beta": beta,
                "d": d,
                PROBABILITY: sum(row["single_cluster"] for row in group) / len(group),
                f"mean_{TIME}": sum(times) / len(times) if times else None,
                "seeds": len(group),
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
