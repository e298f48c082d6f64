"""Figures of the mean_field scenario (see ``scenarios.mean_field``).

- ``density``: the grid density rho(theta, t) as a heat map, with particle paths over it;
- ``w1_vs_n``: W1(particles, grid) at t = T against n, log-log, exact particles and PIC, their
  fitted power laws and the n^{-1/2} reference line;
- ``w1_vs_time``: W1(particles, grid) against time, one line per n and method.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from scenarios.harness.style import FULL_WIDTH, figure_style, new_figure
from scenarios.mean_field.config import MeanFieldConfig
from scenarios.mean_field.simulation import Results

LABELS = {"exact": "exact particles, O(n²) field", "pic": "particle-in-cell"}
MARKERS = {
    "exact": {"marker": "o", "markersize": 7, "markerfacecolor": "none"},
    "pic": {"marker": "s", "markersize": 3},
}
"""Exact particles: large open circles; PIC: small squares, visible inside the circles where
both methods move the same clouds (and agree)."""
COLORS = {"exact": "C0", "pic": "C3"}


def make_figures(config: MeanFieldConfig, results: Results) -> dict[str, Figure]:
    """Every figure of the scenario, by file stem."""
    with figure_style():
        return {
            "density": plot_density(config, results),
            "w1_vs_n": plot_w1_vs_n(config, results),
            "w1_vs_time": plot_w1_vs_time(config, results),
        }


def _setting(config: MeanFieldConfig) -> str:
    name = "SA" if config.normalization == "softmax" else "USA"
    return f"{name} on the circle, β = {config.beta:g}"


def plot_density(config: MeanFieldConfig, results: Results) -> Figure:
    """rho(theta, t) on [0, 2 pi) against t, with the drawn particles' paths (mod 2 pi)."""
    fig = new_figure(FULL_WIDTH * 0.75, 3.4, layout="constrained")
    ax = fig.subplots()
    times = results.heatmap_times
    faces = np.linspace(0.0, 2 * math.pi, config.cells + 1)
    edges = np.concatenate([times[:1], (times[1:] + times[:-1]) / 2, times[-1:]])
    mesh = ax.pcolormesh(edges, faces, results.heatmap.T, shading="flat", rasterized=True)
    fig.colorbar(mesh, ax=ax, label="density ρ(θ, t) (1/rad)")
    paths = np.mod(results.paths, 2 * math.pi)
    # break a path where it wraps around the circle, so no line crosses the whole plot
    jumps = np.abs(np.diff(paths, axis=0)) > math.pi
    paths[1:][jumps] = np.nan
    for index in range(paths.shape[1]):
        ax.plot(times, paths[:, index], color="white", linewidth=0.8, alpha=0.9)
    if paths.shape[1]:
        ax.plot([], [], color="white", label=f"{paths.shape[1]} exact particle paths")
        legend = ax.legend(loc="upper right", facecolor="0.3", framealpha=0.6, frameon=True)
        for text in legend.get_texts():
            text.set_color("white")
    ax.set_xlabel("time t")
    ax.set_ylabel("angle θ (rad)")
    ax.set_yticks(np.arange(5) * math.pi / 2, ["0", "π/2", "π", "3π/2", "2π"])
    ax.grid(False)
    ax.set_title(
        f"{_setting(config)}: Vlasov grid density, M = {config.cells} cells; paths of one "
        f"cloud of n = {min(config.exact_ns)}",
        fontsize=8,
    )
    return fig


def plot_w1_vs_n(config: MeanFieldConfig, results: Results) -> Figure:
    """W1 at t = T against n, mean and spread over seeds, with the fitted and reference laws."""
    fig = new_figure(FULL_WIDTH * 0.6, 3.2, layout="constrained")
    ax = fig.subplots()
    all_ns = []
    for method, runs in results.runs.items():
        ns = np.array(runs.ns, dtype=float)
        mean = runs.mean(-1)
        spread = np.array([runs.w1[n][-1].std() for n in runs.ns])
        slope, prefactor = runs.fit(-1)
        ax.errorbar(
            ns,
            mean,
            yerr=spread,
            linestyle="none",
            color=COLORS[method],
            capsize=2,
            **MARKERS[method],
            label=f"{LABELS[method]}, fit n$^{{{slope:.2f}}}$",
        )
        ax.plot(ns, prefactor * ns**slope, color=COLORS[method], linewidth=0.8)
        all_ns.extend(runs.ns)
    exact = results.runs["exact"]
    span = np.array([min(all_ns), max(all_ns)], dtype=float)
    # the reference line C n^{-1/2} through the exact particles' geometric mean
    anchor = float(np.exp(np.mean(np.log(exact.mean(-1)) + 0.5 * np.log(exact.ns))))
    ax.plot(span, anchor / np.sqrt(span), "k--", linewidth=0.8, label="reference C n$^{-1/2}$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of particles n")
    ax.set_ylabel(f"W1(particles, grid) at t = {config.T:g} (rad)")
    ax.legend(loc="lower left")
    ax.set_title(
        f"{_setting(config)}; mean ± std over {config.seeds} clouds, M = {config.cells}", fontsize=8
    )
    return fig


def plot_w1_vs_time(config: MeanFieldConfig, results: Results) -> Figure:
    """W1 against time, one line per n: exact particles solid, PIC dashed, colour by n."""
    fig = new_figure(FULL_WIDTH * 0.75, 3.4, layout="constrained")
    ax = fig.subplots()
    sizes = sorted({n for runs in results.runs.values() for n in runs.ns})
    colors = {n: f"C{index % 10}" for index, n in enumerate(sizes)}
    for method, runs in results.runs.items():
        style = "-" if method == "exact" else "--"
        for n in runs.ns:
            ax.plot(
                results.times,
                runs.w1[n].mean(-1),
                style,
                color=colors[n],
                **MARKERS[method],
                label=f"{'exact' if method == 'exact' else 'PIC'}, n = {n:,}",
            )
    ax.set_yscale("log")
    ax.set_xlabel("time t")
    ax.set_ylabel("W1(particles, grid) (rad), mean over clouds")
    fig.legend(loc="outside right center", fontsize=7)
    ax.set_title(
        f"{_setting(config)}; solid: exact, dashed: PIC (on the same clouds where n is shared)",
        fontsize=8,
    )
    return fig
