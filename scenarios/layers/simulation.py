"""The layers scenario's simulation: the reference flow and every layer rule at every depth, for
both variants, with their distances, fitted orders and cluster counts (see ``scenarios.layers``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

import dynamics
import solvers
from scenarios.analysis import fit_power_law
from scenarios.harness import progress
from scenarios.layers.config import LayersConfig

NAME = "layers"
DTYPE = torch.float64

VARIANTS = {"euclidean": "pre", "sphere": "post"}
"""Variant -> the block's ``norm``."""

LAYER_RULES = {
    "euclidean": ("euler", "lie_trotter", "strang"),
    "sphere": ("projected_euler", "lie_trotter", "strang"),
}
"""Variant -> the layer rules (names in ``solvers.METHODS``) compared with its flow."""

DISTANCES = ("max_token", "w2")
"""max_i |X_i - x_i(T)| and W2 between the clouds."""


@dataclass(frozen=True)
class VariantResults:
    """One variant: the flow's cluster counts over time, and per layer rule its distances and
    cluster counts at every depth (arrays over ``config.depths``) and its fitted orders."""

    flow_times: np.ndarray
    flow_clusters: np.ndarray
    distances: dict[str, dict[str, np.ndarray]]
    orders: dict[str, dict[str, float | None]]
    clusters: dict[str, np.ndarray]


def make_block(config: LayersConfig, variant: str) -> dynamics.TransformerBlock:
    """The variant's block with PyTorch's default initialisation drawn from ``seed`` (the global
    generator is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        block = dynamics.TransformerBlock(
            config.d,
            config.heads,
            config.hidden,
            norm=VARIANTS[variant],
            activation=config.activation,
        )
    return block.to(device=config.device, dtype=DTYPE)


def initial_cloud(config: LayersConfig) -> Tensor:
    """n tokens uniform on S^{d-1}, drawn from ``seed`` + 1."""
    generator = torch.Generator().manual_seed(config.seed + 1)
    x0 = dynamics.uniform_sphere(config.n, config.d, generator=generator, dtype=DTYPE)
    return x0.to(config.device)


def distances(x: Tensor, reference: Tensor) -> dict[str, float]:
    """max_i |x_i - reference_i| and W2 between the two clouds."""
    return {
        "max_token": float(torch.linalg.vector_norm(x - reference, dim=-1).max()),
        "w2": float(dynamics.wasserstein2(x, reference)),
    }


def solve_variant(config: LayersConfig, variant: str) -> VariantResults:
    """The flow and every layer rule at every depth, for one variant."""
    block, x0 = make_block(config, variant), initial_cloud(config)
    times = torch.linspace(0.0, config.T, config.num_times, dtype=DTYPE, device=config.device)
    with torch.no_grad():
        flow = solvers.integrate(block, x0, times, rtol=config.rtol, atol=config.atol)
        final = flow[-1]
        found = {rule: {name: [] for name in DISTANCES} for rule in LAYER_RULES[variant]}
        clusters: dict[str, list[int]] = {rule: [] for rule in LAYER_RULES[variant]}
        jobs = [(rule, L) for rule in LAYER_RULES[variant] for L in config.depths]
        for rule, L in progress(jobs, desc=f"{NAME}: {variant}", total=len(jobs)):
            layers = torch.linspace(0.0, config.T, L + 1, dtype=DTYPE, device=config.device)
            output = solvers.integrate(block, x0, layers, method=rule)[-1]
            for name, value in distances(output, final).items():
                found[rule][name].append(value)
            clusters[rule].append(int(dynamics.cluster_count(output, config.cluster_tol)))
    arrays = {
        rule: {name: np.array(values) for name, values in by_name.items()}
        for rule, by_name in found.items()
    }
    return VariantResults(
        flow_times=times.cpu().numpy(),
        flow_clusters=dynamics.cluster_count(flow, config.cluster_tol).cpu().numpy(),
        distances=arrays,
        orders={
            rule: {
                name: fitted_order(config.depths, errors, config.fit_from)
                for name, errors in by_name.items()
            }
            for rule, by_name in arrays.items()
        },
        clusters={rule: np.array(counts) for rule, counts in clusters.items()},
    )


def fitted_order(depths: tuple[int, ...], errors: np.ndarray, fit_from: int) -> float | None:
    """Minus the least-squares slope of log(error) against log(L) over L >= ``fit_from``; None
    when an error there is zero (rounding level reached exactly)."""
    depths_array = np.asarray(depths, dtype=float)
    used = depths_array >= fit_from
    if not (errors[used] > 0).all():
        return None
    return -fit_power_law(depths_array[used], errors[used])[0]


def simulate(config: LayersConfig) -> dict[str, VariantResults]:
    """Solve both variants."""
    return {variant: solve_variant(config, variant) for variant in VARIANTS}


def variant_metrics(config: LayersConfig, results: VariantResults) -> dict[str, object]:
    """Per layer rule: expected and fitted orders, distances and cluster counts at every L."""
    rules = {}
    for rule, by_name in results.distances.items():
        rules[rule] = {
            "expected_order": solvers.METHODS[rule].order,
            "fitted_order": results.orders[rule],
            "distances": {name: errors.tolist() for name, errors in by_name.items()},
            "cluster_counts": results.clusters[rule].tolist(),
        }
    return {
        "flow_cluster_count": int(results.flow_clusters[-1]),
        "flow_cluster_count_over_time": results.flow_clusters.tolist(),
        "layers": rules,
    }


def metrics(config: LayersConfig, results: dict[str, VariantResults]) -> dict[str, object]:
    """The depths, and per variant its ``variant_metrics``."""
    return {
        "depths": list(config.depths),
        **{variant: variant_metrics(config, result) for variant, result in results.items()},
    }


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """Per variant and layer rule: the fitted orders and the cluster counts at the deepest L."""
    lines = []
    for variant in VARIANTS:
        entry = metrics[variant]
        lines.append(f"{variant}/flow clusters at T: {entry['flow_cluster_count']}")
        for rule, found in entry["layers"].items():
            orders = ", ".join(
                f"{name} {'n/a' if value is None else f'{value:.2f}'}"
                for name, value in found["fitted_order"].items()
            )
            lines.append(
                f"{variant}/{rule:<16} order {found['expected_order']}: fitted {orders}; "
                f"clusters at L = {metrics['depths'][-1]}: {found['cluster_counts'][-1]}"
            )
    return lines
