"""Figures of the metastability scenario (see ``scenarios.metastability``).

- ``cluster_counts``: the cluster count against log t, one panel per beta, one step line per seed,
  each seed's first plateau drawn thick;
- ``first_plateau``: the count on the first plateau against sqrt(beta): mean and spread over
  seeds, the fitted power law, sqrt(2 beta) and the most unstable Fourier mode (circle);
- ``energy_staircase``: E_beta / E_max against log t, one panel per beta, one line per seed, with
  sum_c m_c^2 of the counted clusters (the energy of point clusters) dotted.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from scenarios.harness.style import FULL_WIDTH, figure_style, new_figure
from scenarios.metastability.config import MetastabilityConfig
from scenarios.metastability.simulation import BetaRun, MetastabilityResult

COLUMNS = 3
"""Panels per row of the per-beta figures."""

COUNT_TICKS = (1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 300, 500, 1000, 2000, 3000, 5000, 10_000)
"""Ticks of the logarithmic cluster-count axis, written as integers."""

DENSE_COUNT_TICKS = tuple(sorted({*COUNT_TICKS, 4, 6, 7, 15, 40, 70, 150, 400, 700}))
"""The ticks of a count axis that spans too little for ``COUNT_TICKS`` to mark it 4 times."""


def count_ticks(low: float, high: float) -> list[int]:
    """Ticks for counts in [low, high]: ``COUNT_TICKS`` there, or the denser set if that gives
    fewer than 4."""
    sparse = [tick for tick in COUNT_TICKS if low <= tick <= high]
    return sparse if len(sparse) >= 4 else [t for t in DENSE_COUNT_TICKS if low <= t <= high]


def make_figures(config: MetastabilityConfig, result: MetastabilityResult) -> dict[str, Figure]:
    """Every figure of the scenario, by file stem."""
    with figure_style():
        return {
            "cluster_counts": plot_counts(config, result.times, result.runs),
            "first_plateau": plot_first_plateau(config, result),
            "energy_staircase": plot_energy(config, result.times, result.runs),
        }


def _setting(config: MetastabilityConfig) -> str:
    name = "SA" if config.normalization == "softmax" else "USA"
    sphere = "the circle" if config.d == 2 else f"S$^{{{config.d - 1}}}$"
    return f"{name}, n = {config.n} tokens uniform on {sphere}, {config.seeds} clouds"


def _panels(runs: list[BetaRun], height: float) -> tuple[Figure, list]:
    rows = math.ceil(len(runs) / COLUMNS)
    columns = min(COLUMNS, len(runs))
    fig = new_figure(FULL_WIDTH, height * rows + 0.6, layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False).ravel())
    for ax in axes[len(runs) :]:
        ax.set_visible(False)
    return fig, list(axes[: len(runs)])


def plot_counts(config: MetastabilityConfig, times: np.ndarray, runs: list[BetaRun]) -> Figure:
    """Cluster count against t (log axis, t > 0), per beta and seed; first plateaus thick."""
    fig, axes = _panels(runs, 2.2)
    positive = times > 0
    for ax, run in zip(axes, runs, strict=True):
        firsts = run.first_plateaus(times, config.plateau_factor)
        for seed, plateau in enumerate(firsts):
            color = f"C{seed % 10}"
            ax.step(times[positive], run.counts[positive, seed], where="post", color=color, lw=1)
            if plateau is not None:
                a, b = plateau
                ax.plot(times[[a, b]], run.counts[[a, b], seed], color=color, lw=4, alpha=0.4)
        ax.set_xscale("log")
        ax.set_yscale("log")
        shown = run.counts[positive]
        ax.yaxis.set_major_locator(FixedLocator(count_ticks(shown.min(), shown.max())))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_title(f"β = {run.beta:g}")
        ax.set_xlabel("time t")
        ax.set_ylabel("clusters")
    axes[0].plot([], [], color="0.4", lw=1, label="one cloud (a colour each)")
    axes[0].plot([], [], color="0.4", lw=4, alpha=0.4, label="its first plateau")
    fig.legend(loc="outside lower center", ncols=2)
    fig.suptitle(
        f"{_setting(config)}: cluster count (cos > 1 − {config.cluster_tol:g}); a plateau holds "
        f"the count over a factor {config.plateau_factor:g} in time"
    )
    return fig


def plot_first_plateau(config: MetastabilityConfig, result: MetastabilityResult) -> Figure:
    """First-plateau count against sqrt(beta): per-seed dots, mean, fit and predictions."""
    fig = new_figure(FULL_WIDTH * 0.6, 3.2, layout="constrained")
    ax = fig.subplots()
    entries = sorted(result.entries, key=lambda entry: entry["beta"])
    for entry in entries:
        counts = [count for count in entry["first_plateau_counts"] if count is not None]
        root = math.sqrt(entry["beta"])
        ax.plot([root] * len(counts), counts, "o", color="C0", alpha=0.35, markersize=4)
    ax.plot([], [], "o", color="C0", alpha=0.35, markersize=4, label="one cloud")
    found = [entry for entry in entries if entry["first_plateau_mean"] is not None]
    roots = np.sqrt([entry["beta"] for entry in found])
    ax.plot(roots, [e["first_plateau_mean"] for e in found], "D", color="C0", label="mean")
    grid = np.linspace(0, math.sqrt(entries[-1]["beta"]) * 1.05, 200)[1:]
    fit = result.fit
    if fit["exponent"] is not None:
        exponent, prefactor = fit["exponent"], fit["prefactor"]
        label = f"fit {prefactor:.2f} β$^{{{exponent:.2f}}}$"
        ax.plot(grid, prefactor * grid ** (2 * exponent), color="C0", label=label)
    if config.d == 2:
        ax.plot(grid, np.sqrt(2) * grid, "k--", lw=0.8, label="√(2β)")
        modes = [entry["linear_stability_mode"] for entry in entries]
        roots = np.sqrt([entry["beta"] for entry in entries])
        ax.plot(roots, modes, "x", color="k", label="most unstable mode k*(β)")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("√β")
    ax.set_ylabel("clusters on the first plateau")
    ax.legend(loc="upper left")
    ax.set_title(_setting(config), fontsize=8)
    return fig


def plot_energy(config: MetastabilityConfig, times: np.ndarray, runs: list[BetaRun]) -> Figure:
    """E_beta / E_max against t per beta and seed, with sum_c m_c^2 of the clusters dotted."""
    fig, axes = _panels(runs, 2.2)
    positive = times > 0
    for ax, run in zip(axes, runs, strict=True):
        for seed in range(run.energy.shape[1]):
            color = f"C{seed % 10}"
            ax.plot(times[positive], run.energy[positive, seed], color=color, lw=1)
            ax.plot(times[positive], run.cluster_energy[positive, seed], ":", color=color, lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"β = {run.beta:g}")
        ax.set_xlabel("time t")
        ax.set_ylabel("E$_β$ / E$_{max}$")
    axes[0].plot([], [], color="0.3", lw=1, label="E$_β$ / E$_{max}$")
    axes[0].plot([], [], ":", color="0.3", lw=1, label="Σ$_c$ m$_c^2$ of the clusters")
    fig.legend(loc="outside lower center", ncols=2)
    fig.suptitle(f"{_setting(config)}: the interaction energy's staircase, one colour per cloud")
    return fig
