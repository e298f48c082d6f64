"""The acceleration scenario's simulation: every flow and layer stack of both problems, and the
numbers reported of them (see ``scenarios.acceleration``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

import dynamics
import solvers
from scenarios.acceleration.config import AccelerationConfig
from scenarios.acceleration.moments import moment_checks
from scenarios.acceleration.problems import (
    DTYPE,
    Problem,
    flow_times,
    linear_problem,
    sphere_problem,
    variant_field,
)
from scenarios.analysis import Curve, best_step, layer_metrics, positions
from scenarios.harness import progress

NAME = "acceleration"

FLOWS = ("plain", "heavy_ball", "nesterov")
"""Continuous flows: the first-order field and its two momentum versions."""

LAYERS: dict[str, tuple[str, str]] = {
    "plain": ("plain", ""),
    "heavy_ball/leapfrog": ("heavy_ball", "leapfrog"),
    "heavy_ball/nesterov_layer": ("heavy_ball", "nesterov_layer"),
    "nesterov/leapfrog": ("nesterov", "leapfrog"),
    "nesterov/nesterov_layer": ("nesterov", "nesterov_layer"),
}
"""Discrete layers: name -> (dynamics, stepping method; "" for the problem's plain layer)."""

PLAIN_LAYER = {"sphere": "projected_euler", "linear": "euler"}
"""One plain layer per problem: the post-LayerNorm residual layer on the sphere, Euler in R^d."""


@dataclass(frozen=True)
class Results:
    """Every curve of one problem, and its extra observables.

    Attributes:
        flows: per flow, the gap against time.
        layers: per layer variant, the gap against field evaluations at every step.
        best_steps: per layer variant, its best step (``scenarios.analysis.best_step``).
        cluster_counts: sphere problem: per flow, the mean cluster count at every output time.
        moments: linear problem: the moment checks (``moment_checks``).
        covariance_series: linear problem: per flow, the covariance (particles, moment ODE from
            the law's moments) at every output time, each of shape (times, d, d).
    """

    flows: dict[str, Curve]
    layers: dict[str, dict[float, Curve]]
    best_steps: dict[str, float]
    cluster_counts: dict[str, np.ndarray] | None = None
    moments: dict[str, object] | None = None
    covariance_series: dict[str, tuple[np.ndarray, np.ndarray]] | None = None


def simulate(config: AccelerationConfig) -> dict[str, Results]:
    """Solve both problems: ``{"sphere": Results, "linear": Results}``."""
    return {
        problem.name: solve_problem(config, problem)
        for problem in (sphere_problem(config), linear_problem(config))
    }


def solve(
    config: AccelerationConfig, field: nn.Module, x0: Tensor, times: Tensor, method: str
) -> Tensor:
    """Positions at ``times`` (momentum fields from rest), with the config's dopri5 tolerances."""
    return positions(field, x0, times, method, rtol=config.rtol, atol=config.atol)


def layer_curve(config: AccelerationConfig, problem: Problem, name: str, step: float) -> Curve:
    """Relative gap after 0..max_evaluations field evaluations of the layer stack ``name``."""
    kind, method = LAYERS[name]
    method = method or PLAIN_LAYER[problem.name]
    per_step = solvers.METHODS[method].evaluations
    layers = config.max_evaluations // per_step
    depths = torch.arange(layers + 1, dtype=DTYPE)
    times = (depths * step).to(config.device)
    xs = solve(config, variant_field(config, problem, kind), problem.x0, times, method)
    return Curve((depths * per_step).numpy(), problem.gap(xs).cpu().numpy())


def solve_problem(config: AccelerationConfig, problem: Problem) -> Results:
    """Every flow and every layer stack of one problem."""
    times = flow_times(config)
    trajectories, flows = {}, {}
    for kind in FLOWS:
        field_ = variant_field(config, problem, kind)
        xs = solve(config, field_, problem.x0, times.to(config.device), "dopri5")
        trajectories[kind] = xs
        flows[kind] = Curve(times.numpy(), problem.gap(xs).cpu().numpy())
    jobs = [(name, step) for name in LAYERS for step in config.steps]
    layers: dict[str, dict[float, Curve]] = {name: {} for name in LAYERS}
    for name, step in progress(jobs, desc=f"{NAME}: {problem.name} layers", total=len(jobs)):
        layers[name][float(step)] = layer_curve(config, problem, name, float(step))
    best = {name: best_step(by_step, config.target) for name, by_step in layers.items()}
    if problem.name == "sphere":
        counts = {
            kind: dynamics.cluster_count(xs, config.cluster_tol).double().mean(-1).cpu().numpy()
            for kind, xs in trajectories.items()
        }
        return Results(flows, layers, best, cluster_counts=counts)
    checks, series = moment_checks(config, problem, trajectories)
    return Results(flows, layers, best, moments=checks, covariance_series=series)


def metrics(config: AccelerationConfig, results: dict[str, Results]) -> dict[str, object]:
    """Per problem: each flow's time to target, final gap (and on the sphere its final mean
    cluster count); each layer variant's metrics (``scenarios.analysis.layer_metrics``); for the
    linear problem the moment checks."""
    return {name: _problem_metrics(config, result) for name, result in results.items()}


def _problem_metrics(config: AccelerationConfig, results: Results) -> dict[str, object]:
    flows = {}
    for kind, curve in results.flows.items():
        entry = curve.metrics(config.target)
        entry["time_to_target"] = entry.pop("first_below_target")
        if results.cluster_counts is not None:
            entry["final_mean_cluster_count"] = float(results.cluster_counts[kind][-1])
        flows[kind] = entry
    out: dict[str, object] = {
        "flows": flows,
        "layers": layer_metrics(results.layers, results.best_steps, config.target),
    }
    if results.moments is not None:
        out["moments"] = results.moments
    return out


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """Per problem and variant: time to target (flows), best evaluations to target (layers)."""
    target = metrics["parameters"]["target"]
    lines = []
    for problem in ("sphere", "linear"):
        for kind, entry in metrics[problem]["flows"].items():
            time = entry["time_to_target"]
            lines.append(
                f"{problem}/flow/{kind:<28} t to gap {target:g}: "
                f"{'never' if time is None else f'{time:g}'}"
            )
        for name, entry in metrics[problem]["layers"].items():
            cost, step = entry["best_evaluations_to_target"], entry["best_step"]
            found = "never" if cost is None else f"{cost:g} evaluations (h = {step:g})"
            lines.append(f"{problem}/layers/{name:<26} to gap {target:g}: {found}")
    return lines
