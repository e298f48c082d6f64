"""Metastability: at large beta the tokens linger in multi-cluster states for exponentially long.

Geshkovski, Koubbi, Polyanskiy, Rigollet, "Dynamic metastability in the self-attention model", and
Bruno, Pasqualotto, Agazzi, "Emergence of meta-stable clustering in mean-field transformer
models": n tokens uniform on S^{d-1} (the circle by default) follow self-attention

    x_i' = P_{x_i}( sum_j e^{beta <x_i, x_j>} x_j / sum_k e^{beta <x_i, x_k>} )   (SA),

Q = K = V = I. At large beta the uniform state first breaks into a few clusters within a time of
order one, then these clusters merge one pair at a time on far longer times: the cluster count
against log t is a staircase, and so is the interaction energy
E_beta = (1 / (2 beta n^2)) sum_ij e^{beta <x_i, x_j>}, which SA increases. On a plateau the
clusters are points with masses m_c, so E_beta / E_max = sum_c m_c^2 up to the inter-cluster
terms e^{-beta |x_c - x_c'|^2 / 2}, E_max = e^beta / (2 beta).

How many clusters first. Linearising the Vlasov equation (``scenarios.mean_field``) at the uniform
density on the circle, the mode cos(k theta) grows at the rate

    lambda_k = (k^2 / beta) I_k(beta) / I_0(beta)

(SA; USA multiplies every rate by the same constant, as in the linear stability analysis of Bruno,
Pasqualotto, Agazzi). For large beta, I_k(beta) / I_0(beta) ~ e^{-k^2 / (2 beta)}, so the fastest
mode is k* ~ sqrt(2 beta) (``most_unstable_mode`` finds the integer argmax): the first metastable
state has about sqrt(2 beta) clusters, a count c sqrt(beta). Here the count on the first plateau
is fitted against beta (``fit_power_law``, least squares in log-log over the means over seeds):
the exponent should be about 1/2 on the circle. (On S^{d-1} clusters spaced 1/sqrt(beta) apart
suggest a count ~ beta^{(d-1)/2}, a heuristic reported as ``reference_exponent``.)

Plateau, precisely: with the cluster count c(t) at the output times (``dynamics.cluster_count``:
single linkage, cos > 1 - ``cluster_tol``), a plateau is a maximal run of consecutive positive
output times t_a < ... < t_b on which c is constant and t_b >= ``plateau_factor`` * t_a: the
count held over a factor of time. The first plateau is the earliest. The positive output times
are geometric from ``t_min`` to T (plus t = 0), so a factor of time is a fixed number of output
intervals; ``t_min`` of order one skips the initial stretch where the tokens have barely moved and
the count of the uniform cloud is constant only because nothing has happened yet.

Integration: the flow is stiff once clusters form (each cluster contracts at a rate of order one
while the clusters drift at rates ~ e^{-beta delta^2 / 2}), over times up to T = 10^4 and more, so
the default is scipy's LSODA (``method="scipy_solver"``), which switches to implicit BDF steps
where the flow is stiff (as ``scenarios.clustering`` does). All seeds are one batched solve per
beta, from the same clouds for every beta. Figures: ``scenarios.metastability_figures``.
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
from scenarios.clustering import max_decrease
from scenarios.config import config_to_dict
from scenarios.fits import fit_power_law
from scenarios.metastability_figures import make_figures
from scenarios.progress import progress
from scenarios.shared_fields import (
    check_shared_fields,
    device_field,
    figures_field,
    threads_field,
)
from scenarios.style import save_figures
from scenarios.threads import thread_count, torch_threads
from scenarios.validation import (
    check_seed,
    check_solver_settings,
    is_int,
    is_real,
    require,
    require_distinct,
    show,
)

NAME = "metastability"
DTYPE = torch.float64

_STABILITY_NODES = 4096
"""Quadrature nodes on [0, 2 pi) for I_k(beta) / I_0(beta) (periodic trapezoid rule: spectral)."""


@dataclass(frozen=True)
class MetastabilityConfig:
    """Parameters of the metastability scenario; every field can be set with ``--set KEY=VALUE``."""

    n: int = field(default=64, metadata={"help": "tokens per cloud (>= 2)"})
    d: int = field(default=2, metadata={"help": "tokens on S^{d-1}; 2 is the circle (>= 2)"})
    betas: tuple[float, ...] = field(
        default=(4.0, 8.0, 16.0, 32.0, 64.0),
        metadata={"help": "inverse temperatures beta > 0, one batched solve each (distinct)"},
    )
    seeds: int = field(
        default=4, metadata={"help": "independent clouds, one batch per beta (>= 1)"}
    )
    normalization: str = field(
        default="softmax", metadata={"help": "softmax (SA) or uniform (USA)"}
    )
    t_min: float = field(
        default=1.0,
        metadata={"help": "first positive output time; plateaus are sought from there (> 0)"},
    )
    T: float = field(default=1e4, metadata={"help": "final time (> t_min)"})
    num_times: int = field(
        default=121,
        metadata={"help": "output times: 0, then geometric from t_min to T (>= 3)"},
    )
    cluster_tol: float = field(
        default=1e-3,
        metadata={"help": "tokens with cosine above 1 - cluster_tol share a cluster, in (0, 2]"},
    )
    plateau_factor: float = field(
        default=3.0,
        metadata={"help": "a plateau holds the count from t_a to at least factor * t_a (> 1)"},
    )
    method: str = field(
        default="scipy_solver",
        metadata={"help": "integration method (solvers.METHODS); scipy_solver is LSODA"},
    )
    rtol: float = field(default=1e-6, metadata={"help": "relative tolerance (> 0)"})
    atol: float = field(default=1e-8, metadata={"help": "absolute tolerance (> 0)"})
    step_size: float = field(
        default=0.0,
        metadata={"help": "fixed-step methods only: largest step; 0 for one step per interval"},
    )
    seed: int = field(default=0, metadata={"help": "seed of the initial clouds, >= 0"})
    figures: bool = figures_field()
    device: str = device_field()
    threads: int = threads_field("the batched kernel (seeds n^2 d)")

    def validate(self) -> None:
        """Raise ValueError naming the first field with an impossible value."""
        require(is_int(self.n) and 2 <= self.n <= 100_000, "n", self.n, "an integer in [2, 1e5]")
        require(is_int(self.d) and 2 <= self.d <= 1000, "d", self.d, "an integer in [2, 1000]")
        require(
            isinstance(self.betas, tuple)
            and len(self.betas) >= 1
            and all(is_real(beta) and 0 < beta <= 700 for beta in self.betas),
            "betas",
            self.betas,
            "one or more numbers in (0, 700]",
        )
        require_distinct("betas", self.betas)
        require(is_int(self.seeds) and 1 <= self.seeds <= 1000, "seeds", self.seeds, "in [1, 1000]")
        require(
            self.normalization in ("softmax", "uniform"),
            "normalization",
            self.normalization,
            "softmax or uniform",
        )
        require(is_real(self.t_min) and self.t_min > 0, "t_min", self.t_min, "a number > 0")
        require(
            is_real(self.T) and self.t_min < self.T,
            "T",
            self.T,
            f"a finite number > t_min = {show(self.t_min)}",
        )
        require(
            is_int(self.num_times) and 3 <= self.num_times <= 100_000,
            "num_times",
            self.num_times,
            "an integer in [3, 100000]",
        )
        require(
            is_real(self.plateau_factor) and self.plateau_factor > 1,
            "plateau_factor",
            self.plateau_factor,
            "a number > 1",
        )
        check_solver_settings(self.method, self.step_size, self.rtol, self.atol)
        check_seed(self.seed)
        check_shared_fields(self)

    @property
    def work(self) -> int:
        """Entries of the attention kernel of one batched field evaluation: seeds n^2 d."""
        return self.seeds * self.n * self.n * self.d


Config = MetastabilityConfig
"""The scenario's config class (the name every scenario module exports)."""


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


