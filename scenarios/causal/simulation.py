"""The causal scenario's simulation: SA on S^1 with and without the causal mask from the same
clouds at every beta, the Rényi centers of the initial clouds, the small-beta SA and USA runs to
one cluster, and the S^2 runs with value matrices of different spectra (see
``scenarios.causal``)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

import dynamics
import solvers
from scenarios.analysis import first_plateau, max_decrease
from scenarios.causal.config import CausalConfig
from scenarios.harness import progress

NAME = "causal"
DTYPE = torch.float64
MASKS = ("causal", "full")
NORMALIZATIONS = ("softmax", "uniform")
VALUE_MATRICES = ("identity", "top", "indefinite", "negative")
"""The value matrices of the S^2 runs (``value_matrix``)."""
ATLAS_TIMES = 26
"""Output times of the S^2 runs, evenly spaced on [0, atlas_time]."""
STAY_FRACTION = 0.5
"""A center stays put while it is within STAY_FRACTION * delta of where it started."""


@dataclass(frozen=True)
class Run:
    """One batched solve: positions (times, seeds, n, d) and, per output time and seed, the
    cluster count, the smallest pairwise cosine and E_beta / E_max (None unless V = I)."""

    positions: np.ndarray
    counts: np.ndarray
    min_cosine: np.ndarray
    energy: np.ndarray | None
    seconds: float


@dataclass(frozen=True)
class CausalResult:
    """Output times of the S^1 runs, of the small-beta runs and of the S^2 runs, the initial
    clouds (seeds, n, 2), the Rényi and strong Rényi centers per beta (seeds, n), the S^1 runs by
    (beta, mask), the small-beta runs by (normalization, mask), the S^2 runs by value matrix."""

    times: np.ndarray
    small_times: np.ndarray
    atlas_times: np.ndarray
    x0: np.ndarray
    centers: dict[float, np.ndarray]
    strong: dict[float, np.ndarray]
    runs: dict[tuple[float, str], Run]
    small: dict[tuple[str, str], Run]
    atlas: dict[str, Run]


def output_times(config: CausalConfig, final: float | None = None) -> Tensor:
    """0, then ``num_times - 1`` geometric times from t_first to ``final`` (T when None),
    float64 on the CPU."""
    geometric = torch.logspace(
        math.log10(config.t_first),
        math.log10(config.T if final is None else final),
        config.num_times - 1,
        dtype=DTYPE,
    )
    return torch.cat([torch.zeros(1, dtype=DTYPE), geometric])


def initial_clouds(config: CausalConfig, d: int) -> Tensor:
    """``seeds`` clouds of n tokens uniform on S^{d-1}, (seeds, n, d), drawn on the CPU from
    ``seed`` (S^1) or ``seed + 1`` (S^2)."""
    generator = torch.Generator().manual_seed(config.seed + (d - 2))
    x0 = dynamics.uniform_sphere(
        config.n, d, batch_shape=(config.seeds,), generator=generator, dtype=DTYPE
    )
    return x0.to(config.device)


def value_matrix(name: str, d: int) -> Tensor:
    """``identity``: I; ``top``: diag(1, 1/2, 1/4, ...), symmetric positive definite with a
    simple top eigenvalue 1 on e_1; ``indefinite``: diag(1, -1/2, ..., -1), one positive
    eigenvalue, the others negative; ``negative``: -I."""
    if name == "identity":
        return torch.eye(d, dtype=DTYPE)
    if name == "top":
        return torch.diag(2.0 ** -torch.arange(d, dtype=DTYPE))
    if name == "indefinite":
        return torch.diag(torch.cat([torch.ones(1, dtype=DTYPE), -torch.linspace(0.5, 1, d - 1)]))
    return -torch.eye(d, dtype=DTYPE)


def solve(config: CausalConfig, field: dynamics.SelfAttention, x0: Tensor, times: Tensor) -> Run:
    """Every seed of x0 in one ``solvers.solve_ensemble`` call (each with its own steps), and
    its observables at every output time."""
    start = time.perf_counter()
    xs = solvers.solve_ensemble(
        field.to(x0.device), x0, times.to(x0), rtol=config.rtol, atol=config.atol
    )
    seconds = time.perf_counter() - start
    unit = dynamics.normalize(xs)
    energy = None
    if field.value is None:
        beta = field.beta
        log_max = beta - math.log(2 * beta)
        energy = torch.exp(dynamics.log_interaction_energy(unit, beta) - log_max).cpu().numpy()
    count = dynamics.circle_cluster_count if unit.shape[-1] == 2 else dynamics.cluster_count
    return Run(
        positions=unit.cpu().numpy(),
        counts=count(unit, config.cluster_tol).cpu().numpy(),
        min_cosine=dynamics.min_pairwise_cosine(unit).cpu().numpy(),
        energy=energy,
        seconds=seconds,
    )


def simulate(config: CausalConfig) -> CausalResult:
    """All runs (module docstring)."""
    times = output_times(config)
    x0 = initial_clouds(config, 2)
    centers, strong = {}, {}
    for beta, delta in zip(config.betas, config.deltas, strict=True):
        centers[beta] = dynamics.renyi_centers(x0, delta).cpu().numpy()
        strong[beta] = dynamics.strong_renyi_centers(x0, delta).cpu().numpy()
    jobs = [("sa", beta, mask) for beta in config.betas for mask in MASKS]
    jobs += [("small", norm, mask) for norm in NORMALIZATIONS for mask in MASKS]
    jobs += [("atlas", name, "causal") for name in VALUE_MATRICES]
    small_times = output_times(config, config.small_time)
    atlas_times = torch.linspace(0.0, config.atlas_time, ATLAS_TIMES, dtype=DTYPE)
    x0_sphere = initial_clouds(config, 3)
    runs, small, atlas = {}, {}, {}
    bar = progress(jobs, desc=NAME, total=len(jobs))
    for kind, key, mask in bar:
        bar.set_postfix_str(f"{kind} {key} {mask}")
        causal = mask == "causal"
        if kind == "sa":
            field = dynamics.SelfAttention(2, beta=key, causal=causal)
            runs[key, mask] = solve(config, field, x0, times)
        elif kind == "small":
            field = dynamics.SelfAttention(
                2, beta=config.small_beta, normalization=key, causal=causal
            )
            small[key, mask] = solve(config, field, x0, small_times)
        else:
            field = dynamics.SelfAttention(
                3, beta=config.atlas_beta, value=value_matrix(key, 3), causal=True
            )
            atlas[key] = solve(config, field, x0_sphere, atlas_times)
    return CausalResult(
        times=times.numpy(),
        small_times=small_times.numpy(),
        atlas_times=atlas_times.numpy(),
        x0=x0.cpu().numpy(),
        centers=centers,
        strong=strong,
        runs=runs,
        small=small,
        atlas=atlas,
    )


def time_to_one_cluster(times: np.ndarray, run: Run, tol: float) -> list[float | None]:
    """Per seed, the first output time at which every pair of tokens has cosine > 1 - tol (all
    tokens within one cluster of angular diameter arccos(1 - tol)); None if not by T."""
    inside = run.min_cosine > 1 - tol
    return [
        float(times[np.argmax(inside[:, s])]) if inside[:, s].any() else None
        for s in range(inside.shape[1])
    ]


def first_plateaus(config: CausalConfig, times: np.ndarray, run: Run) -> list[dict | None]:
    """Per seed, the first plateau (``scenarios.analysis.first_plateau``) from t_min on: its
    count and its start and end times; None where the count never holds a factor of time."""
    start = int(np.searchsorted(times, config.t_min))
    found = []
    for s in range(run.counts.shape[1]):
        plateau = first_plateau(times[start:], run.counts[start:, s], config.plateau_factor)
        if plateau is None:
            found.append(None)
            continue
        a, b = plateau[0] + start, plateau[1] + start
        found.append(
            {"count": int(run.counts[a, s]), "start": float(times[a]), "end": float(times[b])}
        )
    return found


def stay_times(run: Run, tokens: np.ndarray, delta: float, times: np.ndarray) -> list[float]:
    """For every flagged token (tokens: (seeds, n) bool) the first output time at which it is
    farther than STAY_FRACTION * delta from its start; inf for those that never leave by T."""
    moved = np.linalg.norm(run.positions - run.positions[:1], axis=-1) > STAY_FRACTION * delta
    left = np.where(moved.any(0), times[np.argmax(moved, axis=0)], np.inf)  # (seeds, n)
    return left[tokens].tolist()


def stay_metrics(stays: list[float]) -> dict[str, object]:
    """How many tokens, the fraction that stays put until T and the median leaving time (inf
    when more than half stay)."""
    values = np.array(stays)
    median = float(np.median(values)) if values.size else None
    return {
        "tokens": int(values.size),
        "fraction_staying_to_T": float(np.isinf(values).mean()) if values.size else None,
        "median_leaving_time": None if median is None or math.isinf(median) else median,
    }


def mask_metrics(config: CausalConfig, times: np.ndarray, run: Run) -> dict[str, object]:
    """First plateaus, time to one cluster, final counts and the energy's largest decrease."""
    plateaus = first_plateaus(config, times, run)
    found = [p["count"] for p in plateaus if p is not None]
    entry: dict[str, object] = {
        "first_plateau_counts": [None if p is None else p["count"] for p in plateaus],
        "first_plateau_mean": float(np.mean(found)) if found else None,
        "first_plateau_start": [None if p is None else p["start"] for p in plateaus],
        "first_plateau_end": [None if p is None else p["end"] for p in plateaus],
        "time_to_one_cluster": time_to_one_cluster(times, run, config.cluster_tol),
        "final_counts": run.counts[-1].tolist(),
        "seconds": run.seconds,
    }
    if run.energy is not None:
        entry["max_energy_decrease"] = max(
            max_decrease(run.energy[:, s]) for s in range(run.energy.shape[1])
        )
    return entry


