"""The long_context scenario's simulation: SA at beta = gamma log n for every (n, gamma), the
observables at time T, the critical gamma where the curves for consecutive n cross, with a
bootstrap interval over the seeds (see ``scenarios.long_context``)."""

from __future__ import annotations

import math
import resource
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

import dynamics
import solvers
from scenarios.harness import DTYPES, progress
from scenarios.long_context.config import LongContextConfig

NAME = "long_context"
OBSERVABLES = ("mean_cosine", "cluster_fraction", "effective_rank", "velocity")
"""Per cloud: mean pairwise cosine, clusters / tokens among the first ``cluster_sample``
tokens, effective rank of the unit tokens, RMS over tokens of |x_i'|."""
ORDER_PARAMETER = "mean_cosine"
"""The observable whose curves locate gamma_c."""
LEVEL = 0.95
"""Coverage of the bootstrap interval."""


@dataclass(frozen=True)
class LongContextResult:
    """Observables {name: (len(ns), len(gammas), seeds)} at t = 0 and at T; the same for the
    scalable-softmax gamma = s, {name: (len(ns), seeds)}; seconds per n; peak resident memory;
    the S^1 comparison: particles' mean cosine at T (len(ns), len(gammas), seeds) and the
    Vlasov grid's (len(ns), len(gammas)), None without it."""

    initial: dict[str, np.ndarray]
    final: dict[str, np.ndarray]
    scalable: dict[str, np.ndarray]
    seconds: list[float]
    peak_memory_mb: float
    circle_particles: np.ndarray | None
    circle_vlasov: np.ndarray | None


def initial_clouds(config: LongContextConfig, n: int) -> Tensor:
    """``seeds`` clouds (seeds, n, d): x_i = sqrt(rho) e_1 + sqrt(1 - rho) u_i with u_i uniform
    on the unit sphere of e_1's orthogonal complement, so <x_i, x_j> = rho + (1 - rho) <u_i, u_j>
    (mean rho, spread ~ (1 - rho) / sqrt(d - 1)); drawn from (seed, n) on the CPU in float64."""
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + n)
    u = dynamics.uniform_sphere(
        n, config.d - 1, batch_shape=(config.seeds,), generator=generator, dtype=torch.float64
    )
    axis = torch.full((config.seeds, n, 1), math.sqrt(config.rho), dtype=torch.float64)
    x0 = torch.cat([axis, math.sqrt(1 - config.rho) * u], -1)
    return x0.to(device=config.device, dtype=DTYPES[config.dtype])


def observe(config: LongContextConfig, field: dynamics.SelfAttention, x: Tensor) -> dict:
    """The ``OBSERVABLES`` of every cloud of x (seeds, n, d), each (seeds,), in O(n d) memory
    but for the cluster count (O(cluster_sample^2))."""
    unit = dynamics.normalize(x)
    every = torch.ones(unit.shape[:-1], dtype=torch.bool, device=x.device)
    sample = unit[:, : config.cluster_sample]
    clusters = dynamics.cluster_count(sample, config.cluster_tol).to(x.dtype)
    velocity = field(0.0, unit)
    return {
        "mean_cosine": dynamics.mean_pairwise_cosine(unit, every),
        "cluster_fraction": clusters / sample.shape[-2],
        "effective_rank": dynamics.effective_rank(unit, every),
        "velocity": velocity.square().sum(-1).mean(-1).sqrt(),
    }


def evolve(config: LongContextConfig, n: int, gamma: float, x0: Tensor) -> tuple[dict, dict]:
    """SA at beta = gamma log n from x0 to T in ``steps`` fixed steps; observables at 0 and T."""
    field = dynamics.SelfAttention(config.d, beta=gamma * math.log(n)).to(x0.device)
    times = torch.tensor([0.0, config.T], dtype=x0.dtype)
    with torch.no_grad():
        final = solvers.integrate(
            field, x0, times, method=config.method, step_size=config.T / config.steps
        )[-1]
        return observe(config, field, x0), observe(config, field, final)


