"""Figures of the in-context scenario (see ``scenarios.in_context``), drawn from its curves.

- ``layers``: relative excess error against depth for plain (GD) and momentum layers, log scale;
- ``flow``: relative excess error against time for the gradient, heavy-ball and Nesterov flows,
  with the closed form of the gradient flow dashed on top, log scale.
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from scenarios.analysis import Curve
from scenarios.harness import FULL_WIDTH, figure_style, new_figure
from scenarios.harness.curve_plots import draw_gap, draw_target
from scenarios.in_context.config import InContextConfig
from scenarios.in_context.simulation import Results

LAYER_LABELS = {
    "gd": "plain layers (Euler = GD)",
    "heavy_ball/leapfrog": "heavy ball, leapfrog",
    "heavy_ball/nesterov_layer": "heavy ball, Nesterov layer",
    "nesterov/leapfrog": "Nesterov friction, leapfrog",
    "nesterov/nesterov_layer": "Nesterov friction, Nesterov layer",
}
FLOW_LABELS = {
    "gradient_flow": "gradient flow",
    "heavy_ball": "heavy-ball flow",
    "nesterov": "Nesterov flow",
}
FLOOR = 1e-300
"""Errors are clipped below at this value to stay drawable on a log axis."""


def make_figures(config: InContextConfig, results: Results) -> dict[str, Figure]:
    """Every figure of the scenario, by file stem."""
    with figure_style():
        return {"layers": plot_layers(config, results), "flow": plot_flows(config, results)}


def _setting(config: InContextConfig) -> str:
    return (
        f"d = {config.d}, N = {config.n_context}, {config.n_queries} queries, "
        f"{config.tasks} tasks, η = {config.eta:g}, noise {config.noise:g}"
    )


def _momentum(config: InContextConfig) -> str:
    return f"heavy ball γ = {config.gamma:g}; Nesterov γ = {config.r:g} / (t + {config.t0:g})"


def _draw(ax: Axes, curve: Curve, label: str, **style: object) -> None:
    draw_gap(ax, curve.axis, curve.gap, label, floor=FLOOR, **style)


def _finish(ax: Axes, config: InContextConfig, xlabel: str) -> None:
    ax.set_yscale("log")
    draw_target(ax, config.target)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("relative excess error vs OLS")
    ax.legend(loc="lower left")


def plot_layers(config: InContextConfig, results: Results) -> Figure:
    """Relative excess error against depth, one line per layer type."""
    fig = new_figure(FULL_WIDTH, 3.6, layout="constrained")
    ax = fig.subplots()
    for index, (name, curve) in enumerate(results.layers.items()):
        linestyle = "-" if name == "gd" or name.endswith("leapfrog") else "--"
        _draw(ax, curve, LAYER_LABELS.get(name, name), color=f"C{index}", linestyle=linestyle)
    _finish(ax, config, f"depth L (layers = field evaluations, step h = {config.step:g})")
    ax.set_xlim(0, config.max_layers)
    ax.set_title(
        f"Discrete layers: excess error over OLS against depth\n{_setting(config)}; "
        f"{_momentum(config)}"
    )
    return fig


def plot_flows(config: InContextConfig, results: Results) -> Figure:
    """Relative excess error against time, one line per flow, the closed form dashed."""
    fig = new_figure(FULL_WIDTH, 3.6, layout="constrained")
    ax = fig.subplots()
    for index, (name, curve) in enumerate(results.flows.items()):
        _draw(ax, curve, FLOW_LABELS.get(name, name), color=f"C{index}")
    _draw(
        ax,
        results.closed_form,
        "gradient flow, closed form",
        color="k",
        linestyle="--",
        linewidth=1.0,
    )
    _finish(ax, config, "time t")
    ax.set_xlim(0, config.horizon)
    ax.set_title(
        f"Continuous flows (dopri5): excess error over OLS against time\n{_setting(config)}; "
        f"{_momentum(config)}"
    )
    return fig
