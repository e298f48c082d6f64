"""Sweeps of the clustering scenario (``attnflow sweep clustering``, see
``scenarios.harness.sweep``): every seed of a point is one system of a single batched solve per
(normalization, beta) run, and only observables are kept.

With dopri5 (the sweep's default) the solve is ``solvers.solve_ensemble``: each seed takes its own
adaptive steps (a slow seed does not slow the others) and the observables below are evaluated at
the output times inside the solve, so a point holds O(seeds n d + times seeds) numbers, never the
trajectory; the seeds are solved in chunks (``chunk_size``), so the solver's working memory does
not grow with the number of seeds. With Q = K = V = I and d > n the streamed solve runs in the
span coordinates of each initial cloud (``dynamics.span_coordinates``: n numbers per token, every
inner product kept; the flow stays in that span), which every observable below is invariant to;
the step-size control then weighs the error over n^2 entries instead of n d. Other methods solve
the trajectory with ``solvers.integrate`` and observe it after.

Observed at every output time t_k, per seed (on the retracted tokens u_i = x_i / |x_i|):
the cluster count (``dynamics.cluster_labels``' clusters), min_ij <u_i, u_j>, the normalized energy
E_beta / E_max (beta > 0), the fraction of pairs i < j with <u_i, u_j> > 0.999
(``dynamics.pair_collision_fraction``: the statistic the phase diagrams of "A mathematical
perspective on Transformers" plot), the span dimension (``dynamics.span_dimension``: the number
of eigenvalues of the Gram matrix <u_i, u_j> above ``dynamics.SPAN_THRESHOLD`` = 1e-3, as that
paper's script counts it), the largest cluster's share of the tokens
(``dynamics.largest_cluster_fraction``) and max_i | |x_i| - 1 |. Besides one row per seed, a
point keeps per run the mean over its seeds of these statistics at every output time
(``mean_series``; the probability of a single cluster is the mean of [clusters = 1]): O(times x
statistics) numbers, drawn by ``attnflow plot phase DIR --x t ...``.

Random weights (``query_key``, ``value``: ``dynamics.sample_weights``) are drawn per seed from
a generator of its own (``weight_generator``), the same for every beta and normalization of the
point, and the seeds are solved with ``dynamics.BatchedWeightsAttention`` and their weights as
``solve_ensemble``'s per-system ``params``. With a ``redraw_period`` P the weights are piecewise
constant in time: each piece [kP, (k + 1)P] is one ``solve_ensemble`` solve from the state the
previous piece ended in, with the next draw of every seed's generator; a piece keeps its
trajectory at the output times inside it (memory O(chunk x times per piece x n d)).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import torch
from torch import Tensor

import dynamics
import solvers
from scenarios.analysis import max_decrease
from scenarios.clustering.config import ClusteringConfig
from scenarios.clustering.simulation import initial_cloud, output_times, solve_run
from scenarios.harness import DTYPES, PointResult, SweepSpec

STREAMED_METHODS = ("dopri5",)
"""Sweep methods solved by ``solvers.solve_ensemble`` with streamed observables."""

WEIGHT_STREAM = 0x5EED_3A7
"""Mixed with a seed into the seed of its weights' generator (independent of its cloud's)."""

STREAM_COPIES = 26
"""Peak bytes of a streamed solve per running system, in copies of its cloud: 7 stages, the
state, its update and error, the attention's and the observables' temporaries (measured: 0.85 MB
per seed at n = 32, d = 128 in float64, from peak RSS at 256 and 1024 seeds)."""

WEIGHT_COPIES = 2
"""Peak copies of a running seed's weights: the drawn ones and the solver's compacted copy when
systems finish (``point_memory`` came within 10% of the peak RSS at 64 and 192 seeds, n = 32,
d = 128, GOE weights, float64, with and without redraws)."""

SWEEP_RTOL, SWEEP_ATOL = 1e-5, 1e-7
"""A sweep's default tolerances: its statistics threshold cosines at 1e-2 (clusters) and 1e-3
(collisions), and at rtol 1e-5 the cluster count of every seed at every one of 201 output times
equals that of a solve at rtol 1e-10 (n = 32, T = 30: d = 8 with 128 seeds at beta = 3, 7, 9;
d = 128 with 96 seeds at beta = 5, 7; largest token error 8e-4), with 0.6-0.7 times the field
evaluations of rtol 1e-6."""

CHUNK_BYTES = 32 * 2**20
"""A streamed point solves its seeds in chunks whose working memory stays below this (the size of
this machine's last-level cache); each seed takes its own steps, so the chunking changes no result.
Measured (n = 32, 201 output times, float64, one thread, two such solves side by side): 1260
seeds at d = 128 took 10.0 s in chunks of 128 or 256 against 14.0 s in one chunk of 1260 (the
previous 256 MiB), 2048 seeds at d = 8 11.0 s in chunks of 512 against 11.9 s in one."""

DEVICE_CHUNK_BYTES = 4 * 2**30
"""The chunk bound on a GPU, where no cache is to be kept warm: a step's cost is its kernel
launches, the same for 1 seed or 2048, so a chunk holds as many seeds as memory allows (4 GiB
holds every seed of a 2048-seed point solved in span coordinates)."""


def check_batchable(config: ClusteringConfig) -> None:
    """Refuse settings a batched seed solve cannot honour, or whose span dimension the dtype
    does not resolve (raises ValueError)."""
    if config.random_weights and config.method not in STREAMED_METHODS:
        raise ValueError(
            f"method={config.method!r} is not accepted with random weights (query_key="
            f"{config.query_key!r}, value={config.value!r}); expected one of "
            f"{', '.join(STREAMED_METHODS)}, which hands every seed its own weights"
        )
    dynamics.check_span_threshold(dynamics.SPAN_THRESHOLD, config.n, DTYPES[config.dtype])
    if config.method == "scipy_solver":
        raise ValueError(
            "method='scipy_solver' is not accepted in a sweep: LSODA would integrate all seeds "
            "as one system (one error norm, a dense Jacobian of the whole batch); use an "
            "adaptive method such as dopri5 (the sweep default) or a fixed-step method"
        )


def times_per_piece(config: ClusteringConfig) -> int:
    """Trajectory states a redraw piece keeps (its output times and its two ends); 0 without
    redraws (the observables are streamed)."""
    if config.redraw_period == 0 or config.redraw_period >= config.T:
        return 0
    spacing = config.T / (config.num_times - 1)
    return math.ceil(config.redraw_period / spacing) + 2


def seed_memory(config: ClusteringConfig) -> int:
    """Working bytes of one seed in a streamed solve: ``STREAM_COPIES`` clouds, in span
    coordinates for Q = K = V = I; with random weights, in R^d, plus a redraw piece's trajectory,
    ``WEIGHT_COPIES`` of the weights (2 d^2 numbers each) and the field's queries and values (two
    clouds)."""
    item = DTYPES[config.dtype].itemsize
    cloud = config.n * config.d * item
    if not config.random_weights:  # solved in span coordinates
        return STREAM_COPIES * config.n * dynamics.span_width(config.n, config.d) * item
    weights = WEIGHT_COPIES * 2 * config.d**2 * item
    return (STREAM_COPIES + 2 + times_per_piece(config)) * cloud + weights


def chunk_size(config: ClusteringConfig) -> int:
    """Seeds solved together in a streamed point: as many as fit in ``CHUNK_BYTES`` on the CPU,
    in ``DEVICE_CHUNK_BYTES`` on another device."""
    bound = CHUNK_BYTES if torch.device(config.device).type == "cpu" else DEVICE_CHUNK_BYTES
    return max(1, bound // seed_memory(config))


def point_memory(config: ClusteringConfig, seeds: int) -> float:
    """Estimated peak bytes of a sweep point of ``seeds`` seeds: with dopri5, one chunk's working
    memory, plus the initial clouds (twice: in R^d and in span coordinates, an upper bound) and the
    observed series of every seed; with other methods the whole batched trajectory."""
    item = DTYPES[config.dtype].itemsize
    cloud = config.n * config.d * item
    series = 7 * config.num_times * 8
    if config.method in STREAMED_METHODS:
        return min(seeds, chunk_size(config)) * seed_memory(config) + seeds * (2 * cloud + series)
    return seeds * (config.num_times * cloud + series + 2 * config.n**2 * item)


def initial_clouds(config: ClusteringConfig, seeds: Sequence[int]) -> Tensor:
    """The initial clouds of ``seeds``, shape (len(seeds), n, d): cloud k is exactly
    ``initial_cloud`` of the config with ``seed = seeds[k]`` (one generator per seed)."""
    first = initial_cloud(replace(config, seed=seeds[0]))
    clouds = first.new_empty((len(seeds), *first.shape))  # filled in place: no second copy
    clouds[0] = first
    for k, seed in enumerate(seeds[1:], start=1):
        clouds[k] = initial_cloud(replace(config, seed=seed))
    return clouds


def starting_states(config: ClusteringConfig, seeds: tuple[int, ...]) -> Tensor:
    """The clouds a point's solves start from: ``initial_clouds`` of ``seeds``, in span
    coordinates (``dynamics.span_coordinates``) when the point is solved in them (streamed, Q =
    K = V = I), where ``observe_chunk`` takes them as they are; those are drawn and factorised
    ``CHUNK_BYTES`` of clouds in R^d at a time. Kept per process for the last
    ``STARTS_KEPT`` (n, d, dtype, device, seeds): a grid's points at one d share them, and at d =
    1024 drawing 2048 clouds and their QR factorisations took 3.5 s of a 22.5 s point. Callers
    must not modify the tensor."""
    in_span = config.method in STREAMED_METHODS and not config.random_weights
    return _starting_states(config.n, config.d, config.dtype, config.device, seeds, in_span)


STARTS_KEPT = 8
"""Starting states ``starting_states`` keeps per process (at most 2048 x 32 x 32 float64 numbers,
16 MiB, each in span coordinates; 2048 x 32 x d below d = 32)."""


@functools.lru_cache(maxsize=STARTS_KEPT)
def _starting_states(
    n: int, d: int, dtype: str, device: str, seeds: tuple[int, ...], in_span: bool
) -> Tensor:
    config = ClusteringConfig(n=n, d=d, dtype=dtype, device=device)
    if not in_span:
        return initial_clouds(config, seeds)
    size = max(1, CHUNK_BYTES // (n * d * DTYPES[dtype].itemsize))  # clouds in R^d: one chunk
    parts = [seeds[start : start + size] for start in range(0, len(seeds), size)]
    return torch.cat([dynamics.span_coordinates(initial_clouds(config, part)) for part in parts])


def weight_generator(seed: int) -> torch.Generator:
    """The generator of a seed's weights: seeded from (seed, ``WEIGHT_STREAM``) by NumPy's
    ``SeedSequence``, so it shares no stream with the seed's initial cloud."""
    state = np.random.SeedSequence([seed, WEIGHT_STREAM]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def draw_weights(config: ClusteringConfig, generators: Sequence[torch.Generator]) -> Tensor:
    """The next draw of (A, V) from each seed's generator, (len(generators), 2, d, d), drawn on
    the CPU (the same weights on every device) and moved to the config's device."""
    draws = [
        dynamics.sample_weights(
            config.d, config.query_key, config.value, generator=g, dtype=DTYPES[config.dtype]
        )
        for g in generators
    ]
    return torch.stack(draws).to(config.device)


def observables(config: ClusteringConfig, beta: float) -> Callable[[Tensor], dict[str, Tensor]]:
    """The per-seed observables (module docstring) of clouds (m, n, d), as a function: one cosine
    matrix per cloud serves the clusters, the minimum, the pair collisions (as
    ``dynamics.pair_collision_fraction``), the energy and the span dimension (its single-cluster
    test, and its Gram matrix for n <= d)."""
    n = config.n
    pairs = max(n * (n - 1), 1)

    def observe(x: Tensor) -> dict[str, Tensor]:
        norms = torch.linalg.vector_norm(x, dim=-1)
        if not bool(((norms > 0) & torch.isfinite(norms)).all()):
            raise ValueError(
                "a token lost its direction (zero, NaN or infinite) at an output time: the solve "
                "diverged"
            )
        unit = x / norms[..., None]
        cosines = unit @ unit.transpose(-1, -2)
        labels = dynamics.connected_labels(cosines > 1.0 - config.cluster_tol)
        sizes = dynamics.cluster_sizes(labels)
        series = {
            "clusters": (sizes > 0).sum(-1),
            "min_cosine": cosines.flatten(-2).amin(-1).clamp(-1.0, 1.0),
            "collisions": ((cosines > dynamics.COLLISION_COSINE).sum((-1, -2)) - n).to(x.dtype)
            / pairs,
            "span": dynamics.span_dimension(unit, cosines=cosines),
            "largest_cluster": sizes.amax(-1).to(x.dtype) / n,
            "norm_error": (norms - 1).abs().amax(-1),
        }
        if beta > 0:  # E_beta / E_max = sum_ij e^{beta (<u_i, u_j> - 1)} / n^2: terms <= 1,
            # and the diagonal's are 1 exactly (not the rounding of <u_i, u_i> times beta)
            terms = cosines.sub(1.0).clamp_(max=0.0).mul_(beta).exp_()
            off_diagonal = terms.sum((-1, -2)) - terms.diagonal(dim1=-2, dim2=-1).sum(-1)
            series["energy"] = off_diagonal.add_(n).div_(n * n)
        return series

    return observe


def observe_run(
    config: ClusteringConfig,
    normalization: str,
    beta: float,
    x0: Tensor,
    times: Tensor,
    seeds: Sequence[int],
) -> dict[str, Tensor]:
    """The observables of every seed of ``x0`` (S, n, d) at every output time, {name: (len(t),
    S)}, streamed from the solve with dopri5 (``chunk_size`` seeds at a time), else from the
    solved trajectory. ``seeds`` name the clouds (their weights' generators)."""
    observe = observables(config, beta)
    if config.method in STREAMED_METHODS:
        size = chunk_size(config)
        chunks = [
            observe_chunk(config, normalization, beta, chunk, times, seeds[start : start + size])
            for start, chunk in zip(range(0, len(seeds), size), x0.split(size), strict=True)
        ]
        return {name: torch.cat([chunk[name] for chunk in chunks], 1) for name in chunks[0]}
    return observe_states(observe, solve_run(config, normalization, beta, x0, times))


def observe_states(
    observe: Callable[[Tensor], dict[str, Tensor]], states: Tensor
) -> dict[str, Tensor]:
    """``observe`` of states (k, S, n, d), one output time at a time, {name: (k, S)}."""
    observed = [observe(cloud) for cloud in states]
    return {name: torch.stack([step[name] for step in observed]) for name in observed[0]}


def observe_chunk(
    config: ClusteringConfig,
    normalization: str,
    beta: float,
    x0: Tensor,
    times: Tensor,
    seeds: Sequence[int],
) -> dict[str, Tensor]:
    """The streamed observables of the clouds ``x0`` of ``seeds``, {name: (len(t), S)}: Q = K =
    V = I (``dynamics.SelfAttention``), or each seed's random weights (module docstring)."""
    observe = observables(config, beta)
    solve = functools.partial(
        solvers.solve_ensemble, rtol=config.rtol, atol=config.atol, method=config.method
    )
    times = times.to(x0)
    if not config.random_weights:
        x0 = dynamics.span_coordinates(x0)
        field_ = dynamics.SelfAttention(x0.shape[-1], beta=beta, normalization=normalization)
        return solve(field_.to(x0.device), x0, times, observe=observe)
    field_ = dynamics.BatchedWeightsAttention(beta=beta, normalization=normalization)
    generators = [weight_generator(seed) for seed in seeds]
    if times_per_piece(config) == 0:
        return solve(field_, x0, times, observe=observe, params=draw_weights(config, generators))
    observed = [observe_states(observe, x0[None])]
    x = x0
    for start, end in redraw_pieces(config):
        inside = times[(times > start) & (times <= end)]
        ends = [torch.tensor([start], dtype=times.dtype, device=times.device), inside]
        if not len(inside) or inside[-1] < end:
            ends.append(torch.tensor([end], dtype=times.dtype, device=times.device))
        trajectory = solve(field_, x, torch.cat(ends), params=draw_weights(config, generators))
        observed.append(observe_states(observe, trajectory[1 : 1 + len(inside)]))
        x = trajectory[-1].clone()
        del trajectory  # one piece's trajectory alive at a time
    return {name: torch.cat([part[name] for part in observed]) for name in observed[0]}


def redraw_pieces(config: ClusteringConfig) -> list[tuple[float, float]]:
    """The intervals [k P, (k + 1) P] of constant weights covering [0, T], the last ending at T
    (a last piece shorter than 1e-9 P is merged into the one before)."""
    period, total = config.redraw_period, config.T
    count = math.ceil(total / period - 1e-9)
    bounds = [k * period for k in range(count)] + [total]
    return list(itertools.pairwise(bounds))


def sweep_point(config: ClusteringConfig, seeds: Sequence[int]) -> PointResult:
    """One row per (normalization, beta, seed): the metrics of ``RunResult.metrics`` for that run,
    plus ``single_cluster`` (1 if there is one cluster at T, else 0),
    ``pair_collision_fraction_at_T``, ``span_dimension_at_T`` and
    ``largest_cluster_fraction_at_T``; and per run the time series of ``mean_series``.

    Each (normalization, beta) run solves the clouds of all ``seeds`` as one batch
    (``observe_run``); a solve that turns non-finite raises (``solvers.integrate``'s
    ``DivergedError``, or the observables' ValueError for a streamed one); a config
    ``check_batchable`` refuses raises ValueError first.
    """
    check_batchable(config)
    x0 = starting_states(config, tuple(seeds))
    times = output_times(config)
    rows, runs = [], []
    for normalization in config.normalizations:
        for beta in config.betas:
            observed = observe_run(config, normalization, beta, x0, times, seeds)
            observed = {k: v.cpu().double() for k, v in observed.items()}
            metrics = series_metrics(times, observed)
            keys = {"normalization": normalization, "beta": float(beta)}
            for index, seed in enumerate(seeds):
                row: dict[str, object] = {"seed": seed, **keys}
                row.update({name: values[index] for name, values in metrics.items()})
                rows.append(row)
            runs.append({**keys, **mean_series(times, observed)})
    return PointResult(rows, runs)


def mean_series(times: Tensor, observed: dict[str, Tensor]) -> dict[str, list[float]]:
    """The output times ``t`` and, at each, the mean over seeds of: ``single_cluster`` (so the
    fraction of seeds with one cluster), ``pair_collision_fraction``, ``span_dimension`` and
    ``largest_cluster_fraction``."""
    per_seed = {
        "single_cluster": (observed["clusters"] == 1).double(),
        "pair_collision_fraction": observed["collisions"],
        "span_dimension": observed["span"],
        "largest_cluster_fraction": observed["largest_cluster"],
    }
    means = {name: values.mean(1).tolist() for name, values in per_seed.items()}
    return {"t": times.double().cpu().tolist(), **means}


def series_metrics(times: Tensor, series: dict[str, Tensor]) -> dict[str, list[object]]:
    """Per seed, from the observed series (len(t), S): the definitions of ``RunResult.metrics``
    (None where it gives None), ``single_cluster`` and the statistics at T."""
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
        "span_dimension_at_T": series["span"][-1].long().tolist(),
        "largest_cluster_fraction_at_T": series["largest_cluster"][-1].tolist(),
    }


SWEEP = SweepSpec(
    point=sweep_point,
    keys=("normalization", "beta"),
    defaults={"method": "dopri5", "rtol": SWEEP_RTOL, "atol": SWEEP_ATOL, "figures": False},
    check=check_batchable,
    memory=point_memory,
)
"""Row keys name the run within a point (the other columns are metrics). A sweep starts from
dopri5 at ``SWEEP_RTOL``, solved seed by seed with streamed observables, and draws no figures."""
