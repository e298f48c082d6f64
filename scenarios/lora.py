"""LoRA: how a low-rank perturbation of Q, K, V moves self-attention's clustering on the sphere.

The base field is SA on S^{d-1} (``dynamics.SelfAttention``, Q = K = V = I, inverse temperature
``beta``); each perturbed field is ``dynamics.LoRA`` of it with random factors (Hu et al., "LoRA:
Low-rank adaptation of large language models"; Koubbi, Boussard, Hernandez, "The impact of LoRA
on the emergence of clusters in transformers"): Q, K, V -> W + B_W A_W with rank r and relative size

    eps = |B_W A_W|_F / |W|_F   for each of Q, K, V (``LoRA.rescale_``).

For every rank r in ``ranks`` and every initial cloud one direction B A is drawn, and the sizes
``eps`` scale that one direction, so the eps axis moves along a line in weight space. Every
system (base and perturbed, for ``systems`` clouds of n uniform tokens) starts from the same cloud
and all of them are solved by dopri5 in one batch (``WeightFamily``).

Measured, between the base trajectory x(t) and the perturbed one y(t) from the same start:

- the largest token deviation max_i |x_i(t) - y_i(t)| and W2(mu_t, nu_t) between the empirical
  measures (``dynamics.wasserstein2``, exact OT); W2 <= max_i |x_i - y_i| (the identity coupling);
- the time to deviation: the first output time with W2 > ``threshold`` (median over the clouds;
  None when more than half never deviate by T);
- the final cluster structures: ``dynamics.cluster_labels`` at T of both, compared by the
  adjusted Rand index (``dynamics.adjusted_rand_index``; 1 for the same partition);
- the Gronwall bound. With K the sensitivity of the field to its weights and L its Lipschitz
  constant, |x(t) - y(t)| <= (K eps / L) (e^{L t} - 1) (``dynamics.lora``). On the early part
  t in (0, ``fit_time``] the curves R(t) = max_i |x_i - y_i|(t) / eps of every rank, size and cloud
  are fitted together, while the deviation is still below ``threshold`` (its linear part), by
  least squares on log R against log(C (e^{L t} - 1)), which gives L and C; the envelope constant
  C_env = max over those points of R(t) / (e^{L t} - 1) makes the bound hold there, and
  ``metrics.json`` reports whether every measured curve stays under C_env eps (e^{L t} - 1) up
  to T, i.e. whether the early growth rate L bounds the later growth.

Figures are drawn by ``scenarios.lora_figures``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from torch import Tensor, nn
from torch.func import functional_call, vmap

import dynamics
import solvers
from scenarios.config import config_to_dict
from scenarios.lora_figures import make_figures
from scenarios.progress import progress
from scenarios.shared_fields import (
    check_shared_fields,
    cluster_tol_field,
    device_field,
    figures_field,
    threads_field,
)
from scenarios.style import save_figures
from scenarios.threads import thread_count, torch_threads
from scenarios.validation import (
    check_seed,
    is_int,
    is_real,
    require,
    require_distinct,
)

NAME = "lora"
DTYPE = torch.float64


@dataclass(frozen=True)
class LoraConfig:
    """Parameters of the lora scenario; every field can be set with ``--set KEY=VALUE``."""

    n: int = field(default=32, metadata={"help": "tokens per cloud (>= 2)"})
    d: int = field(default=3, metadata={"help": "tokens on S^{d-1} (d >= 2)"})
    beta: float = field(default=4.0, metadata={"help": "inverse temperature of SA (> 0)"})
    systems: int = field(
        default=8, metadata={"help": "independent initial clouds, solved in one batch (>= 1)"}
    )
    ranks: tuple[int, ...] = field(
        default=(1, 2, 3), metadata={"help": "LoRA ranks r (distinct, each in [1, d])"}
    )
    eps: tuple[float, ...] = field(
        default=(1e-4, 1e-3, 1e-2, 3e-2, 1e-1, 3e-1),
        metadata={"help": "relative perturbation sizes |BA|_F / |W|_F (distinct, each in (0, 10])"},
    )
    T: float = field(default=24.0, metadata={"help": "final time (> 0)"})
    num_times: int = field(
        default=121, metadata={"help": "output times on [0, T], W2 at each (in [3, 10000])"}
    )
    threshold: float = field(
        default=0.1,
        metadata={
            "help": "W2 level whose first crossing is the time to deviation; also the largest "
            "deviation in the Gronwall fit (> 0)"
        },
    )
    fit_time: float = field(
        default=3.0,
        metadata={"help": "the Gronwall bound is fitted on t in (0, fit_time] (0 < fit_time < T)"},
    )
    cluster_tol: float = cluster_tol_field()
    seed: int = field(default=0, metadata={"help": "seed of the clouds and LoRA factors, >= 0"})
    rtol: float = field(default=1e-8, metadata={"help": "relative tolerance of dopri5 (> 0)"})
    atol: float = field(default=1e-10, metadata={"help": "absolute tolerance of dopri5 (> 0)"})
    figures: bool = figures_field()
    device: str = device_field()
    threads: int = threads_field("one cloud's kernel (n^2 d)")

    def validate(self) -> None:
        """Raise ValueError naming the first field with an impossible value."""
        require(is_int(self.n) and self.n >= 2, "n", self.n, "an integer >= 2")
        require(is_int(self.d) and self.d >= 2, "d", self.d, "an integer >= 2")
        require(is_real(self.beta) and self.beta > 0, "beta", self.beta, "a number > 0")
        require(is_int(self.systems) and self.systems >= 1, "systems", self.systems, ">= 1")
        require(
            isinstance(self.ranks, tuple)
            and len(self.ranks) >= 1
            and all(is_int(r) and 1 <= r <= self.d for r in self.ranks),
            "ranks",
            self.ranks,
            f"one or more integers in [1, d = {self.d}]",
        )
        require_distinct("ranks", self.ranks)
        require(
            isinstance(self.eps, tuple)
            and len(self.eps) >= 1
            and all(is_real(e) and 0 < e <= 10 for e in self.eps),
            "eps",
            self.eps,
            "one or more numbers in (0, 10]",
        )
        require_distinct("eps", self.eps)
        require(is_real(self.T) and self.T > 0, "T", self.T, "a number > 0")
        require(
            is_int(self.num_times) and 3 <= self.num_times <= 10_000,
            "num_times",
            self.num_times,
            "an integer in [3, 10000]",
        )
        require(
            is_real(self.threshold) and self.threshold > 0,
            "threshold",
            self.threshold,
            "a number > 0",
        )
        require(
            is_real(self.fit_time) and 0 < self.fit_time < self.T,
            "fit_time",
            self.fit_time,
            f"a number in (0, T = {self.T:g})",
        )
        require(
            self.fit_time >= 2 * self.T / (self.num_times - 1),
            "fit_time",
            self.fit_time,
            f"at least two output steps, T / (num_times - 1) = {self.T / (self.num_times - 1):g}",
        )
        check_seed(self.seed)
        check_shared_fields(self)

    @property
    def work(self) -> int:
        """Entries of the largest kernel: one cloud's attention logits times d (``WeightFamily``
        evaluates the clouds one at a time)."""
        return self.n * self.n * self.d


Config = LoraConfig
"""The scenario's config class (the name every scenario module exports)."""


