"""The lora scenario's simulation: the base and every perturbed field from the same clouds in one
batched solve, the deviations between them, the final clusters, and the Gronwall fit (see
``scenarios.lora``)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

import dynamics
import solvers
from scenarios.harness import progress
from scenarios.lora.config import LoraConfig
from scenarios.lora.gronwall import GronwallFit, fit_gronwall

NAME = "lora"
DTYPE = torch.float64


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
    gronwall: GronwallFit
    """The Gronwall bound fitted to ``max_deviation`` (``fit_gronwall``)."""

    def time_to_deviation(self) -> np.ndarray:
        """Median over the clouds of the first t with W2 > ``threshold``, shape (ranks, eps);
        inf when more than half of the clouds never cross by T."""
        return np.median(self.crossing, axis=-1)


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
    """Solve every system, measure the deviations and final clusters, and fit the Gronwall
    bound (ValueError when no deviation curve leaves it points to fit)."""
    base, perturbed = solve(config, config.eps)
    base_labels = dynamics.cluster_labels(base[-1], config.cluster_tol)
    labels = dynamics.cluster_labels(perturbed[-1], config.cluster_tol)
    times = output_times(config).numpy()
    w2 = wasserstein_curves(base.cpu(), perturbed.cpu())
    deviation = max_deviation(base, perturbed).cpu().numpy()
    return Results(
        times=times,
        base=base.cpu().numpy(),
        perturbed=perturbed.cpu().numpy(),
        max_deviation=deviation,
        w2=w2,
        crossing=first_crossing(w2, times, config.threshold),
        ari=dynamics.adjusted_rand_index(base_labels.expand_as(labels), labels).cpu().numpy(),
        base_clusters=dynamics.cluster_count(base[-1], config.cluster_tol).cpu().numpy(),
        perturbed_clusters=dynamics.cluster_count(perturbed[-1], config.cluster_tol).cpu().numpy(),
        gronwall=fit_gronwall(config, times, deviation),
    )


def first_crossing(curves: np.ndarray, times: np.ndarray, level: float) -> np.ndarray:
    """First time each curve (times, ...) exceeds ``level``; inf where it never does."""
    above = curves > level
    first = np.argmax(above, axis=0)
    return np.where(above.any(axis=0), times[first], np.inf)
