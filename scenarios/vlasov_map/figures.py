"""Figures of the vlasov_map scenario (see ``scenarios.vlasov_map``).

- ``w1_vs_depth``: held-out W1(model output, rho_T) against the number of layers, one line per n,
  with W1(rho_0, rho_T), the target W1(rho_0, rho_T) / 10 and the exact flow map's sampling error;
- ``training``: the training loss against Adam steps, one line per depth;
- ``example``: one held-out density: rho_0, the grid's rho_T and the histogram of the deepest
  model's output tokens at the largest n.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from scenarios.harness.style import FULL_WIDTH, figure_style, new_figure
from scenarios.vlasov_map.config import VlasovMapConfig
from scenarios.vlasov_map.simulation import FACTOR, Results


def make_figures(config: VlasovMapConfig, results: Results) -> dict[str, Figure]:
    """Every figure of the scenario, by file stem."""
    with figure_style():
        return {
            "w1_vs_depth": plot_w1_vs_depth(config, results),
            "training": plot_training(config, results),
            "example": plot_example(config, results),
        }


def _setting(config: VlasovMapConfig) -> str:
    return (
        f"SA on the circle, β = {config.beta:g}, T = {config.T:g}; {config.components}-component "
        f"von Mises mixtures, κ ∈ [{config.kappa_min:g}, {config.kappa_max:g}]"
    )


def plot_w1_vs_depth(config: VlasovMapConfig, results: Results) -> Figure:
    """Mean ± std over held-out densities of W1(model, rho_T) against L, per n."""
    fig = new_figure(FULL_WIDTH, 3.4, layout="constrained")
    ax = fig.subplots()
    depths = np.array(config.depths)
    for index, n in enumerate(config.eval_ns):
        color = f"C{index}"
        mean = np.array([results.w1[layers][n].mean() for layers in config.depths])
        spread = np.array([results.w1[layers][n].std() for layers in config.depths])
        ax.errorbar(
            depths,
            mean,
            yerr=spread,
            color=color,
            marker="o",
            capsize=2,
            label=f"transformer, n = {n}",
        )
        ax.axhline(
            results.w1_flow_map[n].mean(),
            color=color,
            linestyle=":",
            linewidth=1,
            label=f"exact flow map of the samples, n = {n}",
        )
    reference = results.w1_densities.mean()
    ax.axhline(reference, color="k", linewidth=1, label="W1(ρ$_0$, ρ$_T$)")
    ax.axhline(
        reference / FACTOR,
        color="k",
        linestyle="--",
        linewidth=1,
        label=f"target W1(ρ$_0$, ρ$_T$) / {FACTOR:g}",
    )
    ax.set_xscale("log", base=2)
    ax.set_xticks(depths, [str(layers) for layers in depths])
    ax.set_yscale("log")
    ax.set_xlabel("layers L (step T / L)")
    ax.set_ylabel("W1(output, grid ρ$_T$) (rad)")
    fig.legend(loc="outside right center", fontsize=7)
    ax.set_title(
        f"{_setting(config)}\nheld out: mean ± std over {config.test_densities} densities; "
        f"trained at n = {config.n}",
        fontsize=8,
    )
    return fig


def plot_training(config: VlasovMapConfig, results: Results) -> Figure:
    """Training loss (mean squared chord) against Adam steps, per depth."""
    fig = new_figure(FULL_WIDTH * 0.55, 3.0, layout="constrained")
    ax = fig.subplots()
    for layers, losses in results.losses.items():
        ax.plot(np.arange(1, len(losses) + 1), losses, linewidth=0.8, label=f"L = {layers}")
    ax.set_yscale("log")
    ax.set_xlabel("Adam step")
    ax.set_ylabel("mean squared chord to Φ$_T$(θ) (≈ rad² when small)")
    ax.legend(loc="upper right")
    ax.set_title(
        f"training on {config.train_densities} densities × n = {config.n} tokens, "
        f"batch {config.batch}, lr {config.lr:g}",
        fontsize=8,
    )
    return fig


def plot_example(config: VlasovMapConfig, results: Results) -> Figure:
    """The first held-out density: rho_0, rho_T and the deepest model's output histogram."""
    fig = new_figure(FULL_WIDTH * 0.6, 3.0, layout="constrained")
    ax = fig.subplots()
    cells = config.cells
    centres = (np.arange(cells) + 0.5) * (2 * math.pi / cells)
    deepest, largest = max(config.depths), max(config.eval_ns)
    outputs = np.mod(results.outputs[deepest], 2 * math.pi)
    ax.hist(
        outputs,
        bins=96,
        range=(0, 2 * math.pi),
        density=True,
        color="C1",
        alpha=0.5,
        label=f"transformer output, L = {deepest}, n = {largest}",
    )
    ax.plot(centres, results.test.initial[0].cpu().numpy(), color="0.5", label="ρ$_0$")
    ax.plot(centres, results.test.final[0].cpu().numpy(), color="k", label="grid ρ$_T$")
    ax.set_xlabel("angle θ (rad)")
    ax.set_ylabel("density (1/rad)")
    ax.set_xticks(np.arange(5) * math.pi / 2, ["0", "π/2", "π", "3π/2", "2π"])
    ax.legend(loc="upper right", fontsize=7)
    w1 = results.w1[deepest][largest][0]
    ax.set_title(f"held-out density 1: W1(output, ρ$_T$) = {w1:.3f} rad", fontsize=8)
    return fig