def first_token_displacement(run: Run) -> float:
    """max over times and seeds of |x_1(t) - x_1(0)|."""
    return float(np.linalg.norm(run.positions[:, :, 0] - run.positions[:1, :, 0], axis=-1).max())


def beta_metrics(config: CausalConfig, result: CausalResult, beta: float) -> dict[str, object]:
    """One beta: Rényi counts and predictions, per mask its ``mask_metrics``, the first token's
    displacement under the causal mask, and how long strong and other centers stay put."""
    delta = config.delta_scale / math.sqrt(beta)
    causal = result.runs[beta, "causal"]
    centers, strong = result.centers[beta], result.strong[beta]
    return {
        "beta": beta,
        "delta": delta,
        "renyi_centers": centers.sum(-1).tolist(),
        "strong_renyi_centers": strong.sum(-1).tolist(),
        "renyi_prediction": dynamics.circle_renyi_center_mean(delta),
        "strong_prediction": dynamics.circle_strong_center_mean(delta, config.n),
        "causal": mask_metrics(config, result.times, causal),
        "full": mask_metrics(config, result.times, result.runs[beta, "full"]),
        "first_token_displacement": first_token_displacement(causal),
        "strong_center_stay": stay_metrics(stay_times(causal, strong, delta, result.times)),
        "other_center_stay": stay_metrics(
            stay_times(causal, centers & ~strong, delta, result.times)
        ),
    }


