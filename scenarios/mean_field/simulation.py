"""The mean_field scenario's simulation: the grid reference, exact particles and PIC from the
same clouds, W1 between each cloud and the grid, and the paths the figures draw (see
``scenarios.mean_field``)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

import dynamics
import solvers
from scenarios.analysis import fit_power_law
from scenarios.harness import progress
from scenarios.mean_field.config import MeanFieldConfig
from scenarios.mean_field.initial import DTYPE, angles_of, initial_angles, initial_cells, on_circle
from solvers.threads import thread_count, torch_threads

NAME = "mean_field"
METHODS = ("exact", "pic")
"""The two particle methods compared with the grid: the O(n^2) field and particle-in-cell."""

REFERENCE_SLOPE = -0.5
"""The exponent of the sampling error W1(mu_n, mu) ~ n^{-1/2}."""


@dataclass(frozen=True)
class MethodRuns:
    """One particle method's runs: W1 to the grid per n, seed and output time."""

    ns: tuple[int, ...]
    w1: dict[int, np.ndarray]
    """n -> W1 of shape (times, seeds)."""
    seconds: dict[int, float]
    final_angles: dict[int, Tensor]
    """n -> angles at t = T, shape (seeds, n)."""

    def mean(self, index: int) -> np.ndarray:
        """Mean over seeds of W1 at output time ``index``, one value per n."""
        return np.array([self.w1[n][index].mean() for n in self.ns])

    def fit(self, index: int) -> tuple[float, float]:
        """``fit_power_law`` of the mean W1 at output time ``index`` against n."""
        return fit_power_law(self.ns, self.mean(index))


@dataclass(frozen=True)
class Results:
    """Everything the metrics and figures are made of."""

    times: np.ndarray
    heatmap_times: np.ndarray
    heatmap: np.ndarray
    """Grid density at the heat-map times, shape (heatmap_times, M)."""
    paths: np.ndarray
    """Angles of the drawn particles at the heat-map times, shape (heatmap_times, paths)."""
    grid_mass_error: float
    grid_min_density: float
    grid_seconds: float
    runs: dict[str, MethodRuns]
    pic_vs_exact: dict[int, float]
    """n -> mean over seeds of W1(PIC cloud, exact cloud) at t = T, for n in both lists."""


def output_times(config: MeanFieldConfig) -> Tensor:
    """The ``num_times`` times on [0, T] where W1 is measured, float64 on the CPU."""
    return torch.linspace(0.0, config.T, config.num_times, dtype=DTYPE)


def solve_grid(config: MeanFieldConfig, times: Tensor) -> Tensor:
    """The grid density at ``times`` (increasing, from 0), shape (len(times), M)."""
    rho0 = initial_cells(config).to(config.device)
    return solvers.solve_vlasov_circle(rho0, times, config.beta, config.normalization)


def exact_angles(config: MeanFieldConfig, theta0: Tensor, times: Tensor) -> Tensor:
    """Angles (len(times), *theta0.shape) of the exact particle system, RK4 at ``step_size``."""
    field_ = dynamics.SelfAttention(2, beta=config.beta, normalization=config.normalization)
    with torch.no_grad():
        x = solvers.integrate(
            field_.to(config.device),
            on_circle(theta0.to(config.device)),
            times.to(config.device),
            method="rk4",
            step_size=config.step_size,
        )
    return angles_of(x)


def pic_angles(config: MeanFieldConfig, theta0: Tensor, times: Tensor) -> Tensor:
    """Angles (len(times), *theta0.shape) by particle-in-cell on ``cells`` cells, RK4."""
    return solvers.particle_in_cell_circle(
        theta0.to(config.device),
        times.to(config.device),
        config.beta,
        config.normalization,
        cells=config.cells,
        step_size=config.step_size,
        stepper="rk4",
    )


def w1_to_grid(angles: Tensor, rho: Tensor) -> np.ndarray:
    """W1 between each cloud (times, seeds, n) and the grid density (times, M) at the same
    time, shape (times, seeds); one time at a time to bound the memory at O(seeds (n + M))."""
    seeds = angles.shape[1]
    rows = [
        dynamics.w1_particles_grid(cloud, density.expand(seeds, -1))
        for cloud, density in zip(angles, rho, strict=True)
    ]
    return torch.stack(rows).cpu().numpy()


def run_method(config: MeanFieldConfig, method: str, rho: Tensor, times: Tensor) -> MethodRuns:
    """Solve every cloud size of ``method`` ("exact" or "pic") and measure W1 to the grid."""
    exact = method == "exact"
    ns = config.exact_ns if exact else config.pic_ns
    solve = exact_angles if exact else pic_angles
    w1, seconds, final = {}, {}, {}
    for n in progress(ns, desc=f"{NAME} {method}", total=len(ns)):
        theta0 = initial_angles(config, n)
        work = config.seeds * n * n if exact else 0
        with torch_threads(thread_count(config.threads, work)):
            start = time.perf_counter()
            angles = solve(config, theta0, times)
            if angles.device.type == "cuda":
                torch.cuda.synchronize(angles.device)
            seconds[n] = time.perf_counter() - start
        if not bool(torch.isfinite(angles).all()):
            raise RuntimeError(f"{method} particles, n={n}: the solve returned non-finite angles")
        with torch_threads(thread_count(config.threads, 0)):
            w1[n] = w1_to_grid(angles, rho)
        final[n] = angles[-1]
    return MethodRuns(tuple(ns), w1, seconds, final)


