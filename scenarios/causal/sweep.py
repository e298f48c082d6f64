"""Sweeps of the causal scenario (``attnflow sweep causal``, see ``scenarios.harness.sweep``):
the S^1 SA runs of a point, every seed one system of one batched ``solvers.solve_ensemble`` call
per (beta, mask), and one row per (beta, mask, seed) with the Rényi counts of that seed's initial
cloud beside the run's first plateau, time to one cluster and energy drop. The small-beta and
S^2 runs are left to ``attnflow run causal``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import torch

import dynamics
from scenarios.analysis import max_decrease
from scenarios.causal.config import CausalConfig
from scenarios.causal.simulation import (
    MASKS,
    first_plateaus,
    initial_clouds,
    output_times,
    solve,
    time_to_one_cluster,
)
from scenarios.harness import SweepSpec
from scenarios.harness.scenario import Row


def sweep_point(config: CausalConfig, seeds: Sequence[int]) -> list[Row]:
    """One row per (beta, mask, seed); cloud k is ``initial_clouds`` of the config with
    ``seed = seeds[k]`` (its first cloud), so a seed's row does not depend on the others."""
    x0 = torch.cat([initial_clouds(replace(config, seed=seed, seeds=1), 2) for seed in seeds])
    times = output_times(config)
    time_values = times.numpy()
    rows: list[Row] = []
    for beta in config.betas:
        delta = config.delta_scale / math.sqrt(beta)
        centers = dynamics.renyi_centers(x0, delta).sum(-1).tolist()
        strong = dynamics.strong_renyi_centers(x0, delta).sum(-1).tolist()
        for mask in MASKS:
            field = dynamics.SelfAttention(2, beta=beta, causal=mask == "causal")
            run = solve(config, field, x0, times)
            plateaus = first_plateaus(config, time_values, run)
            ones = time_to_one_cluster(time_values, run, config.cluster_tol)
            for k, seed in enumerate(seeds):
                rows.append(
                    {
                        "seed": seed,
                        "beta": float(beta),
                        "mask": mask,
                        "renyi_centers": centers[k],
                        "strong_renyi_centers": strong[k],
                        "renyi_prediction": dynamics.circle_renyi_center_mean(delta),
                        "first_plateau_count": (
                            None if plateaus[k] is None else plateaus[k]["count"]
                        ),
                        "time_to_one_cluster": ones[k],
                        "max_energy_decrease": max_decrease(run.energy[:, k]),
                        "final_count": int(run.counts[-1, k]),
                    }
                )
    return rows


SWEEP = SweepSpec(point=sweep_point, keys=("beta", "mask"), defaults={"figures": False})
"""Row keys name the run within a point; a sweep draws no figures."""
