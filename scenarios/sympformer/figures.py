"""Figures of the sympformer scenario (see ``scenarios.sympformer``), drawn from its curves.

- ``energy``: the relative potential U(0) / U(t) against time (continuous flows) and against
  field evaluations (layers, each variant at its best step), log scale;
- ``clusters``: mean cluster count against time for the four flows;
- ``hamiltonian``: H, its kinetic part and the potential U along the damped Hamiltonian flow, and
  H along the Tao layers at their best step.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from scenarios.harness import FULL_WIDTH, figure_style, new_figure
from scenarios.harness.curve_plots import (
    MOMENTUM_LABELS,
    draw_cluster_counts,
    draw_gap,
    draw_target,
)
from scenarios.sympformer.config import SympformerConfig
from scenarios.sympformer.simulation import Results

LABELS = {**MOMENTUM_LABELS, "hamiltonian": "Hamiltonian (SympFormer)"}
LAYER_LABELS = {
    "plain": "plain, Euler (1 eval/step)",
    "heavy_ball/leapfrog": "heavy ball, leapfrog (1)",
    "nesterov/leapfrog": "Nesterov, leapfrog (1)",
    "hamiltonian/tao": "Hamiltonian, Tao (4)",
    "hamiltonian/presymplectic_euler": "Hamiltonian, presympl. Euler (2)",
}
LAYER_STYLES = {
    "plain": {"color": "C0", "linestyle": "-"},
    "heavy_ball/leapfrog": {"color": "C1", "linestyle": "-"},
    "nesterov/leapfrog": {"color": "C2", "linestyle": "-"},
    "hamiltonian/tao": {"color": "C3", "linestyle": "-"},
    "hamiltonian/presymplectic_euler": {"color": "C3", "linestyle": "--"},
}


def make_figures(config: SympformerConfig, results: Results) -> dict[str, Figure]:
    """Every figure of the scenario, by file stem."""
    with figure_style():
        return {
            "energy": plot_energy(config, results),
            "clusters": plot_clusters(config, results),
            "hamiltonian": plot_hamiltonian(config, results),
        }


def _title(config: SympformerConfig) -> str:
    return (
        f"n = {config.n} Gaussian tokens in R$^{{{config.d}}}$ (σ = {config.scale:g}), "
        f"mean of {config.systems} clouds; heavy ball γ = {config.gamma:g}, "
        f"Nesterov {config.r:g}/(t + {config.t0:g}), Hamiltonian α = {config.c_log:g}/t"
    )


def plot_energy(config: SympformerConfig, results: Results) -> Figure:
    """U(0) / U against time (flows) and against field evaluations (layers at their best step)."""
    fig = new_figure(FULL_WIDTH, 4.6, layout="constrained")
    by_time, by_calls = fig.subplots(1, 2)
    for index, (kind, curve) in enumerate(results.flows.items()):
        draw_gap(by_time, curve.axis, curve.gap, LABELS[kind], color=f"C{index}")
    by_time.set_xlabel("elapsed time t")
    by_time.set_title("continuous flows (dopri5)")
    for name, by_step in results.layers.items():
        step = results.best_steps[name]
        label = f"{LAYER_LABELS[name]}, h = {step:g}"
        draw_gap(by_calls, by_step[step].axis, by_step[step].gap, label, **LAYER_STYLES[name])
    by_calls.set_xscale("symlog", linthresh=10.0)
    by_calls.set_xlabel("field evaluations (layers; linear below 10, log above)")
    by_calls.set_title("discrete layers, each at its best step h")
    for ax in (by_time, by_calls):
        ax.set_yscale("log")
        draw_target(ax, config.target)
        ax.set_ylabel("relative potential U(0) / U(t)")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize=6, ncols=2)
    fig.suptitle(
        f"Potential U = −(1/2n) Σ$_{{ij}}$ E$_{{ij}}$ (lower is further)\n{_title(config)}",
        fontsize=8,
    )
    return fig


def plot_clusters(config: SympformerConfig, results: Results) -> Figure:
    """Mean cluster count against time, one line per flow."""
    fig = new_figure(FULL_WIDTH * 0.7, 3.2, layout="constrained")
    ax = fig.subplots()
    times = results.flows["plain"].axis
    draw_cluster_counts(ax, times, results.cluster_counts, LABELS, config.cluster_tol)
    ax.set_xlabel("elapsed time t")
    ax.legend(loc="lower left")
    ax.set_title(_title(config).replace("; ", "\n", 1), fontsize=7)
    return fig


def plot_hamiltonian(config: SympformerConfig, results: Results) -> Figure:
    """H, kinetic part and U along the damped Hamiltonian flow; H along the Tao layers."""
    fig = new_figure(FULL_WIDTH * 0.7, 3.4, layout="constrained")
    ax = fig.subplots()
    times = results.flows["hamiltonian"].axis
    energies = results.energies
    ax.plot(times, energies["H"], color="C3", label="H (dopri5 flow)")
    ax.plot(times, energies["kinetic"], color="C4", linestyle="--", label="kinetic Σ pᵀBp / (2z)")
    ax.plot(times, energies["potential"], color="C5", linestyle=":", label="potential U")
    marks = slice(None, None, max(1, len(energies["tao_H"]) // 25))
    ax.plot(
        energies["tao_times"][marks],
        energies["tao_H"][marks],
        "o",
        color="C3",
        markersize=3,
        label=f"H (Tao layers, h = {results.best_steps['hamiltonian/tao']:g})",
    )
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel(f"elapsed time t (time t0 + t = {config.t0:g} + t)")
    ax.set_ylabel("energy, mean over clouds")
    ax.legend(loc="upper left")
    ax.set_title(
        f"Damped Hamiltonian attention, α = {config.c_log:g}/t: H non-increasing\n"
        f"n = {config.n}, d = {config.d}, {config.systems} clouds",
        fontsize=8,
    )
    return fig