def drawn_paths(config: MeanFieldConfig, times: Tensor) -> np.ndarray:
    """Paths of ``paths`` particles of the first cloud at the smallest exact n, chosen at evenly
    spaced ranks of their initial angles, at ``times``: shape (len(times), paths)."""
    theta0 = initial_angles(config, min(config.exact_ns))[0]
    order = torch.argsort(torch.remainder(theta0, 2 * math.pi))
    ranks = (torch.arange(config.paths) + 0.5) * len(theta0) / max(config.paths, 1)
    chosen = order[ranks.long()]
    angles = exact_angles(config, theta0, times)
    return angles[:, chosen].cpu().numpy()


def simulate(config: MeanFieldConfig) -> Results:
    """The grid reference, both particle methods, and what the figures draw.

    Each phase picks its own thread count from ``threads`` (the exact field by its kernel
    seeds x n^2, everything else on one thread), which is why the scenario declares no ``work``.
    """
    times = output_times(config)
    fine = torch.linspace(0.0, config.T, config.heatmap_times, dtype=DTYPE)
    every = torch.unique(torch.cat([times, fine]))
    with torch_threads(thread_count(config.threads, 0)):
        start = time.perf_counter()
        rho = solve_grid(config, every)
        grid_seconds = time.perf_counter() - start
    h = 2 * math.pi / config.cells
    mass_error = float((rho.sum(-1) * h - 1).abs().max())
    at_outputs = rho[torch.searchsorted(every, times).to(rho.device)]
    runs = {method: run_method(config, method, at_outputs, times) for method in METHODS}
    with torch_threads(thread_count(config.threads, 0)):
        shared = sorted(set(config.exact_ns) & set(config.pic_ns))
        pic_vs_exact = {
            n: float(
                dynamics.wasserstein_circle(
                    runs["pic"].final_angles[n], runs["exact"].final_angles[n]
                ).mean()
            )
            for n in shared
        }
        paths = drawn_paths(config, fine) if config.paths else np.zeros((len(fine), 0))
    return Results(
        times=times.numpy(),
        heatmap_times=fine.numpy(),
        heatmap=rho[torch.searchsorted(every, fine).to(rho.device)].cpu().numpy(),
        paths=paths,
        grid_mass_error=mass_error,
        grid_min_density=float(rho.min()),
        grid_seconds=grid_seconds,
        runs=runs,
        pic_vs_exact=pic_vs_exact,
    )


def method_metrics(runs: MethodRuns) -> dict[str, object]:
    """W1 per n (mean and standard deviation over seeds at every output time), the fitted
    exponents at t = 0 and t = T, and the solve times."""
    ns = list(runs.ns)
    slope_0, _ = runs.fit(0)
    slope, prefactor = runs.fit(-1)
    return {
        "n": ns,
        "slope": slope,
        "prefactor": prefactor,
        "slope_at_t0": slope_0,
        "w1_final_mean": runs.mean(-1).tolist(),
        "runs": {
            str(n): {
                "w1_mean": runs.w1[n].mean(-1).tolist(),
                "w1_std": runs.w1[n].std(-1).tolist(),
                "seconds": runs.seconds[n],
            }
            for n in ns
        },
    }


def metrics(config: MeanFieldConfig, results: Results) -> dict[str, object]:
    """The output times, the reference slope -1/2, the grid's mass error, minimum and solve
    time, each method's ``method_metrics``, and W1 between PIC and exact clouds at T."""
    return {
        "times": results.times.tolist(),
        "reference_slope": REFERENCE_SLOPE,
        "grid": {
            "mass_error": results.grid_mass_error,
            "min_density": results.grid_min_density,
            "seconds": results.grid_seconds,
        },
        **{method: method_metrics(runs) for method, runs in results.runs.items()},
        "pic_vs_exact_w1": {str(n): value for n, value in results.pic_vs_exact.items()},
    }


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """Fitted exponents, W1 at the largest n, and the grid's mass error."""
    lines = []
    for method in METHODS:
        entry = metrics[method]
        lines.append(
            f"{method:<6} W1 ~ n^{entry['slope']:.3f} at t = T (n^{entry['slope_at_t0']:.3f} at "
            f"t = 0); n = {entry['n'][-1]}: W1 = {entry['w1_final_mean'][-1]:.3g}"
        )
    lines.append(f"grid mass error: {metrics['grid']['mass_error']:.2e}")
    return lines
