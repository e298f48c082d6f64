"""SympFormer: Hamiltonian attention against the plain, heavy-ball and Nesterov attention flows.

Stein, Li, Steidl, "SympFormer: accelerated attention blocks via inertial dynamics on density
manifolds" claims that its accelerated (Hamiltonian) attention blocks converge faster than plain
attention at the same number of oracle calls. This scenario measures that claim on the
attention potential, from one start shared by every variant.

Start. ``systems`` independent clouds of n tokens in R^d, x_i ~ N(0, scale^2 I) (seeded), solved
as one batch; momenta and velocities start at rest (p = v = 0). R^d, not the sphere, because
``dynamics.HamiltonianAttention`` is a Euclidean field (its flow leaves any sphere).

The fields. Q = K = I, B = V = I (the kinetic metric of ``HamiltonianAttention``), logits
S_ij = <x_i, x_j> / sqrt(d), E_ij = exp(S_ij), z_i = (1/n) sum_j E_ij, P_ij = E_ij / (n z_i), and
the potential (the potential part of H)

    U(X) = -(1/(2n)) sum_ij E_ij = -(1/2) sum_i z_i.

- Hamiltonian attention: H(X, P) = sum_i p_i^T B p_i / (2 z_i) + U(X), x' = dH/dp,
  p' = -dH/dx - alpha(t) p, alpha(t) = c_log / t (c_log = 3: Nesterov's 3/t), started at t = t0.
- plain: the overdamped limit of that system (the "attention flow" of the ``HamiltonianAttention``
  docstring): dropping p', p = -grad U / alpha, x_i' = B p_i / z_i, and rescaling time by alpha,

      x_i' = -B grad_{x_i} U / z_i = (1/sqrt(d)) B sum_j P_ij x_j,

  (the last form since E is symmetric for Q = K): softmax self-attention in R^d with
  beta = 1/sqrt(d) and V = B / sqrt(d), ``dynamics.SelfAttention(manifold="euclidean")``. It
  decreases U: dU/dt = -sum_i |grad_i U|_B^2 / z_i <= 0.
- heavy ball and Nesterov: ``dynamics.Accelerated`` of the plain field F, x' = v,
  v' = -gamma(t) v + F(x), gamma = ``gamma`` or r / (t + t0) (Su, Boyd, Candes, "A differential
  equation for modeling Nesterov's accelerated gradient method"). With r = c_log and the
  Hamiltonian run started at t0, Nesterov's friction r / (s + t0) at elapsed time s equals the
  Hamiltonian's c_log / t: the two differ only by the position-dependent mass z_i.

Energy and fairness. U is the one quantity every variant decreases (the plain flow exactly, the
momentum flows on average), it is what the paper's energy descent is about, and it is evaluated
on positions only, so it does not favour a variant by its kinetic part. In R^d U is unbounded
below (tokens drift outward and E_ij grows), so there is no minimum to converge to; progress is
the relative potential

    gap(t) = mean over systems of U(0) / U(t)   (1 at the start, -> 0 as U -> -infinity),

computed in the log domain (log sum_ij E_ij), and "faster" means reaching gap <= ``target`` in
fewer field evaluations. H itself (kinetic + U) is the Lyapunov function of the damped
Hamiltonian flow only: dH/dt = -alpha(t) sum_i p_i^T B p_i / z_i <= 0.

Two axes, as in ``scenarios.acceleration`` (whose ``Curve``, ``best_step`` and ``positions``
this module reuses):

- time: each continuous flow by dopri5 over elapsed time [0, T];
- field evaluations: discrete layers, plain ``euler`` (1 evaluation per step), ``leapfrog`` for
  heavy ball and Nesterov (1), and for the Hamiltonian field ``tao`` (Tao, "Explicitly high-order
  symplectic integrators for nonseparable Hamiltonians"; 4 gradient evaluations per step) and
  ``presymplectic_euler`` (2), each run for ``max_evaluations`` evaluations at every step in
  ``steps``; each variant is scored at its own best step (fewest evaluations to ``target``
  among the runs that stay finite: a run whose values stop being finite diverged at that step).

``metrics.json``: per flow the time to target, final gap and final mean cluster count; per layer
variant the metrics at every step, its best step, evaluations to target and speed-up over the
plain layers; ``claim`` says whether the Hamiltonian layers reach the target in fewer
evaluations than the plain and the momentum layers; ``hamiltonian`` gives H along the dopri5
flow (its largest increase between output times, which must be <= 0 up to rounding) and along
the Tao layers at their best step; ``overdamped_check`` the largest gap between the plain field
and -B grad U / z at the start. Figures are drawn by ``scenarios.sympformer_figures``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

import dynamics
import solvers
from scenarios.acceleration import Curve, best_step, momentum, positions, relative_to_start
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
from scenarios.sympformer_figures import make_figures
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

NAME = "sympformer"
DTYPE = torch.float64

FLOWS = ("plain", "heavy_ball", "nesterov", "hamiltonian")
"""Continuous flows: the first-order attention field, its two momentum versions, and SympFormer's
Hamiltonian attention."""

LAYERS: dict[str, tuple[str, str]] = {
    "plain": ("plain", "euler"),
    "heavy_ball/leapfrog": ("heavy_ball", "leapfrog"),
    "nesterov/leapfrog": ("nesterov", "leapfrog"),
    "hamiltonian/tao": ("hamiltonian", "tao"),
    "hamiltonian/presymplectic_euler": ("hamiltonian", "presymplectic_euler"),
}
"""Discrete layers: name -> (dynamics, stepping method)."""

H_TOLERANCE = 1e-9
"""Relative rounding allowance when checking that H never increases along the dopri5 flow."""


@dataclass(frozen=True)
class SympformerConfig:
    """Parameters of the sympformer scenario; every field can be set with ``--set KEY=VALUE``."""

    n: int = field(default=32, metadata={"help": "tokens per cloud (>= 2)"})
    d: int = field(default=3, metadata={"help": "token dimension (>= 1)"})
    systems: int = field(default=16, metadata={"help": "independent clouds, one batch (>= 1)"})
    scale: float = field(
        default=0.5, metadata={"help": "standard deviation of the Gaussian start (> 0)"}
    )
    gamma: float = field(default=1.0, metadata={"help": "heavy-ball friction (> 0)"})
    r: float = field(default=3.0, metadata={"help": "Nesterov friction r / (t + t0): r (> 0)"})
    c_log: float = field(
        default=3.0, metadata={"help": "Hamiltonian friction alpha = c_log / t (> 0: damped)"}
    )
    t0: float = field(
        default=1.0,
        metadata={"help": "Nesterov's t0, and the Hamiltonian run's start time (> 0)"},
    )
    T: float = field(default=6.0, metadata={"help": "elapsed time of the flows (> 0)"})
    num_times: int = field(
        default=121, metadata={"help": "output times of the flows on [0, T] (>= 2)"}
    )
    steps: tuple[float, ...] = field(
        default=(0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6),
        metadata={"help": "step sizes h of the discrete layers (each > 0)"},
    )
    max_evaluations: int = field(
        default=400, metadata={"help": "field evaluations given to every layer run (>= 4)"}
    )
    target: float = field(
        default=0.1,
        metadata={"help": "relative potential U(0)/U(t) whose first crossing is reported, (0, 1)"},
    )
    cluster_tol: float = cluster_tol_field()
    seed: int = field(default=0, metadata={"help": "seed of the initial clouds, >= 0"})
    rtol: float = field(default=1e-8, metadata={"help": "relative tolerance of dopri5 (> 0)"})
    atol: float = field(default=1e-10, metadata={"help": "absolute tolerance of dopri5 (> 0)"})
    figures: bool = figures_field()
    device: str = device_field()
    threads: int = threads_field("the attention logits (systems n^2 d)")

    def validate(self) -> None:
        """Raise ValueError naming the first field with an impossible value."""
        require(is_int(self.n) and self.n >= 2, "n", self.n, "an integer >= 2")
        require(is_int(self.d) and self.d >= 1, "d", self.d, "an integer >= 1")
        require(is_int(self.systems) and self.systems >= 1, "systems", self.systems, ">= 1")
        require_positive(self, "scale", "gamma", "r", "c_log", "t0", "T")
        require_int_in("num_times", self.num_times, 2, 100_000)
        require_steps("steps", self.steps)
        require(
            is_int(self.max_evaluations) and 4 <= self.max_evaluations <= 100_000,
            "max_evaluations",
            self.max_evaluations,
            "an integer in [4, 100000] (a Tao step costs 4)",
        )
        require(is_real(self.target) and 0 < self.target < 1, "target", self.target, "in (0, 1)")
        check_seed(self.seed)
        check_shared_fields(self)

    @property
    def work(self) -> int:
        """Entries of the attention logits of one field evaluation."""
        return self.systems * self.n * self.n * self.d


Config = SympformerConfig
"""The scenario's config class (the name every scenario module exports)."""


