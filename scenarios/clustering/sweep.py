"""Sweeps of the clustering scenario (``attnflow sweep clustering``, see
``scenarios.harness.sweep``): every seed of a point is one system of a single batched solve per
(normalization, beta) run."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import Tensor

import dynamics
from scenarios.clustering.config import ClusteringConfig
from scenarios.clustering.simulation import initial_cloud, output_times, solve_run
from scenarios.harness import SweepSpec

_OBSERVABLE_BLOCK = 1 << 22
"""Time points per observable batch are chosen so that batch x n x probes stays below this."""

_PROBES = 4
"""Tokens whose isolation is checked first when looking for a cloud's first single cluster."""


def check_batchable(config: ClusteringConfig) -> None:
    """Refuse settings a batched seed solve cannot honour (raises ValueError)."""
    if config.method == "scipy_solver":
        raise ValueError(
            "method='scipy_solver' is not accepted in a sweep: LSODA would integrate all seeds "
            "as one system (one error norm, a dense Jacobian of the whole batch); use an "
            "adaptive method such as dopri5 (the sweep default) or a fixed-step method"
        )


def initial_clouds(config: ClusteringConfig, seeds: Sequence[int]) -> Tensor:
    """The initial clouds of ``seeds``, shape (len(seeds), n, d): cloud k is exactly
    ``initial_cloud`` of the config with ``seed = seeds[k]`` (one generator per seed)."""
    return torch.stack([initial_cloud(replace(config, seed=seed)) for seed in seeds])


def sweep_point(config: ClusteringConfig, seeds: Sequence[int]) -> list[dict[str, object]]:
    """One row per (normalization, beta, seed): the metrics of ``RunResult.metrics`` for that run
    (but ``max_energy_decrease``, see ``_batched_metrics``) plus ``single_cluster`` (1 if there is
    one cluster at T, else 0).

    Each (normalization, beta) run integrates the clouds of all ``seeds`` as one batched solve
    (the solver controls each seed's error separately). Raises RuntimeError like ``simulate``.
    """
    x0 = initial_clouds(config, seeds)
    times = output_times(config)
    rows = []
    for normalization in config.normalizations:
        for beta in config.betas:
            xs = solve_run(config, normalization, beta, x0, times)
            metrics = _batched_metrics(config, float(beta), times, xs)
            for index, seed in enumerate(seeds):
                row: dict[str, object] = {
                    "seed": seed,
                    "normalization": normalization,
                    "beta": float(beta),
                }
                row.update({name: values[index] for name, values in metrics.items()})
                rows.append(row)
    return rows


def _batched_metrics(
    config: ClusteringConfig, beta: float, times: Tensor, xs: Tensor
) -> dict[str, list[object]]:
    """Metrics of every system of a batched trajectory ``xs`` (len(t), S, n, d), as lists of
    length S, with the definitions of ``RunResult.metrics`` (None where it gives None).

    ``max_energy_decrease`` is left out: it needs the energy at every output time, which costs
    about as much as the batched solve itself; the other metrics need the clouds at 0 and T and
    the connectivity of the link graph up to each system's first single cluster.
    """
    norms = torch.linalg.vector_norm(xs, dim=-1)
    final_cloud = dynamics.normalize(xs[-1])
    count = dynamics.cluster_count(final_cloud, config.cluster_tol).cpu()
    first_single = _first_single_cluster(xs, config.cluster_tol).tolist()
    time_values = times.tolist()
    none = [None] * xs.shape[1]
    if beta > 0:
        log_max = beta - math.log(2 * beta)
        ends = dynamics.normalize(xs[[0, -1]])
        energy = torch.exp(dynamics.log_interaction_energy(ends, beta) - log_max)
        initial, final = energy.cpu().double().tolist()
    else:
        initial = final = none
    return {
        "final_cluster_count": count.tolist(),
        "single_cluster": (count == 1).int().tolist(),
        "min_cosine_at_T": dynamics.min_pairwise_cosine(final_cloud).clamp(-1.0, 1.0).tolist(),
        "time_to_single_cluster": [None if i < 0 else time_values[i] for i in first_single],
        "initial_normalized_energy": initial,
        "final_normalized_energy": final,
        "max_norm_error": (norms - 1).abs().flatten(2).amax(-1).amax(0).cpu().tolist(),
    }


def _first_single_cluster(xs: Tensor, tol: float) -> Tensor:
    """Index of the first output time at which each system of a trajectory ``xs`` (len(t), S, n, d)
    forms a single cluster (``cluster_count == 1``), -1 if it never does.

    Scans blocks of output times in order and drops each system once it is found, so a system
    that clusters early costs only its first output times. A cloud in which one of the first
    ``_PROBES`` tokens is linked to no other is not one cluster, which costs O(n) per probe to see;
    only the other clouds get their (n, n) cosines (``_single_cluster``).
    """
    steps, systems, n = xs.shape[0], xs.shape[1], xs.shape[2]
    threshold = 1.0 - tol
    probes = min(_PROBES, n)
    first = torch.full((systems,), -1, dtype=torch.long, device=xs.device)
    pending = torch.arange(systems, device=xs.device)
    start = 0
    while start < steps and len(pending) > 0:
        chunk = max(1, _OBSERVABLE_BLOCK // (len(pending) * n * probes))
        clouds = dynamics.normalize(xs[start : start + chunk, pending])
        cosines = clouds[..., :probes, :] @ clouds.transpose(-1, -2)
        cosines[..., range(probes), range(probes)] = -2.0
        candidate = (cosines.amax(-1) > threshold).all(-1)
        single = torch.zeros_like(candidate)
        single[candidate] = _single_cluster(clouds[candidate], tol)
        found = single.any(0)
        first[pending[found]] = start + single[:, found].int().argmax(0)
        pending = pending[~found]
        start += chunk
    return first.cpu()


def _single_cluster(unit: Tensor, tol: float) -> Tensor:
    """Whether each unit cloud of ``unit`` (m, n, d) is one cluster of the link graph
    cos > 1 - ``tol``: at once when every pair is linked, by ``dynamics.cluster_count`` when
    every token has a link but some pair has none, and not when a token has no link."""
    threshold = 1.0 - tol
    single = torch.zeros(unit.shape[0], dtype=torch.bool, device=unit.device)
    for rows in torch.arange(unit.shape[0], device=unit.device).split(
        _OBSERVABLE_BLOCK // unit.shape[1] ** 2
    ):
        cosines = unit[rows] @ unit[rows].transpose(-1, -2)
        all_linked = cosines.flatten(-2).amin(-1) > threshold
        cosines.diagonal(dim1=-2, dim2=-1).fill_(-2.0)
        unsure = ~all_linked & (cosines.amax(-1) > threshold).all(-1)
        all_linked[unsure] = dynamics.cluster_count(unit[rows][unsure], tol) == 1
        single[rows] = all_linked
    return single


SWEEP = SweepSpec(
    point=sweep_point,
    keys=("normalization", "beta"),
    defaults={"method": "dopri5", "figures": False},
    check=check_batchable,
)
"""Row keys name the run within a point (the other columns are metrics). A sweep starts from
dopri5, a method that controls each seed's error separately in a batched solve, and draws no
figures."""
