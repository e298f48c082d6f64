"""Figures of the phase-diagram scenario: the single-cluster probability over (beta, d); the time
to a single cluster against beta per d with the equiangular reference drawn over it; the
pair-collision fraction at T against beta; and over (t, beta), one panel per d, every time series
the sweep kept (P(single cluster at t), the pair-collision fraction, the span dimension and the
largest cluster's share)."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from scenarios.harness.sweep_plots import (
    heat_map,
    line_plot,
    resolve_value,
    time_heat_map,
)
from scenarios.harness.sweep_results import SweepResults
from scenarios.phase_diagram.config import PhaseDiagramConfig
from scenarios.phase_diagram.simulation import (
    COLLISIONS,
    PROBABILITY,
    TIME,
    equiangular_cluster_time,
)


def make_figures(config: PhaseDiagramConfig, results: SweepResults) -> dict[str, Figure]:
    """The single-cluster probability heat map, the time to a single cluster (with the
    equiangular reference, which holds for Q = K = V = I only) and the collision fraction at T
    against beta, and the (t, beta) heat map of every kept time series."""

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
        ax.axhline(config.T, color="0.5", linewidth=0.8, linestyle=":", label=f"T = {config.T:g}")

    identity = (config.query_key, config.value) == ("identity", "identity")
    return {
        f"phase_{PROBABILITY}_beta_d": heat_map(
            results, "beta", "d", resolve_value(results, PROBABILITY)
        ),
        f"line_{TIME}_beta": line_plot(
            results,
            "beta",
            resolve_value(results, TIME),
            decorate=draw_reference if identity else None,
        ),
        f"line_{COLLISIONS}_beta": line_plot(results, "beta", resolve_value(results, COLLISIONS)),
        **{
            f"phase_{name}_t_beta": time_heat_map(results, "beta", name)
            for name in results.series_names
        },
    }