@dataclass(frozen=True)
class Problem:
    """The shared start and the two base fields."""

    x0: Tensor
    plain: nn.Module
    hamiltonian: dynamics.HamiltonianAttention


@dataclass(frozen=True)
class Results:
    """Every curve, the cluster counts and the H series of the Hamiltonian runs."""

    flows: dict[str, Curve]
    layers: dict[str, dict[float, Curve]]
    best_steps: dict[str, float]
    cluster_counts: dict[str, np.ndarray]
    energies: dict[str, np.ndarray]
    """H, kinetic and potential (mean over systems) along the flow; "tao_times"/"tao_H": along
    the Tao layers at their best step; "flow_H_systems": H per system along the flow."""
    overdamped_residual: float


def make_problem(config: SympformerConfig) -> Problem:
    """Gaussian clouds (``seed``), the plain field and the damped Hamiltonian field (B = I)."""
    generator = torch.Generator().manual_seed(config.seed)
    shape = (config.systems, config.n, config.d)
    x0 = config.scale * torch.randn(*shape, generator=generator, dtype=DTYPE)
    eye = torch.eye(config.d, dtype=DTYPE)
    plain = dynamics.SelfAttention(
        config.d,
        beta=1 / math.sqrt(config.d),
        value=eye / math.sqrt(config.d),
        manifold="euclidean",
    )
    hamiltonian = dynamics.HamiltonianAttention(
        config.d, value=eye, c_log=config.c_log, c_lin=0.0, t0=config.t0
    )
    return Problem(x0.to(config.device), plain.to(config.device), hamiltonian.to(config.device))


