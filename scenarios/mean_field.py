"""Mean field on the circle: one density evolved by the Vlasov grid, exact particles and PIC.

As n grows the empirical measure of n tokens following self-attention on the circle (d = 2,
Q = K = V = I, tokens (cos theta, sin theta)) solves the continuity (Vlasov) equation

    d rho / dt + d/dtheta (rho v[rho]) = 0,
    v[rho](theta) = int e^{beta cos(phi - theta)} sin(phi - theta) rho(phi) dphi / Z(theta),

Z(theta) = int e^{beta cos(phi - theta)} rho(phi) dphi for SA, Z = 1 for USA (Geshkovski,
Letrouit, Polyanskiy, Rigollet, "A mathematical perspective on Transformers"; ``dynamics.circle``).
One initial density, a von Mises mixture

    rho_0(theta) = sum_c w_c e^{kappa_c cos(theta - mu_c)} / (2 pi I_0(kappa_c)),

is evolved three independent ways:

- the reference: the finite-volume grid solver on ``cells`` cells (``solvers.solve_vlasov_circle``,
  van Leer MUSCL, SSP-RK3), from the exact cell averages of rho_0;
- exact particles: n i.i.d. samples of rho_0 (``seeds`` independent clouds per n, one batched
  solve) moved by the O(n^2) field ``SelfAttention(2, beta=..)``, classical RK4 with a fixed step;
- particle-in-cell (``solvers.particle_in_cell_circle``, same grid, RK4, same step), up to 10^6
  particles per cloud.

For each n the clouds are compared with the grid density by the exact W1 on the circle
(``dynamics.w1_particles_grid``, in radians). Propagation of chaos predicts that the particles
stay within the sampling error of the mean-field solution, W1 ~ C n^{-1/2} (on the line
E W1(mu_n, mu) <= int sqrt(F (1 - F)) / sqrt(n); Bobkov and Ledoux, "One-dimensional empirical
measures, order statistics, and Kantorovich transport distances"), as long as the grid's error
(second order in h = 2 pi / M) and the time step's stay below it. The fitted exponent of
mean-over-seeds W1 against n (least squares in log-log, ``fit_power_law``) is reported at t = 0
(pure sampling) and at t = T, for exact particles and for PIC, with W1 between the PIC and exact
clouds drawn from the same samples (the PIC error alone), the solve times, and the grid's mass
error max_t |h sum_k rho_k(t) - 1| (the scheme conserves mass to rounding).

Samples: the clouds of size n come from their own random stream, seeded by (``seed``, n), so a
cloud does not change when other sizes are added, and exact particles and PIC share the clouds of
the sizes they have in common. Figures are drawn by ``scenarios.mean_field_figures``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

import dynamics
import solvers
from scenarios.config import config_to_dict
from scenarios.fits import fit_power_law
from scenarios.mean_field_figures import make_figures
from scenarios.progress import progress
from scenarios.shared_fields import check_shared_fields, device_field, figures_field
from scenarios.style import save_figures
from scenarios.threads import SMALL_WORK, thread_count, torch_threads
from scenarios.validation import check_seed, is_int, is_real, require, show

NAME = "mean_field"
DTYPE = torch.float64
METHODS = ("exact", "pic")
"""The two particle methods compared with the grid: the O(n^2) field and particle-in-cell."""

REFERENCE_SLOPE = -0.5
"""The exponent of the sampling error W1(mu_n, mu) ~ n^{-1/2}."""

_QUADRATURE_NODES = 8
"""Gauss-Legendre nodes per cell (plus ceil(kappa h)) for the initial cell averages."""


@dataclass(frozen=True)
class MeanFieldConfig:
    """Parameters of the mean_field scenario; every field can be set with ``--set KEY=VALUE``."""

    centres: tuple[float, ...] = field(
        default=(1.5, 4.0), metadata={"help": "von Mises mixture: mean angles mu_c (radians)"}
    )
    kappas: tuple[float, ...] = field(
        default=(4.0, 2.0), metadata={"help": "von Mises mixture: concentrations kappa_c >= 0"}
    )
    weights: tuple[float, ...] = field(
        default=(0.6, 0.4), metadata={"help": "von Mises mixture: weights w_c >= 0, summing to 1"}
    )
    beta: float = field(default=1.0, metadata={"help": "inverse temperature (> 0)"})
    normalization: str = field(
        default="softmax", metadata={"help": "softmax (SA) or uniform (USA)"}
    )
    T: float = field(default=2.0, metadata={"help": "final time (> 0)"})
    num_times: int = field(
        default=5, metadata={"help": "times on [0, T] where W1 is measured (>= 2)"}
    )
    cells: int = field(
        default=1024, metadata={"help": "M, cells of the grid solver and of PIC (>= 16)"}
    )
    exact_ns: tuple[int, ...] = field(
        default=(100, 316, 1000, 3162, 10000),
        metadata={"help": "cloud sizes n for the exact O(n^2) field (each >= 2, distinct)"},
    )
    pic_ns: tuple[int, ...] = field(
        default=(100, 1000, 10_000, 100_000, 1_000_000),
        metadata={"help": "cloud sizes n for particle-in-cell (each >= 2, distinct)"},
    )
    seeds: int = field(
        default=4, metadata={"help": "independent clouds per n, solved as one batch (>= 1)"}
    )
    step_size: float = field(
        default=0.5,
        metadata={
            "help": "RK4 step of the particle solves, exact and PIC (> 0); at the defaults 0.5 "
            "moves the tokens by at most 2e-4 from the exact flow, below the W1 of 10^6 tokens"
        },
    )
    heatmap_times: int = field(
        default=201, metadata={"help": "times of the density heat map on [0, T] (>= 2)"}
    )
    paths: int = field(
        default=12,
        metadata={"help": "particle paths drawn over the heat map, from the smallest exact n"},
    )
    seed: int = field(default=0, metadata={"help": "seed of every cloud, >= 0"})
    figures: bool = figures_field()
    device: str = device_field()
    threads: int = field(
        default=0,
        metadata={
            "help": "CPU threads for torch during the run; 0: torch's default for the exact field "
            f"when seeds x n^2 > {SMALL_WORK}, one thread for everything else (the grid, PIC and "
            "W1 kernels are small or memory-bound: on the busy 2-core machine a second thread "
            "made PIC 15x slower)"
        },
    )

    def validate(self) -> None:
        """Raise ValueError naming the first field with an impossible value."""
        components = len(self.centres)
        require(
            isinstance(self.centres, tuple)
            and components >= 1
            and all(is_real(c) for c in self.centres),
            "centres",
            self.centres,
            "one or more finite angles (radians)",
        )
        require(
            isinstance(self.kappas, tuple)
            and len(self.kappas) == components
            and all(is_real(k) and 0 <= k <= 1e4 for k in self.kappas),
            "kappas",
            self.kappas,
            f"{components} concentrations in [0, 1e4], one per centre",
        )
        require(
            isinstance(self.weights, tuple)
            and len(self.weights) == components
            and all(is_real(w) and w >= 0 for w in self.weights)
            and abs(sum(self.weights) - 1) <= 1e-9,
            "weights",
            self.weights,
            f"{components} weights >= 0 summing to 1, one per centre",
        )
        require(is_real(self.beta) and 0 < self.beta <= 500, "beta", self.beta, "in (0, 500]")
        require(
            self.normalization in dynamics.CIRCLE_NORMALIZATIONS,
            "normalization",
            self.normalization,
            "softmax or uniform",
        )
        require(is_real(self.T) and self.T > 0, "T", self.T, "a finite number > 0")
        require(
            is_int(self.num_times) and 2 <= self.num_times <= 1000,
            "num_times",
            self.num_times,
            "an integer in [2, 1000]",
        )
        require(
            is_int(self.cells) and 16 <= self.cells <= 1 << 20,
            "cells",
            self.cells,
            "an integer in [16, 2^20]",
        )
        for name in ("exact_ns", "pic_ns"):
            sizes = getattr(self, name)
            require(
                isinstance(sizes, tuple)
                and len(sizes) >= 2
                and all(is_int(n) and 2 <= n <= 10**8 for n in sizes)
                and len(set(sizes)) == len(sizes),
                name,
                sizes,
                "two or more distinct integers in [2, 1e8] (a slope needs two sizes)",
            )
        require(is_int(self.seeds) and 1 <= self.seeds <= 1000, "seeds", self.seeds, "in [1, 1000]")
        require(
            is_real(self.step_size) and 0 < self.step_size <= self.T,
            "step_size",
            self.step_size,
            f"a number in (0, T] = (0, {show(self.T)}]",
        )
        require(
            is_int(self.heatmap_times) and 2 <= self.heatmap_times <= 10_000,
            "heatmap_times",
            self.heatmap_times,
            "an integer in [2, 10000]",
        )
        require(
            is_int(self.paths) and 0 <= self.paths <= min(self.exact_ns),
            "paths",
            self.paths,
            f"an integer in [0, {min(self.exact_ns)}] (the smallest exact n)",
        )
        check_seed(self.seed)
        check_shared_fields(self)


Config = MeanFieldConfig
"""The scenario's config class (the name every scenario module exports)."""


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


