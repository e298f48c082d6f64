"""The metastability scenario's simulation: every seed at every beta from the same clouds, the
cluster counts and energies at every output time, and the first plateaus and their fit against
beta (see ``scenarios.metastability``)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

import dynamics
import solvers
from scenarios.analysis import fit_power_law, max_decrease
from scenarios.harness import progress
from scenarios.metastability.config import MetastabilityConfig
from scenarios.metastability.plateau_analysis import first_plateau, plateaus
from scenarios.metastability.stability import most_unstable_mode

NAME = "metastability"
DTYPE = torch.float64


@dataclass(frozen=True)
class BetaRun:
    """One beta: observables at every output time for every seed (arrays (times, seeds))."""

    beta: float
    counts: np.ndarray
    energy: np.ndarray
    """E_beta / E_max."""
    cluster_energy: np.ndarray
    """sum_c m_c^2 over the clusters of ``counts``: E_beta / E_max of point clusters."""
    seconds: float

    def first_plateaus(self, times: np.ndarray, factor: float) -> list[tuple[int, int] | None]:
        """The first plateau of each seed (``first_plateau``)."""
        return [
            first_plateau(times, self.counts[:, s], factor) for s in range(self.counts.shape[1])
        ]


@dataclass(frozen=True)
class MetastabilityResult:
    """The output times, one run per beta, each beta's ``beta_metrics`` (in the order of
    ``config.betas``) and the ``fit_metrics`` of the first-plateau counts against beta."""

    times: np.ndarray
    runs: list[BetaRun]
    entries: list[dict[str, object]]
    fit: dict[str, object]


def output_times(config: MetastabilityConfig) -> Tensor:
    """0, then ``num_times - 1`` geometrically spaced times from t_min to T (float64, CPU)."""
    geometric = torch.logspace(
        math.log10(config.t_min), math.log10(config.T), config.num_times - 1, dtype=DTYPE
    )
    return torch.cat([torch.zeros(1, dtype=DTYPE), geometric])


def initial_clouds(config: MetastabilityConfig) -> Tensor:
    """``seeds`` clouds of n tokens uniform on S^{d-1}, shape (seeds, n, d), drawn on the CPU."""
    generator = torch.Generator().manual_seed(config.seed)
    x0 = dynamics.uniform_sphere(
        config.n, config.d, batch_shape=(config.seeds,), generator=generator, dtype=DTYPE
    )
    return x0.to(config.device)


def cluster_mass_energy(x: Tensor, tol: float) -> Tensor:
    """sum_c m_c^2 over the clusters of ``dynamics.cluster_labels`` (masses 1/n per token),
    shape (...): E_beta / E_max of the same clusters collapsed to far-apart points."""
    labels = dynamics.cluster_labels(x, tol)
    sizes = torch.zeros_like(labels).scatter_add_(-1, labels, torch.ones_like(labels))
    n = x.shape[-2]
    return (sizes.to(x.dtype) / n).square().sum(-1)


def solve_beta(config: MetastabilityConfig, beta: float, x0: Tensor, times: Tensor) -> BetaRun:
    """Integrate every seed at ``beta`` as one batch and measure counts and energies."""
    field_ = dynamics.SelfAttention(config.d, beta=beta, normalization=config.normalization)
    start = time.perf_counter()
    with torch.no_grad():
        xs = solvers.integrate(
            field_.to(config.device),
            x0,
            times.to(x0),
            method=config.method,
            step_size=config.step_size or None,
            rtol=config.rtol,
            atol=config.atol,
        )
    seconds = time.perf_counter() - start
    unit = dynamics.normalize(xs)
    log_max = beta - math.log(2 * beta)
    energy = torch.exp(dynamics.log_interaction_energy(unit, beta) - log_max)
    return BetaRun(
        beta=float(beta),
        counts=dynamics.cluster_count(unit, config.cluster_tol).cpu().numpy(),
        energy=energy.cpu().numpy(),
        cluster_energy=cluster_mass_energy(unit, config.cluster_tol).cpu().numpy(),
        seconds=seconds,
    )


def simulate(config: MetastabilityConfig) -> MetastabilityResult:
    """One run per beta, all from the same clouds, with their plateaus and the fit."""
    times = output_times(config)
    x0 = initial_clouds(config)
    runs = []
    bar = progress(config.betas, desc=NAME, total=len(config.betas))
    for beta in bar:
        bar.set_postfix_str(f"beta={beta:g}")
        runs.append(solve_beta(config, beta, x0, times))
    times_array = times.numpy()
    entries = [beta_metrics(config, times_array, run) for run in runs]
    return MetastabilityResult(times_array, runs, entries, fit_metrics(entries))


def beta_metrics(config: MetastabilityConfig, times: np.ndarray, run: BetaRun) -> dict:
    """First plateau per seed (count, start and end time), its mean, final counts, energies."""
    firsts = run.first_plateaus(times, config.plateau_factor)
    counts = [None if p is None else int(run.counts[p[0], s]) for s, p in enumerate(firsts)]
    found = [count for count in counts if count is not None]
    return {
        "beta": run.beta,
        "first_plateau_counts": counts,
        "first_plateau_mean": float(np.mean(found)) if found else None,
        "first_plateau_start": [None if p is None else float(times[p[0]]) for p in firsts],
        "first_plateau_end": [None if p is None else float(times[p[1]]) for p in firsts],
        "plateaus": [
            len(plateaus(times, run.counts[:, s], config.plateau_factor))
            for s in range(config.seeds)
        ],
        "final_counts": run.counts[-1].tolist(),
        "linear_stability_mode": most_unstable_mode(run.beta) if config.d == 2 else None,
        "final_normalized_energy": run.energy[-1].tolist(),
        "max_energy_decrease": max(max_decrease(run.energy[:, s]) for s in range(config.seeds)),
        "seconds": run.seconds,
    }


def fit_metrics(entries: list[dict]) -> dict[str, object]:
    """The power law of the mean first-plateau count against beta, and the coefficient c of the
    one-parameter fit count = c sqrt(beta) (least squares); None where fewer than two betas (one
    for c) had a plateau."""
    points = [(e["beta"], e["first_plateau_mean"]) for e in entries if e["first_plateau_mean"]]
    betas = np.array([beta for beta, _ in points])
    means = np.array([mean for _, mean in points])
    exponent, prefactor = fit_power_law(betas, means) if len(points) >= 2 else (None, None)
    coefficient = float(means @ np.sqrt(betas) / betas.sum()) if points else None
    return {
        "exponent": exponent,
        "prefactor": prefactor,
        "sqrt_beta_coefficient": coefficient,
        "betas_used": betas.tolist(),
    }


def metrics(config: MetastabilityConfig, result: MetastabilityResult) -> dict[str, object]:
    """The output times, the reference exponent (d - 1) / 2, the fit, and per beta its
    ``beta_metrics``."""
    return {
        "times": result.times.tolist(),
        "reference_exponent": (config.d - 1) / 2,
        "fit": result.fit,
        "betas": {f"{entry['beta']:g}": entry for entry in result.entries},
    }


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """Per beta the first-plateau counts; then the fitted exponent."""
    lines = [
        f"beta={key:<6} first plateau: {entry['first_plateau_counts']} clusters "
        f"(linear stability: {entry['linear_stability_mode']})"
        for key, entry in metrics["betas"].items()
    ]
    exponent = metrics["fit"]["exponent"]
    shown = "n/a" if exponent is None else f"{exponent:.3f}"
    lines.append(
        f"first-plateau count ~ beta^{shown} (reference {metrics['reference_exponent']:g})"
    )
    return lines
