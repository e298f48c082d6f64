"""Sweeps of the clustering scenario (``attnflow sweep clustering``, see
``scenarios.harness.sweep``): every seed of a point is one system of a single batched solve per
(normalization, beta) run, and only observables are kept.

With dopri5 (the sweep's default) the solve is ``solvers.solve_ensemble``: each seed takes its own
adaptive steps (a slow seed does not slow the others) and the observables below are evaluated at
the output times inside the solve, so a point holds O(seeds n d + times seeds) numbers, never the
trajectory. Other methods solve the trajectory with ``solvers.integrate`` and observe it after.

Observed at every output time t_k, per seed (on the retracted tokens u_i = x_i / |x_i|):
the cluster count (``dynamics.cluster_count``), min_ij <u_i, u_j>, the normalized energy
E_beta / E_max (beta > 0), the fraction of pairs i < j with <u_i, u_j> > ``COLLISION_COSINE``
(the pair-collision statistic of "A mathematical perspective on Transformers"' phase diagrams)
and max_i | |x_i| - 1 |.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace

import torch
from torch import Tensor

import dynamics
import solvers
from scenarios.analysis import max_decrease
from scenarios.clustering.config import ClusteringConfig
from scenarios.clustering.simulation import initial_cloud, output_times, solve_run
from scenarios.harness import DTYPES, SweepSpec

STREAMED_METHODS = ("dopri5",)
"""Sweep methods solved by ``solvers.solve_ensemble`` with streamed observables."""

COLLISION_COSINE = 0.999
"""Two tokens have collided when their cosine exceeds this (the paper's threshold)."""

_STAGES = 8
"""Copies of the running clouds a streamed dopri5 solve holds (7 stages and the state)."""


def check_batchable(config: ClusteringConfig) -> None:
    """Refuse settings a batched seed solve cannot honour (raises ValueError)."""
    if config.method == "scipy_solver":
        raise ValueError(
            "method='scipy_solver' is not accepted in a sweep: LSODA would integrate all seeds "
            "as one system (one error norm, a dense Jacobian of the whole batch); use an "
            "adaptive method such as dopri5 (the sweep default) or a fixed-step method"
        )


def seed_memory(config: ClusteringConfig) -> float:
    """Estimated peak bytes per seed of a sweep point: the solver's copies of the cloud and the
    observed series (streamed), or the trajectory (other methods), plus one (n, n) Gram."""
    item = DTYPES[config.dtype].itemsize
    cloud = config.n * config.d * item
    held = _STAGES * cloud if config.method in STREAMED_METHODS else config.num_times * cloud
    return held + 5 * config.num_times * 8 + 2 * config.n**2 * item


def initial_clouds(config: ClusteringConfig, seeds: Sequence[int]) -> Tensor:
    """The initial clouds of ``seeds``, shape (len(seeds), n, d): cloud k is exactly
    ``initial_cloud`` of the config with ``seed = seeds[k]`` (one generator per seed)."""
    return torch.stack([initial_cloud(replace(config, seed=seed)) for seed in seeds])


def observables(config: ClusteringConfig, beta: float) -> Callable[[Tensor], dict[str, Tensor]]:
    """The per-seed observables (module docstring) of clouds (m, n, d), as a function."""
    n = config.n
    pairs = max(n * (n - 1) // 2, 1)
    log_max = beta - math.log(2 * beta) if beta > 0 else 0.0

    def observe(x: Tensor) -> dict[str, Tensor]:
        norms = torch.linalg.vector_norm(x, dim=-1)
        unit = x / norms[..., None]
        cosines = dynamics.pairwise_cosines(unit)
        above = (cosines > COLLISION_COSINE).sum((-1, -2)) - n  # the diagonal is always above
        series = {
            "clusters": dynamics.cluster_count(unit, config.cluster_tol),
            "min_cosine": cosines.flatten(-2).amin(-1).clamp(-1.0, 1.0),
            "collisions": above.to(x.dtype) / (2 * pairs),
            "norm_error": (norms - 1).abs().amax(-1),
        }
        if beta > 0:
            series["energy"] = torch.exp(dynamics.log_interaction_energy(unit, beta) - log_max)
        return series

    return observe


def observe_run(
    config: ClusteringConfig, normalization: str, beta: float, x0: Tensor, times: Tensor
) -> dict[str, Tensor]:
    """The observables of every seed of ``x0`` (S, n, d) at every output time, {name: (len(t),
    S)}, streamed from the solve with dopri5, else from the solved trajectory."""
    observe = observables(config, beta)
    if config.method in STREAMED_METHODS:
        field_ = dynamics.SelfAttention(config.d, beta=beta, normalization=normalization)
        return solvers.solve_ensemble(
            field_.to(x0.device),
            x0,
            times.to(x0),
            rtol=config.rtol,
            atol=config.atol,
            method=config.method,
            observe=observe,
        )
    xs = solve_run(config, normalization, beta, x0, times)
    observed = [observe(cloud) for cloud in xs]
    return {name: torch.stack([step[name] for step in observed]) for name in observed[0]}


def sweep_point(config: ClusteringConfig, seeds: Sequence[int]) -> list[dict[str, object]]:
    """One row per (normalization, beta, seed): the metrics of ``RunResult.metrics`` for that run,
    plus ``single_cluster`` (1 if there is one cluster at T, else 0) and
    ``pair_collision_fraction_at_T``.

    Each (normalization, beta) run solves the clouds of all ``seeds`` as one batch
    (``observe_run``). Raises RuntimeError if a solve leaves finite values.
    """
    x0 = initial_clouds(config, seeds)
    times = output_times(config)
    rows = []
    for normalization in config.normalizations:
        for beta in config.betas:
            series = observe_run(config, normalization, beta, x0, times)
            metrics = series_metrics(times, {k: v.cpu().double() for k, v in series.items()})
            for index, seed in enumerate(seeds):
                row: dict[str, object] = {
                    "seed": seed,
                    "normalization": normalization,
                    "beta": float(beta),
                }
                row.update({name: values[index] for name, values in metrics.items()})
                rows.append(row)
    return rows


def series_metrics(times: Tensor, series: dict[str, Tensor]) -> dict[str, list[object]]:
    """Per seed, from the observed series (len(t), S): the definitions of ``RunResult.metrics``
    (None where it gives None), ``single_cluster`` and ``pair_collision_fraction_at_T``."""
    counts = series["clusters"]
    if not bool(torch.isfinite(series["min_cosine"]).all()):
        raise RuntimeError("a seed's tokens left finite values; try a smaller beta or T")
    single = counts == 1
    first = torch.where(single.any(0), single.int().argmax(0), -1).tolist()
    energy = series.get("energy")
    seeds = counts.shape[1]
    return {
        "final_cluster_count": counts[-1].long().tolist(),
        "min_cosine_at_T": series["min_cosine"][-1].tolist(),
        "time_to_single_cluster": [None if k < 0 else float(times[k]) for k in first],
        "initial_normalized_energy": [None] * seeds if energy is None else energy[0].tolist(),
        "final_normalized_energy": [None] * seeds if energy is None else energy[-1].tolist(),
        "max_energy_decrease": (
            [None] * seeds
            if energy is None
            else [max_decrease(energy[:, s].numpy()) for s in range(seeds)]
        ),
        "max_norm_error": series["norm_error"].amax(0).tolist(),
        "single_cluster": single[-1].int().tolist(),
        "pair_collision_fraction_at_T": series["collisions"][-1].tolist(),
    }


SWEEP = SweepSpec(
    point=sweep_point,
    keys=("normalization", "beta"),
    defaults={"method": "dopri5", "figures": False},
    check=check_batchable,
    memory=seed_memory,
)
"""Row keys name the run within a point (the other columns are metrics). A sweep starts from
dopri5, solved seed by seed with streamed observables, and draws no figures."""
