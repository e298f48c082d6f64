"""Figures of the clustering scenario, drawn from its runs.

- ``snapshots_<normalization>``: tokens at a few times, rows beta, columns time; a 3D sphere for
  d = 3, the circle for d = 2, the projection onto (x_1, x_2) otherwise;
- ``inner_products``: the distribution of <x_i, x_j> (i < j) over time, one heat map per run;
- ``energy``: E_beta / E_max over time, one panel per normalization, one line per beta;
- ``cluster_count``: the number of clusters over time, likewise.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from scenarios.clustering.config import ClusteringConfig
from scenarios.clustering.simulation import RunResult
from scenarios.harness.style import FULL_WIDTH, figure_style, new_figure
from scenarios.harness.token_plots import draw_disk, draw_sphere, view_angles

LABELS = {"softmax": "SA (softmax)", "uniform": "USA (uniform)"}
"""How each normalization is named in figure titles."""


def make_figures(config: ClusteringConfig, results: list[RunResult]) -> dict[str, Figure]:
    """Every figure of the scenario, by file stem (the energy figure needs some beta > 0)."""
    with figure_style():
        figures = {
            f"snapshots_{normalization}": plot_snapshots(config, results, normalization)
            for normalization in config.normalizations
        }
        figures["inner_products"] = plot_inner_products(config, results)
        if any(beta > 0 for beta in config.betas):
            figures["energy"] = plot_energy(config, results)
        figures["cluster_count"] = plot_cluster_counts(config, results)
    return figures


def _setting(config: ClusteringConfig) -> str:
    return f"n = {config.n}, d = {config.d}, T = {config.T:g}"


def _beta_colors(config: ClusteringConfig) -> dict[float, str]:
    return {beta: f"C{index % 10}" for index, beta in enumerate(config.betas)}


def _by_run(results: list[RunResult]) -> dict[tuple[str, float], RunResult]:
    return {(result.normalization, result.beta): result for result in results}


def plot_snapshots(
    config: ClusteringConfig, results: list[RunResult], normalization: str
) -> Figure:
    """Tokens at the snapshot times: rows are betas, columns times (3D sphere for d = 3)."""
    runs = _by_run(results)
    indices = results[0].snapshot_indices
    rows, cols = len(config.betas), len(indices)
    sphere = config.d == 3
    # Margins in inches: a two-line title and column titles on top; row labels on the left, plus
    # tick labels and axis labels for the flat (d != 3) panels.
    top, left, bottom, right = 0.75, (0.3 if sphere else 0.85), (0.1 if sphere else 0.45), 0.1
    panel = min(1.6, (FULL_WIDTH - left - right) / cols)
    width, height = left + cols * panel + right, top + rows * panel + bottom
    fig = new_figure(width, height)
    if config.d == 2:
        where = "on the circle $S^1$"
    elif sphere:
        where = "on the sphere $S^2$"
    else:
        where = f"on $S^{{{config.d - 1}}}$, projected onto the first two coordinates (x₁, x₂)"
    fig.suptitle(
        f"{LABELS.get(normalization, normalization)}: tokens {where}\n"
        f"{_setting(config)}, seed {config.seed}; rows: β, columns: time t",
        y=1 - 0.05 / height,
        va="top",
    )
    colors = np.arange(config.n)
    times = results[0].times
    final = np.stack([runs[(normalization, float(beta))].snapshots[-1] for beta in config.betas])
    view = view_angles(final) if sphere else (0.0, 0.0)
    first_column = []
    for row, beta in enumerate(config.betas):
        result = runs[(normalization, float(beta))]
        for col, index in enumerate(indices):
            position = row * cols + col + 1
            points = result.snapshots[col]
            if sphere:
                ax = fig.add_subplot(rows, cols, position, projection="3d")
                draw_sphere(ax, view)
                ax.scatter(*points.T, c=colors, cmap="viridis", s=9, depthshade=True)
            else:
                ax = fig.add_subplot(rows, cols, position)
                draw_disk(ax, bottom=row == rows - 1, left=col == 0)
                ax.scatter(points[:, 0], points[:, 1], c=colors, cmap="viridis", s=9, zorder=3)
            if row == 0:
                ax.set_title(f"t = {times[index]:.3g}")
            if col == 0:
                first_column.append((ax, beta))
    gap = 0.05 if sphere else 0.15
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - top / height,
        wspace=gap,
        hspace=gap,
    )
    for ax, beta in first_column:
        box = ax.get_position()
        fig.text(
            0.12 / width,
            box.y0 + box.height / 2,
            f"β = {beta:g}",
            rotation=90,
            va="center",
            ha="center",
            fontsize="large",
        )
    return fig


def plot_inner_products(config: ClusteringConfig, results: list[RunResult]) -> Figure:
    """Heat maps of the distribution of <x_i, x_j> (i < j) over time: rows β, columns SA/USA."""
    runs = _by_run(results)
    rows, cols = len(config.betas), len(config.normalizations)
    fig = new_figure(FULL_WIDTH, 1.6 * rows + 0.7, layout="constrained")
    fig.get_layout_engine().set(wspace=0.06)
    fig.suptitle(
        f"Pairwise inner products ⟨xᵢ, xⱼ⟩ (i < j) over time, {_setting(config)}, "
        f"{config.hist_bins} bins"
    )
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    norm = LogNorm(vmin=1e-3, vmax=1.0)
    edges = np.linspace(-1, 1, config.hist_bins + 1)
    mesh = None
    for row, beta in enumerate(config.betas):
        for col, normalization in enumerate(config.normalizations):
            result = runs[(normalization, float(beta))]
            ax = axes[row, col]
            values = np.ma.masked_less_equal(result.cosine_histogram.T, 0.0)
            mesh = ax.pcolormesh(
                _time_edges(result.times),
                edges,
                values,
                norm=norm,
                cmap="magma_r",
                shading="flat",
                rasterized=True,
            )
            ax.set_facecolor("white")
            ax.grid(False)
            ax.set_title(f"{LABELS.get(normalization, normalization)}, β = {beta:g}")
            if row == rows - 1:
                ax.set_xlabel("time t")
            if col == 0:
                ax.set_ylabel("⟨xᵢ, xⱼ⟩")
    fig.colorbar(mesh, ax=axes, label="fraction of pairs (log scale)", shrink=0.9)
    return fig


def _time_edges(times: np.ndarray) -> np.ndarray:
    middle = (times[1:] + times[:-1]) / 2
    return np.concatenate([[times[0]], middle, [times[-1]]])


def plot_energy(config: ClusteringConfig, results: list[RunResult]) -> Figure:
    """Normalized energy E_β / E_max over time: one panel per normalization, one line per β."""
    fig, panels = _time_series_panels(
        config,
        results,
        rf"Interaction energy $E_\beta(t)\,/\,E_{{\max}}$,  $E_{{\max}} = e^\beta / (2\beta)$,  "
        f"{_setting(config)}",
    )
    for ax, runs in panels:
        for result, color, label in runs:
            if result.normalized_energy is not None:
                ax.plot(result.times, result.normalized_energy, color=color, label=label)
        ax.set_ylim(0, 1.03)
    _finish_panels(fig, [ax for ax, _ in panels], r"normalized energy $E_\beta / E_{\max}$")
    return fig


def plot_cluster_counts(config: ClusteringConfig, results: list[RunResult]) -> Figure:
    """Number of clusters over time: one panel per normalization, one step line per β."""
    fig, panels = _time_series_panels(
        config,
        results,
        f"Number of clusters (linked when cos > 1 − {config.cluster_tol:g}), {_setting(config)}",
    )
    ticks = [2**k for k in range(int(math.log2(config.n)) + 1)]
    for ax, runs in panels:
        for result, color, label in runs:
            ax.step(result.times, result.cluster_counts, where="post", color=color, label=label)
        ax.set_yscale("log", base=2)
        ax.set_ylim(0.8, config.n * 1.25)
        ax.yaxis.set_major_locator(FixedLocator(ticks))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_formatter("{x:.0f}")
    _finish_panels(fig, [ax for ax, _ in panels], "number of clusters")
    return fig


def _time_series_panels(
    config: ClusteringConfig, results: list[RunResult], title: str
) -> tuple[Figure, list[tuple[object, list[tuple[RunResult, str, str]]]]]:
    """A figure with one time-axis panel per normalization, sharing y, and for each panel its runs
    as (result, colour, legend label), one per β."""
    by_run = _by_run(results)
    colors = _beta_colors(config)
    fig = new_figure(FULL_WIDTH, 2.8, layout="constrained")
    fig.get_layout_engine().set(wspace=0.06)
    fig.suptitle(title)
    axes = fig.subplots(1, len(config.normalizations), squeeze=False, sharey=True)[0]
    panels = []
    for ax, normalization in zip(axes, config.normalizations, strict=True):
        ax.set_title(LABELS.get(normalization, normalization))
        ax.set_xlabel("time t")
        ax.set_xlim(0, config.T)
        runs = [
            (by_run[(normalization, float(beta))], colors[beta], f"β = {beta:g}")
            for beta in config.betas
        ]
        panels.append((ax, runs))
    return fig, panels


def _finish_panels(fig: Figure, axes: list, ylabel: str) -> None:
    """One legend for all panels, outside on the right (the lines are the same β in each), and
    the y label on the first panel."""
    handles, labels = [], []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    fig.legend(handles, labels, loc="outside right upper")
    axes[0].set_ylabel(ylabel)