def mixture_density(config: MeanFieldConfig, theta: Tensor) -> Tensor:
    """rho_0(theta) = sum_c w_c e^{kappa_c (cos(theta - mu_c) - 1)} / (2 pi i0e(kappa_c)), the
    von Mises mixture written with the scaled Bessel function i0e(k) = e^{-k} I_0(k)."""
    density = torch.zeros_like(theta)
    for mu, kappa, weight in zip(config.centres, config.kappas, config.weights, strict=True):
        scale = 2 * math.pi * float(torch.special.i0e(torch.tensor(kappa, dtype=DTYPE)))
        density = density + weight * torch.exp(kappa * (torch.cos(theta - mu) - 1)) / scale
    return density


def initial_cells(config: MeanFieldConfig) -> Tensor:
    """Cell averages (1/h) int_{cell k} rho_0 by Gauss-Legendre quadrature on every cell, with
    8 + ceil(max kappa h) nodes (an analytic integrand: error far below 1e-12 at the defaults)."""
    h = 2 * math.pi / config.cells
    count = _QUADRATURE_NODES + math.ceil(max(config.kappas) * h)
    nodes, weights = np.polynomial.legendre.leggauss(count)
    left = h * torch.arange(config.cells, dtype=DTYPE)
    theta = left[:, None] + 0.5 * h * (torch.as_tensor(nodes, dtype=DTYPE) + 1)
    return mixture_density(config, theta) @ torch.as_tensor(weights, dtype=DTYPE) / 2