def log_interaction(problem: Problem, xs: Tensor) -> Tensor:
    """log sum_ij E_ij = log(-2n U), shape xs.shape[:-2]; finite where U would overflow."""
    log_z = problem.hamiltonian.log_normalizer(xs)
    return torch.logsumexp(log_z, -1) + math.log(xs.shape[-2])


def potential_gap(problem: Problem, xs: Tensor) -> Tensor:
    """U(0) / U(t) per time (mean over systems), NaN from the first non-finite value on."""
    logs = log_interaction(problem, xs)
    return relative_to_start(torch.exp(logs[:1] - logs))


def overdamped_residual(problem: Problem) -> float:
    """max |F(x) + B grad U / z| / max |F(x)| at the start: the plain field is the overdamped
    limit of the Hamiltonian one (dH/dx at p = 0 is grad U)."""
    x = problem.x0
    with torch.no_grad():
        grad_u = problem.hamiltonian.grad_x(x, torch.zeros_like(x))
        z = problem.hamiltonian.log_normalizer(x).exp()[..., None]
        force = problem.plain(0.0, x)
    return float((force + grad_u / z).abs().max() / force.abs().max())


def variant_field(config: SympformerConfig, problem: Problem, kind: str) -> nn.Module:
    """The field of one variant."""
    if kind == "plain":
        return problem.plain
    if kind == "hamiltonian":
        return problem.hamiltonian
    return momentum(config, problem.plain, kind)


def trajectory(
    config: SympformerConfig, problem: Problem, kind: str, elapsed: Tensor, method: str
) -> tuple[Tensor, Tensor | None]:
    """Positions (and momenta for the Hamiltonian run) at the elapsed times; everything starts
    at rest, the Hamiltonian run at time t0 (its friction c_log / t needs t > 0)."""
    field_ = variant_field(config, problem, kind)
    elapsed = elapsed.to(config.device)
    if kind != "hamiltonian":
        return positions(field_, problem.x0, elapsed, method, config), None
    options = {"rtol": config.rtol, "atol": config.atol} if method == "dopri5" else {}
    state = (problem.x0, torch.zeros_like(problem.x0))
    with torch.no_grad():
        xs, ps = solvers.integrate(field_, state, config.t0 + elapsed, method=method, **options)
    return xs, ps


def flow_times(config: SympformerConfig) -> Tensor:
    """The flows' ``num_times`` elapsed output times on [0, T], float64 on the CPU."""
    return torch.linspace(0.0, config.T, config.num_times, dtype=DTYPE)


