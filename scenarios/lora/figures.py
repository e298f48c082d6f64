"""Figures of the lora scenario (see ``scenarios.lora``), drawn from its results.

- ``paths``: token paths of the base and a perturbed field from one cloud (largest rank, a middle
  and the largest size); a 3D sphere for d = 3, the projection onto (x_1, x_2) otherwise;
- ``deviation``: max_i |x_i - y_i| and W2(mu_t, nu_t) against t on log y, one line per size, one
  row per rank (median over the clouds);
- ``gronwall``: every deviation curve divided by eps against the fitted C (e^{L t} - 1);
- ``time_to_deviation``: the first t with W2 > threshold as a heat map over size and rank;
- ``clusters``: adjusted Rand index of the final cluster labels, and the final cluster counts,
  against the size.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from scenarios.harness.style import FULL_WIDTH, figure_style, new_figure
from scenarios.harness.token_plots import draw_disk, draw_sphere, view_angles
from scenarios.lora.config import LoraConfig
from scenarios.lora.simulation import Results


def make_figures(config: LoraConfig, results: Results) -> dict[str, Figure]:
    """Every figure of the scenario, by file stem."""
    with figure_style():
        return {
            "paths": plot_paths(config, results),
            "deviation": plot_deviation(config, results),
            "gronwall": plot_gronwall(config, results),
            "time_to_deviation": plot_time_to_deviation(config, results),
            "clusters": plot_clusters(config, results),
        }


def _setting(config: LoraConfig) -> str:
    return (
        f"SA on S$^{{{config.d - 1}}}$, β = {config.beta:g}, n = {config.n}; LoRA of Q, K, V "
        f"with relative size ε = |BA|$_F$ / |W|$_F$"
    )


def _eps_colors(config: LoraConfig) -> dict[float, tuple]:
    """One colour per size, dark (small) to light (large)."""
    order = np.argsort(np.argsort(config.eps))
    cmap = colormaps["viridis"]
    scale = max(len(config.eps) - 1, 1)
    return {eps: cmap(0.9 * rank / scale) for eps, rank in zip(config.eps, order, strict=True)}


def plot_paths(config: LoraConfig, results: Results) -> Figure:
    """Paths of every token of cloud 0 under the base field and the largest-rank LoRA field."""
    sizes = sorted(config.eps)
    shown = sorted({sizes[len(sizes) // 2], sizes[-1]})
    rank_index = int(np.argmax(config.ranks))
    sphere = config.d == 3
    fig = new_figure(FULL_WIDTH * 0.45 * len(shown), 3.6)
    base = results.base[:, 0]
    for column, size in enumerate(shown):
        perturbed = results.perturbed[:, rank_index, config.eps.index(size), 0]
        if sphere:
            ax = fig.add_subplot(1, len(shown), column + 1, projection="3d")
            draw_sphere(ax, view_angles(base[-1]))
        else:
            ax = fig.add_subplot(1, len(shown), column + 1)
            draw_disk(ax, bottom=True, left=column == 0)
        coordinates = slice(0, 3 if sphere else 2)
        for path, style in ((base, "-"), (perturbed, "--")):
            color = "C0" if style == "-" else "C3"
            for token in range(config.n):
                ax.plot(*path[:, token, coordinates].T, style, color=color, linewidth=0.7)
            ax.scatter(*path[-1, :, coordinates].T, color=color, s=10, zorder=4)
        ax.scatter(*base[0, :, coordinates].T, color="k", s=5, zorder=5)
        label = f"rank {config.ranks[rank_index]}, ε = {size:g}"
        if sphere:  # a 3D axes' title sits above its empty margin; write it on the panel
            ax.text2D(0.5, 0.98, label, transform=ax.transAxes, ha="center", va="top")
        else:
            ax.set_title(label)
    handles = [
        fig.axes[0].plot([], [], "-", color="C0")[0],
        fig.axes[0].plot([], [], "--", color="C3")[0],
        fig.axes[0].scatter([], [], color="k", s=5),
    ]
    fig.legend(
        handles,
        ["base field", "LoRA field", "common start"],
        loc="lower center",
        ncols=3,
    )
    where = "on $S^2$" if sphere else "projected onto (x₁, x₂)"
    fig.suptitle(
        f"Token paths {where} on [0, {config.T:g}], cloud 0 (dots: final positions)\n"
        f"{_setting(config)}"
    )
    fig.subplots_adjust(left=0.0, right=1.0, bottom=0.08, top=0.86, wspace=0.0)
    return fig


def plot_deviation(config: LoraConfig, results: Results) -> Figure:
    """max_i |x_i - y_i| and W2 against t (log y), median over the clouds; rows: ranks."""
    rows = len(config.ranks)
    fig = new_figure(FULL_WIDTH, 0.9 + 1.9 * rows, layout="constrained")
    axes = np.atleast_2d(fig.subplots(rows, 2, sharex=True, squeeze=False))
    colors = _eps_colors(config)
    later = results.times > 0
    times = results.times[later]
    for row, rank in enumerate(config.ranks):
        for ax, curves, name in (
            (axes[row, 0], results.max_deviation, "max$_i$ |x$_i$(t) − y$_i$(t)|"),
            (axes[row, 1], results.w2, "W$_2$(μ$_t$, ν$_t$)"),
        ):
            for index, size in enumerate(config.eps):
                median = np.median(curves[later, row, index], axis=-1)
                ax.plot(times, median, color=colors[size], label=f"ε = {size:g}")
            ax.set_yscale("log")
            ax.set_ylabel(f"{name}, rank {rank}")
        axes[row, 1].axhline(
            config.threshold, color="0.3", linestyle=":", linewidth=1.0, label="threshold"
        )
    for ax in axes[-1]:
        ax.set_xlabel("time t")
    axes[0, 0].set_title("largest token deviation")
    axes[0, 1].set_title("Wasserstein distance of the clouds")
    handles, labels = axes[0, 1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 7))
    fig.suptitle(
        f"Base field x(t) against LoRA field y(t) from the same start, median of "
        f"{config.systems} clouds\n{_setting(config)}"
    )
    return fig


def plot_gronwall(config: LoraConfig, results: Results) -> Figure:
    """Every curve max_i |x_i - y_i|(t) / eps against the fitted bound C (e^{L t} - 1)."""
    fig = new_figure(FULL_WIDTH * 0.75, 3.6, layout="constrained")
    ax = fig.subplots()
    fit = results.gronwall
    colors = _eps_colors(config)
    later = results.times > 0
    times = results.times[later]
    for index, size in enumerate(config.eps):
        ratio = results.max_deviation[later, :, index] / size  # (times, ranks, systems)
        ax.plot(times, ratio.reshape(len(times), -1), color=colors[size], linewidth=0.5, alpha=0.5)
        ax.plot([], [], color=colors[size], label=f"ε = {size:g}")
    ax.plot(times, fit.bound(times, envelope=False), "k--", label="least-squares fit")
    holds = "holds" if fit.fraction_under == 1.0 else f"{100 * fit.fraction_under:.1f}% under"
    ax.plot(times, fit.bound(times), "k-", linewidth=2, label=f"envelope ({holds})")
    ax.axvspan(
        0,
        config.fit_time,
        color="0.85",
        zorder=0,
        label=f"fit window (and deviation ≤ {config.threshold:g})",
    )
    ax.set_yscale("log")
    ax.set_xlabel("time t")
    ax.set_ylabel("max$_i$ |x$_i$(t) − y$_i$(t)| / ε")
    fig.legend(loc="outside lower center", ncols=5)
    c_text = "" if fit.L <= 0 else f", C$_{{env}}$ = {fit.K_envelope / fit.L:.3g}"
    fig.suptitle(
        f"Gronwall bound C ε (e$^{{Lt}}$ − 1) fitted on t ≤ {config.fit_time:g}: "
        f"L = {fit.L:.3g}{c_text}\nevery rank {', '.join(map(str, config.ranks))} and cloud; "
        f"{_setting(config)}",
        fontsize=8,
    )
    return fig


def plot_time_to_deviation(config: LoraConfig, results: Results) -> Figure:
    """Heat map of the median first t with W2 > threshold over (size, rank)."""
    order = np.argsort(config.eps)
    times = results.time_to_deviation()[:, order]
    fig = new_figure(FULL_WIDTH * 0.75, 1.5 + 0.45 * len(config.ranks), layout="constrained")
    ax = fig.subplots()
    finite = np.isfinite(times)
    shown = np.ma.masked_where(~finite, times)
    cmap = colormaps["viridis"].with_extremes(bad="0.8")
    image = ax.imshow(shown, aspect="auto", cmap=cmap, vmin=0, vmax=config.T)
    for (row, col), value in np.ndenumerate(times):
        text = f"{value:.2g}" if np.isfinite(value) else f"> {config.T:g}"
        light = np.isfinite(value) and value < 0.6 * config.T
        ax.text(col, row, text, ha="center", va="center", color="w" if light else "k")
    ax.set_xticks(range(len(order)), [f"{config.eps[i]:g}" for i in order])
    ax.set_yticks(range(len(config.ranks)), [str(rank) for rank in config.ranks])
    ax.set_xlabel("relative perturbation size ε")
    ax.set_ylabel("LoRA rank r")
    ax.grid(False)
    fig.colorbar(image, ax=ax, label=f"first t with W$_2$ > {config.threshold:g}")
    fig.suptitle(
        f"Time to deviation, median of {config.systems} clouds (grey: not reached by "
        f"T = {config.T:g})\n{_setting(config)}",
        fontsize=8,
    )
    return fig


def plot_clusters(config: LoraConfig, results: Results) -> Figure:
    """Adjusted Rand index of the final cluster labels and final cluster counts against eps."""
    fig = new_figure(FULL_WIDTH, 3.0, layout="constrained")
    ari_ax, count_ax = fig.subplots(1, 2, sharex=True)
    order = np.argsort(config.eps)
    sizes = np.asarray(config.eps)[order]
    for row, rank in enumerate(config.ranks):
        color = f"C{row}"
        ari = results.ari[row][order]
        ari_ax.plot(sizes, ari.mean(-1), "o-", markersize=4, color=color, label=f"rank {rank}")
        count = results.perturbed_clusters[row][order]
        count_ax.plot(sizes, count.mean(-1), "o-", markersize=4, color=color, label=f"rank {rank}")
    count_ax.axhline(results.base_clusters.mean(), color="k", linestyle="--", label="base field")
    ari_ax.set_ylabel("adjusted Rand index (mean)")
    ari_ax.set_ylim(-0.1, 1.05)
    count_ax.set_ylabel(f"clusters at T (cos > 1 − {config.cluster_tol:g}), mean")
    highest = max(results.perturbed_clusters.mean(-1).max(), results.base_clusters.mean())
    count_ax.set_ylim(0, highest + 0.5)
    for ax in (ari_ax, count_ax):
        ax.set_xscale("log")
        ax.set_xlabel("relative perturbation size ε")
    ari_ax.legend(loc="lower left")
    count_ax.legend(loc="lower left")
    ari_ax.set_title("final clusters: LoRA against base")
    count_ax.set_title("final cluster count")
    fig.suptitle(
        f"Cluster structure at T = {config.T:g}, mean of {config.systems} clouds\n"
        f"{_setting(config)}"
    )
    return fig
