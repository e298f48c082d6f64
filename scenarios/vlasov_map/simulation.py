"""The vlasov_map scenario's simulation: random densities, their grid solutions and flow maps,
one trained transformer per depth, and W1 to the grid solution on held-out densities."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

import dynamics
import solvers
from scenarios.harness import progress
from scenarios.vlasov_map.characteristics import characteristics
from scenarios.vlasov_map.config import VlasovMapConfig
from scenarios.vlasov_map.densities import DTYPE, cell_averages, random_mixtures, sample_cells
from scenarios.vlasov_map.model import train
from solvers.threads import thread_count, torch_threads

NAME = "vlasov_map"
FACTOR = 10.0
"""The target: held-out W1 below W1(rho_0, rho_T) / FACTOR."""


@dataclass(frozen=True)
class Problem:
    """Densities (on the grid) with their solutions at T, samples, and the samples' images under
    the grid flow map Phi_T."""

    initial: Tensor
    """rho_0, shape (densities, M)."""
    final: Tensor
    """rho_T, shape (densities, M)."""
    samples: dict[int, Tensor]
    """n -> angles (densities, n) drawn from rho_0."""
    images: dict[int, Tensor]
    """n -> Phi_T of those samples, (densities, n)."""


@dataclass(frozen=True)
class Results:
    """Everything the metrics and figures are made of."""

    train: Problem
    test: Problem
    losses: dict[int, np.ndarray]
    """L -> training loss at every Adam step."""
    w1: dict[int, dict[int, np.ndarray]]
    """L -> n -> W1(model output, rho_T) per held-out density."""
    outputs: dict[int, np.ndarray]
    """L -> the model's output angles on the first held-out density at the largest n."""
    parameters: dict[int, int]
    w1_identity: dict[int, np.ndarray]
    """n -> W1(samples of rho_0, rho_T) per held-out density (the map that moves nothing)."""
    w1_flow_map: dict[int, np.ndarray]
    """n -> W1(Phi_T of the samples, rho_T): the sampling error left by the exact map."""
    w1_densities: np.ndarray
    """W1(rho_0, rho_T) per held-out density."""


def make_problem(
    config: VlasovMapConfig, count: int, ns: tuple[int, ...], generator: torch.Generator
) -> Problem:
    """``count`` random densities solved on the grid to T, sampled at every n in ``ns``, and the
    samples moved along the characteristics of the grid solution."""
    mixtures = random_mixtures(
        count, config.components, (config.kappa_min, config.kappa_max), generator
    )
    rho0 = cell_averages(mixtures, config.cells).to(config.device)
    steps = math.ceil(config.T / config.characteristic_step - 1e-9)
    times = torch.linspace(0.0, config.T, 2 * steps + 1, dtype=DTYPE, device=config.device)
    rho = solvers.solve_vlasov_circle(rho0, times, config.beta)
    samples = {n: sample_cells(rho0.cpu(), n, generator).to(config.device) for n in ns}
    images = {n: characteristics(rho, theta, config.T, config.beta) for n, theta in samples.items()}
    return Problem(rho0, rho[-1], samples, images)


def w1_to(angles: Tensor, rho: Tensor) -> np.ndarray:
    """W1 (radians) between each cloud (densities, n) and its grid density (densities, M)."""
    return dynamics.w1_particles_grid(angles.to(DTYPE), rho).cpu().numpy()


def w1_between_densities(rho_a: Tensor, rho_b: Tensor) -> np.ndarray:
    """W1 between grid densities (densities, M) by ``dynamics.wasserstein_circle`` on the cell
    centres weighted by the cell masses (each density moved to its centres by at most h / 4 in
    W1, so the value is within h / 2 of the W1 of the piecewise-constant densities)."""
    cells = rho_a.shape[-1]
    centres = (torch.arange(cells, dtype=DTYPE, device=rho_a.device) + 0.5) * (2 * math.pi / cells)
    centres = centres.expand(rho_a.shape)
    masses = [rho / rho.sum(-1, keepdim=True) for rho in (rho_a, rho_b)]
    distance = dynamics.wasserstein_circle(
        centres, centres, weights_a=masses[0], weights_b=masses[1]
    )
    return distance.cpu().numpy()