class WeightFamily(nn.Module):
    """One field at many weights, solved as one batch: system (p, s) of a cloud x (P, S, n, d)
    moves by f_{W[p, s]}, the wrapped field with the matrices ``weights[name][p, s]``.

    The systems are mapped over with ``torch.func.vmap`` of ``functional_call``.
    """

    def __init__(self, field_: nn.Module, weights: dict[str, Tensor]) -> None:
        super().__init__()
        self.field = field_
        self.weights = weights

    def forward(self, t: Tensor, x: Tensor) -> Tensor:
        def one(weights: dict[str, Tensor], cloud: Tensor) -> Tensor:
            return functional_call(self.field, weights, (t, cloud))

        with warnings.catch_warnings():
            # torch has no vmap rule for the fused CPU attention kernel and loops over the
            # systems instead (correct, and it says so at every call)
            warnings.filterwarnings("ignore", message="There is a performance drop")
            return vmap(vmap(one))(self.weights, x)


@dataclass(frozen=True)
class Results:
    """Trajectories and measurements; axes: times, ranks, eps, systems."""

    times: np.ndarray
    base: np.ndarray
    """Base trajectories (times, systems, n, d)."""
    perturbed: np.ndarray
    """Perturbed trajectories (times, ranks, eps, systems, n, d)."""
    max_deviation: np.ndarray
    """max_i |x_i(t) - y_i(t)|, shape (times, ranks, eps, systems)."""
    w2: np.ndarray
    """W2(mu_t, nu_t), shape (times, ranks, eps, systems)."""
    crossing: np.ndarray
    """First output time with W2 > threshold, inf if none, shape (ranks, eps, systems)."""
    ari: np.ndarray
    """Adjusted Rand index of the final cluster labels, shape (ranks, eps, systems)."""
    base_clusters: np.ndarray
    """Final cluster count of the base runs, shape (systems,)."""
    perturbed_clusters: np.ndarray
    """Final cluster count of the perturbed runs, shape (ranks, eps, systems)."""

    def time_to_deviation(self) -> np.ndarray:
        """Median over the clouds of the first t with W2 > ``threshold``, shape (ranks, eps);
        inf when more than half of the clouds never cross by T."""
        return np.median(self.crossing, axis=-1)


