"""Figures of the pretrained scenario (see ``scenarios.pretrained``), drawn from its results.

- ``layers``: mean pairwise cosine, cluster count and effective rank against the layer k = 0..6,
  for the real model and for the chained flow (mean over sentences, band: interquartile range);
- ``flow_vs_real``: W2 between the flow's and the real token clouds and the mean matched-token
  cosine at t = k = 1..6, for the chained flow and for one layer from the real state;
- ``albert``: the same three observables against t in [0, T] for every held layer k, one row per
  ALBERT-like field (flows solid, the discrete iteration of the real layer dashed).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from scenarios.harness import FULL_WIDTH, figure_style, new_figure
from scenarios.pretrained.config import PretrainedConfig
from scenarios.pretrained.simulation import Results

LABELS = {
    "mean_pairwise_cosine": "mean pairwise cosine",
    "cluster_count": "cluster count",
    "effective_rank": "effective rank",
}


def make_figures(config: PretrainedConfig, results: Results) -> dict[str, Figure]:
    """Every figure of the scenario, by file stem."""
    with figure_style():
        figures = {
            "layers": plot_layers(config, results),
            "flow_vs_real": plot_flow_vs_real(config, results),
        }
        if results.albert:
            figures["albert"] = plot_albert(config, results)
        return figures


def _setting(config: PretrainedConfig) -> str:
    return (
        f"all-MiniLM-L6-v2, {config.sentences} sentences; flow: projection = "
        f"{config.projection}, {config.method}"
    )


def _band(ax, x: np.ndarray, values: np.ndarray, color: str, label: str, style: str = "o-"):
    """Mean over the last axis with its interquartile band."""
    low, high = np.percentile(values, [25, 75], axis=-1)
    ax.fill_between(x, low, high, color=color, alpha=0.2, linewidth=0)
    ax.plot(x, values.mean(-1), style, color=color, markersize=3, label=label)


def plot_layers(config: PretrainedConfig, results: Results) -> Figure:
    """The three observables against the layer, real model and flow."""
    fig = new_figure(FULL_WIDTH, 2.7, layout="constrained")
    axes = fig.subplots(1, 3)
    layers = np.arange(len(results.real["cluster_count"]))
    for ax, name in zip(axes, LABELS, strict=True):
        _band(ax, layers, results.real[name], "C0", "real model (layer k)")
        _band(ax, layers, results.flow[name], "C3", "flow at t = k", "s--")
        ax.set_xlabel("layer k (flow: time t)")
        ax.set_ylabel(LABELS[name])
        ax.set_xticks(layers)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2)
    fig.suptitle(
        f"Token clustering across layers (mean over sentences, band: quartiles; clusters: "
        f"cos > 1 − {config.cluster_tol:g})\n{_setting(config)}"
    )
    return fig


def plot_flow_vs_real(config: PretrainedConfig, results: Results) -> Figure:
    """W2 and matched-token cosine between the flow and the real hidden states at t = k."""
    fig = new_figure(FULL_WIDTH, 2.8, layout="constrained")
    w2_ax, cos_ax = fig.subplots(1, 2)
    layers = np.arange(1, results.comparison["w2"].shape[0] + 1)
    for suffix, color, style, label in (
        ("", "C3", "o-", "chained flow (from the embeddings)"),
        ("_one_layer", "C2", "s--", "one layer's flow from the real h$_{k-1}$"),
    ):
        _band(w2_ax, layers, results.comparison[f"w2{suffix}"], color, label, style)
        _band(cos_ax, layers, results.comparison[f"cosine{suffix}"], color, label, style)
    w2_ax.plot(layers, results.token_norm[1:], ":", color="0.4", label="RMS token norm (scale)")
    w2_ax.set_ylabel("W$_2$(flow cloud, real cloud)")
    cos_ax.set_ylabel("mean cos(x$_i$(k), h$_{k,i}$)")
    cos_ax.set_ylim(top=1.0)
    for ax in (w2_ax, cos_ax):
        ax.set_xlabel("layer k = time t")
        ax.set_xticks(layers)
    handles, labels = w2_ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3)
    fig.suptitle(f"Continuous flow against the real hidden states at t = k\n{_setting(config)}")
    return fig


def plot_albert(config: PretrainedConfig, results: Results) -> Figure:
    """Observables against t for every ALBERT-like field; rows: parts, columns: observables."""
    parts = config.albert_parts
    fig = new_figure(FULL_WIDTH, 0.9 + 2.1 * len(parts), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(parts), 3, sharex=True, squeeze=False))
    times = np.arange(config.T + 1)
    for row, part in enumerate(parts):
        for index, k in enumerate(config.albert_layers):
            run = results.albert[f"{part}/{k}"]
            for column, name in enumerate(LABELS):
                ax = axes[row, column]
                color = f"C{index}"
                ax.plot(times, run["flow"][name].mean(-1), "-", color=color, label=f"k = {k} flow")
                ax.plot(
                    times,
                    run["discrete"][name].mean(-1),
                    "--",
                    color=color,
                    linewidth=1.0,
                    label=f"k = {k} layer iterated",
                )
        what = "attention + MLP, LN$_2$" if part == "block" else "attention alone, LN$_1$"
        for column, name in enumerate(LABELS):
            axes[row, column].set_ylabel(f"{LABELS[name]}\n({what})", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("time t (= depth)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 6))
    fig.suptitle(
        f"ALBERT-like flows: layer k's weights at every depth, first {config.albert_sentences} "
        f"sentences (mean)\n{_setting(config)}"
    )
    return fig