def small_beta_metrics(config: CausalConfig, result: CausalResult) -> dict[str, object]:
    """Per normalization and mask at small_beta: time to one cluster; with the causal mask the
    first token's displacement and, at T, max_i (1 - cos(x_i, x_1))."""
    out: dict[str, object] = {}
    for (normalization, mask), run in result.small.items():
        entry: dict[str, object] = {
            "time_to_one_cluster": time_to_one_cluster(result.small_times, run, config.cluster_tol)
        }
        if mask == "causal":
            final = run.positions[-1]
            entry["first_token_displacement"] = first_token_displacement(run)
            entry["final_max_gap_to_first"] = float(
                (1 - np.einsum("snd,sd->sn", final, final[:, 0])).max()
            )
        out[f"{normalization}/{mask}"] = entry
    return out


def oja_error(run: Run, value: Tensor, times: np.ndarray) -> float:
    """max over t and seeds of |x_1(t) - e^{tV} x_1(0) / |e^{tV} x_1(0)||: the first token
    attends to itself only, so it follows x' = P_x(V x), whose solution is that."""
    x1 = torch.from_numpy(run.positions[0, :, 0])
    flows = torch.linalg.matrix_exp(torch.from_numpy(times)[:, None, None] * value)
    exact = dynamics.normalize(torch.einsum("tij,sj->tsi", flows, x1))
    return float((exact - torch.from_numpy(run.positions[:, :, 0])).norm(dim=-1).max())


