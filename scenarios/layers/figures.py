"""Figures of the layers scenario (see ``scenarios.layers``).

- ``errors``: distance between L layers and the flow at T against L, log-log, one panel per
  variant and distance, with the fitted orders in the legend and guide lines L^-1 and L^-2;
- ``clusters``: the flow's cluster count against time, and the layers' count at T against L
  beside the flow's, per variant.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from scenarios.harness.style import FULL_WIDTH, figure_style, new_figure
from scenarios.layers.config import LayersConfig
from scenarios.layers.simulation import VariantResults
from solvers import METHODS

RULE_LABELS = {
    "euler": "Euler (parallel block)",
    "projected_euler": "post-LN (projected Euler)",
    "lie_trotter": "Lie-Trotter (sequential)",
    "strang": "Strang (Macaron)",
}
RULE_STYLES = {
    "euler": {"color": "C0", "marker": "o"},
    "projected_euler": {"color": "C0", "marker": "o"},
    "lie_trotter": {"color": "C1", "marker": "s"},
    "strang": {"color": "C2", "marker": "^"},
}
DISTANCE_LABELS = {
    "max_token": "max$_i$ |X$_{L,i}$ − x$_i$(T)|",
    "w2": "W$_2$(layers, flow) at T",
}
VARIANT_TITLES = {"euclidean": "pre-norm block in R$^d$", "sphere": "post-norm block on the sphere"}


def make_figures(config: LayersConfig, results: dict[str, VariantResults]) -> dict[str, Figure]:
    """Every figure of the scenario, by file stem."""
    with figure_style():
        return {"errors": plot_errors(config, results), "clusters": plot_clusters(config, results)}


def _block_title(config: LayersConfig) -> str:
    return (
        f"random block: d = {config.d}, {config.heads} heads, MLP width {config.hidden} "
        f"({config.activation}), n = {config.n} tokens, T = {config.T:g}, seed {config.seed}"
    )


def _order_label(order: float | None) -> str:
    return "n/a" if order is None else f"{order:.2f}"


def plot_errors(config: LayersConfig, results: dict[str, VariantResults]) -> Figure:
    """Distance to the flow at T against the number of layers, log-log."""
    depths = np.asarray(config.depths, dtype=float)
    fig = new_figure(FULL_WIDTH, 5.6, layout="constrained")
    axes = fig.subplots(len(results), 2, sharex=True)
    for row, (variant, result) in zip(axes, results.items(), strict=True):
        for ax, name in zip(row, DISTANCE_LABELS, strict=True):
            for rule, by_name in result.distances.items():
                label = f"{RULE_LABELS[rule]}: order {_order_label(result.orders[rule][name])}"
                ax.plot(depths, by_name[name], label=label, markersize=3, **RULE_STYLES[rule])
            for power, style in ((1, "--"), (2, ":")):
                # Half the smallest final error among the rules of that order, so the guide
                # runs just below their curves.
                anchor = 0.5 * min(
                    by_name[name][-1]
                    for rule, by_name in result.distances.items()
                    if METHODS[rule].order == power
                )
                guide = anchor * (depths / depths[-1]) ** -power
                ax.plot(depths, guide, color="0.5", linestyle=style, linewidth=0.8)
                ax.annotate(
                    f"L$^{{-{power}}}$",
                    (depths[-1], guide[-1]),
                    fontsize=7,
                    color="0.4",
                    xytext=(3, -3),
                    textcoords="offset points",
                )
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_ylabel(DISTANCE_LABELS[name])
            ax.set_title(VARIANT_TITLES[variant])
            ax.legend(loc="lower left")
    for ax in axes[-1]:
        ax.set_xlabel("layers L (step h = T / L)")
    fig.suptitle(
        f"L layers against the continuous flow (dopri5, rtol {config.rtol:g}); orders fitted "
        f"over L ≥ {config.fit_from}\n{_block_title(config)}"
    )
    return fig


def plot_clusters(config: LayersConfig, results: dict[str, VariantResults]) -> Figure:
    """Top: the flow's cluster count against time. Bottom: the layers' count at T against L."""
    fig = new_figure(FULL_WIDTH, 5.0, layout="constrained")
    axes = fig.subplots(2, len(results))
    ylabel = f"clusters (cos > 1 − {config.cluster_tol:g})"
    for column, (variant, result) in enumerate(results.items()):
        over_time, by_depth = axes[0, column], axes[1, column]
        over_time.plot(result.flow_times, result.flow_clusters, color="k", label="flow")
        over_time.set_xlabel("time t (depth)")
        over_time.set_title(VARIANT_TITLES[variant])
        for rule, counts in result.clusters.items():
            by_depth.plot(
                config.depths, counts, label=RULE_LABELS[rule], markersize=4, **RULE_STYLES[rule]
            )
        by_depth.axhline(
            result.flow_clusters[-1], color="k", linestyle="--", linewidth=1, label="flow at T"
        )
        by_depth.set_xscale("log", base=2)
        by_depth.set_xlabel("layers L on [0, T]")
        by_depth.set_title(f"{VARIANT_TITLES[variant]}: clusters at T")
        for ax, corner in ((over_time, "upper right"), (by_depth, "center right")):
            ax.set_ylabel(ylabel)
            ax.set_ylim(0, config.n + 1)
            ax.legend(loc=corner)
    fig.suptitle(f"Clusters: layers against the flow\n{_block_title(config)}")
    return fig
