"""The context_consistency scenario's simulation: train both transformers at n tokens, apply them
(and the linear-attention flow) to nested contexts of every length, and measure how the output
measures converge."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import ot
import torch
from torch import Tensor

import dynamics
import solvers
from scenarios.analysis import fit_power_law
from scenarios.context_consistency.config import ContextConsistencyConfig
from scenarios.context_consistency.measures import DTYPE, mixture_centres, random_measures, sample
from scenarios.context_consistency.models import (
    MODELS,
    contexts,
    linear_field,
    output_states,
    train,
)
from scenarios.harness import progress
from solvers.threads import thread_count, torch_threads

NAME = "context_consistency"
LINEAR_STEPS = 64
"""RK4 steps of the linear-attention flow and of its moment closure on [0, linear_time]."""
ACCURACY_CONTEXTS = 128
"""Random contexts on which the classifiers' accuracy is measured at every length up to
``ACCURACY_UP_TO``."""
ACCURACY_UP_TO = 1024


@dataclass(frozen=True)
class Convergence:
    """How one map's output measures converge with the context length ``sizes`` (n, *ns)."""

    map_gap: np.ndarray
    """RMS over the shared tokens of |T_{mu_n}(x_i) - T_{mu_N}(x_i)|, N the largest n, for every
    n but N."""
    sliced: np.ndarray
    """Sliced W2 between the output measures at successive sizes (mean over measures)."""
    exact: np.ndarray
    """Exact W2 between the output measures at successive sizes while the larger has at most
    ``exact_up_to`` tokens."""
    scale: float
    """RMS distance of the outputs at N to their mean: the size of the output measure."""
    closure: np.ndarray | None = None
    """Linear attention only: W2 between the Gaussian fit of the output and the closure's
    Gaussian at every size."""


@dataclass(frozen=True)
class Results:
    """Everything the metrics and figures are made of."""

    sizes: tuple[int, ...]
    losses: dict[str, np.ndarray]
    accuracy: dict[str, np.ndarray]
    """Model -> classification accuracy at every size <= ``ACCURACY_UP_TO`` (``accuracy_sizes``)."""
    accuracy_sizes: tuple[int, ...]
    convergence: dict[str, Convergence]
    """"ode", "discrete" and "linear"."""


def nested_contexts(
    config: ContextConsistencyConfig, labels: Tensor, rotations: Tensor, generator: torch.Generator
) -> Tensor:
    """One cloud of the largest size per measure (measures, N, 2), float64 on the CPU; the
    context of length n is its first n points, so the contexts are nested."""
    largest = max(config.ns)
    return sample(
        labels, rotations, largest, config.classes, config.radius, config.spread, generator
    )


def convergence(
    config: ContextConsistencyConfig, outputs: dict[int, Tensor], closure: np.ndarray | None = None
) -> Convergence:
    """``Convergence`` of the output clouds (measures, n, D) at every size."""
    sizes = sorted(outputs)
    final = outputs[sizes[-1]].double()
    shared = final[:, : config.shared]
    gap = [
        float((outputs[n][:, : config.shared].double() - shared).square().sum(-1).mean().sqrt())
        for n in sizes[:-1]
    ]
    sliced, exact = [], []
    for small, large in itertools.pairwise(sizes):
        pairs = list(zip(outputs[small].double(), outputs[large].double(), strict=True))
        sliced.append(
            np.mean(
                [
                    float(dynamics.sliced_wasserstein2(a, b, projections=config.projections))
                    for a, b in pairs
                ]
            )
        )
        if large <= config.exact_up_to:
            exact.append(np.mean([float(dynamics.wasserstein2(a, b)) for a, b in pairs]))
    centred = final - final.mean(-2, keepdim=True)
    return Convergence(
        map_gap=np.array(gap),
        sliced=np.array(sliced),
        exact=np.array(exact),
        scale=float(centred.square().sum(-1).mean().sqrt()),
        closure=closure,
    )


def linear_outputs(
    config: ContextConsistencyConfig, generator: torch.Generator
) -> tuple[dict[int, Tensor], np.ndarray]:
    """The linear-attention flow of nested Gaussian contexts (the one-component measures) at every
    size, and W2 between the Gaussian fitted to each output and the closure's prediction."""
    field = linear_field(config, generator)
    rotations = random_measures(config.test_measures, config.classes, generator)[1]
    labels = torch.zeros(config.test_measures, dtype=torch.long)
    clouds = nested_contexts(config, labels, rotations, generator).to(config.device)
    times = torch.tensor([0.0, config.linear_time], dtype=DTYPE, device=config.device)
    step = config.linear_time / LINEAR_STEPS
    mean = mixture_centres(labels, rotations, config.classes, config.radius)[:, 0].to(clouds)
    moment = config.spread**2 * torch.eye(2, dtype=DTYPE, device=clouds.device) + (
        mean[:, :, None] * mean[:, None, :]
    )
    moments = dynamics.LinearAttentionMoments(field)
    predicted_mean, predicted_moment = (
        part[-1]
        for part in solvers.integrate(moments, (mean, moment), times, method="rk4", step_size=step)
    )
    predicted_cov = predicted_moment - predicted_mean[:, :, None] * predicted_mean[:, None, :]
    outputs, closure = {}, []
    for n in (config.n, *config.ns):
        with torch.no_grad():
            out = solvers.integrate(field, clouds[:, :n], times, method="rk4", step_size=step)[-1]
        outputs[n] = out
        centred = out - out.mean(-2, keepdim=True)
        covariance = centred.transpose(-1, -2) @ centred / n
        closure.append(
            np.mean(
                [
                    float(ot.gaussian.bures_wasserstein_distance(m, pm, c, pc))
                    for m, pm, c, pc in zip(
                        out.mean(-2), predicted_mean, covariance, predicted_cov, strict=True
                    )
                ]
            )
        )
    return outputs, np.array(closure)


