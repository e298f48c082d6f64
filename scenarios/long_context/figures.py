"""Figures of the long_context scenario (see ``scenarios.long_context``).

- ``transition``: the four observables at T against gamma, one line per n (mean over seeds, bars
  of one standard error), with gamma_c and its bootstrap interval, the equiangular limit
  1 / (1 - rho) and the scalable-softmax case gamma = s;
- ``sharpness``: the crossing of consecutive n against n beside the finite-d prediction, and the
  steepest drop of the mean cosine against n;
- ``circle`` (with ``vlasov_cells`` > 0): on S^1, the particles' mean cosine at T against gamma
  per n beside the Vlasov grid's (n = infinity at the same beta = gamma log n).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from scenarios.harness.style import FULL_WIDTH, figure_style, new_figure
from scenarios.long_context.config import LongContextConfig
from scenarios.long_context.simulation import (
    OBSERVABLES,
    ORDER_PARAMETER,
    LongContextResult,
    bootstrap_interval,
    critical_gamma,
    pair_crossings,
    predicted_gamma_c,
    steepest_drop,
)

LABELS = {
    "mean_cosine": "mean cosine ⟨xᵢ, xⱼ⟩, i ≠ j",
    "cluster_fraction": "clusters / tokens (first tokens)",
    "effective_rank": "effective rank of the tokens",
    "velocity": "RMS velocity |xᵢ'| at T",
}


def make_figures(config: LongContextConfig, result: LongContextResult) -> dict[str, Figure]:
    """Every figure of the scenario, by file stem."""
    with figure_style():
        figures = {
            "transition": plot_transition(config, result),
            "sharpness": plot_sharpness(config, result),
        }
        if result.circle_vlasov is not None:
            figures["circle"] = plot_circle(config, result)
        return figures


def _title(config: LongContextConfig) -> str:
    return (
        f"SA on S^{config.d - 1}, β = γ log n, initial cosine ρ = {config.rho:g}, "
        f"t = {config.T:g} ({config.steps} {config.method} steps), {config.seeds} seeds per n"
    )


def plot_transition(config: LongContextConfig, result: LongContextResult) -> Figure:
    """Observables at T against gamma, one line per n."""
    gammas = np.array(config.gammas)
    curves = result.final[ORDER_PARAMETER].mean(-1)
    gamma_c = critical_gamma(gammas, curves)
    interval = bootstrap_interval(
        gammas, result.final[ORDER_PARAMETER], config.bootstrap, config.seed
    )["interval"]
    fig = new_figure(FULL_WIDTH, 5.2, layout="constrained")
    axes = fig.subplots(2, 2, sharex=True).ravel()
    colors = [f"C{k % 10}" for k in range(len(config.ns))]
    for ax, name in zip(axes, OBSERVABLES, strict=True):
        values = result.final[name]
        for i, n in enumerate(config.ns):
            mean = values[i].mean(-1)
            error = values[i].std(-1, ddof=1) / np.sqrt(config.seeds)
            ax.errorbar(
                gammas,
                mean,
                yerr=error,
                color=colors[i],
                marker="o",
                markersize=3,
                label=f"n = {n}",
            )
            ax.plot(
                config.scalable_softmax_s,
                result.scalable[name][i].mean(),
                "*",
                color=colors[i],
                markersize=8,
            )
        ax.axvline(1 / (1 - config.rho), color="0.4", linestyle=":", linewidth=1)
        if gamma_c is not None:
            ax.axvline(gamma_c, color="k", linewidth=1)
        if interval is not None:
            ax.axvspan(*interval, color="0.85", zorder=0)
        ax.set_ylabel(LABELS[name])
        if name == "velocity":
            ax.set_yscale("log")
    for ax in axes[2:]:
        ax.set_xlabel("γ (β = γ log n)")
    shown = "none" if gamma_c is None else f"{gamma_c:.2f}"
    axes[0].legend(loc="lower left", ncols=2)
    fig.suptitle(
        f"Long-context transition: γ_c = {shown} (black, {100 * 0.95:.0f}% bootstrap band grey), "
        f"equiangular limit 1/(1 − ρ) dotted, scalable softmax s = "
        f"{config.scalable_softmax_s:g} (★)\n{_title(config)}"
    )
    return fig


def plot_sharpness(config: LongContextConfig, result: LongContextResult) -> Figure:
    """Crossings of consecutive n and the steepest drop, against n."""
    gammas = np.array(config.gammas)
    curves = result.final[ORDER_PARAMETER].mean(-1)
    ns = np.array(config.ns, dtype=float)
    fig = new_figure(FULL_WIDTH, 2.8, layout="constrained")
    left, right = fig.subplots(1, 2)
    crossings = pair_crossings(gammas, curves)
    middles = np.sqrt(ns[:-1] * ns[1:])
    found = [(m, c) for m, c in zip(middles, crossings, strict=True) if c is not None]
    if found:
        left.plot(*zip(*found, strict=True), "o", color="C0", label="crossing of n and next n")
    predicted = [(n, g) for n in config.ns if (g := predicted_gamma_c(config, n)) is not None]
    if predicted:
        left.plot(*zip(*predicted, strict=True), color="C1", label="finite-d prediction")
    left.axhline(1 / (1 - config.rho), color="0.4", linestyle=":", label="1/(1 − ρ)")
    left.set_xscale("log", base=2)
    left.set_xlabel("context length n")
    left.set_ylabel("γ where the curves cross")
    left.legend(loc="best")
    right.plot(ns, steepest_drop(gammas, curves), "o-", color="C2")
    right.set_xscale("log", base=2)
    right.set_xlabel("context length n")
    right.set_ylabel("steepest −d(mean cosine)/dγ")
    fig.suptitle(f"Does the transition sharpen as n grows?\n{_title(config)}")
    return fig


def plot_circle(config: LongContextConfig, result: LongContextResult) -> Figure:
    """S^1: particles (markers, one standard error) against the Vlasov grid (lines), per n."""
    gammas = np.array(config.gammas)
    fig = new_figure(FULL_WIDTH, 3.2, layout="constrained")
    ax = fig.subplots()
    for i, n in enumerate(config.ns):
        values = result.circle_particles[i]
        error = values.std(-1, ddof=1) / np.sqrt(config.seeds)
        color = f"C{i % 10}"
        ax.errorbar(
            gammas,
            values.mean(-1),
            yerr=error,
            color=color,
            marker="o",
            markersize=3,
            linestyle="none",
            label=f"particles, n = {n}",
        )
        ax.plot(gammas, result.circle_vlasov[i], color=color, linewidth=1)
    ax.plot([], [], color="0.3", linewidth=1, label="Vlasov grid (n = ∞) at β = γ log n")
    ax.set_xlabel("γ (β = γ log n)")
    ax.set_ylabel("mean cosine ⟨xᵢ, xⱼ⟩ at T")
    ax.legend(loc="upper right", ncols=2)
    fig.suptitle(
        f"S¹: particles against the mean-field limit, von Mises start κ = "
        f"{config.circle_kappa:g}, t = {config.T:g} ({config.steps} {config.method} steps), "
        f"{config.vlasov_cells} cells, {config.seeds} seeds per n"
    )
    return fig
