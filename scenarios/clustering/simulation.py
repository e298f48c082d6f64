"""The clustering scenario's simulation: every (normalization, beta) run from one initial cloud,
and the observables measured on it at every output time (see ``scenarios.clustering``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

import dynamics
import solvers
from scenarios.analysis import max_decrease
from scenarios.clustering.config import ClusteringConfig
from scenarios.harness import DTYPES, ConfigError, progress

NAME = "clustering"

_OBSERVABLE_BLOCK = 1 << 22
"""Time points per observable batch are chosen so that batch x n^2 stays below this."""


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


def peak_memory(config: ClusteringConfig) -> float:
    """Estimated peak bytes of one run: the trajectory (num_times n d), the observables' block of
    (times, n, n) cosines, and, for scipy's LSODA, its dense Jacobian of the (n d)-dimensional
    system."""
    item = DTYPES[config.dtype].itemsize
    trajectory = config.num_times * config.n * config.d * item
    cosines = 4 * min(config.num_times * config.n**2, max(config.n**2, _OBSERVABLE_BLOCK)) * item
    jacobian = (config.n * config.d) ** 2 * 8 if config.method == "scipy_solver" else 0
    return trajectory + cosines + jacobian


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

    Raises ConfigError for random weights (drawn per seed: sweeps only), ``solvers.DivergedError``
    if a solve turns NaN or infinite, RuntimeError if token norms overflow or vanish.
    """
    if config.random_weights:
        raise ConfigError(
            f"query_key={config.query_key!r}, value={config.value!r} is not accepted by a run; "
            "random weights are drawn per seed in sweeps (attnflow sweep clustering, or the "
            "phase_diagram scenario); use query_key = value = identity here"
        )
    x0 = initial_cloud(config)
    times = output_times(config)
    snapshots = snapshot_indices(config)
    runs = [(norm, beta) for norm in config.normalizations for beta in config.betas]
    results = []
    bar = progress(runs, desc=NAME, total=len(runs))
    for normalization, beta in bar:
        bar.set_postfix_str(run_key(normalization, beta))
        results.append(_simulate_one(config, normalization, beta, x0, times, snapshots))
    return results


def solve_run(
    config: ClusteringConfig, normalization: str, beta: float, x0: Tensor, times: Tensor
) -> Tensor:
    """The trajectory (len(times), *x0.shape) of one (normalization, beta) run from ``x0`` (one
    cloud, or a batch of clouds solved together).

    ``solvers.integrate`` raises ``DivergedError`` (naming the output time) if the state turns
    NaN or infinite.
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
    lost = ~torch.isfinite(norms) | (norms == 0)
    if bool(lost.any()):
        first = float(times[int(lost.flatten(1).any(1).int().argmax())])
        raise RuntimeError(
            f"{run_key(normalization, beta)}: token norms overflow or vanish from t = {first:g}: "
            f"method {config.method!r} diverged with these steps; use a smaller step_size, a "
            "smaller T, or an adaptive method"
        )
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
        if beta > 0:  # E_beta / E_max = 1 - relative gap: finite and accurate at any beta
            energies.append(1.0 - dynamics.relative_energy_gap(block, beta))
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


def metrics(config: ClusteringConfig, results: list[RunResult]) -> dict[str, object]:
    """The snapshot times and every run's summary numbers."""
    times = results[0].times
    return {
        "snapshot_times": [float(times[index]) for index in results[0].snapshot_indices],
        "runs": {result.key: result.metrics() for result in results},
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