def simulate(config: ContextConsistencyConfig) -> Results:
    """Train both transformers, then measure every map's convergence over the nested contexts.

    Each phase picks its own thread count from ``threads`` (the training and the distances on one
    thread, the long contexts' attention by its size), which is why the scenario declares no
    ``work``."""
    generator = torch.Generator().manual_seed(config.seed)
    sizes = (config.n, *config.ns)
    accuracy_sizes = tuple(n for n in sizes if n <= ACCURACY_UP_TO)
    labels, rotations = random_measures(config.test_measures, config.classes, generator)
    clouds = nested_contexts(config, labels, rotations, generator)
    losses, accuracy, found = {}, {}, {}
    small = thread_count(config.threads, 0)
    large = thread_count(config.threads, config.test_measures * max(sizes) ** 2 * config.d)
    for kind in progress(MODELS, desc=NAME, total=len(MODELS)):
        with torch_threads(small):
            model, values = train(config, kind, generator)
        losses[kind] = np.array(values)
        with torch_threads(large):
            accuracy[kind] = np.array(
                [classification_accuracy(config, model, n, generator) for n in accuracy_sizes]
            )
            outputs = {
                n: output_states(model, clouds[:, :n].to(device=config.device, dtype=torch.float32))
                for n in sizes
            }
        with torch_threads(small):
            found[kind] = convergence(config, outputs)
    with torch_threads(small):
        linear, closure = linear_outputs(config, generator)
        found["linear"] = convergence(config, linear, closure)
    return Results(sizes, losses, accuracy, accuracy_sizes, found)


def classification_accuracy(
    config: ContextConsistencyConfig, model: torch.nn.Module, n: int, generator: torch.Generator
) -> float:
    """The fraction of ``ACCURACY_CONTEXTS`` fresh contexts of n tokens classified right."""
    labels, points = contexts(config, ACCURACY_CONTEXTS, n, generator)
    with torch.no_grad():
        return float((model(points).argmax(-1) == labels).double().mean())


def rate(sizes: tuple[int, ...] | list[int], values: np.ndarray) -> float | None:
    """The exponent of ``fit_power_law`` of values against sizes; None with fewer than two."""
    if len(values) < 2 or not (values > 0).all():
        return None
    return fit_power_law(list(sizes[: len(values)]), values)[0]


def model_metrics(sizes: tuple[int, ...], found: Convergence) -> dict[str, object]:
    """The distances at every size with their fitted exponents (the successive distances
    indexed by the smaller size of each pair)."""
    entry = {
        "map_gap": found.map_gap.tolist(),
        "map_gap_rate": rate(sizes, found.map_gap),
        "relative_map_gap": (found.map_gap / found.scale).tolist(),
        "sliced_w2_successive": found.sliced.tolist(),
        "sliced_w2_rate": rate(sizes, found.sliced),
        "exact_w2_successive": found.exact.tolist(),
        "exact_w2_rate": rate(sizes, found.exact),
        "output_scale": found.scale,
    }
    if found.closure is not None:
        entry["w2_to_closure"] = found.closure.tolist()
        entry["w2_to_closure_rate"] = rate(sizes, found.closure)
    return entry


def metrics(config: ContextConsistencyConfig, results: Results) -> dict[str, object]:
    """Sizes, training losses and accuracies, every map's ``model_metrics``, and which trained
    model is more consistent: the smaller relative map gap at the second largest size."""
    relative = {
        kind: float(results.convergence[kind].map_gap[-1] / results.convergence[kind].scale)
        for kind in MODELS
    }
    return {
        "sizes": list(results.sizes),
        "accuracy_sizes": list(results.accuracy_sizes),
        **{
            kind: {
                "final_loss": float(results.losses[kind][-10:].mean()),
                "accuracy": results.accuracy[kind].tolist(),
                **model_metrics(results.sizes, results.convergence[kind]),
            }
            for kind in MODELS
        },
        "linear": model_metrics(results.sizes, results.convergence["linear"]),
        "more_consistent": min(relative, key=relative.get),
    }


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """Per map: the fitted exponents; then the more consistent trained model."""
    lines = []

    def show(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    for kind in (*MODELS, "linear"):
        entry = metrics[kind]
        line = (
            f"{kind:<8} map gap ~ n^{show(entry['map_gap_rate'])}, sliced W2 ~ "
            f"n^{show(entry['sliced_w2_rate'])}, exact W2 ~ n^{show(entry['exact_w2_rate'])}"
        )
        if "w2_to_closure_rate" in entry:
            line += f", W2 to closure ~ n^{show(entry['w2_to_closure_rate'])}"
        if "accuracy" in entry:
            line += f"; accuracy {', '.join(f'{a:.2f}' for a in entry['accuracy'])}"
        lines.append(line)
    lines.append(f"more consistent across context lengths: {metrics['more_consistent']}")
    return lines
