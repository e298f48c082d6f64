"""Acceleration: attention flows against their heavy-ball and Nesterov momentum versions.

Two problems, each started from one initial cloud shared by every variant:

- ``sphere``: self-attention clustering on S^{d-1} (``systems`` independent clouds of n tokens,
  uniform on the sphere, solved as one batch). Progress is the relative energy gap
  1 - E_beta / E_max (``dynamics.relative_energy_gap``), 1 far from consensus and 0 at it,
  averaged over the systems and divided by its initial value.
- ``linear``: linear attention x' = -M x, M = (1/n) sum_j x_j x_j^T (Q = K = I, V = -I), on n
  Gaussian tokens in R^d. It is gradient descent of E(X) = (1/4) tr(M^2) =
  (1/4n^2) sum_ij <x_i, x_j>^2 (x_i' = -n grad_i E), a degenerate (quartic) minimum at 0: the
  regime where momentum is expected to help. Progress is E(t) / E(0). Its moments solve the
  exact moment ODE (``dynamics.LinearAttentionMoments``, ``AcceleratedLinearAttentionMoments``),
  checked against the particles.

Variants: the plain first-order flow x' = F(x), and the momentum flows x' = v,
v' = -gamma(t) v + F(x) of ``dynamics.Accelerated`` from rest, with heavy-ball friction (constant
``gamma``) and Nesterov friction r / (t + t0) (Su, Boyd, Candes, "A differential equation for
modeling Nesterov's accelerated gradient method"; Stein, Li, Steidl, "SympFormer: accelerated
attention blocks via inertial dynamics on density manifolds"). Two axes:

- time: each continuous flow solved by dopri5 on [0, T];
- field evaluations (the paper's "same number of oracle calls"): discrete layers of one field
  evaluation each: plain layers (post-LayerNorm ``projected_euler`` on the sphere, ``euler`` in
  R^d) and the momentum layers ``leapfrog`` and ``nesterov_layer`` (geodesic on the sphere), each
  run for ``max_evaluations`` evaluations at every step size in ``steps``. A variant's cost is its
  fewest evaluations to bring the gap below ``target`` over those step sizes (each variant at its
  own best step: a fair comparison of tuned methods); a run whose values stop being finite
  diverged at that step.

``metrics.json`` gives, per problem, each flow's time to ``target`` and final gap, each layer
variant's evaluations to ``target`` at every step, its best step and its speed-up over the plain
layers; for the sphere the mean final cluster count; for the linear problem the moment checks.
Figures are drawn by ``scenarios.acceleration_figures``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

import dynamics
import solvers
from scenarios.acceleration_figures import make_figures
from scenarios.config import config_to_dict
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
    require_int_in,
    require_positive,
    require_steps,
)

NAME = "acceleration"
DTYPE = torch.float64

FLOWS = ("plain", "heavy_ball", "nesterov")
"""Continuous flows: the first-order field and its two momentum versions."""

LAYERS: dict[str, tuple[str, str]] = {
    "plain": ("plain", ""),
    "heavy_ball/leapfrog": ("heavy_ball", "leapfrog"),
    "heavy_ball/nesterov_layer": ("heavy_ball", "nesterov_layer"),
    "nesterov/leapfrog": ("nesterov", "leapfrog"),
    "nesterov/nesterov_layer": ("nesterov", "nesterov_layer"),
}
"""Discrete layers: name -> (dynamics, stepping method; "" for the problem's plain layer)."""

PLAIN_LAYER = {"sphere": "projected_euler", "linear": "euler"}
"""One plain layer per problem: the post-LayerNorm residual layer on the sphere, Euler in R^d."""


@dataclass(frozen=True)
class AccelerationConfig:
    """Parameters of the acceleration scenario; every field can be set with ``--set KEY=VALUE``."""

    n: int = field(default=32, metadata={"help": "sphere problem: tokens per cloud (>= 2)"})
    d: int = field(default=3, metadata={"help": "sphere problem: tokens on S^{d-1} (d >= 2)"})
    systems: int = field(
        default=16, metadata={"help": "sphere problem: independent clouds, one batch (>= 1)"}
    )
    beta: float = field(default=1.0, metadata={"help": "sphere problem: inverse temperature (> 0)"})
    normalization: str = field(
        default="softmax", metadata={"help": "sphere problem: softmax (SA) or uniform (USA)"}
    )
    linear_n: int = field(default=2000, metadata={"help": "linear problem: Gaussian tokens (>= 2)"})
    linear_d: int = field(default=2, metadata={"help": "linear problem: dimension (>= 1)"})
    gamma: float = field(default=1.0, metadata={"help": "heavy-ball friction (> 0)"})
    r: float = field(default=3.0, metadata={"help": "Nesterov friction r / (t + t0): r (> 0)"})
    t0: float = field(default=1.0, metadata={"help": "Nesterov friction r / (t + t0): t0 (> 0)"})
    T: float = field(default=40.0, metadata={"help": "final time of the flows (> 0)"})
    num_times: int = field(
        default=401, metadata={"help": "output times of the flows on [0, T] (>= 2)"}
    )
    steps: tuple[float, ...] = field(
        default=(0.25, 0.5, 1.0, 2.0, 4.0),
        metadata={"help": "step sizes h of the discrete layers (each > 0)"},
    )
    max_evaluations: int = field(
        default=400, metadata={"help": "field evaluations given to every layer run (>= 1)"}
    )
    target: float = field(
        default=1e-3, metadata={"help": "relative gap whose first crossing is reported, in (0, 1)"}
    )
    cluster_tol: float = cluster_tol_field()
    seed: int = field(default=0, metadata={"help": "seed of both initial clouds, >= 0"})
    rtol: float = field(default=1e-8, metadata={"help": "relative tolerance of dopri5 (> 0)"})
    atol: float = field(default=1e-10, metadata={"help": "absolute tolerance of dopri5 (> 0)"})
    figures: bool = figures_field()
    device: str = device_field()
    threads: int = threads_field("the largest kernel (systems n^2 d, or linear_n linear_d^2)")

    def validate(self) -> None:
        """Raise ValueError naming the first field with an impossible value."""
        require(is_int(self.n) and self.n >= 2, "n", self.n, "an integer >= 2")
        require(is_int(self.d) and self.d >= 2, "d", self.d, "an integer >= 2")
        require(is_int(self.systems) and self.systems >= 1, "systems", self.systems, ">= 1")
        require(is_real(self.beta) and self.beta > 0, "beta", self.beta, "a number > 0")
        require(
            self.normalization in ("softmax", "uniform"),
            "normalization",
            self.normalization,
            "softmax or uniform",
        )
        require(is_int(self.linear_n) and self.linear_n >= 2, "linear_n", self.linear_n, ">= 2")
        require(is_int(self.linear_d) and self.linear_d >= 1, "linear_d", self.linear_d, ">= 1")
        require_positive(self, "gamma", "r", "t0", "T")
        require_int_in("num_times", self.num_times, 2, 100_000)
        require_steps("steps", self.steps)
        require_int_in("max_evaluations", self.max_evaluations, 1, 100_000)
        require(is_real(self.target) and 0 < self.target < 1, "target", self.target, "in (0, 1)")
        check_seed(self.seed)
        check_shared_fields(self)

    @property
    def work(self) -> int:
        """Entries of the largest kernel: the sphere's attention logits or the linear moments."""
        return max(self.systems * self.n * self.n * self.d, self.linear_n * self.linear_d**2)


Config = AccelerationConfig
"""The scenario's config class (the name every scenario module exports)."""


@dataclass(frozen=True)
class Curve:
    """A relative-gap curve: ``axis`` holds times (flows) or field evaluations (layers); a
    diverged run has NaN gaps from where its values stopped being finite."""

    axis: np.ndarray
    gap: np.ndarray

    def first_below(self, target: float) -> float | None:
        below = np.flatnonzero(self.gap < target)
        return self.axis[below[0]].item() if below.size else None

    @property
    def diverged(self) -> bool:
        return bool(np.isnan(self.gap).any())

    def metrics(self, target: float) -> dict[str, object]:
        return {
            "final_gap": None if self.diverged else float(self.gap[-1]),
            "first_below_target": self.first_below(target),
            "diverged": self.diverged,
        }


@dataclass(frozen=True)
class Problem:
    """One problem: its first-order field, initial cloud and progress measure."""

    name: str
    field: nn.Module
    x0: Tensor
    gap: Callable[[Tensor], Tensor]
    """Trajectory (times, *x0.shape) -> relative gap per time, shape (times,), NaN if not finite."""


@dataclass(frozen=True)
class Results:
    """Every curve of one problem, and its extra observables."""

    flows: dict[str, Curve]
    layers: dict[str, dict[float, Curve]]
    best_steps: dict[str, float]
    extras: dict[str, object]


def momentum(config: AccelerationConfig, base: nn.Module, kind: str) -> dynamics.Accelerated:
    """``Accelerated(base)`` with heavy-ball or Nesterov friction from the config."""
    return dynamics.Accelerated(base, damping=kind, gamma=config.gamma, r=config.r, t0=config.t0)


def relative_to_start(gaps: Tensor) -> Tensor:
    """Per-system gaps (times, ...) -> their mean over systems over its initial value, with NaN
    from the first non-finite time on."""
    gaps = gaps.reshape(gaps.shape[0], -1)
    curve = gaps.mean(-1) / gaps[0].mean()
    broken = torch.cumsum((~torch.isfinite(curve)).long(), 0) > 0
    return torch.where(broken, torch.full_like(curve, math.nan), curve)


def sphere_problem(config: AccelerationConfig) -> Problem:
    """``systems`` clouds of n tokens uniform on S^{d-1}, self-attention at ``beta``."""
    generator = torch.Generator().manual_seed(config.seed)
    x0 = dynamics.uniform_sphere(
        config.n, config.d, batch_shape=(config.systems,), generator=generator, dtype=DTYPE
    ).to(config.device)
    base = dynamics.SelfAttention(config.d, beta=config.beta, normalization=config.normalization)

    def gap(xs: Tensor) -> Tensor:
        return relative_to_start(dynamics.relative_energy_gap(xs, config.beta))

    return Problem("sphere", base.to(config.device), x0, gap)


def linear_initial_law(config: AccelerationConfig) -> tuple[Tensor, Tensor]:
    """Mean m0 and covariance S0 = L L^T of the Gaussian tokens (drawn from ``seed`` + 1):
    L = diag(1 .. 1/2) + a strictly lower part with N(0, 1/4) entries, m0 ~ N(0, I/4)."""
    generator = torch.Generator().manual_seed(config.seed + 1)
    d = config.linear_d
    lower = 0.5 * torch.randn(d, d, generator=generator, dtype=DTYPE).tril(-1)
    factor = torch.diag(torch.linspace(1.0, 0.5, d, dtype=DTYPE)) + lower
    mean = 0.5 * torch.randn(d, generator=generator, dtype=DTYPE)
    return mean, factor @ factor.T


def linear_problem(config: AccelerationConfig) -> Problem:
    """n tokens ~ N(m0, S0) in R^d under x' = -M x (linear attention with V = -I)."""
    mean, covariance = linear_initial_law(config)
    generator = torch.Generator().manual_seed(config.seed + 2)
    z = torch.randn(config.linear_n, config.linear_d, generator=generator, dtype=DTYPE)
    x0 = (mean + z @ torch.linalg.cholesky(covariance).T).to(config.device)
    base = dynamics.LinearAttention(config.linear_d, value=-torch.eye(config.linear_d, dtype=DTYPE))

    def gap(xs: Tensor) -> Tensor:
        return relative_to_start(quartic_energy(dynamics.second_moment(xs)))

    return Problem("linear", base.to(config.device), x0, gap)


def quartic_energy(second_moment: Tensor) -> Tensor:
    """E = (1/4) tr(M^2) for second moments M of shape (..., d, d)."""
    return 0.25 * (second_moment * second_moment.transpose(-1, -2)).sum((-1, -2))


def positions(field_: nn.Module, x0: Tensor, times: Tensor, method: str, config) -> Tensor:
    """Token positions at ``times``; momentum fields start at rest (v = 0)."""
    state = (x0, torch.zeros_like(x0)) if isinstance(field_, dynamics.Accelerated) else x0
    options = {"rtol": config.rtol, "atol": config.atol} if method == "dopri5" else {}
    with torch.no_grad():
        xs = solvers.integrate(field_, state, times, method=method, **options)
    return xs[0] if isinstance(xs, tuple) else xs


def variant_field(config: AccelerationConfig, problem: Problem, kind: str) -> nn.Module:
    """The plain field, or its heavy-ball / Nesterov momentum version."""
    return problem.field if kind == "plain" else momentum(config, problem.field, kind)


def flow_times(config: AccelerationConfig) -> Tensor:
    """The flows' ``num_times`` output times on [0, T], float64 on the CPU."""
    return torch.linspace(0.0, config.T, config.num_times, dtype=DTYPE)


def layer_curve(config: AccelerationConfig, problem: Problem, name: str, step: float) -> Curve:
    """Relative gap after 0..max_evaluations field evaluations of the layer stack ``name``."""
    kind, method = LAYERS[name]
    method = method or PLAIN_LAYER[problem.name]
    per_step = solvers.METHODS[method].evaluations
    layers = config.max_evaluations // per_step
    depths = torch.arange(layers + 1, dtype=DTYPE)
    times = (depths * step).to(config.device)
    xs = positions(variant_field(config, problem, kind), problem.x0, times, method, config)
    return Curve((depths * per_step).numpy(), problem.gap(xs).cpu().numpy())


def solve_problem(config: AccelerationConfig, problem: Problem) -> Results:
    """Every flow and every layer stack of one problem."""
    times = flow_times(config)
    trajectories, flows = {}, {}
    for kind in FLOWS:
        xs = positions(
            variant_field(config, problem, kind),
            problem.x0,
            times.to(config.device),
            "dopri5",
            config,
        )
        trajectories[kind] = xs
        flows[kind] = Curve(times.numpy(), problem.gap(xs).cpu().numpy())
    jobs = [(name, step) for name in LAYERS for step in config.steps]
    layers: dict[str, dict[float, Curve]] = {name: {} for name in LAYERS}
    for name, step in progress(jobs, desc=f"{NAME}: {problem.name} layers", total=len(jobs)):
        layers[name][float(step)] = layer_curve(config, problem, name, float(step))
    if problem.name == "sphere":
        extras = {"cluster_counts": sphere_cluster_counts(config, trajectories)}
    else:
        extras = moment_checks(config, problem, trajectories)
    best = {name: best_step(by_step, config.target) for name, by_step in layers.items()}
    return Results(flows, layers, best, extras)


def best_step(by_step: dict[float, Curve], target: float) -> float:
    """The step whose run reaches ``target`` in the fewest evaluations; if none reaches it, the
    one with the smallest final gap (a diverged run counts as an infinite gap)."""

    def cost(step: float) -> tuple[float, float]:
        curve = by_step[step]
        first = curve.first_below(target)
        return (math.inf if first is None else first, np.nan_to_num(curve.gap[-1], nan=math.inf))

    return min(by_step, key=cost)


def sphere_cluster_counts(config: AccelerationConfig, trajectories: dict) -> dict[str, np.ndarray]:
    """Mean cluster count over the systems at each output time, per flow."""
    return {
        kind: dynamics.cluster_count(xs, config.cluster_tol).double().mean(-1).cpu().numpy()
        for kind, xs in trajectories.items()
    }


def moment_trajectory(
    config: AccelerationConfig, problem: Problem, kind: str, mean: Tensor, moment: Tensor
) -> tuple[Tensor, Tensor]:
    """Mean and second moment at the output times by the exact moment ODE of flow ``kind``."""
    mean, moment = mean.to(config.device), moment.to(config.device)
    times = flow_times(config).to(config.device)
    options = {"rtol": config.rtol, "atol": config.atol}
    with torch.no_grad():
        if kind == "plain":
            field_ = dynamics.LinearAttentionMoments(problem.field)
            return solvers.integrate(field_, (mean, moment), times, **options)
        field_ = dynamics.AcceleratedLinearAttentionMoments(momentum(config, problem.field, kind))
        zero = torch.zeros_like(moment)
        state = (mean, torch.zeros_like(mean), moment, zero, zero)
        solved = solvers.integrate(field_, state, times, **options)
    return solved[0], solved[2]


def covariance(mean: Tensor, moment: Tensor) -> Tensor:
    """S = M - m m^T."""
    return moment - mean[..., :, None] * mean[..., None, :]


def moment_checks(config: AccelerationConfig, problem: Problem, trajectories: dict) -> dict:
    """Particle moments against the moment ODE, from the law's moments and from the sample's.

    - ``population_deviation``: largest |particle - ODE| entry of the mean and covariance over
      the output times, the ODE started from (m0, S0): sampling error, compared with
      ``sampling_bound`` = 4 / sqrt(n).
    - ``empirical_deviation``: the same with the ODE started from the sample's own moments; the
      ODE is exact for the empirical measure, so only the solver tolerance remains.
    - ``linear_map_residual``: largest relative residual, over the output times, of the
      least-squares fit x_i(t) = Phi x_i(0): the flow map is linear, so the cloud stays a linear
      image of its start and a Gaussian stays Gaussian (any elliptical law stays elliptical).
    """
    law_mean, law_covariance = linear_initial_law(config)
    law_moment = law_covariance + torch.outer(law_mean, law_mean)
    x0 = problem.x0
    sample = (x0.mean(-2), dynamics.second_moment(x0))
    checks: dict[str, object] = {"sampling_bound": 4 / math.sqrt(config.linear_n)}
    series = {}
    for kind, xs in trajectories.items():
        particle_mean = xs.mean(-2)
        particle_cov = covariance(particle_mean, dynamics.second_moment(xs))
        law_m, law_M = moment_trajectory(config, problem, kind, law_mean, law_moment)
        law_cov = covariance(law_m, law_M)
        emp_m, emp_M = moment_trajectory(config, problem, kind, *sample)
        checks[kind] = {
            "population_deviation": max(
                float((particle_mean - law_m).abs().max()),
                float((particle_cov - law_cov).abs().max()),
            ),
            "empirical_deviation": max(
                float((particle_mean - emp_m).abs().max()),
                float((particle_cov - covariance(emp_m, emp_M)).abs().max()),
            ),
            "linear_map_residual": linear_map_residual(x0, xs),
        }
        series[kind] = (particle_cov.cpu().numpy(), law_cov.cpu().numpy())
    return {"moments": checks, "covariance_series": series}


def linear_map_residual(x0: Tensor, xs: Tensor) -> float:
    """max over times of |x0 Phi^T - x(t)| / |x(t)| for the least-squares Phi (Frobenius)."""
    phi = torch.linalg.lstsq(x0.expand(len(xs), -1, -1), xs).solution
    residual = torch.linalg.matrix_norm(x0 @ phi - xs) / torch.linalg.matrix_norm(xs)
    return float(residual.max())


def simulate(config: AccelerationConfig) -> dict[str, Results]:
    """Solve both problems."""
    config.validate()
    with torch_threads(thread_count(config.threads, config.work)):
        return {
            problem.name: solve_problem(config, problem)
            for problem in (sphere_problem(config), linear_problem(config))
        }


def layer_metrics(config: AccelerationConfig, results: Results) -> dict[str, object]:
    """Per layer variant: the metrics at every step, the best step and the speed-up over plain."""
    out = {}
    for name, by_step in results.layers.items():
        step = results.best_steps[name]
        cost = by_step[step].first_below(config.target)
        out[name] = {
            "by_step": {f"{h:g}": curve.metrics(config.target) for h, curve in by_step.items()},
            "best_step": None if cost is None else step,
            "best_evaluations_to_target": cost,
        }
    plain = out["plain"]["best_evaluations_to_target"]
    for entry in out.values():
        cost = entry["best_evaluations_to_target"]
        entry["speedup_over_plain"] = None if (plain is None or cost is None) else plain / cost
    return out


def problem_metrics(config: AccelerationConfig, results: Results) -> dict[str, object]:
    """The metrics of one problem."""
    flows = {}
    for kind, curve in results.flows.items():
        entry = curve.metrics(config.target)
        entry["time_to_target"] = entry.pop("first_below_target")
        if "cluster_counts" in results.extras:
            entry["final_mean_cluster_count"] = float(results.extras["cluster_counts"][kind][-1])
        flows[kind] = entry
    metrics: dict[str, object] = {"flows": flows, "layers": layer_metrics(config, results)}
    if "moments" in results.extras:
        metrics["moments"] = results.extras["moments"]
    return metrics


def run(config: AccelerationConfig, out_dir: Path) -> dict[str, object]:
    """Simulate, write the figures into ``out_dir``, and return the metrics dict."""
    results = simulate(config)
    figures = make_figures(config, results) if config.figures else {}
    save_figures(figures, out_dir, f"{NAME} figures")
    return {
        "scenario": NAME,
        "parameters": config_to_dict(config),
        **{name: problem_metrics(config, result) for name, result in results.items()},
        "figures": sorted(figures),
    }


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """Per problem and variant: time to target (flows), best evaluations to target (layers)."""
    target = metrics["parameters"]["target"]
    lines = []
    for problem in ("sphere", "linear"):
        for kind, entry in metrics[problem]["flows"].items():
            time = entry["time_to_target"]
            lines.append(
                f"{problem}/flow/{kind:<28} t to gap {target:g}: "
                f"{'never' if time is None else f'{time:g}'}"
            )
        for name, entry in metrics[problem]["layers"].items():
            cost, step = entry["best_evaluations_to_target"], entry["best_step"]
            found = "never" if cost is None else f"{cost:g} evaluations (h = {step:g})"
            lines.append(f"{problem}/layers/{name:<26} to gap {target:g}: {found}")
    return lines