def simulate(config: LongContextConfig) -> LongContextResult:
    """Every (n, gamma) and the scalable-softmax gamma = s, the seeds of an n in one batch."""
    shape = (len(config.ns), len(config.gammas), config.seeds)
    initial = {name: np.empty(shape) for name in OBSERVABLES}
    final = {name: np.empty(shape) for name in OBSERVABLES}
    scalable = {name: np.empty((len(config.ns), config.seeds)) for name in OBSERVABLES}
    seconds = []
    jobs = [(i, j) for i in range(len(config.ns)) for j in range(len(config.gammas) + 1)]
    bar = progress(jobs, desc=NAME, total=len(jobs))
    start = time.perf_counter()
    for i, j in bar:
        n = config.ns[i]
        if j == 0:
            x0 = initial_clouds(config, n)
        gamma = config.gammas[j] if j < len(config.gammas) else config.scalable_softmax_s
        bar.set_postfix_str(f"n={n} gamma={gamma:g}")
        at_start, at_end = evolve(config, n, gamma, x0)
        for name in OBSERVABLES:
            if j < len(config.gammas):
                initial[name][i, j] = at_start[name].double().cpu().numpy()
                final[name][i, j] = at_end[name].double().cpu().numpy()
            else:
                scalable[name][i] = at_end[name].double().cpu().numpy()
        if j == len(config.gammas):
            seconds.append(time.perf_counter() - start)
            start = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    particles, vlasov = circle_comparison(config) if config.vlasov_cells else (None, None)
    return LongContextResult(initial, final, scalable, seconds, peak, particles, vlasov)


def circle_density(config: LongContextConfig) -> Tensor:
    """Cell averages (midpoint rule, normalised: h sum_k rho_k = 1) of the von Mises density
    e^{kappa cos theta} / (2 pi I_0(kappa)) on ``vlasov_cells`` cells of [0, 2 pi), float64."""
    cells = config.vlasov_cells
    centers = (torch.arange(cells, dtype=torch.float64) + 0.5) * (2 * math.pi / cells)
    density = torch.exp(config.circle_kappa * (centers.cos() - 1))
    return density / (density.sum() * 2 * math.pi / cells)


def density_mean_cosine(rho: Tensor) -> Tensor:
    """int int <x, y> rho(x) rho(y) = |h sum_k rho_k e^{i theta_k}|^2 over the last axis."""
    cells = rho.shape[-1]
    centers = (torch.arange(cells, dtype=rho.dtype) + 0.5) * (2 * math.pi / cells)
    h = 2 * math.pi / cells
    return (h * (rho * centers.cos()).sum(-1)) ** 2 + (h * (rho * centers.sin()).sum(-1)) ** 2


def circle_comparison(config: LongContextConfig) -> tuple[np.ndarray, np.ndarray]:
    """On S^1, for every (n, gamma) at beta = gamma log n: the mean pairwise cosine at T of
    ``seeds`` clouds of n tokens drawn from the von Mises density (the run's method and steps),
    and that of the mean-field limit n = infinity at the same beta, the density solved by
    ``solvers.solve_vlasov_circle`` from the same law; as (len(ns), len(gammas), seeds) and
    (len(ns), len(gammas))."""
    particles = np.empty((len(config.ns), len(config.gammas), config.seeds))
    vlasov = np.empty((len(config.ns), len(config.gammas)))
    rho0 = circle_density(config)
    mean = torch.tensor([1.0, 0.0], dtype=torch.float64)
    dtype = DTYPES[config.dtype]
    times = torch.tensor([0.0, config.T], dtype=dtype)
    for i, n in enumerate(config.ns):
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + n + 1)
        x0 = dynamics.von_mises_fisher(
            n, mean, config.circle_kappa, batch_shape=(config.seeds,), generator=generator
        ).to(device=config.device, dtype=dtype)
        every = torch.ones(x0.shape[:-1], dtype=torch.bool, device=x0.device)
        for j, gamma in enumerate(config.gammas):
            beta = gamma * math.log(n)
            field = dynamics.SelfAttention(2, beta=beta).to(x0.device)
            with torch.no_grad():
                final = solvers.integrate(
                    field, x0, times, method=config.method, step_size=config.T / config.steps
                )[-1]
            cosine = dynamics.mean_pairwise_cosine(dynamics.normalize(final), every)
            particles[i, j] = cosine.double().cpu().numpy()
            rho = solvers.solve_vlasov_circle(rho0, [0.0, config.T], beta)[-1]
            vlasov[i, j] = float(density_mean_cosine(rho))
    return particles, vlasov