def initial_angles(config: MeanFieldConfig, n: int) -> Tensor:
    """``seeds`` clouds of n i.i.d. angles of rho_0, shape (seeds, n), from the stream (seed, n).

    Drawn on the CPU as von Mises-Fisher samples on S^1 (``dynamics.sphere_mixture``), so the
    clouds are the same on every device."""
    state = np.random.SeedSequence([config.seed, n]).generate_state(2, dtype=np.uint32)
    generator = torch.Generator().manual_seed(int(state[0]) << 31 | int(state[1]) >> 1)
    directions = [[math.cos(mu), math.sin(mu)] for mu in config.centres]
    x = dynamics.sphere_mixture(
        n,
        directions,
        list(config.kappas),
        list(config.weights),
        batch_shape=(config.seeds,),
        generator=generator,
        dtype=DTYPE,
    )
    return angles_of(x)


def on_circle(theta: Tensor) -> Tensor:
    """Tokens (cos theta, sin theta), shape (*theta.shape, 2)."""
    return torch.stack([theta.cos(), theta.sin()], -1)


def angles_of(x: Tensor) -> Tensor:
    """The angle of each token of x (..., 2), in (-pi, pi]."""
    return torch.atan2(x[..., 1], x[..., 0])


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
    """The grid reference, both particle methods, and what the figures draw."""
    config.validate()
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


def run(config: MeanFieldConfig, out_dir: Path) -> dict[str, object]:
    """Simulate, write the figures into ``out_dir``, and return the metrics dict."""
    results = simulate(config)
    figures = make_figures(config, results) if config.figures else {}
    save_figures(figures, out_dir, f"{NAME} figures")
    return {
        "scenario": NAME,
        "parameters": config_to_dict(config),
        "times": results.times.tolist(),
        "reference_slope": REFERENCE_SLOPE,
        "grid": {
            "mass_error": results.grid_mass_error,
            "min_density": results.grid_min_density,
            "seconds": results.grid_seconds,
        },
        **{method: method_metrics(runs) for method, runs in results.runs.items()},
        "pic_vs_exact_w1": {str(n): value for n, value in results.pic_vs_exact.items()},
        "figures": sorted(figures),
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