@dataclass(frozen=True)
class GronwallFit:
    """The bound R(t) <= K (e^{L t} - 1) / L = C (e^{L t} - 1) fitted to the deviation curves
    R(t) = max_i |x_i - y_i|(t) / eps (module docstring); K = C L stays finite as L -> 0."""

    L: float
    K: float
    """The least-squares K on the fit window."""
    K_envelope: float
    """The smallest K for which the bound holds on the fit window."""
    fraction_under: float
    """Fraction of the points (t > 0) of every curve under the envelope."""
    worst_ratio: float
    """max over every curve and time t > 0 of R(t) / (K_envelope (e^{L t} - 1) / L)."""

    def bound(self, t: np.ndarray, *, envelope: bool = True) -> np.ndarray:
        """K (e^{L t} - 1) / L, with K_envelope when ``envelope``."""
        return (self.K_envelope if envelope else self.K) * growth(self.L, t)

    def metrics(self, fit_time: float) -> dict[str, object]:
        """L, C = K / L and C_envelope (None at L = 0), and whether every curve stays under."""
        return {
            "L": self.L,
            "C": self.K / self.L if self.L > 0 else None,
            "C_envelope": self.K_envelope / self.L if self.L > 0 else None,
            "fit_time": fit_time,
            "fraction_under": self.fraction_under,
            "worst_ratio": self.worst_ratio,
            "holds": self.fraction_under == 1.0,
        }


def output_times(config: LoraConfig) -> Tensor:
    """``num_times`` output times on [0, T], float64 on the CPU."""
    return torch.linspace(0.0, config.T, config.num_times, dtype=DTYPE)


def base_field(config: LoraConfig) -> dynamics.SelfAttention:
    """SA on S^{d-1} with Q = K = V = I."""
    return dynamics.SelfAttention(config.d, beta=config.beta)


def initial_clouds(config: LoraConfig, generator: torch.Generator) -> Tensor:
    """``systems`` clouds of n tokens uniform on S^{d-1}, shape (systems, n, d)."""
    return dynamics.uniform_sphere(
        config.n, config.d, batch_shape=(config.systems,), generator=generator, dtype=DTYPE
    ).to(config.device)


def perturbed_weights(
    config: LoraConfig, eps: tuple[float, ...], generator: torch.Generator
) -> dict[str, Tensor]:
    """W + B A for every rank, size and cloud: matrices (ranks, len(eps), systems, d, d) by name.

    One direction B A per rank and cloud (``LoRA(init="random")``, drawn rank by rank, cloud by
    cloud), scaled to each relative size in ``eps``: W + size U with U = B A at relative size 1
    (``LoRA.rescale_``), so a size of 0 gives W exactly.
    """
    shape = (len(config.ranks), len(eps), config.systems, config.d, config.d)
    weights = {name: torch.empty(shape, dtype=DTYPE) for name in dynamics.LORA_TARGETS}
    field_ = base_field(config)
    with torch.no_grad():
        for i, rank in enumerate(config.ranks):
            for system in range(config.systems):
                lora = dynamics.LoRA(
                    field_, rank=rank, init="random", generator=generator, dtype=DTYPE
                ).rescale_(1.0)
                for name in lora.targets:
                    unit = lora.delta(name)
                    for j, size in enumerate(eps):
                        weights[name][i, j, system] = lora.base_weight(name) + size * unit
    return {name: w.to(config.device) for name, w in weights.items()}


