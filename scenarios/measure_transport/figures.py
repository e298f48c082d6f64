"""Figures of the measure_transport scenario (see ``scenarios.measure_transport``).

- ``paths``: the held-out particles' paths from each mu_k to the flow's output, against nu_k,
  one column per pair, the attention flow above the context-free MLP flow;
- ``training``: held-out-free training W2 (units of the spread) against optimiser steps for the
  two main flows, and for softmax, few-iteration and converged Sinkhorn attention;
- ``sweeps``: held-out W2 against the number of pairs N (attention and MLP) and against the
  number of time pieces K (attention).
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from scenarios.harness.curve_plots import draw_target
from scenarios.harness.style import FULL_WIDTH, figure_style, new_figure
from scenarios.measure_transport.config import MeasureTransportConfig
from scenarios.measure_transport.simulation import Results, Run

KIND_LABELS = {"attention": "attention + MLP flow", "mlp": "MLP flow (no attention)"}
KIND_STYLES = {"attention": {"color": "C0", "marker": "o"}, "mlp": {"color": "C3", "marker": "s"}}
TARGET = 0.05
"""The W2 the attention flow must reach, in units of the spread."""


def make_figures(config: MeasureTransportConfig, results: Results) -> dict[str, Figure]:
    """Every figure of the scenario, by file stem."""
    with figure_style():
        return {
            "paths": plot_paths(config, results),
            "training": plot_training(config, results),
            "sweeps": plot_sweeps(config, results),
        }


def _setting(config: MeasureTransportConfig) -> str:
    return (
        f"K = {config.pieces} pieces, {config.heads} heads, MLP width {config.hidden}, "
        f"beta = {config.beta:g}, n = {config.n} training points per measure, seed {config.seed}"
    )


def plot_paths(config: MeasureTransportConfig, results: Results) -> Figure:
    """Paths of held-out points of every mu_k under both flows, with nu_k's held-out points."""
    pairs = results.targets.shape[0]
    fig = new_figure(FULL_WIDTH, 1.9 * len(results.paths) + 0.6, layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(results.paths), pairs, sharex=True, sharey=True))
    for row, (kind, path) in zip(axes, results.paths.items(), strict=True):
        w2 = results.main[kind].w2
        for k, ax in enumerate(row):
            ax.plot(*_joined(path[:, k]), color="0.6", linewidth=0.4)
            ax.scatter(*path[0, k].T, s=5, color="C2", label="$\\mu_k$ (start)")
            ax.scatter(*results.targets[k].T, s=12, marker="x", color="k", linewidths=0.7,
                       label="$\\nu_k$ (target)")  # fmt: skip
            ax.scatter(*path[-1, k].T, s=5, color=KIND_STYLES[kind]["color"], label="output")
            ax.set_title(f"pair {k}: W$_2$/spread = {w2[k]:.3f}", fontsize=8)
            ax.set_aspect("equal")
            ax.set_xlabel("x$_1$")
        row[0].set_ylabel(f"{KIND_LABELS[kind]}\nx$_2$")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, markerscale=1.5)
    fig.suptitle(
        f"Flows from $\\mu_k$ to $\\nu_k$ (held-out points): {_setting(config)}", fontsize=8
    )
    return fig


def _joined(path: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The paths (times, m, 2) of m points as one polyline broken by NaNs: one artist, not m."""
    gaps = np.full((1, path.shape[1], 2), np.nan)
    joined = np.concatenate([path, gaps]).transpose(1, 0, 2).reshape(-1, 2)
    return joined[:, 0], joined[:, 1]


def _curve(ax: Axes, run: Run, label: str, **style: object) -> None:
    steps = np.arange(1, len(run.history) + 1)
    ax.plot(steps, run.history, label=f"{label}: held-out {run.w2.mean():.3f}", **style)


def plot_training(config: MeasureTransportConfig, results: Results) -> Figure:
    """Training W2 against steps: the main flows; softmax against Sinkhorn iterations."""
    fig = new_figure(FULL_WIDTH, 2.8, layout="constrained")
    left, right = fig.subplots(1, 2)
    for kind, run in results.main.items():
        _curve(left, run, KIND_LABELS[kind], color=KIND_STYLES[kind]["color"])
    left.set_title(f"N = {config.pairs} pairs, {config.train_steps} steps", fontsize=8)
    for index, iterations in enumerate(config.compare_iterations):
        run = results.sweep[("attention", config.pairs, config.pieces, iterations)]
        label = {0: "converged Sinkhorn", 1: "softmax"}.get(iterations, f"{iterations} iterations")
        _curve(right, run, label, color=f"C{index}")
    right.set_title(f"attention normalisation, {config.sweep_steps} steps", fontsize=8)
    for ax, corner in ((left, "lower left"), (right, "upper right")):
        draw_target(ax, TARGET)
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel("W$_2$ / spread (training batch)")
        ax.legend(fontsize=7, loc=corner)
    fig.suptitle(f"Training: {_setting(config)}", fontsize=8)
    return fig


def plot_sweeps(config: MeasureTransportConfig, results: Results) -> Figure:
    """Held-out W2 (mean over the pairs, bars to the worst pair) against N and against K."""
    fig = new_figure(FULL_WIDTH, 2.8, layout="constrained")
    left, right = fig.subplots(1, 2)
    for kind in ("attention", "mlp"):
        runs = [results.sweep[(kind, n, config.pieces, 1)] for n in config.sweep_pairs]
        _errorbars(left, config.sweep_pairs, runs, KIND_LABELS[kind], **KIND_STYLES[kind])
    left.set_xlabel("number of pairs N")
    left.set_title(f"K = {config.pieces} pieces", fontsize=8)
    runs = [results.sweep[("attention", config.pairs, k, 1)] for k in config.sweep_pieces]
    _errorbars(
        right, config.sweep_pieces, runs, KIND_LABELS["attention"], **KIND_STYLES["attention"]
    )
    right.set_xlabel("time pieces K of the weights")
    right.set_title(f"N = {config.pairs} pairs", fontsize=8)
    for ax, values in ((left, config.sweep_pairs), (right, config.sweep_pieces)):
        draw_target(ax, TARGET)
        ax.set_xscale("log", base=2)
        ax.set_xticks(values, [str(value) for value in values])
        ax.minorticks_off()
        ax.set_yscale("log")
        ax.set_ylabel("held-out W$_2$ / spread")
        ax.legend(fontsize=7)
    fig.suptitle(f"After {config.sweep_steps} training steps: {_setting(config)}", fontsize=8)
    return fig


def _errorbars(ax: Axes, values: tuple[int, ...], runs: list[Run], label: str, **style) -> None:
    mean = np.array([run.w2.mean() for run in runs])
    worst = np.array([run.w2.max() for run in runs])
    ax.errorbar(values, mean, yerr=[np.zeros_like(mean), worst - mean], label=label,
                capsize=2, markersize=4, **style)  # fmt: skip