def output_times(config: MetastabilityConfig) -> Tensor:
    """0, then ``num_times - 1`` geometrically spaced times from t_min to T (float64, CPU)."""
    geometric = torch.logspace(
        math.log10(config.t_min), math.log10(config.T), config.num_times - 1, dtype=DTYPE
    )
    return torch.cat([torch.zeros(1, dtype=DTYPE), geometric])


def plateaus(times: np.ndarray, counts: np.ndarray, factor: float) -> list[tuple[int, int]]:
    """Every plateau of the series: maximal runs a..b of consecutive indices with times[a] > 0,
    counts constant on a..b, and times[b] >= factor * times[a]; as (a, b), in time order."""
    found = []
    start = 0
    for index in range(1, len(counts) + 1):
        if index < len(counts) and counts[index] == counts[start]:
            continue
        first = start if times[start] > 0 else start + 1  # the run's positive times
        if first < index and times[index - 1] >= factor * times[first]:
            found.append((first, index - 1))
        start = index
    return found


def first_plateau(times: np.ndarray, counts: np.ndarray, factor: float) -> tuple[int, int] | None:
    """The earliest plateau (``plateaus``), or None if the count never holds a factor of time."""
    found = plateaus(times, counts, factor)
    return found[0] if found else None


def growth_rates(beta: float, modes: np.ndarray) -> np.ndarray:
    """lambda_k = (k^2 / beta) I_k(beta) / I_0(beta) for the modes k (module docstring): the
    growth rate of cos(k theta) at the uniform density on the circle under SA. The Bessel ratio
    is int e^{beta (cos u - 1)} cos(k u) du over int e^{beta (cos u - 1)} du on [0, 2 pi), by the
    periodic trapezoid rule (exact to rounding for beta <= 700 and k <= 500 with 4096 nodes)."""
    u = np.arange(_STABILITY_NODES) * (2 * math.pi / _STABILITY_NODES)
    weight = np.exp(beta * (np.cos(u) - 1))
    modes = np.asarray(modes, dtype=float)
    ratio = (weight * np.cos(np.outer(modes, u))).mean(-1) / weight.mean()
    return modes**2 * ratio / beta


