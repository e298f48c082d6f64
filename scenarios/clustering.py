"""Clustering of tokens on the sphere under self-attention dynamics (SA and USA).

Reproduces the basic experiment of Geshkovski, Letrouit, Polyanskiy, Rigollet, "A mathematical
perspective on Transformers": n tokens drawn i.i.d. uniformly on S^{d-1} follow

    x_i' = P_{x_i}( sum_j w_ij x_j ),   w_ij = e^{beta <x_i, x_j>} / Z_i,

with Z_i = sum_k e^{beta <x_i, x_k>} (SA, ``normalization="softmax"``) or Z_i = n (USA,
``normalization="uniform"``), Q = K = V = I, and P_x the projection onto the tangent space at x.
Every (normalization, beta) run starts from the same initial cloud. The tokens cluster: for small
beta quickly into a single point; for large beta SA lingers in metastable states with several
clusters, while USA (weights up to e^beta / n) moves fast and freezes into a few far-apart clusters.

Measured at every output time:

- the number of clusters (``dynamics.cluster_count``: single linkage, cos > 1 - ``cluster_tol``);
- the histogram of pairwise inner products <x_i, x_j>, i < j;
- the normalized interaction energy E_beta / E_max in (0, 1], where
  E_beta(x) = (1 / (2 beta n^2)) sum_ij e^{beta <x_i, x_j>} (``dynamics.log_interaction_energy``)
  and E_max = e^beta / (2 beta) is its value when all tokens coincide. Both dynamics increase
  E_beta (USA is its gradient flow on the sphere, SA a gradient flow for a metric reweighted by
  n^2 / Z_i > 0), so the series is nondecreasing up to the solver's tolerance. For beta = 0 the
  energy is constant and no normalized energy is reported (null in ``metrics.json``).

Observables are evaluated on the radially retracted tokens x / |x|: the exact flow stays on the
sphere, and the solver's departure from it is reported as ``max_norm_error``. The figures are
drawn by ``scenarios.clustering_figures``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

import dynamics
import solvers
from scenarios.clustering_figures import make_figures
from scenarios.config import config_to_dict, did_you_mean
from scenarios.progress import progress
from scenarios.style import save_figures
from scenarios.threads import SMALL_WORK, thread_count, torch_threads
from scenarios.validation import (
    DTYPES,
    check_device,
    check_dtype,
    check_seed,
    check_solver_settings,
    is_int,
    is_real,
    require,
    require_distinct,
)

NAME = "clustering"

NORMALIZATIONS = ("softmax", "uniform")
"""SA and USA, the two dynamics of the paper. (Sinkhorn attention needs 1000-1500 iterations per
evaluation once tokens form clusters of unequal sizes, too slow for this scenario's solves.)"""

MAX_SNAPSHOTS = 8

_OBSERVABLE_BLOCK = 1 << 22
# Tokens whose isolation is checked first when looking for a cloud's first single cluster.
_PROBES = 4
"""Time points per observable batch are chosen so that batch x n^2 stays below this."""


@dataclass(frozen=True)
class ClusteringConfig:
    """Parameters of the clustering scenario; every field can be set with ``--set KEY=VALUE``."""

    n: int = field(default=32, metadata={"help": "number of tokens"})
    d: int = field(
        default=3, metadata={"help": "token dimension: tokens live on the sphere S^{d-1} (d >= 2)"}
    )
    T: float = field(default=15.0, metadata={"help": "final time (> 0): depth of the transformer"})
    betas: tuple[float, ...] = field(
        default=(1.0, 4.0, 9.0),
        metadata={"help": "inverse temperatures beta >= 0, one run per beta and normalization"},
    )
    normalizations: tuple[str, ...] = field(
        default=("softmax", "uniform"),
        metadata={"help": "attention normalizations: softmax (SA) and/or uniform (USA)"},
    )
    seed: int = field(
        default=0, metadata={"help": "seed of the initial cloud (shared by every run), >= 0"}
    )
    num_times: int = field(
        default=301, metadata={"help": "number of output times, evenly spaced on [0, T] (>= 2)"}
    )
    snapshot_times: tuple[float, ...] = field(
        default=(),
        metadata={
            "help": "times of the sphere snapshots, each in [0, T], moved to the nearest output "
            f"time (at most {MAX_SNAPSHOTS}); empty: 0, T/30, 2T/15, T/3, T (0, 0.5, 2, 5, 15)"
        },
    )
    cluster_tol: float = field(
        default=1e-2,
        metadata={
            "help": "tokens whose cosine exceeds 1 - cluster_tol are linked; clusters are the "
            "connected groups (0 < cluster_tol <= 2)"
        },
    )
    figures: bool = field(
        default=True,
        metadata={"help": "write the figures (false: only metrics.json and config.json)"},
    )
    hist_bins: int = field(
        default=40, metadata={"help": "bins of the inner-product histogram on [-1, 1] (>= 2)"}
    )
    method: str = field(
        default="scipy_solver",
        metadata={
            "help": "integration method (a name in solvers.METHODS). The default, scipy's LSODA, "
            "switches to an implicit method where the flow is stiff, as USA is at large beta "
            "once clusters form (rates ~ e^beta / 2), where dopri5 needs ~2e5 field evaluations "
            "at the defaults"
        },
    )
    rtol: float = field(default=1e-6, metadata={"help": "relative tolerance (adaptive methods)"})
    atol: float = field(default=1e-8, metadata={"help": "absolute tolerance (adaptive methods)"})
    step_size: float = field(
        default=0.0,
        metadata={
            "help": "fixed-step methods only: largest step; 0 takes one step per output interval"
        },
    )
    dtype: str = field(default="float64", metadata={"help": "float64 or float32"})
    device: str = field(default="cpu", metadata={"help": "torch device: cpu, cuda or cuda:N"})
    threads: int = field(
        default=0,
        metadata={
            "help": "CPU threads for torch during the run; 0: one thread when n^2 d <= "
            f"{SMALL_WORK} (tiny kernels, where a second thread only adds waiting, badly so on "
            "a busy machine), torch's default otherwise"
        },
    )

    def validate(self) -> None:
        """Raise ValueError naming the first field with an impossible value."""
        require(is_int(self.n) and self.n >= 1, "n", self.n, "an integer >= 1")
        require(
            is_int(self.d) and self.d >= 2,
            "d",
            self.d,
            "an integer >= 2 (tokens live on the sphere S^{d-1})",
        )
        require(is_real(self.T) and self.T > 0, "T", self.T, "a finite number > 0")
        require(
            isinstance(self.betas, tuple) and len(self.betas) > 0,
            "betas",
            self.betas,
            "a non-empty list of numbers >= 0, e.g. betas=1,4,9",
        )
        for beta in self.betas:
            require(is_real(beta) and beta >= 0, "betas", self.betas, "finite numbers beta >= 0")
        require_distinct("betas", self.betas)
        require(
            isinstance(self.normalizations, tuple) and len(self.normalizations) > 0,
            "normalizations",
            self.normalizations,
            f"a non-empty list of {', '.join(NORMALIZATIONS)}",
        )
        for item in self.normalizations:
            if item not in NORMALIZATIONS:
                raise ValueError(
                    f"normalizations: {item!r} is not accepted"
                    f"{did_you_mean(str(item), NORMALIZATIONS)}; "
                    f"choose from {', '.join(NORMALIZATIONS)}"
                )
        require_distinct("normalizations", self.normalizations)
        check_seed(self.seed)
        require(is_int(self.num_times) and self.num_times >= 2, "num_times", self.num_times, ">= 2")
        require(
            len(self.snapshot_times) <= MAX_SNAPSHOTS,
            "snapshot_times",
            self.snapshot_times,
            f"at most {MAX_SNAPSHOTS} times",
        )
        for time in self.snapshot_times:
            require(
                is_real(time) and 0 <= time <= self.T,
                "snapshot_times",
                self.snapshot_times,
                f"times in [0, T] = [0, {self.T:g}]",
            )
        require(
            is_real(self.cluster_tol) and 0 < self.cluster_tol <= 2,
            "cluster_tol",
            self.cluster_tol,
            "a number in (0, 2]",
        )
        require(isinstance(self.figures, bool), "figures", self.figures, "true or false")
        require(
            is_int(self.hist_bins) and 2 <= self.hist_bins <= 1000,
            "hist_bins",
            self.hist_bins,
            "an integer in [2, 1000]",
        )
        check_solver_settings(self.method, self.step_size, self.rtol, self.atol)
        check_dtype(self.dtype)
        check_device(self.device)
        require(
            is_int(self.threads) and self.threads >= 0,
            "threads",
            self.threads,
            "an integer >= 0 (0: automatic)",
        )
        if "uniform" in self.normalizations:
            limit = math.log(torch.finfo(DTYPES[self.dtype]).max)
            largest = max(self.betas)
            require(
                largest <= limit,
                "betas",
                self.betas,
                f"beta <= {limit:.1f} with the uniform normalization in {self.dtype} "
                f"(its weights e^beta / n overflow beyond)",
            )


Config = ClusteringConfig
"""The scenario's config class (the name every scenario module exports)."""


@dataclass(frozen=True)
class RunResult:
    """One (normalization, beta) run: observables at every output time, tokens at snapshots.

    Arrays are NumPy on the CPU. ``normalized_energy`` is None for beta = 0.
    """

    normalization: str
    beta: float
    times: np.ndarray
    cluster_counts: np.ndarray
    min_cosines: np.ndarray
    cosine_histogram: np.ndarray
    normalized_energy: np.ndarray | None
    snapshot_indices: tuple[int, ...]
    snapshots: np.ndarray
    max_norm_error: float

    @property
    def key(self) -> str:
        """The run's name in ``metrics.json``, e.g. ``softmax/beta=4``."""
        return run_key(self.normalization, self.beta)

    def metrics(self) -> dict[str, object]:
        """The run's summary numbers (all finite or None)."""
        single = np.flatnonzero(self.cluster_counts == 1)
        energy = self.normalized_energy
        return {
            "normalization": self.normalization,
            "beta": self.beta,
            "final_cluster_count": int(self.cluster_counts[-1]),
            "min_cosine_at_T": float(self.min_cosines[-1]),
            "time_to_single_cluster": float(self.times[single[0]]) if single.size else None,
            "initial_normalized_energy": None if energy is None else float(energy[0]),
            "final_normalized_energy": None if energy is None else float(energy[-1]),
            "max_energy_decrease": None if energy is None else max_decrease(energy),
            "max_norm_error": self.max_norm_error,
        }


def run_key(normalization: str, beta: float) -> str:
    """``"<normalization>/beta=<beta>"``, the key of a run in ``metrics.json``."""
    return f"{normalization}/beta={beta:g}"


def max_decrease(series: np.ndarray) -> float:
    """max_k (s_k - s_{k+1}), at least 0: how far a series falls short of nondecreasing."""
    if len(series) < 2:
        return 0.0
    return float(max(0.0, np.max(series[:-1] - series[1:])))


def output_times(config: ClusteringConfig) -> Tensor:
    """The ``num_times`` evenly spaced output times on [0, T], in float64 on the CPU."""
    return torch.linspace(0.0, config.T, config.num_times, dtype=torch.float64)


def snapshot_indices(config: ClusteringConfig) -> tuple[int, ...]:
    """Indices of the output times nearest to the snapshot times, sorted and distinct."""
    requested = config.snapshot_times or (
        0.0,
        config.T / 30,
        2 * config.T / 15,
        config.T / 3,
        config.T,
    )
    steps = config.num_times - 1
    return tuple(sorted({round(time / config.T * steps) for time in requested}))


def initial_cloud(config: ClusteringConfig) -> Tensor:
    """n i.i.d. uniform tokens on S^{d-1} from ``seed``, drawn on the CPU then moved to ``device``.

    Drawing on the CPU makes the cloud the same on every device.
    """
    generator = torch.Generator().manual_seed(config.seed)
    cloud = dynamics.uniform_sphere(
        config.n, config.d, generator=generator, dtype=DTYPES[config.dtype]
    )
    return cloud.to(config.device)


def simulate(config: ClusteringConfig) -> list[RunResult]:
    """Run every (normalization, beta) pair from one initial cloud; return their observables.

    Raises RuntimeError if the solver returns fewer output times than asked or non-finite values.
    """
    config.validate()
    x0 = initial_cloud(config)
    times = output_times(config)
    snapshots = snapshot_indices(config)
    runs = [(norm, beta) for norm in config.normalizations for beta in config.betas]
    results = []
    bar = progress(runs, desc=NAME, total=len(runs))
    with torch_threads(thread_count(config.threads, config.n * config.n * config.d)):
        for normalization, beta in bar:
            bar.set_postfix_str(run_key(normalization, beta))
            results.append(_simulate_one(config, normalization, beta, x0, times, snapshots))
    return results


def solve_run(
    config: ClusteringConfig, normalization: str, beta: float, x0: Tensor, times: Tensor
) -> Tensor:
    """The trajectory (len(times), *x0.shape) of one (normalization, beta) run from ``x0`` (one
    cloud, or a batch of clouds solved together).

    Raises RuntimeError if the solver returns fewer output times than asked or non-finite values.
    """
    field_ = dynamics.SelfAttention(config.d, beta=beta, normalization=normalization)
    with torch.no_grad():
        xs = solvers.integrate(
            field_,
            x0,
            times.to(x0),
            method=config.method,
            step_size=config.step_size or None,
            rtol=config.rtol,
            atol=config.atol,
        )
    expected = (len(times), *x0.shape)
    # A non-finite value propagates to every later output time, so the last one tells.
    if tuple(xs.shape) != expected or not bool(torch.isfinite(xs[-1]).all()):
        raise RuntimeError(
            f"{run_key(normalization, beta)}: method {config.method!r} returned "
            f"{tuple(xs.shape)} values instead of {expected} finite ones (the solver stopped "
            "early); try a smaller beta or T, or another method"
        )
    return xs


def _simulate_one(
    config: ClusteringConfig,
    normalization: str,
    beta: float,
    x0: Tensor,
    times: Tensor,
    snapshots: tuple[int, ...],
) -> RunResult:
    """Integrate one (normalization, beta) run from ``x0`` and measure it."""
    xs = solve_run(config, normalization, beta, x0, times)
    return _observe(config, normalization, beta, times, xs, snapshots)


def _observe(
    config: ClusteringConfig,
    normalization: str,
    beta: float,
    times: Tensor,
    xs: Tensor,
    snapshots: tuple[int, ...],
) -> RunResult:
    """Cluster counts, cosine histograms, energies of a trajectory ``xs`` (len(t), n, d)."""
    norms = torch.linalg.vector_norm(xs, dim=-1)
    max_norm_error = float((norms - 1).abs().max())
    unit = xs / norms[..., None]
    n = config.n
    pairs = torch.triu_indices(n, n, offset=1, device=xs.device)
    chunk = max(1, _OBSERVABLE_BLOCK // (n * n))
    counts, minima, histograms, energies = [], [], [], []
    for start in range(0, len(unit), chunk):
        block = unit[start : start + chunk]
        counts.append(dynamics.cluster_count(block, config.cluster_tol))
        minima.append(dynamics.min_pairwise_cosine(block))
        cosines = dynamics.pairwise_cosines(block)[:, pairs[0], pairs[1]]
        histograms.append(_histogram(cosines, config.hist_bins))
        if beta > 0:
            log_max = beta - math.log(2 * beta)
            energies.append(torch.exp(dynamics.log_interaction_energy(block, beta) - log_max))
    return RunResult(
        normalization=normalization,
        beta=float(beta),
        times=times.numpy(),
        cluster_counts=torch.cat(counts).cpu().numpy(),
        min_cosines=torch.cat(minima).clamp(-1.0, 1.0).cpu().double().numpy(),
        cosine_histogram=torch.cat(histograms).cpu().double().numpy(),
        normalized_energy=torch.cat(energies).cpu().double().numpy() if energies else None,
        snapshot_indices=snapshots,
        snapshots=unit[list(snapshots)].cpu().double().numpy(),
        max_norm_error=max_norm_error,
    )


def _histogram(cosines: Tensor, bins: int) -> Tensor:
    """Fraction of pairs per bin of [-1, 1]: (times, pairs) -> (times, bins)."""
    index = ((cosines.clamp(-1.0, 1.0) + 1) / 2 * bins).long().clamp(max=bins - 1)
    counts = torch.zeros(cosines.shape[0], bins, dtype=cosines.dtype, device=cosines.device)
    counts.scatter_add_(1, index, torch.ones_like(cosines))
    return counts / max(cosines.shape[1], 1)


def run(config: ClusteringConfig, out_dir: Path) -> dict[str, object]:
    """Simulate, write the figures into ``out_dir``, and return the metrics dict."""
    results = simulate(config)
    figures = make_figures(config, results) if config.figures else {}
    save_figures(figures, out_dir, f"{NAME} figures")
    times = results[0].times
    return {
        "scenario": NAME,
        "parameters": config_to_dict(config),
        "snapshot_times": [float(times[index]) for index in results[0].snapshot_indices],
        "runs": {result.key: result.metrics() for result in results},
        "figures": sorted(figures),
    }


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """One line per run for the terminal: final clusters, time to one cluster, final energy."""
    lines = []
    for key, run_metrics in metrics["runs"].items():
        single = run_metrics["time_to_single_cluster"]
        energy = run_metrics["final_normalized_energy"]
        lines.append(
            f"{key:<22} clusters at T: {run_metrics['final_cluster_count']:>3}   "
            f"single cluster from t = {'never' if single is None else f'{single:g}':<6}  "
            f"E/E_max at T: {'n/a' if energy is None else f'{energy:.4f}'}"
        )
    return lines


# Sweeps (``attnflow sweep clustering``, see ``scenarios.sweep``): every seed of a point is one
# system of a single batched solve per (normalization, beta) run.

SWEEP_KEYS = ("normalization", "beta")
"""Row columns that name the run within a sweep point (the other columns are metrics)."""

SWEEP_DEFAULTS: dict[str, object] = {"method": "dopri5", "figures": False}
"""A sweep starts from these values (``--set`` overrides them): a method that controls each
seed's error separately in a batched solve, and no figures (a sweep draws none)."""


def validate_sweep(config: ClusteringConfig) -> None:
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
    config.validate()
    validate_sweep(config)
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
        single[candidate] = _single_cluster(clouds[candidate], threshold)
        found = single.any(0)
        first[pending[found]] = start + single[:, found].int().argmax(0)
        pending = pending[~found]
        start += chunk
    return first.cpu()


def _single_cluster(unit: Tensor, threshold: float) -> Tensor:
    """Whether each unit cloud of ``unit`` (m, n, d) is one cluster of the link graph
    cos > ``threshold``: at once when every pair is linked, by ``_connected`` when every token has
    a link but some pair has none, and not when a token has no link."""
    single = torch.zeros(unit.shape[0], dtype=torch.bool, device=unit.device)
    for rows in torch.arange(unit.shape[0], device=unit.device).split(
        _OBSERVABLE_BLOCK // unit.shape[1] ** 2
    ):
        cosines = unit[rows] @ unit[rows].transpose(-1, -2)
        all_linked = cosines.flatten(-2).amin(-1) > threshold
        cosines.diagonal(dim1=-2, dim2=-1).fill_(-2.0)
        unsure = ~all_linked & (cosines.amax(-1) > threshold).all(-1)
        linked = cosines[unsure] > threshold
        linked.diagonal(dim1=-2, dim2=-1).fill_(True)
        all_linked[unsure] = _connected(linked)
        single[rows] = all_linked
    return single


def _connected(linked: Tensor) -> Tensor:
    """Whether each graph of a (..., n, n) symmetric adjacency with self-loops is connected, i.e.
    has one cluster under ``dynamics.cluster_labels``' rule: grow the set of tokens reached from
    token 0 by one link at a time until it stops growing (at most n - 1 steps)."""
    reached = linked[..., 0, :]
    while True:
        grown = (reached[..., :, None] & linked).any(-2)
        if torch.equal(grown, reached):
            return reached.all(-1)
        reached = grown
