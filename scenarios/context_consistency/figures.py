"""Figures of the context_consistency scenario (see ``scenarios.context_consistency``).

- ``convergence``: against the context length n, log-log, per map: the map gap on the shared
  tokens (relative to the output's size), sliced and exact W2 between successive output measures,
  and for linear attention W2 to the Gaussian closure, with an n^{-1/2} guide;
- ``training``: the classifiers' training loss and their accuracy against n.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from scenarios.context_consistency.config import ContextConsistencyConfig
from scenarios.context_consistency.models import MODELS
from scenarios.context_consistency.simulation import Results, rate
from scenarios.harness.style import FULL_WIDTH, figure_style, new_figure

LABELS = {
    "ode": "ODE transformer (RK4)",
    "discrete": "discrete transformer",
    "linear": "linear attention (fixed, contracting)",
}
COLORS = {"ode": "C0", "discrete": "C3", "linear": "C2"}
MARKERS = {
    "ode": {"marker": "o", "markersize": 8, "markerfacecolor": "none"},
    "discrete": {"marker": "s", "markersize": 3},
}
"""Accuracy markers: large open circles and small squares, both visible where they coincide."""


def make_figures(config: ContextConsistencyConfig, results: Results) -> dict[str, Figure]:
    """Every figure of the scenario, by file stem."""
    with figure_style():
        return {
            "convergence": plot_convergence(config, results),
            "training": plot_training(config, results),
        }


def _guide(ax, sizes: np.ndarray, anchor: float) -> None:
    """The line anchor (n / n_0)^{-1/2}."""
    ax.plot(
        sizes, anchor * (sizes / sizes[0]) ** -0.5, "k--", linewidth=0.8, label="n$^{-1/2}$ guide"
    )


def _rate_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def plot_convergence(config: ContextConsistencyConfig, results: Results) -> Figure:
    """Three panels: map gap, sliced / exact W2 between successive n, W2 to the closure; the
    fitted exponents written in each panel."""
    sizes = np.array(results.sizes, dtype=float)
    fig = new_figure(FULL_WIDTH, 3.8, layout="constrained")
    gap_ax, w2_ax, closure_ax = fig.subplots(1, 3)
    rates: dict[object, list[str]] = {gap_ax: [], w2_ax: [], closure_ax: []}
    for kind, found in results.convergence.items():
        style = {"color": COLORS[kind], "marker": "o", "markersize": 4}
        relative = found.map_gap / found.scale
        gap_ax.plot(sizes[:-1], relative, label=LABELS[kind], **style)
        rates[gap_ax].append(f"{kind}: n$^{{{_rate_text(rate(results.sizes, relative))}}}$")
        w2_ax.plot(sizes[:-1], found.sliced / found.scale, **style)
        exact = found.exact / found.scale
        w2_ax.plot(sizes[: len(exact)], exact, linestyle=":", **{**style, "marker": "s"})
        rates[w2_ax].append(
            f"{kind}: sliced n$^{{{_rate_text(rate(results.sizes, found.sliced))}}}$, "
            f"exact n$^{{{_rate_text(rate(results.sizes, found.exact))}}}$"
        )
        if found.closure is not None:
            closure_ax.plot(sizes, found.closure, **style)
            _guide(closure_ax, sizes, found.closure[0])
            rates[closure_ax].append(
                f"{kind}: n$^{{{_rate_text(rate(results.sizes, found.closure))}}}$"
            )
    for ax in (gap_ax, w2_ax):
        _guide(ax, sizes[:-1], max(line.get_ydata()[0] for line in ax.get_lines()))
    w2_ax.plot([], [], color="0.3", marker="o", label="sliced W2 (solid)")
    w2_ax.plot([], [], color="0.3", marker="s", linestyle=":", label="exact W2 (dotted)")
    gap_ax.set_ylabel("map gap / output size")
    gap_ax.set_title(
        f"RMS |T$_{{μ_n}}$(x) − T$_{{μ_N}}$(x)| on {config.shared} shared\ntokens, "
        f"N = {int(sizes[-1])}",
        fontsize=8,
    )
    w2_ax.set_ylabel("W2(output at n, at next n) / output size")
    w2_ax.set_title(
        f"successive n; exact (POT emd) while\nthe larger cloud has ≤ {config.exact_up_to} tokens",
        fontsize=8,
    )
    closure_ax.set_ylabel("W2(Gaussian fit of output, closure)")
    closure_ax.set_title(
        f"linear attention on Gaussians, T = {config.linear_time:g}:\nagainst the moment closure",
        fontsize=8,
    )
    for ax in (gap_ax, w2_ax, closure_ax):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("context length n (tokens)")
        ax.text(
            0.03,
            0.03,
            "\n".join(rates[ax]),
            transform=ax.transAxes,
            fontsize=6,
            va="bottom",
            ha="left",
        )
    legend = {}
    for ax in (gap_ax, w2_ax):
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    fig.legend(legend.values(), legend.keys(), loc="outside lower center", ncol=3, fontsize=7)
    fig.suptitle(
        f"Mean-field consistency: trained at n = {config.n} on {config.classes} classes of "
        f"Gaussian mixtures in R² (radius {config.radius:g}, std {config.spread:g}); "
        f"{config.test_measures} held-out measures",
        fontsize=9,
    )
    return fig


def plot_training(config: ContextConsistencyConfig, results: Results) -> Figure:
    """Left: training loss against Adam steps. Right: accuracy against the context length."""
    fig = new_figure(FULL_WIDTH * 0.8, 3.0, layout="constrained")
    loss_ax, accuracy_ax = fig.subplots(1, 2)
    for kind in MODELS:
        losses = results.losses[kind]
        loss_ax.plot(
            np.arange(1, len(losses) + 1),
            losses,
            color=COLORS[kind],
            linewidth=0.8,
            label=LABELS[kind],
        )
        accuracy_ax.plot(
            results.accuracy_sizes,
            results.accuracy[kind],
            color=COLORS[kind],
            label=LABELS[kind],
            **MARKERS[kind],
        )
    loss_ax.set_xlabel("Adam step")
    loss_ax.set_ylabel("cross-entropy (nats)")
    loss_ax.set_title(f"training, contexts of n = {config.n}, batch {config.batch}", fontsize=8)
    accuracy_ax.axvline(config.n, color="0.5", linestyle=":", linewidth=1, label="training n")
    accuracy_ax.axhline(
        1 / config.classes, color="0.5", linestyle="--", linewidth=1, label="chance"
    )
    accuracy_ax.set_xscale("log", base=2)
    accuracy_ax.set_ylim(0, 1.02)
    accuracy_ax.set_xlabel("context length n (tokens)")
    accuracy_ax.set_ylabel("accuracy (fraction of 128 contexts)")
    accuracy_ax.set_title("classification against context length", fontsize=8)
    for ax in (loss_ax, accuracy_ax):
        ax.legend(loc="best", fontsize=7)
    return fig
