"""The sympformer scenario's simulation: every flow and layer stack from one start, the cluster
counts and the H series, and the numbers reported of them (see ``scenarios.sympformer``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

import dynamics
import solvers
from scenarios.analysis import Curve, best_step, layer_metrics
from scenarios.harness import progress
from scenarios.sympformer.config import SympformerConfig
from scenarios.sympformer.problem import (
    DTYPE,
    Problem,
    energy_parts,
    flow_times,
    make_problem,
    overdamped_residual,
    potential_gap,
    trajectory,
)

NAME = "sympformer"

FLOWS = ("plain", "heavy_ball", "nesterov", "hamiltonian")
"""Continuous flows: the first-order attention field, its two momentum versions, and SympFormer's
Hamiltonian attention."""

LAYERS: dict[str, tuple[str, str]] = {
    "plain": ("plain", "euler"),
    "heavy_ball/leapfrog": ("heavy_ball", "leapfrog"),
    "nesterov/leapfrog": ("nesterov", "leapfrog"),
    "hamiltonian/tao": ("hamiltonian", "tao"),
    "hamiltonian/presymplectic_euler": ("hamiltonian", "presymplectic_euler"),
}
"""Discrete layers: name -> (dynamics, stepping method)."""

H_TOLERANCE = 1e-9
"""Relative rounding allowance when checking that H never increases along the dopri5 flow."""


@dataclass(frozen=True)
class Results:
    """Every curve, the cluster counts and the H series of the Hamiltonian runs."""

    flows: dict[str, Curve]
    layers: dict[str, dict[float, Curve]]
    best_steps: dict[str, float]
    cluster_counts: dict[str, np.ndarray]
    energies: dict[str, np.ndarray]
    """H, kinetic and potential (mean over systems) along the flow; "tao_times"/"tao_H": along
    the Tao layers at their best step; "flow_H_systems": H per system along the flow."""
    overdamped_residual: float


def layer_run(
    config: SympformerConfig, problem: Problem, name: str, step: float
) -> tuple[Curve, torch.Tensor, torch.Tensor | None]:
    """The gap after 0..max_evaluations field evaluations of the layer stack ``name``, with its
    positions and momenta."""
    kind, method = LAYERS[name]
    per_step = solvers.METHODS[method].evaluations
    depths = torch.arange(config.max_evaluations // per_step + 1, dtype=DTYPE)
    xs, ps = trajectory(config, problem, kind, depths * step, method)
    curve = Curve((depths * per_step).numpy(), potential_gap(problem, xs).cpu().numpy())
    return curve, xs, ps


def stable_best_step(by_step: dict[float, Curve], target: float) -> float:
    """``best_step`` among the runs that stayed finite (all runs if every one diverged): in this
    runaway potential a too-large step can cross the target just before it blows up, and a layer
    stack that blows up is not a usable one."""
    stable = {h: curve for h, curve in by_step.items() if not curve.diverged}
    return best_step(stable or by_step, target)


def simulate(config: SympformerConfig) -> Results:
    """Every flow, every layer stack, the cluster counts and the H series."""
    problem = make_problem(config)
    times = flow_times(config)
    flows, counts, energies = {}, {}, {}
    for kind in progress(FLOWS, desc=f"{NAME}: flows", total=len(FLOWS)):
        xs, ps = trajectory(config, problem, kind, times, "dopri5")
        flows[kind] = Curve(times.numpy(), potential_gap(problem, xs).cpu().numpy())
        counts[kind] = dynamics.cluster_count(xs, config.cluster_tol).double().mean(-1)
        counts[kind] = counts[kind].cpu().numpy()
        if ps is not None:
            parts = energy_parts(problem, xs, ps)
            for key, values in zip(("H", "kinetic", "potential"), parts, strict=True):
                energies[key] = values.mean(-1).cpu().numpy()
            energies["flow_H_systems"] = parts[0].cpu().numpy()
    jobs = [(name, float(step)) for name in LAYERS for step in config.steps]
    layers: dict[str, dict[float, Curve]] = {name: {} for name in LAYERS}
    tao_runs = {}
    for name, step in progress(jobs, desc=f"{NAME}: layers", total=len(jobs)):
        curve, xs, ps = layer_run(config, problem, name, step)
        layers[name][step] = curve
        if name == "hamiltonian/tao":
            tao_runs[step] = problem.hamiltonian.hamiltonian(xs, ps).mean(-1).cpu().numpy()
    best = {name: stable_best_step(by_step, config.target) for name, by_step in layers.items()}
    tao_step = best["hamiltonian/tao"]
    energies["tao_H"] = tao_runs[tao_step]
    energies["tao_times"] = tao_step * np.arange(len(tao_runs[tao_step]))
    return Results(flows, layers, best, counts, energies, overdamped_residual(problem))


def metrics(config: SympformerConfig, results: Results) -> dict[str, object]:
    """Per flow the time to target, final gap and final mean cluster count; per layer variant
    its method and cost per step and ``scenarios.analysis.layer_metrics``; the claim's verdict;
    H along the Hamiltonian runs; the overdamped check."""
    flows = {}
    for kind, curve in results.flows.items():
        entry = curve.metrics(config.target)
        entry["time_to_target"] = entry.pop("first_below_target")
        entry["final_mean_cluster_count"] = float(results.cluster_counts[kind][-1])
        flows[kind] = entry
    layers = {
        name: {
            "method": LAYERS[name][1],
            "evaluations_per_step": solvers.METHODS[LAYERS[name][1]].evaluations,
            **entry,
        }
        for name, entry in layer_metrics(results.layers, results.best_steps, config.target).items()
    }
    return {
        "flows": flows,
        "layers": layers,
        "claim": claim_metrics(config, layers),
        "hamiltonian": hamiltonian_metrics(results),
        "overdamped_check": results.overdamped_residual,
    }


def _cheapest(layers: dict[str, dict], kinds: tuple[str, ...]) -> tuple[str | None, float | None]:
    """The layer variant of the given dynamics with the fewest evaluations to target."""
    reached = [
        (entry["best_evaluations_to_target"], name)
        for name, entry in layers.items()
        if LAYERS[name][0] in kinds and entry["best_evaluations_to_target"] is not None
    ]
    if not reached:
        return None, None
    cost, name = min(reached)
    return name, cost


def claim_metrics(config: SympformerConfig, layers: dict[str, dict]) -> dict[str, object]:
    """Does Hamiltonian attention reach the target in fewer field evaluations?"""
    ham_name, ham = _cheapest(layers, ("hamiltonian",))
    _, plain = _cheapest(layers, ("plain",))
    mom_name, mom = _cheapest(layers, ("heavy_ball", "nesterov"))

    def fewer(other: float | None) -> bool | None:
        if ham is None and other is None:
            return None
        return ham is not None and (other is None or ham < other)

    verdict = {True: "holds", False: "does not hold", None: "undecided (no variant reached it)"}
    return {
        "hamiltonian_best_layer": ham_name,
        "hamiltonian_evaluations_to_target": ham,
        "plain_evaluations_to_target": plain,
        "momentum_best_layer": mom_name,
        "momentum_evaluations_to_target": mom,
        "fewer_evaluations_than_plain": fewer(plain),
        "fewer_evaluations_than_momentum": fewer(mom),
        "statement": (
            f"faster convergence at equal oracle calls (U(0)/U <= {config.target:g} within "
            f"{config.max_evaluations} evaluations): against plain attention "
            f"{verdict[fewer(plain)]}; against heavy-ball/Nesterov layers {verdict[fewer(mom)]}"
        ),
    }


def hamiltonian_metrics(results: Results) -> dict[str, object]:
    """H along the damped flow (dopri5) and along the Tao layers at their best step."""
    per_system = results.energies["flow_H_systems"]
    finite = bool(np.isfinite(per_system).all())
    increase = np.diff(per_system, axis=0) / np.maximum(np.abs(per_system[:-1]), 1.0)
    tao = results.energies["tao_H"]
    tao_finite = tao[np.isfinite(tao)]
    return {
        "flow_initial_H": float(results.energies["H"][0]),
        "flow_final_H": float(results.energies["H"][-1]) if finite else None,
        "flow_finite": finite,
        "flow_max_relative_increase": float(increase.max()) if finite else None,
        "flow_non_increasing": finite and bool(increase.max() <= H_TOLERANCE),
        "tao_best_step": results.best_steps["hamiltonian/tao"],
        "tao_max_increase": float(np.diff(tao_finite).max()) if tao_finite.size > 1 else None,
        "tao_final_H": float(tao[-1]) if np.isfinite(tao[-1]) else None,
    }


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """Per variant: time to target (flows), best evaluations to target (layers); the verdict."""
    target = metrics["parameters"]["target"]
    lines = []
    for kind, entry in metrics["flows"].items():
        time = entry["time_to_target"]
        found = "never" if time is None else f"{time:g}"
        lines.append(f"flow/{kind:<32} t to U(0)/U {target:g}: {found}")
    for name, entry in metrics["layers"].items():
        cost, step = entry["best_evaluations_to_target"], entry["best_step"]
        found = "never" if cost is None else f"{cost:g} evaluations (h = {step:g})"
        lines.append(f"layers/{name:<30} to U(0)/U {target:g}: {found}")
    lines.append(metrics["claim"]["statement"])
    return lines