def simulate(config: VlasovMapConfig) -> Results:
    """Solve the training and held-out problems, train one transformer per depth on the training
    pairs (samples, Phi_T(samples)) at n tokens, and measure W1 to rho_T on the held-out ones;
    on ``threads`` threads (one when 0), which is why the scenario declares no ``work``."""
    with torch_threads(thread_count(config.threads, 0)):
        return solve(config)


def solve(config: VlasovMapConfig) -> Results:
    """``simulate`` on the threads it was given."""
    generator = torch.Generator().manual_seed(config.seed)
    train_problem = make_problem(config, config.train_densities, (config.n,), generator)
    test_problem = make_problem(config, config.test_densities, config.eval_ns, generator)
    losses, w1, outputs, parameters = {}, {}, {}, {}
    largest = max(config.eval_ns)
    for layers in progress(config.depths, desc=NAME, total=len(config.depths)):
        model, losses[layers] = train(
            config,
            layers,
            train_problem.samples[config.n],
            train_problem.images[config.n],
            generator,
        )
        parameters[layers] = model.parameter_count()
        with torch.no_grad():
            found = {n: model(theta) for n, theta in test_problem.samples.items()}
        w1[layers] = {n: w1_to(angles, test_problem.final) for n, angles in found.items()}
        outputs[layers] = found[largest][0].cpu().double().numpy()
    final = test_problem.final
    return Results(
        train=train_problem,
        test=test_problem,
        losses={layers: np.array(values) for layers, values in losses.items()},
        w1=w1,
        outputs=outputs,
        parameters=parameters,
        w1_identity={n: w1_to(theta, final) for n, theta in test_problem.samples.items()},
        w1_flow_map={n: w1_to(theta, final) for n, theta in test_problem.images.items()},
        w1_densities=w1_between_densities(test_problem.initial, final),
    )


def metrics(config: VlasovMapConfig, results: Results) -> dict[str, object]:
    """Mean held-out W1 per depth and n, the references (the identity map, the exact flow map of
    the samples, W1(rho_0, rho_T)), the ratio W1(rho_0, rho_T) / W1(model) and whether the target
    factor is met at the largest n by the deepest model."""
    reference = float(results.w1_densities.mean())
    largest, deepest = max(config.eval_ns), max(config.depths)
    by_depth = {
        str(layers): {
            "parameters": results.parameters[layers],
            "final_loss": float(results.losses[layers][-1]),
            "w1_mean": {str(n): float(values.mean()) for n, values in by_n.items()},
            "w1_std": {str(n): float(values.std()) for n, values in by_n.items()},
            "ratio": {str(n): reference / float(values.mean()) for n, values in by_n.items()},
        }
        for layers, by_n in results.w1.items()
    }
    best = float(results.w1[deepest][largest].mean())
    return {
        "w1_initial_final": reference,
        "w1_identity": {str(n): float(v.mean()) for n, v in results.w1_identity.items()},
        "w1_flow_map": {str(n): float(v.mean()) for n, v in results.w1_flow_map.items()},
        "depths": by_depth,
        "target_factor": FACTOR,
        "deepest_w1_at_largest_n": best,
        "target_met": bool(best * FACTOR <= reference),
    }


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """W1(rho_0, rho_T), and per depth the held-out W1 at every n with the ratio at the largest."""
    lines = [
        f"W1(rho_0, rho_T) = {metrics['w1_initial_final']:.4f} rad (held-out mean); exact flow "
        "map of the samples: "
        + ", ".join(f"n={n}: {value:.4f}" for n, value in metrics["w1_flow_map"].items())
    ]
    for layers, entry in metrics["depths"].items():
        values = ", ".join(f"n={n}: {value:.4f}" for n, value in entry["w1_mean"].items())
        largest = list(entry["ratio"])[-1]
        lines.append(
            f"L = {layers:>2}: W1(model, rho_T) {values}; ratio at n={largest}: "
            f"{entry['ratio'][largest]:.1f}"
        )
    lines.append(f"target (factor {metrics['target_factor']:g}) met: {metrics['target_met']}")
    return lines