def solve(config: LoraConfig, eps: tuple[float, ...]) -> tuple[Tensor, Tensor]:
    """The base and perturbed trajectories from the same clouds, one dopri5 solve.

    Returns (base, perturbed): (times, systems, n, d) and (times, ranks, len(eps), systems, n, d).
    """
    generator = torch.Generator().manual_seed(config.seed)
    x0 = initial_clouds(config, generator)
    weights = perturbed_weights(config, eps, generator)
    identity = torch.eye(config.d, dtype=DTYPE, device=config.device)
    family = len(config.ranks) * len(eps)
    stacked = {  # row 0: the base field (W = I), then every (rank, eps)
        name: torch.cat([identity.expand(1, config.systems, -1, -1), w.flatten(0, 1)])
        for name, w in weights.items()
    }
    field_ = WeightFamily(base_field(config).to(config.device), stacked)
    start = x0.expand(1 + family, *x0.shape)
    times = output_times(config).to(config.device)
    with torch.no_grad():
        xs = solvers.integrate(field_, start, times, rtol=config.rtol, atol=config.atol)
    perturbed = xs[:, 1:].reshape(len(times), len(config.ranks), len(eps), *x0.shape)
    return xs[:, 0], perturbed


def max_deviation(base: Tensor, perturbed: Tensor) -> Tensor:
    """max_i |x_i - y_i| with the base broadcast over ranks and sizes: (times, ranks, eps, S)."""
    return torch.linalg.vector_norm(perturbed - base[:, None, None], dim=-1).amax(-1)


def wasserstein_curves(base: Tensor, perturbed: Tensor) -> np.ndarray:
    """W2 between the base and perturbed clouds at every time, shape (times, ranks, eps, S)."""
    out = np.zeros(perturbed.shape[:-2])
    for index in progress(np.ndindex(out.shape), desc=f"{NAME} W2", total=out.size):
        time, *_, system = index
        out[index] = dynamics.wasserstein2(base[time, system], perturbed[index]).item()
    return out


def simulate(config: LoraConfig) -> Results:
    """Solve every system and measure the deviations and final clusters."""
    config.validate()
    with torch_threads(thread_count(config.threads, config.work)):
        base, perturbed = solve(config, config.eps)
        base_labels = dynamics.cluster_labels(base[-1], config.cluster_tol)
        labels = dynamics.cluster_labels(perturbed[-1], config.cluster_tol)
        times = output_times(config).numpy()
        w2 = wasserstein_curves(base.cpu(), perturbed.cpu())
        return Results(
            times=times,
            base=base.cpu().numpy(),
            perturbed=perturbed.cpu().numpy(),
            max_deviation=max_deviation(base, perturbed).cpu().numpy(),
            w2=w2,
            crossing=first_crossing(w2, times, config.threshold),
            ari=dynamics.adjusted_rand_index(base_labels.expand_as(labels), labels).cpu().numpy(),
            base_clusters=dynamics.cluster_count(base[-1], config.cluster_tol).cpu().numpy(),
            perturbed_clusters=dynamics.cluster_count(perturbed[-1], config.cluster_tol)
            .cpu()
            .numpy(),
        )


def growth(L: float, t: np.ndarray) -> np.ndarray:
    """(e^{L t} - 1) / L, which is t at L = 0 (``expm1`` keeps it exact for small L t)."""
    return np.expm1(L * t) / L if L > 0 else np.asarray(t, dtype=float)


def fit_gronwall(config: LoraConfig, results: Results) -> GronwallFit:
    """Fit R(t) = max_i |x_i - y_i|(t) / eps by K (e^{L t} - 1) / L, K = C L, on the early,
    linear part of the curves: the points with 0 < t <= fit_time and max_i |x_i - y_i| <=
    ``threshold`` (beyond it the bounded sphere, not the dynamics, caps the deviation).

    For each L the best log K is the mean of log R - log growth(L, t); L >= 0 minimises the
    remaining squared residual (bounded scalar search). The envelope takes the largest
    R / growth over those points instead of the mean; ``fraction_under`` counts every curve's
    points with t > 0 under that envelope, up to a relative 1e-9.
    """
    eps = np.asarray(config.eps)[None, None, :, None]
    ratio = results.max_deviation / eps  # (times, ranks, eps, systems)
    times = results.times
    early = ((times > 0) & (times <= config.fit_time))[:, None, None, None]
    linear = (results.max_deviation <= config.threshold) & (ratio > 0)
    points = np.nonzero(early & linear)
    if len(points[0]) < 2:
        raise ValueError(
            f"no deviation curve stays below threshold={config.threshold:g} on t <= fit_time="
            f"{config.fit_time:g}, so the Gronwall bound has nothing to fit; add a smaller eps or "
            "raise threshold"
        )
    t_fit, log_r = times[points[0]], np.log(ratio[points])

    def residual(L: float) -> float:
        gap = log_r - np.log(growth(L, t_fit))
        return float(((gap - gap.mean()) ** 2).sum())

    L = float(minimize_scalar(residual, bounds=(0.0, 50.0 / config.fit_time), method="bounded").x)
    log_k = log_r - np.log(growth(L, t_fit))
    K, K_envelope = float(np.exp(log_k.mean())), float(np.exp(log_k.max()))
    later = times > 0
    scaled = ratio[later] / (K_envelope * growth(L, times[later]))[:, None, None, None]
    return GronwallFit(
        L=L,
        K=K,
        K_envelope=K_envelope,
        fraction_under=float((scaled <= 1 + 1e-9).mean()),
        worst_ratio=float(scaled.max()),
    )