def layer_run(
    config: SympformerConfig, problem: Problem, name: str, step: float
) -> tuple[Curve, Tensor, Tensor | None]:
    """The gap after 0..max_evaluations field evaluations of the layer stack ``name``, with its
    positions and momenta."""
    kind, method = LAYERS[name]
    per_step = solvers.METHODS[method].evaluations
    depths = torch.arange(config.max_evaluations // per_step + 1, dtype=DTYPE)
    xs, ps = trajectory(config, problem, kind, depths * step, method)
    curve = Curve((depths * per_step).numpy(), potential_gap(problem, xs).cpu().numpy())
    return curve, xs, ps


def energy_parts(problem: Problem, xs: Tensor, ps: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(H, kinetic, potential U), each of shape xs.shape[:-2]."""
    ham = problem.hamiltonian.hamiltonian(xs, ps)
    potential = -0.5 * torch.exp(log_interaction(problem, xs) - math.log(xs.shape[-2]))
    return ham, ham - potential, potential


def stable_best_step(by_step: dict[float, Curve], target: float) -> float:
    """``best_step`` among the runs that stayed finite (all runs if every one diverged): in this
    runaway potential a too-large step can cross the target just before it blows up, and a layer
    stack that blows up is not a usable one."""
    stable = {h: curve for h, curve in by_step.items() if not curve.diverged}
    return best_step(stable or by_step, target)


def simulate(config: SympformerConfig) -> Results:
    """Every flow, every layer stack, the cluster counts and the H series."""
    config.validate()
    with torch_threads(thread_count(config.threads, config.work)):
        problem = make_problem(config)
        times = flow_times(config)
        flows, counts, energies = {}, {}, {}
        for kind in progress(FLOWS, desc=f"{NAME}: flows", total=len(FLOWS)):
            xs, ps = trajectory(config, problem, kind, times, "dopri5")
            flows[kind] = Curve(times.numpy(), potential_gap(problem, xs).cpu().numpy())
            counts[kind] = dynamics.cluster_count(xs, config.cluster_tol).double().mean(-1)
            counts[kind] = counts[kind].cpu().numpy()
            if ps is not None:
                parts = energy_parts(problem, xs, ps)
                for key, values in zip(("H", "kinetic", "potential"), parts, strict=True):
                    energies[key] = values.mean(-1).cpu().numpy()
                energies["flow_H_systems"] = parts[0].cpu().numpy()
        jobs = [(name, float(step)) for name in LAYERS for step in config.steps]
        layers: dict[str, dict[float, Curve]] = {name: {} for name in LAYERS}
        tao_runs = {}
        for name, step in progress(jobs, desc=f"{NAME}: layers", total=len(jobs)):
            curve, xs, ps = layer_run(config, problem, name, step)
            layers[name][step] = curve
            if name == "hamiltonian/tao":
                tao_runs[step] = problem.hamiltonian.hamiltonian(xs, ps).mean(-1).cpu().numpy()
        best = {name: stable_best_step(by_step, config.target) for name, by_step in layers.items()}
        tao_step = best["hamiltonian/tao"]
        energies["tao_H"] = tao_runs[tao_step]
        energies["tao_times"] = tao_step * np.arange(len(tao_runs[tao_step]))
        return Results(flows, layers, best, counts, energies, overdamped_residual(problem))


def layer_metrics(config: SympformerConfig, results: Results) -> dict[str, object]:
    """Per layer variant: the metrics at every step, the best step and the speed-up over plain."""
    out = {}
    for name, by_step in results.layers.items():
        step = results.best_steps[name]
        cost = by_step[step].first_below(config.target)
        method = LAYERS[name][1]
        out[name] = {
            "method": method,
            "evaluations_per_step": solvers.METHODS[method].evaluations,
            "by_step": {f"{h:g}": curve.metrics(config.target) for h, curve in by_step.items()},
            "best_step": None if cost is None else step,
            "best_evaluations_to_target": cost,
        }
    plain = out["plain"]["best_evaluations_to_target"]
    for entry in out.values():
        cost = entry["best_evaluations_to_target"]
        entry["speedup_over_plain"] = None if (plain is None or cost is None) else plain / cost
    return out


def _cheapest(layers: dict[str, dict], kinds: tuple[str, ...]) -> tuple[str | None, float | None]:
    """The layer variant of the given dynamics with the fewest evaluations to target."""
    reached = [
        (entry["best_evaluations_to_target"], name)
        for name, entry in layers.items()
        if LAYERS[name][0] in kinds and entry["best_evaluations_to_target"] is not None
    ]
    if not reached:
        return None, None
    cost, name = min(reached)
    return name, cost


def claim_metrics(config: SympformerConfig, layers: dict[str, dict]) -> dict[str, object]:
    """Does Hamiltonian attention reach the target in fewer field evaluations?"""
    ham_name, ham = _cheapest(layers, ("hamiltonian",))
    _, plain = _cheapest(layers, ("plain",))
    mom_name, mom = _cheapest(layers, ("heavy_ball", "nesterov"))

    def fewer(other: float | None) -> bool | None:
        if ham is None and other is None:
            return None
        return ham is not None and (other is None or ham < other)

    verdict = {True: "holds", False: "does not hold", None: "undecided (no variant reached it)"}
    return {
        "hamiltonian_best_layer": ham_name,
        "hamiltonian_evaluations_to_target": ham,
        "plain_evaluations_to_target": plain,
        "momentum_best_layer": mom_name,
        "momentum_evaluations_to_target": mom,
        "fewer_evaluations_than_plain": fewer(plain),
        "fewer_evaluations_than_momentum": fewer(mom),
        "statement": (
            f"faster convergence at equal oracle calls (U(0)/U <= {config.target:g} within "
            f"{config.max_evaluations} evaluations): against plain attention "
            f"{verdict[fewer(plain)]}; against heavy-ball/Nesterov layers {verdict[fewer(mom)]}"
        ),
    }


def hamiltonian_metrics(results: Results) -> dict[str, object]:
    """H along the damped flow (dopri5) and along the Tao layers at their best step."""
    per_system = results.energies["flow_H_systems"]
    finite = bool(np.isfinite(per_system).all())
    increase = np.diff(per_system, axis=0) / np.maximum(np.abs(per_system[:-1]), 1.0)
    tao = results.energies["tao_H"]
    tao_finite = tao[np.isfinite(tao)]
    return {
        "flow_initial_H": float(results.energies["H"][0]),
        "flow_final_H": float(results.energies["H"][-1]) if finite else None,
        "flow_finite": finite,
        "flow_max_relative_increase": float(increase.max()) if finite else None,
        "flow_non_increasing": finite and bool(increase.max() <= H_TOLERANCE),
        "tao_best_step": results.best_steps["hamiltonian/tao"],
        "tao_max_increase": float(np.diff(tao_finite).max()) if tao_finite.size > 1 else None,
        "tao_final_H": float(tao[-1]) if np.isfinite(tao[-1]) else None,
    }


def run(config: SympformerConfig, out_dir: Path) -> dict[str, object]:
    """Simulate, write the figures into ``out_dir``, and return the metrics dict."""
    results = simulate(config)
    figures = make_figures(config, results) if config.figures else {}
    save_figures(figures, out_dir, f"{NAME} figures")
    flows = {}
    for kind, curve in results.flows.items():
        entry = curve.metrics(config.target)
        entry["time_to_target"] = entry.pop("first_below_target")
        entry["final_mean_cluster_count"] = float(results.cluster_counts[kind][-1])
        flows[kind] = entry
    layers = layer_metrics(config, results)
    return {
        "scenario": NAME,
        "parameters": config_to_dict(config),
        "flows": flows,
        "layers": layers,
        "claim": claim_metrics(config, layers),
        "hamiltonian": hamiltonian_metrics(results),
        "overdamped_check": results.overdamped_residual,
        "figures": sorted(figures),
    }


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """Per variant: time to target (flows), best evaluations to target (layers); the verdict."""
    target = metrics["parameters"]["target"]
    lines = []
    for kind, entry in metrics["flows"].items():
        time = entry["time_to_target"]
        found = "never" if time is None else f"{time:g}"
        lines.append(f"flow/{kind:<32} t to U(0)/U {target:g}: {found}")
    for name, entry in metrics["layers"].items():
        cost, step = entry["best_evaluations_to_target"], entry["best_step"]
        found = "never" if cost is None else f"{cost:g} evaluations (h = {step:g})"
        lines.append(f"layers/{name:<30} to U(0)/U {target:g}: {found}")
    lines.append(metrics["claim"]["statement"])
    return lines
