"""Sweeps of the clustering scenario (``attnflow sweep clustering``, see
``scenarios.harness.sweep``): every seed of a point is one system of a single batched solve per
(normalization, beta) run, and only observables are kept.

With dopri5 (the sweep's default) the solve is ``solvers.solve_ensemble``: each seed takes its own
adaptive steps (a slow seed does not slow the others) and the observables below are evaluated at
the output times inside the solve, so a point holds O(seeds n d + times seeds) numbers, never the
trajectory; the seeds are solved in chunks (``chunk_size``), so the solver's working memory does
not grow with the number of seeds. With d > n the streamed solve runs in the span coordinates of
each initial cloud (``dynamics.span_coordinates``: n numbers per token, every inner product kept;
the flow with Q = K = V = I stays in that span), which every observable below is invariant to; the
step-size control then weighs the error over n^2 entries instead of n d. Other methods solve the
trajectory with ``solvers.integrate`` and observe it after.

Observed at every output time t_k, per seed (on the retracted tokens u_i = x_i / |x_i|):
the cluster count (``dynamics.cluster_count``), min_ij <u_i, u_j>, the normalized energy
E_beta / E_max (beta > 0), the fraction of pairs i < j with <u_i, u_j> > ``COLLISION_COSINE``
(the pair-collision statistic of "A mathematical perspective on Transformers"' phase diagrams)
and max_i | |x_i| - 1 |.
"""

from __future__ import annotations

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

STREAM_COPIES = 26
"""Peak bytes of a streamed solve per running system, in copies of its cloud: 7 stages, the
state, its update and error, the attention's and the observables' temporaries (measured: 0.85 MB
per seed at n = 32, d = 128 in float64, from peak RSS at 256 and 1024 seeds)."""

CHUNK_BYTES = 256 * 2**20
"""A streamed point solves its seeds in chunks whose working memory stays below this; each seed
takes its own steps, so the chunking changes no result."""


def check_batchable(config: ClusteringConfig) -> None:
    """Refuse settings a batched seed solve cannot honour (raises ValueError)."""
    if config.method == "scipy_solver":
        raise ValueError(
            "method='scipy_solver' is not accepted in a sweep: LSODA would integrate all seeds "
            "as one system (one error norm, a dense Jacobian of the whole batch); use an "
            "adaptive method such as dopri5 (the sweep default) or a fixed-step method"
        )


def chunk_size(config: ClusteringConfig) -> int:
    """Seeds solved together in a streamed point: as many as fit in ``CHUNK_BYTES`` (clouds in
    span coordinates)."""
    cloud = config.n * dynamics.span_width(config.n, config.d) * DTYPES[config.dtype].itemsize
    return max(1, CHUNK_BYTES // (STREAM_COPIES * cloud))


def point_memory(config: ClusteringConfig, seeds: int) -> float:
    """Estimated peak bytes of a sweep point of ``seeds`` seeds: with dopri5, one chunk's working
    memory, plus the initial clouds (in R^d and in span coordinates) and the observed series of
    every seed; with other methods the whole batched trajectory."""
    item = DTYPES[config.dtype].itemsize
    cloud = config.n * config.d * item
    series = 5 * config.num_times * 8
    if config.method in STREAMED_METHODS:
        solved = config.n * dynamics.span_width(config.n, config.d) * item
        working = min(seeds, chunk_size(config)) * STREAM_COPIES * solved
        return working + seeds * (cloud + solved + series)
    return seeds * (config.num_times * cloud + series + 2 * config.n**2 * item)


def initial_clouds(config: ClusteringConfig, seeds: Sequence[int]) -> Tensor:
    """The initial clouds of ``seeds``, shape (len(seeds), n, d): cloud k is exactly
    ``initial_cloud`` of the config with ``seed = seeds[k]`` (one generator per seed)."""
    return torch.stack([initial_cloud(replace(config, seed=seed)) for seed in seeds])


def observables(config: ClusteringConfig, beta: float) -> Callable[[Tensor], dict[str, Tensor]]:
    """The per-seed observables (module docstring) of clouds (m, n, d), as a function."""
    n = config.n
    pairs = max(n * (n - 1) // 2, 1)

    def observe(x: Tensor) -> dict[str, Tensor]:
        norms = torch.linalg.vector_norm(x, dim=-1)
        if not bool(((norms > 0) & torch.isfinite(norms)).all()):
            raise ValueError(
                "a token lost its direction (zero, NaN or infinite) at an output time: the solve "
                "diverged"
            )
        unit = x / norms[..., None]
        cosines = unit @ unit.transpose(-1, -2)
        above = (cosines > COLLISION_COSINE).sum((-1, -2)) - n  # the diagonal is always above
        labels = dynamics.connected_labels(cosines > 1.0 - config.cluster_tol)
        series = {
            "clusters": (labels == torch.arange(n, device=x.device)).sum(-1),
            "min_cosine": cosines.flatten(-2).amin(-1).clamp(-1.0, 1.0),
            "collisions": above.to(x.dtype) / (2 * pairs),
            "norm_error": (norms - 1).abs().amax(-1),
        }
        if beta > 0:  # E_beta / E_max = sum_ij e^{beta (<u_i, u_j> - 1)} / n^2: terms <= 1
            series["energy"] = cosines.sub(1.0).mul_(beta).exp_().mean((-1, -2))
        return series

    return observe


def observe_run(
    config: ClusteringConfig, normalization: str, beta: float, x0: Tensor, times: Tensor
) -> dict[str, Tensor]:
    """The observables of every seed of ``x0`` (S, n, d) at every output time, {name: (len(t),
    S)}, streamed from the solve with dopri5 (``chunk_size`` seeds at a time), else from the
    solved trajectory."""
    observe = observables(config, beta)
    if config.method in STREAMED_METHODS:
        x0 = dynamics.span_coordinates(x0)
        field_ = dynamics.SelfAttention(x0.shape[-1], beta=beta, normalization=normalization)
        chunks = [
            solvers.solve_ensemble(
                field_.to(x0.device),
                chunk,
                times.to(x0),
                rtol=config.rtol,
                atol=config.atol,
                method=config.method,
                observe=observe,
            )
            for chunk in x0.split(chunk_size(config))
        ]
        return {name: torch.cat([chunk[name] for chunk in chunks], 1) for name in chunks[0]}
    xs = solve_run(config, normalization, beta, x0, times)
    observed = [observe(cloud) for cloud in xs]
    return {name: torch.stack([step[name] for step in observed]) for name in observed[0]}


def sweep_point(config: ClusteringConfig, seeds: Sequence[int]) -> list[dict[str, object]]:
    """One row per (normalization, beta, seed): the metrics of ``RunResult.metrics`` for that run,
    plus ``single_cluster`` (1 if there is one cluster at T, else 0) and
    ``pair_collision_fraction_at_T``.

    Each (normalization, beta) run solves the clouds of all ``seeds`` as one batch
    (``observe_run``); a solve that turns non-finite raises (``solvers.integrate``'s
    ``DivergedError``, or the observables' ValueError for a streamed one).
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
    memory=point_memory,
)
"""Row keys name the run within a point (the other columns are metrics). A sweep starts from
dopri5, solved seed by seed with streamed observables, and draws no figures."""