def first_crossing(curves: np.ndarray, times: np.ndarray, level: float) -> np.ndarray:
    """First time each curve (times, ...) exceeds ``level``; inf where it never does."""
    above = curves > level
    first = np.argmax(above, axis=0)
    return np.where(above.any(axis=0), times[first], np.inf)


def eps_slopes(config: LoraConfig, results: Results) -> dict[str, float | None]:
    """Per rank, the slope of log max_i |x_i - y_i| against log eps at t = fit_time between the
    two smallest sizes (median over the clouds): 1 where the deviation is linear in eps."""
    if len(config.eps) < 2:
        return {}
    at = int(np.searchsorted(results.times, config.fit_time, side="right")) - 1
    order = np.argsort(config.eps)[:2]
    small = np.asarray(config.eps)[order]
    deviation = np.median(results.max_deviation[at][:, order], axis=-1)  # (ranks, 2)
    slopes = np.log(deviation[:, 1] / deviation[:, 0]) / math.log(small[1] / small[0])
    return {str(rank): float(slope) for rank, slope in zip(config.ranks, slopes, strict=True)}


def by_rank_and_eps(config: LoraConfig, values: np.ndarray) -> dict[str, dict[str, float | None]]:
    """A (ranks, eps) array as {rank: {eps: value}}, non-finite values as None."""
    return {
        str(rank): {
            f"{size:g}": float(value) if math.isfinite(value) else None
            for size, value in zip(config.eps, row, strict=True)
        }
        for rank, row in zip(config.ranks, values, strict=True)
    }


def scenario_metrics(config: LoraConfig, results: Results, fit: GronwallFit) -> dict[str, object]:
    """Everything ``metrics.json`` reports besides the parameters and figures."""
    return {
        "gronwall": fit.metrics(config.fit_time),
        "eps_slope_at_fit_time": eps_slopes(config, results),
        "time_to_deviation": by_rank_and_eps(config, results.time_to_deviation()),
        "never_deviated": by_rank_and_eps(config, np.isinf(results.crossing).sum(-1)),
        "final_max_deviation": by_rank_and_eps(
            config, np.median(results.max_deviation[-1], axis=-1)
        ),
        "final_w2": by_rank_and_eps(config, np.median(results.w2[-1], axis=-1)),
        "ari": by_rank_and_eps(config, results.ari.mean(-1)),
        "final_cluster_count": {
            "base": float(results.base_clusters.mean()),
            "perturbed": by_rank_and_eps(config, results.perturbed_clusters.mean(-1)),
        },
    }


def run(config: LoraConfig, out_dir: Path) -> dict[str, object]:
    """Simulate, write the figures into ``out_dir``, and return the metrics dict."""
    results = simulate(config)
    fit = fit_gronwall(config, results)
    figures = make_figures(config, results, fit) if config.figures else {}
    save_figures(figures, out_dir, f"{NAME} figures")
    return {
        "scenario": NAME,
        "parameters": config_to_dict(config),
        **scenario_metrics(config, results, fit),
        "figures": sorted(figures),
    }


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """The fitted Gronwall rate and, per rank, the time to deviation and ARI at each size."""
    fit = metrics["gronwall"]
    lines = [
        f"Gronwall fit on t <= {fit['fit_time']:g}: L = {fit['L']:.3g}, C = {fit['C']:.3g}; "
        f"curves under the envelope: {100 * fit['fraction_under']:.1f}%"
    ]
    for rank, times in metrics["time_to_deviation"].items():
        ari = metrics["ari"][rank]
        cells = ", ".join(
            f"eps {size}: t {'> T' if time is None else f'{time:.3g}'}, ARI {ari[size]:.2f}"
            for size, time in times.items()
        )
        lines.append(f"rank {rank}: {cells}")
    return lines