def crossing(gammas: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float | None:
    """The first gamma where upper - lower goes from > 0 to <= 0 (the larger n's curve drops
    below the smaller n's), by linear interpolation between grid points; None if it never
    does."""
    diff = upper - lower
    for k in range(len(gammas) - 1):
        if diff[k] > 0 >= diff[k + 1]:
            return float(
                gammas[k] + (gammas[k + 1] - gammas[k]) * diff[k] / (diff[k] - diff[k + 1])
            )
    return None


def pair_crossings(gammas: np.ndarray, curves: np.ndarray) -> list[float | None]:
    """``crossing`` of the mean curves (len(ns), len(gammas)) of every consecutive pair of n."""
    return [crossing(gammas, curves[k], curves[k + 1]) for k in range(len(curves) - 1)]


def critical_gamma(gammas: np.ndarray, curves: np.ndarray) -> float | None:
    """gamma_c: the median of the consecutive-pair crossings found; None if none is."""
    found = [c for c in pair_crossings(gammas, curves) if c is not None]
    return float(np.median(found)) if found else None


def bootstrap_interval(
    gammas: np.ndarray, values: np.ndarray, resamples: int, seed: int
) -> dict[str, object]:
    """Percentile interval (``LEVEL``) of ``critical_gamma`` over bootstrap resamples of the
    seeds (values: (len(ns), len(gammas), seeds); the seeds of one n are resampled together, as
    every gamma starts from the same clouds), and the fraction of resamples with a crossing."""
    rng = np.random.default_rng(seed)
    sizes, _, seeds = values.shape
    found = []
    for _ in range(resamples):
        picks = rng.integers(0, seeds, size=(sizes, seeds))
        means = np.stack([values[i][:, picks[i]].mean(-1) for i in range(sizes)])
        gamma = critical_gamma(gammas, means)
        if gamma is not None:
            found.append(gamma)
    tail = (1 - LEVEL) / 2
    interval = (
        [float(np.quantile(found, tail)), float(np.quantile(found, 1 - tail))] if found else None
    )
    return {"interval": interval, "level": LEVEL, "fraction_with_crossing": len(found) / resamples}


def steepest_drop(gammas: np.ndarray, curves: np.ndarray) -> list[float]:
    """Per n, max over consecutive gammas of -(m(g_{k+1}) - m(g_k)) / (g_{k+1} - g_k): how
    sharp the transition of the mean curve m is."""
    slopes = -np.diff(curves, axis=1) / np.diff(gammas)
    return slopes.max(1).tolist()


def predicted_gamma_c(config: LongContextConfig, n: int) -> float | None:
    """Where the attention of a token on itself, e^beta, matches that on the n others,
    n E e^{beta <x_i, x_j>} = n e^{beta rho + beta^2 (1 - rho)^2 / (2 (d - 1))} (Gaussian
    cosines of variance (1 - rho)^2 / (d - 1)): with u = gamma (1 - rho) and k = log n / (d - 1),
    u = 1 + k u^2 / 2, whose smaller root is u = (1 - sqrt(1 - 2 k)) / k (u = 1 as d -> inf, the
    equiangular gamma_c = 1 / (1 - rho)); None when 2 k > 1 (no root: no transition)."""
    k = math.log(n) / (config.d - 1)
    if 2 * k > 1:
        return None
    return (1 - math.sqrt(1 - 2 * k)) / k / (1 - config.rho)


def metrics(config: LongContextConfig, result: LongContextResult) -> dict[str, object]:
    """Per observable the mean over seeds at T (len(ns) x len(gammas)) and at t = 0; gamma_c from
    the order parameter with its bootstrap interval, the crossings of consecutive n, the steepest
    drop per n; the scalable-softmax case; the predictions; seconds per n and peak memory."""
    gammas = np.array(config.gammas)
    curves = result.final[ORDER_PARAMETER].mean(-1)
    gamma_c = critical_gamma(gammas, curves)
    drops = steepest_drop(gammas, curves)
    s = config.scalable_softmax_s
    return {
        "ns": list(config.ns),
        "gammas": list(config.gammas),
        "at_T": {name: values.mean(-1).tolist() for name, values in result.final.items()},
        "at_0": {name: values.mean(-1).tolist() for name, values in result.initial.items()},
        "order_parameter": ORDER_PARAMETER,
        "gamma_c": gamma_c,
        "gamma_c_bootstrap": bootstrap_interval(
            gammas, result.final[ORDER_PARAMETER], config.bootstrap, config.seed
        ),
        "pair_crossings": pair_crossings(gammas, curves),
        "steepest_drop": drops,
        "sharpens_with_n": bool(np.all(np.diff(drops) > 0)),
        "gamma_c_equiangular": 1 / (1 - config.rho),
        "gamma_c_predicted": [predicted_gamma_c(config, n) for n in config.ns],
        "scalable_softmax": {
            "s": s,
            "side": None if gamma_c is None else ("collapse" if s < gamma_c else "frozen"),
            "at_T": {name: values.mean(-1).tolist() for name, values in result.scalable.items()},
        },
        "wall_time_per_n_s": result.seconds,
        "peak_resident_memory_mb": result.peak_memory_mb,
        "circle": None if result.circle_vlasov is None else circle_metrics(result),
    }


def circle_metrics(result: LongContextResult) -> dict[str, object]:
    """The S^1 comparison: particles' mean cosine at T (mean over seeds) and the Vlasov grid's,
    per (n, gamma), and the largest gap |particles - Vlasov| per n."""
    particles = result.circle_particles.mean(-1)
    gaps = np.abs(particles - result.circle_vlasov)
    return {
        "particles_mean_cosine": particles.tolist(),
        "vlasov_mean_cosine": result.circle_vlasov.tolist(),
        "max_gap_per_n": gaps.max(1).tolist(),
    }


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """gamma_c with its interval, the crossings, the sharpness, the scalable-softmax side."""
    boot = metrics["gamma_c_bootstrap"]
    gamma_c = metrics["gamma_c"]
    interval = boot["interval"]
    shown = "none" if gamma_c is None else f"{gamma_c:.3f}"
    if interval is not None:
        shown += f" [{interval[0]:.3f}, {interval[1]:.3f}] ({100 * boot['level']:.0f}% bootstrap)"
    crossings = ", ".join("n/a" if c is None else f"{c:.3f}" for c in metrics["pair_crossings"])
    drops = ", ".join(f"{v:.2f}" for v in metrics["steepest_drop"])
    predicted = ", ".join("n/a" if g is None else f"{g:.2f}" for g in metrics["gamma_c_predicted"])
    scalable = metrics["scalable_softmax"]
    side = "side unknown (no gamma_c)" if scalable["side"] is None else f"{scalable['side']} side"
    return [
        f"gamma_c = {shown}; equiangular limit {metrics['gamma_c_equiangular']:.3f}, "
        f"finite-d prediction per n: {predicted}",
        f"crossings of consecutive n {metrics['ns']}: {crossings}",
        f"steepest drop of the mean cosine per n: {drops} (sharpens: {metrics['sharpens_with_n']})",
        f"scalable softmax s = {scalable['s']:g}: {side}; mean cosine at T "
        f"{', '.join(f'{v:.3f}' for v in scalable['at_T']['mean_cosine'])}",
        f"seconds per n: {', '.join(f'{v:.1f}' for v in metrics['wall_time_per_n_s'])}; peak "
        f"resident memory {metrics['peak_resident_memory_mb']:.0f} MB",
    ] + (
        []
        if metrics["circle"] is None
        else [
            "S^1: largest |particles - Vlasov| mean cosine at T per n: "
            + ", ".join(f"{v:.3f}" for v in metrics["circle"]["max_gap_per_n"])
        ]
    )