def most_unstable_mode(beta: float) -> int:
    """The integer k >= 1 of largest ``growth_rates`` (about sqrt(2 beta) for large beta)."""
    modes = np.arange(1, int(4 * math.sqrt(beta)) + 8)
    return int(modes[np.argmax(growth_rates(beta, modes))])


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
    if tuple(xs.shape) != (len(times), *x0.shape) or not bool(torch.isfinite(xs).all()):
        raise RuntimeError(
            f"beta={beta:g}: method {config.method!r} returned {tuple(xs.shape)} values, not "
            f"{(len(times), *x0.shape)} finite ones; try another method or a smaller T"
        )
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


def simulate(config: MetastabilityConfig) -> tuple[np.ndarray, list[BetaRun]]:
    """The output times and one run per beta, all from the same clouds."""
    config.validate()
    times = output_times(config)
    x0 = initial_clouds(config)
    runs = []
    with torch_threads(thread_count(config.threads, config.work)):
        bar = progress(config.betas, desc=NAME, total=len(config.betas))
        for beta in bar:
            bar.set_postfix_str(f"beta={beta:g}")
            runs.append(solve_beta(config, beta, x0, times))
    return times.numpy(), runs


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


def run(config: MetastabilityConfig, out_dir: Path) -> dict[str, object]:
    """Simulate, write the figures into ``out_dir``, and return the metrics dict."""
    times, runs = simulate(config)
    entries = [beta_metrics(config, times, result) for result in runs]
    metrics = {
        "scenario": NAME,
        "parameters": config_to_dict(config),
        "times": times.tolist(),
        "reference_exponent": (config.d - 1) / 2,
        "fit": fit_metrics(entries),
        "betas": {f"{entry['beta']:g}": entry for entry in entries},
    }
    figures = make_figures(config, times, runs, metrics) if config.figures else {}
    save_figures(figures, out_dir, f"{NAME} figures")
    return {**metrics, "figures": sorted(figures)}


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
