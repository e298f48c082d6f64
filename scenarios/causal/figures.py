"""Figures of the causal scenario (see ``scenarios.causal``).

- ``angles``: token angles against log time at ``figure_beta`` (first seed), causal and full side
  by side, the Rényi centers in black, the strong ones in red, the first token dashed;
- ``clusters``: the mean cluster count against log time for every beta, causal and full;
- ``plateaus``: the count on the first plateau against sqrt(beta), causal and full, beside the
  Rényi and strong Rényi centers of the initial clouds and their predictions;
- ``energy``: E_beta / E_max against log time at ``figure_beta``, causal and full, and its
  largest drop against beta (full SA never drops, causal SA does);
- ``atlas``: the S^2 tokens at the final time for every value matrix, with the first token's path.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

import dynamics
from scenarios.analysis import max_decrease
from scenarios.causal.config import CausalConfig
from scenarios.causal.simulation import MASKS, CausalResult, Run, first_plateaus, value_matrix
from scenarios.harness.style import FULL_WIDTH, figure_style, new_figure
from scenarios.harness.token_plots import draw_sphere, view_angles

MASK_STYLES = {"causal": "-", "full": "--"}
ENERGY_FLOOR = 1e-16
"""Drops below this (none, or rounding) are drawn at it on the log axis."""
ATLAS_TITLES = {
    "identity": "V = I",
    "top": "V = diag(1, 1/2, 1/4)",
    "indefinite": "V = diag(1, −1/2, −1)",
    "negative": "V = −I",
}


def make_figures(config: CausalConfig, result: CausalResult) -> dict[str, Figure]:
    """Every figure of the scenario, by file stem."""
    with figure_style():
        return {
            "angles": plot_angles(config, result),
            "clusters": plot_clusters(config, result),
            "plateaus": plot_plateaus(config, result),
            "energy": plot_energy(config, result),
            "atlas": plot_atlas(config, result),
        }


def _cloud_title(config: CausalConfig) -> str:
    return (
        f"SA on S¹, Q = K = V = I, n = {config.n} uniform tokens, {config.seeds} seeds, "
        f"clusters: cos > 1 − {config.cluster_tol:g}"
    )


def plot_angles(config: CausalConfig, result: CausalResult) -> Figure:
    """Token angles (unwrapped in time) against log time, causal and full, first seed."""
    beta = config.figure_beta
    delta = config.delta_scale / math.sqrt(beta)
    times = result.times[1:]
    centers, strong = result.centers[beta][0], result.strong[beta][0]
    fig = new_figure(FULL_WIDTH, 3.6, layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, mask in zip(axes, MASKS, strict=True):
        positions = result.runs[beta, mask].positions[1:, 0]
        angles = np.unwrap(np.arctan2(positions[..., 1], positions[..., 0]), axis=0)
        ax.plot(times, angles[:, ~centers], color="0.75", linewidth=0.4)
        ax.plot(times, angles[:, centers & ~strong], color="k", linewidth=1.0)
        ax.plot(times, angles[:, strong], color="C3", linewidth=1.2)
        ax.plot(times, angles[:, 0], color="C0", linestyle="--", linewidth=1.5)
        ax.set_xscale("log")
        ax.set_xlabel("time t (depth)")
        ax.set_title(f"{mask} attention")
    axes[0].set_ylabel("token angle θᵢ(t) (rad, unwrapped)")
    handles = [
        axes[0].plot([], [], color=color, linestyle=style, linewidth=width, label=label)[0]
        for color, style, width, label in (
            ("0.75", "-", 0.8, "other tokens"),
            ("k", "-", 1.0, f"Rényi centers ({int(centers.sum())})"),
            ("C3", "-", 1.2, f"strong Rényi centers ({int(strong.sum())})"),
            ("C0", "--", 1.5, "first token x₁"),
        )
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=4)
    fig.suptitle(
        f"Token angles at β = {beta:g}, first seed; centers from the initial tokens with "
        f"δ = {config.delta_scale:g}/√β = {delta:.2f}\n{_cloud_title(config)}"
    )
    return fig


def plot_clusters(config: CausalConfig, result: CausalResult) -> Figure:
    """Mean cluster count against log time, one colour per beta, causal solid, full dashed."""
    fig = new_figure(FULL_WIDTH, 3.4, layout="constrained")
    ax = fig.subplots()
    times = result.times[1:]
    for index, beta in enumerate(config.betas):
        for mask in MASKS:
            counts = result.runs[beta, mask].counts[1:].mean(1)
            label = f"β = {beta:g}" if mask == "causal" else None
            ax.plot(times, counts, color=f"C{index}", linestyle=MASK_STYLES[mask], label=label)
    for mask in MASKS:
        ax.plot([], [], color="0.3", linestyle=MASK_STYLES[mask], label=f"{mask} attention")
    ax.axvline(config.t_min, color="0.5", linewidth=0.8, linestyle=":")
    ax.set_xscale("log")
    ax.set_xlabel("time t (depth)")
    ax.set_ylabel(f"clusters (cos > 1 − {config.cluster_tol:g}), mean over seeds")
    ax.set_ylim(bottom=0)
    fig.legend(loc="outside lower center", ncols=4)
    fig.suptitle(
        f"Cluster count against time, causal and full (plateaus sought from t = "
        f"{config.t_min:g}, dotted)\n{_cloud_title(config)}"
    )
    return fig


def plot_plateaus(config: CausalConfig, result: CausalResult) -> Figure:
    """First-plateau count and Rényi counts against sqrt(beta), with the predictions."""
    fig = new_figure(FULL_WIDTH, 3.6, layout="constrained")
    ax = fig.subplots()
    roots = np.sqrt(np.array(config.betas))
    for offset, mask, marker in ((-0.06, "causal", "o"), (0.06, "full", "s")):
        for root, beta in zip(roots, config.betas, strict=True):
            run = result.runs[beta, mask]
            counts = _first_plateau_counts(config, result.times, run)
            ax.plot(np.full(len(counts), root + offset), counts, marker, color="0.6", markersize=3)
        means = [
            np.mean(_first_plateau_counts(config, result.times, result.runs[b, mask]) or [np.nan])
            for b in config.betas
        ]
        color = "C0" if mask == "causal" else "C1"
        ax.plot(roots + offset, means, marker, color=color, label=f"first plateau, {mask} (mean)")
    centers = [result.centers[beta].sum(-1).mean() for beta in config.betas]
    strong = [result.strong[beta].sum(-1).mean() for beta in config.betas]
    ax.plot(roots, centers, "D", color="k", fillstyle="none", label="Rényi centers at t = 0")
    ax.plot(roots, strong, "^", color="C3", fillstyle="none", label="strong Rényi centers at t = 0")
    fine = np.linspace(roots.min(), roots.max(), 25)
    deltas = config.delta_scale / fine
    ax.plot(
        fine,
        [dynamics.circle_renyi_center_mean(delta) for delta in deltas],
        color="k",
        linewidth=1,
        label="Rényi parking, saturated: 1 + M(2π/α − 1) ≈ 2πc/α",
    )
    ax.plot(
        fine,
        [dynamics.circle_strong_center_mean(delta, config.n) for delta in deltas],
        color="C3",
        linewidth=1,
        linestyle="--",
        label=f"strong centers: (1 − (1 − α/π)ⁿ)/(α/π), n = {config.n}",
    )
    ax.set_xlabel("√β")
    ax.set_ylabel("clusters / centers")
    ax.legend(loc="upper left")
    fig.suptitle(
        f"Metastable clusters on the first plateau against Rényi centers, "
        f"δ = {config.delta_scale:g}/√β, α = 2 arcsin(δ/2), c = "
        f"{dynamics.RENYI_PARKING_CONSTANT:.4f}\n{_cloud_title(config)}"
    )
    return fig


def _first_plateau_counts(config: CausalConfig, times: np.ndarray, run: Run) -> list[int]:
    return [p["count"] for p in first_plateaus(config, times, run) if p is not None]


def plot_energy(config: CausalConfig, result: CausalResult) -> Figure:
    """Left: E_beta / E_max against log time at figure_beta, every seed, causal and full. Right:
    the largest drop of E_beta / E_max between output times against beta (max over seeds)."""
    beta = config.figure_beta
    fig = new_figure(FULL_WIDTH, 3.2, layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=(3, 2))
    times = result.times[1:]
    for mask, color in zip(MASKS, ("C0", "C1"), strict=True):
        energy = result.runs[beta, mask].energy[1:]
        left.plot(times, energy, color=color, linestyle=MASK_STYLES[mask], linewidth=0.9)
        left.plot([], [], color=color, linestyle=MASK_STYLES[mask], label=f"{mask} attention")
        drops = [
            max(max_decrease(series) for series in result.runs[b, mask].energy.T)
            for b in config.betas
        ]
        right.plot(
            config.betas,
            np.maximum(drops, ENERGY_FLOOR),
            "o" + MASK_STYLES[mask],
            color=color,
            label=f"{mask} attention",
        )
    left.set_xscale("log")
    left.set_xlabel("time t (depth)")
    left.set_ylabel("E_β / E_max = Σᵢⱼ e^{β(⟨xᵢ,xⱼ⟩−1)} / n²")
    left.set_title(f"β = {beta:g}, one line per seed")
    left.legend(loc="upper left")
    right.set_yscale("log")
    right.set_xscale("log")
    right.set_xlabel("β")
    right.set_ylabel(f"largest drop of E_β / E_max (floor {ENERGY_FLOOR:g})")
    right.set_title("non-monotonicity, max over seeds")
    right.legend(loc="center right")
    fig.suptitle(
        "Interaction energy: full SA increases it (a gradient flow), causal SA need not\n"
        + _cloud_title(config)
    )
    return fig


def plot_atlas(config: CausalConfig, result: CausalResult) -> Figure:
    """Final S^2 tokens per value matrix (first seed), with the first token's path."""
    names = list(result.atlas)
    fig = new_figure(FULL_WIDTH, 2.6, layout="constrained")
    for index, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), index + 1, projection="3d")
        positions = result.atlas[name].positions[:, 0]
        final = positions[-1]
        draw_sphere(ax, view_angles(np.array([1.0, 0.3, 0.4])))
        ax.scatter(*final.T, s=4, color="C0", depthshade=False)
        ax.plot(*positions[:, 0].T, color="C3", linewidth=1.2)
        ax.scatter(*positions[-1, 0], s=20, color="C3", marker="*", depthshade=False)
        eigen = ", ".join(f"{v:g}" for v in sorted(np.diag(value_matrix(name, 3).numpy())))
        ax.set_title(f"{ATLAS_TITLES[name]}\neigenvalues {eigen}", fontsize=8)
    fig.suptitle(
        f"Causal SA on S², β = {config.atlas_beta:g}, n = {config.n}: tokens at t = "
        f"{config.atlas_time:g} (blue), first token's path (red, ★ at the end)"
    )
    return fig
