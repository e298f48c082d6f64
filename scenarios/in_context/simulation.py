"""The in-context scenario's simulation: every layer stack and flow on one batch of tasks, the
closed form and the checks, and the numbers reported of them (see ``scenarios.in_context``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

import dynamics
from scenarios.analysis import Curve, positions
from scenarios.harness import progress
from scenarios.in_context.config import InContextConfig
from scenarios.in_context.tasks import (
    DTYPE,
    Tasks,
    make_tasks,
    ols_layer_error,
    relative_excess_error,
)

NAME = "in_context"

LAYER_METHODS: dict[str, tuple[str, str]] = {
    "gd": ("none", "euler"),
    "heavy_ball/leapfrog": ("heavy_ball", "leapfrog"),
    "heavy_ball/nesterov_layer": ("heavy_ball", "nesterov_layer"),
    "nesterov/leapfrog": ("nesterov", "leapfrog"),
    "nesterov/nesterov_layer": ("nesterov", "nesterov_layer"),
}
"""Discrete layers: name -> (momentum friction, or "none" for plain layers; stepping method)."""

FLOW_METHODS = ("gradient_flow", "heavy_ball", "nesterov")
"""Continuous flows (dopri5): plain gradient flow and the two momentum flows."""


@dataclass(frozen=True)
class Results:
    """Every relative excess-error curve of one run (``Curve.gap``: the error against depth for
    layers, against time for flows), and the checks."""

    layers: dict[str, Curve]
    flows: dict[str, Curve]
    closed_form: Curve
    ols_layer_error: float
    flow_closed_form_deviation: float
    baseline: float


def _base_field(config: InContextConfig) -> dynamics.LinearAttention:
    """The gradient-step field (the same for every task), on ``device``."""
    field_ = dynamics.gradient_step_attention(config.d, config.n_context, config.eta, dtype=DTYPE)
    return field_.to(config.device)


def momentum_field(config: InContextConfig, friction: str) -> dynamics.Accelerated:
    """The momentum dynamics of the gradient-step field with ``friction`` (heavy_ball, nesterov)."""
    return dynamics.Accelerated(
        _base_field(config), damping=friction, gamma=config.gamma, r=config.r, t0=config.t0
    )


def _trajectory(
    field_: nn.Module, tokens: Tensor, times: Tensor, method: str, config: InContextConfig
) -> Tensor:
    """Token trajectory (len(times), tasks, N + Q, d + 1); momentum fields start at rest.

    Raises RuntimeError if the tokens stop being finite.
    """
    xs = positions(field_, tokens, times, method, rtol=config.rtol, atol=config.atol)
    if not bool(torch.isfinite(xs).all()):
        raise RuntimeError(
            f"method {method!r} produced non-finite tokens; try a smaller eta * step"
        )
    return xs


def layer_curve(config: InContextConfig, tasks: Tasks, name: str) -> Curve:
    """Relative excess error at depths 0..max_layers of the layer stack ``name``."""
    friction, method = LAYER_METHODS[name]
    field_ = _base_field(config) if friction == "none" else momentum_field(config, friction)
    depths = torch.arange(config.max_layers + 1, dtype=DTYPE)
    xs = _trajectory(
        field_, tasks.prompts, (depths * config.step).to(config.device), method, config
    )
    predictions = dynamics.in_context_prediction(xs, config.n_context)
    return Curve(
        np.arange(config.max_layers + 1), relative_excess_error(predictions, tasks).cpu().numpy()
    )


def flow_predictions(config: InContextConfig, tasks: Tasks, name: str) -> Tensor:
    """Query predictions of the flow ``name`` at the output times, shape (num_times, tasks, Q)."""
    field_ = _base_field(config) if name == "gradient_flow" else momentum_field(config, name)
    times = output_times(config).to(config.device)
    xs = _trajectory(field_, tasks.prompts, times, "dopri5", config)
    return dynamics.in_context_prediction(xs, config.n_context)


def closed_form_predictions(config: InContextConfig, tasks: Tasks) -> Tensor:
    """``dynamics.gradient_flow_prediction`` at the output times, shape (num_times, tasks, Q)."""
    return torch.stack(
        [
            dynamics.gradient_flow_prediction(
                tasks.x_context, tasks.y_context, tasks.x_query, config.eta, float(t)
            )
            for t in output_times(config)
        ]
    )


def output_times(config: InContextConfig) -> Tensor:
    """The flows' ``num_times`` evenly spaced output times on [0, T], float64 on the CPU."""
    return torch.linspace(0.0, config.horizon, config.num_times, dtype=DTYPE)


def simulate(config: InContextConfig) -> Results:
    """Run every layer stack and flow on one batch of tasks; return the error curves."""
    tasks = make_tasks(config)
    times = output_times(config).numpy()
    jobs = [("layers", name) for name in LAYER_METHODS] + [("flows", name) for name in FLOW_METHODS]
    layers, flows = {}, {}
    deviation = 0.0
    closed = closed_form_predictions(config, tasks)
    for kind, name in progress(jobs, desc=NAME, total=len(jobs)):
        if kind == "layers":
            layers[name] = layer_curve(config, tasks, name)
            continue
        predictions = flow_predictions(config, tasks, name)
        if name == "gradient_flow":
            deviation = float((predictions - closed).abs().max())
        flows[name] = Curve(times, relative_excess_error(predictions, tasks).cpu().numpy())
    return Results(
        layers=layers,
        flows=flows,
        closed_form=Curve(times, relative_excess_error(closed, tasks).cpu().numpy()),
        ols_layer_error=ols_layer_error(tasks),
        flow_closed_form_deviation=deviation,
        baseline=float(tasks.ols.pow(2).mean()),
    )


def curve_metrics(curve: Curve, target: float) -> dict[str, object]:
    """The final relative excess error and the first depth (or time) where it is below
    ``target`` (None if never)."""
    return {
        "final_relative_error": float(curve.gap[-1]),
        "first_below_target": curve.first_below(target),
    }


def metrics(config: InContextConfig, results: Results) -> dict[str, object]:
    """The resolved horizon and GD step, every method's ``curve_metrics``, and the checks."""
    target = config.target
    return {
        "resolved": {
            "T": config.horizon,
            "gd_step": config.eta * config.step,
            "mean_squared_ols_prediction": results.baseline,
        },
        "layers": {name: curve_metrics(curve, target) for name, curve in results.layers.items()},
        "flows": {name: curve_metrics(curve, target) for name, curve in results.flows.items()},
        "closed_form": curve_metrics(results.closed_form, target),
        "ols_layer_error": results.ols_layer_error,
        "flow_closed_form_deviation": results.flow_closed_form_deviation,
    }


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """One line per method: final relative excess error and first depth / time below target."""
    target = metrics["parameters"]["target"]
    lines = []
    for kind, unit in (("layers", "depth"), ("flows", "t")):
        for name, entry in metrics[kind].items():
            first = entry["first_below_target"]
            lines.append(
                f"{kind + '/' + name:<33} final error {entry['final_relative_error']:.3e}   "
                f"{unit} to {target:g}: {'never' if first is None else f'{first:g}'}"
            )
    lines.append(
        f"OLS layer vs lstsq: {metrics['ols_layer_error']:.1e}   flow vs closed form: "
        f"{metrics['flow_closed_form_deviation']:.1e}"
    )
    return lines
