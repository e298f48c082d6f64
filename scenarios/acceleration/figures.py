"""Figures of the acceleration scenario (see ``scenarios.acceleration``), drawn from its curves.

- ``sphere_gap`` / ``linear_gap``: the relative gap against time (continuous flows) and against
  field evaluations (layers, each variant at its best step), log scale;
- ``sphere_clusters``: mean cluster count against time for the three flows;
- ``linear_moments``: covariance entries of the particles against the moment ODE, per flow;
- ``evaluations``: evaluations to reach the target gap against the layer step, per variant.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from scenarios.acceleration.config import AccelerationConfig
from scenarios.acceleration.simulation import Results
from scenarios.harness import FULL_WIDTH, figure_style, new_figure
from scenarios.harness.curve_plots import (
    GAP_FLOOR,
    MOMENTUM_LABELS,
    draw_cluster_counts,
    draw_gap,
    draw_target,
)

LAYER_LABELS = {
    "plain": "plain layers",
    "heavy_ball/leapfrog": "heavy ball, leapfrog",
    "heavy_ball/nesterov_layer": "heavy ball, Nesterov layer",
    "nesterov/leapfrog": "Nesterov, leapfrog",
    "nesterov/nesterov_layer": "Nesterov, Nesterov layer",
}
LAYER_STYLES = {
    "plain": {"color": "C0", "linestyle": "-"},
    "heavy_ball/leapfrog": {"color": "C1", "linestyle": "-"},
    "heavy_ball/nesterov_layer": {"color": "C1", "linestyle": "--"},
    "nesterov/leapfrog": {"color": "C2", "linestyle": "-"},
    "nesterov/nesterov_layer": {"color": "C2", "linestyle": "--"},
}


def make_figures(config: AccelerationConfig, results: dict[str, Results]) -> dict[str, Figure]:
    """Every figure of the scenario, by file stem."""
    with figure_style():
        return {
            "sphere_gap": plot_gap(config, results["sphere"], "sphere"),
            "sphere_clusters": plot_clusters(config, results["sphere"]),
            "linear_gap": plot_gap(config, results["linear"], "linear"),
            "linear_moments": plot_moments(config, results["linear"]),
            "evaluations": plot_evaluations(config, results),
        }


def _problem_title(config: AccelerationConfig, problem: str) -> str:
    if problem == "sphere":
        name = "SA" if config.normalization == "softmax" else "USA"
        return (
            f"{name} on S$^{{{config.d - 1}}}$, β = {config.beta:g}, n = {config.n}, "
            f"mean of {config.systems} clouds"
        )
    tokens = f"n = {config.linear_n} Gaussian tokens in R$^{config.linear_d}$"
    return f"linear attention x' = −Mx, {tokens}"


def _momentum(config: AccelerationConfig) -> str:
    return f"heavy ball γ = {config.gamma:g}; Nesterov γ(t) = {config.r:g} / (t + {config.t0:g})"


def _gap_label(problem: str) -> str:
    return "relative energy gap" if problem == "sphere" else "energy E(t) / E(0)"


def plot_gap(config: AccelerationConfig, results: Results, problem: str) -> Figure:
    """Gap against time (flows) and against field evaluations (layers at their best step)."""
    fig = new_figure(FULL_WIDTH, 3.4, layout="constrained")
    by_time, by_calls = fig.subplots(1, 2)
    for index, (kind, curve) in enumerate(results.flows.items()):
        draw_gap(by_time, curve.axis, curve.gap, MOMENTUM_LABELS[kind], color=f"C{index}")
    by_time.set_xlabel("time t")
    by_time.set_title("continuous flows (dopri5)")
    if problem == "linear":
        by_time.set_xscale("log")
    for name, by_step in results.layers.items():
        step = results.best_steps[name]
        label = f"{LAYER_LABELS[name]}, h = {step:g}"
        draw_gap(by_calls, by_step[step].axis, by_step[step].gap, label, **LAYER_STYLES[name])
    by_calls.set_xscale("log")
    by_calls.set_xlabel("field evaluations (layers)")
    by_calls.set_title("discrete layers, each at its best step h")
    for ax in (by_time, by_calls):
        ax.set_yscale("log")
        ax.set_ylim(bottom=GAP_FLOOR / 2)
        draw_target(ax, config.target)
        ax.set_ylabel(_gap_label(problem))
        ax.legend(loc="lower left")
    fig.suptitle(f"{_problem_title(config, problem)}\n{_momentum(config)}")
    return fig


def plot_clusters(config: AccelerationConfig, results: Results) -> Figure:
    """Mean cluster count against time, one line per flow."""
    fig = new_figure(FULL_WIDTH * 0.6, 3.0, layout="constrained")
    ax = fig.subplots()
    times = results.flows["plain"].axis
    draw_cluster_counts(ax, times, results.cluster_counts, MOMENTUM_LABELS, config.cluster_tol)
    ax.set_xlabel("time t")
    ax.legend(loc="upper right")
    ax.set_title(f"{_problem_title(config, 'sphere')}\n{_momentum(config)}")
    return fig


def plot_moments(config: AccelerationConfig, results: Results) -> Figure:
    """Covariance entries S_11, S_12, S_22 (first two coordinates): particles (markers) against
    the moment ODE from the law's moments (lines), one panel per flow."""
    series = results.covariance_series
    fig = new_figure(FULL_WIDTH, 3.0, layout="constrained")
    axes = fig.subplots(1, len(series), sharey=True)
    times = results.flows["plain"].axis
    entries = [(0, 0), (0, 1), (1, 1)] if config.linear_d > 1 else [(0, 0)]
    marks = slice(None, None, max(1, len(times) // 25))
    for ax, (kind, (particles, ode)) in zip(axes, series.items(), strict=True):
        for index, (i, j) in enumerate(entries):
            label = f"S$_{{{i + 1}{j + 1}}}$"
            ax.plot(times, ode[:, i, j], color=f"C{index}", label=f"{label} moment ODE")
            ax.plot(
                times[marks],
                particles[marks, i, j],
                "o",
                color=f"C{index}",
                markersize=3,
                label=f"{label} particles",
            )
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xlabel("time t")
        ax.set_title(MOMENTUM_LABELS[kind])
    axes[0].set_ylabel("covariance entry")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    fig.suptitle(
        f"{_problem_title(config, 'linear')}: particles against the exact moment ODE "
        f"(started from the law's moments)"
    )
    return fig


def plot_evaluations(config: AccelerationConfig, results: dict[str, Results]) -> Figure:
    """Evaluations to reach the target against the layer step, per variant and problem."""
    fig = new_figure(FULL_WIDTH, 3.4, layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, problem in zip(axes, ("sphere", "linear"), strict=True):
        reached = False
        for name, by_step in results[problem].layers.items():
            steps = sorted(by_step)
            costs = [by_step[step].first_below(config.target) for step in steps]
            reached = reached or any(cost is not None for cost in costs)
            values = [np.nan if cost is None else cost for cost in costs]
            ax.plot(steps, values, marker="o", label=LAYER_LABELS[name], **LAYER_STYLES[name])
        ax.set_xscale("log", base=2)
        if reached:
            ax.set_yscale("log")
        else:
            ax.text(0.5, 0.5, "no variant reached the target", transform=ax.transAxes, ha="center")
            ax.set_yticks([])
        ax.set_xlabel("layer step h")
        ax.set_ylabel(f"evaluations to gap {config.target:g}")
        ax.set_title(_problem_title(config, problem), fontsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3)
    fig.suptitle(
        f"Field evaluations to reach the target (missing: not reached in "
        f"{config.max_evaluations} evaluations, or diverged)"
    )
    return fig
