"""Figures of the normalization scenario (see ``scenarios.normalization``).

- ``clustering``: mean pairwise cosine and effective rank against depth, one row per (d, beta),
  every scheme as layers (solid) and as its flow (dashed);
- ``speed``: the direction's speed factor (against the Post-LN velocity) and the mean radius
  against depth, for the first and last (d, beta);
- ``updates``: the relative update |x_l - x_{l-1}| / |x_{l-1}| against depth, one panel per
  (d, beta): the curse of depth;
- ``equiangular``: 1 - rho of each scheme's reduced ODE (lines) and of the particles (dots) against
  the layers' time, and the tail near one cluster (log-log) with the fitted rates;
- ``minilm``: all-MiniLM-L6-v2 under each scheme: mean cosine and effective rank against depth.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from dynamics.normalization import SCHEMES
from scenarios.harness.style import FULL_WIDTH, figure_style, new_figure
from scenarios.normalization.config import NormalizationConfig
from scenarios.normalization.simulation import Results

LABELS = {
    "post_ln": "Post-LN",
    "pre_ln": "Pre-LN",
    "peri_ln": "Peri-LN",
    "mix_ln": "Mix-LN",
    "ngpt": "nGPT",
    "depth_scaled": "depth-scaled",
}
COLORS = {scheme: f"C{index}" for index, scheme in enumerate(SCHEMES)}


def make_figures(config: NormalizationConfig, results: Results) -> dict[str, Figure]:
    """Every figure of the scenario, by file stem."""
    with figure_style():
        figures = {
            "clustering": plot_clustering(config, results),
            "speed": plot_speed(config, results),
            "updates": plot_updates(config, results),
            "equiangular": plot_equiangular(config, results),
        }
        if results.minilm is not None:
            figures["minilm"] = plot_minilm(config, results)
    return figures


def _setup(config: NormalizationConfig) -> str:
    return (
        f"n = {config.n} tokens uniform on the sphere, {config.attention} attention "
        "(Q = K = V = I), "
        f"step h = {config.h:g} per layer, Mix-LN: {config.post_layers} Post-LN layers, "
        f"seed {config.seed}"
    )


def _legend(fig: Figure, ax) -> None:
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels))


def _plot_schemes(ax, runs: dict, observable: str, *, flows: bool = True) -> None:
    """One colour per scheme: its layers solid and (with ``flows``) its flow dashed, the two line
    styles in the legend after the schemes."""
    for scheme, by_kind in runs.items():
        values = by_kind["layers"][observable]
        depths = np.arange(len(values)) + (len(by_kind["layers"]["mean_cosine"]) - len(values))
        ax.plot(depths, values, color=COLORS[scheme], label=LABELS[scheme])
        if flows:
            ax.plot(
                depths,
                by_kind["flow"][observable],
                color=COLORS[scheme],
                linestyle="--",
                linewidth=1,
            )
    if flows:
        ax.plot([], [], color="0.3", label="layers")
        ax.plot([], [], color="0.3", linestyle="--", linewidth=1, label="flow")


def plot_clustering(config: NormalizationConfig, results: Results) -> Figure:
    """Mean cosine and effective rank against depth, per (d, beta)."""
    cells = results.cells
    fig = new_figure(FULL_WIDTH, 1.7 * len(cells) + 1.0, layout="constrained")
    axes = fig.subplots(len(cells), 2, sharex=True, squeeze=False)
    for row, (cell, runs) in zip(axes, cells.items(), strict=True):
        _plot_schemes(row[0], runs, "mean_cosine")
        _plot_schemes(row[1], runs, "effective_rank")
        row[0].set_ylabel("mean pairwise cosine")
        row[1].set_ylabel("effective rank")
        for ax in row:
            ax.set_title(cell)
    for ax in axes[-1]:
        ax.set_xlabel("depth l (layers)")
    _legend(fig, axes[0, 0])
    fig.suptitle(f"Clustering against depth\n{_setup(config)}")
    return fig


def plot_speed(config: NormalizationConfig, results: Results) -> Figure:
    """Speed factor and radius against depth for the first and the last (d, beta)."""
    names = list(results.cells)
    shown = names if len(names) == 1 else [names[0], names[-1]]
    fig = new_figure(FULL_WIDTH, 1.9 * len(shown) + 1.0, layout="constrained")
    axes = fig.subplots(len(shown), 2, sharex=True, squeeze=False)
    for row, cell in zip(axes, shown, strict=True):
        runs = results.cells[cell]
        _plot_schemes(row[0], runs, "speed")
        _plot_schemes(row[1], runs, "radius")
        row[0].axhline(1.0, color="0.5", linewidth=0.8)
        row[0].set_ylabel("speed factor s")
        row[1].set_ylabel("mean radius |x$_i$|")
        for ax in row:
            ax.set_yscale("log")
            ax.set_title(cell)
    for ax in axes[-1]:
        ax.set_xlabel("depth l (layers)")
    _legend(fig, axes[0, 0])
    fig.suptitle(
        "Normalization as speed regulation: |Δθ| per layer over h |P$_θ$A(θ)| (left), "
        "radius (right)"
        f"\n{_setup(config)}"
    )
    return fig


def plot_updates(config: NormalizationConfig, results: Results) -> Figure:
    """Relative update norm against depth, one panel per (d, beta)."""
    cells = results.cells
    columns = min(2, len(cells))
    rows = -(-len(cells) // columns)
    fig = new_figure(FULL_WIDTH, 1.9 * rows + 1.0, layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, columns, sharex=True, squeeze=False)).ravel()
    for ax, (cell, runs) in zip(axes, cells.items(), strict=False):
        _plot_schemes(ax, runs, "update")
        ax.set_yscale("log")
        ax.set_title(cell)
        ax.set_ylabel("|x$_l$ − x$_{l−1}$| / |x$_{l−1}$|")
        ax.set_xlabel("depth l (layers)")
    for ax in axes[len(cells) :]:
        ax.set_visible(False)
    _legend(fig, axes[0])
    fig.suptitle(f"How much layer l changes its input (curse of depth)\n{_setup(config)}")
    return fig


def plot_equiangular(config: NormalizationConfig, results: Results) -> Figure:
    """1 - rho against time: reduced ODE and particles; the tail with fitted rates."""
    beta = config.betas[0]
    fig = new_figure(FULL_WIDTH, 3.4, layout="constrained")
    early, tail = fig.subplots(1, 2)
    times = np.arange(config.depth + 1) * config.h
    for scheme, by_beta in results.equiangular.items():
        result = by_beta[beta]
        color = COLORS[scheme]
        early.plot(times, 1 - result.rho, color=color, label=LABELS[scheme])
        early.plot(times[::4], 1 - result.particle_rho[::4], "o", color=color, markersize=3)
        rate = "n/a" if np.isnan(result.fitted_rate) else f"{result.fitted_rate:.3f}"
        law = "e$^{-λt}$" if result.law == "exponential" else "t$^{-p}$"
        clock = "l" if scheme == "depth_scaled" else "t"
        label = (
            f"{LABELS[scheme]}: {law.replace('t', clock)}, fitted {rate} "
            f"(theory {result.predicted_rate:.3g})"
        )
        positive = result.tail_eps > 0
        tail.plot(result.tail_time[positive], result.tail_eps[positive], color=color, label=label)
    early.set_yscale("log")
    early.set_xlabel("time t = l h")
    early.set_ylabel("1 − ρ (ε)")
    early.set_title(f"reduced ODE (lines) and {config.equiangular_n} particles (dots)")
    early.legend(loc="lower left")
    tail.set_xscale("log")
    tail.set_yscale("log")
    tail.set_ylim(1e-9, 1.0)
    tail.set_xlabel("time t (depth-scaled: layer l)")
    tail.set_ylabel("1 − ρ (ε)")
    tail.set_title("near one cluster, with fitted rates")
    tail.legend(loc="lower left", fontsize=6)
    fig.suptitle(
        f"Equiangular reduction: all cosines ρ(t), radii r(t); {config.attention} attention, "
        f"β = {beta:g}, ρ0 = {config.rho0:g}, h = {config.h:g}"
    )
    return fig


def plot_minilm(config: NormalizationConfig, results: Results) -> Figure:
    """all-MiniLM-L6-v2 under each scheme: mean cosine and effective rank against depth."""
    fig = new_figure(FULL_WIDTH, 2.8, layout="constrained")
    cosine, rank = fig.subplots(1, 2, sharex=True)
    for scheme, series in results.minilm.items():
        depths = np.arange(len(series["mean_cosine"]))
        cosine.plot(depths, series["mean_cosine"], color=COLORS[scheme], label=LABELS[scheme])
        rank.plot(depths, series["effective_rank"], color=COLORS[scheme], label=LABELS[scheme])
    for ax, label in ((cosine, "mean pairwise cosine"), (rank, "effective rank")):
        ax.axvline(6, color="0.5", linewidth=0.8, linestyle=":")
        ax.set_xlabel("depth l (layers)")
        ax.set_ylabel(label)
    _legend(fig, cosine)
    fig.suptitle(
        f"all-MiniLM-L6-v2's weights under each scheme's layer rule, {config.minilm_sentences} "
        f"sentences, nGPT α = {config.minilm_alpha:g}\nlayer l uses the weights of layer "
        "(l − 1) mod 6 (dotted: the model's 6 layers; Post-LN is the model itself)"
    )
    return fig