def atlas_metrics(config: CausalConfig, result: CausalResult) -> dict[str, object]:
    """Per value matrix: its eigenvalues, the final cluster counts, the fraction of tokens
    within the cluster tolerance of +-e_1 (the top eigenvector) at T, and the first token's
    distance to its closed-form path (``oja_error``)."""
    out = {}
    for name, run in result.atlas.items():
        value = value_matrix(name, 3)
        final = run.positions[-1]
        at_poles = np.abs(final[..., 0]) > 1 - config.cluster_tol
        out[name] = {
            "eigenvalues": torch.linalg.eigvalsh(value).tolist(),
            "final_counts": run.counts[-1].tolist(),
            "fraction_at_top_poles": float(at_poles.mean()),
            "first_token_oja_error": oja_error(run, value, result.atlas_times),
        }
    return out


def metrics(config: CausalConfig, result: CausalResult) -> dict[str, object]:
    """The output times, per beta its ``beta_metrics``, the small-beta and S^2 runs."""
    return {
        "times": result.times.tolist(),
        "betas": {f"{beta:g}": beta_metrics(config, result, beta) for beta in config.betas},
        "small_beta": small_beta_metrics(config, result),
        "atlas": atlas_metrics(config, result),
    }


def _mean(values: list) -> str:
    found = [v for v in values if v is not None]
    return f"{np.mean(found):.1f}" if found else "n/a"


def _reached(values: list) -> str:
    return f"{sum(v is not None for v in values)}/{len(values)}"


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """Per beta the plateau counts against the Rényi counts; the small-beta and S^2 runs."""
    lines = []
    for key, entry in metrics["betas"].items():
        causal, full = entry["causal"], entry["full"]
        lines.append(
            f"beta={key:<4} delta={entry['delta']:.2f}: first plateau causal "
            f"{_mean(causal['first_plateau_counts'])}, full {_mean(full['first_plateau_counts'])}"
            f"; Rényi centers {_mean(entry['renyi_centers'])} (saturated parking "
            f"{entry['renyi_prediction']:.2f}), strong {_mean(entry['strong_renyi_centers'])} "
            f"({entry['strong_prediction']:.2f}); one cluster by T: causal "
            f"{_reached(causal['time_to_one_cluster'])}, full "
            f"{_reached(full['time_to_one_cluster'])}; energy drop causal "
            f"{causal['max_energy_decrease']:.1e}, full {full['max_energy_decrease']:.1e}"
        )
    for key, entry in metrics["small_beta"].items():
        lines.append(
            f"small beta {key}: time to one cluster {entry['time_to_one_cluster']}"
            + (
                f", first token moved {entry['first_token_displacement']:.1e}"
                if "first_token_displacement" in entry
                else ""
            )
        )
    for name, entry in metrics["atlas"].items():
        lines.append(
            f"V {name} (eigenvalues {', '.join(f'{v:g}' for v in entry['eigenvalues'])}): "
            f"clusters at T {entry['final_counts']}, at +-e_1 {entry['fraction_at_top_poles']:.2f}"
        )
    return lines
