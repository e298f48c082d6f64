"""The train scenario's simulation: train every model, then measure each on the test set (see
``scenarios.train``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from scenarios.train.config import TrainConfig
from scenarios.train.datasets import Dataset
from scenarios.train.training import (
    CHECKPOINTS,
    Trained,
    accuracy,
    load_data,
    model_names,
    train_model,
)
from solvers import DiscreteTransformer, ODETransformer


@dataclass(frozen=True)
class TrainResult:
    """The data, every trained model, its metrics (``measure``) and the best lambda."""

    data: Dataset
    trained: list[Trained]
    models: dict[str, dict[str, object]]
    best_lambda: float | None


def paths(config: TrainConfig, model: nn.Module, x: Tensor) -> tuple[Tensor, Tensor | None]:
    """Token states along the flow, shape (states, batch, n, d), and K per input (ODE models:
    at the solver's steps, or at ``num_times`` times for adaptive methods; discrete: per layer;
    K is None for the momentum flows)."""
    model.eval()
    with torch.no_grad():
        if isinstance(model, DiscreteTransformer):
            return model.flow(x, kinetic=True)
        count = config.num_times if config.adaptive else config.flow_steps(model.momentum) + 1
        times = torch.linspace(0.0, config.T, count, dtype=torch.float64)
        return model.flow(x, times=times, kinetic=model.momentum == "none")


def straightness(states: Tensor) -> Tensor:
    """|x(T) - x(0)| / sum_k |x(t_{k+1}) - x(t_k)| per token, for states (times, ..., n, d)."""
    if states.ndim < 3 or states.shape[0] < 2:
        raise ValueError(f"states must have shape (times >= 2, ..., n, d), got {states.shape}")
    length = torch.linalg.vector_norm(states.diff(dim=0), dim=-1).sum(0)
    displacement = torch.linalg.vector_norm(states[-1] - states[0], dim=-1)
    return displacement / length.clamp_min(torch.finfo(states.dtype).tiny)


def best_lambda(accuracies: dict[float, float]) -> float | None:
    """The largest lambda > 0 within 1 point of lambda = 0's accuracy, else the most accurate
    lambda > 0; None when there is no lambda > 0."""
    positive = {lam: acc for lam, acc in accuracies.items() if lam > 0}
    if not positive:
        return None
    if 0.0 in accuracies:
        close = [lam for lam, acc in positive.items() if acc >= accuracies[0.0] - 0.01]
        if close:
            return max(close)
    return max(positive, key=lambda lam: (positive[lam], lam))


def measure(config: TrainConfig, trained: Trained, data: Dataset) -> dict[str, object]:
    """The metrics of one trained model on the test set."""
    model = trained.model
    test_accuracy = accuracy(model, data.x_test, data.y_test)
    evaluations = getattr(model, "nfe", config.layers)  # of that forward pass over the test set
    states, energy = paths(config, model, data.x_test)
    measured = {
        "lambda": trained.lam,
        "momentum": getattr(model, "momentum", None),
        "method": model.solver_options["method"] if isinstance(model, ODETransformer) else None,
        "test_accuracy": test_accuracy,
        "parameter_count": model.parameter_count(),
        "nfe": evaluations,
        "wall_time_s": trained.wall_time,
        "epochs_run": trained.epochs_run,
        "kinetic_energy": None if energy is None else float(energy[-1].mean()),
        "straightness": float(straightness(states).mean()),
        "final_train_loss": trained.history["train_loss"][-1],
    }
    broken = [
        key
        for key, value in measured.items()
        if isinstance(value, float) and not math.isfinite(value)
    ]
    if broken:
        raise RuntimeError(
            f"model {trained.name!r} measured non-finite {', '.join(broken)}: the trained model "
            "is unusable; lower lr or check the checkpoint it resumed from"
        )
    return measured


def simulate(config: TrainConfig, out_dir: Path) -> TrainResult:
    """Load the data, train every model (saving checkpoints into ``out_dir``) and measure it."""
    data = load_data(config)
    trained = [train_model(config, name, data, out_dir) for name in model_names(config)]
    models = {entry.name: measure(config, entry, data) for entry in trained}
    accuracies = {
        entry.lam: models[entry.name]["test_accuracy"] for entry in trained if entry.lam is not None
    }
    return TrainResult(data, trained, models, best_lambda(accuracies))


def metrics(config: TrainConfig, result: TrainResult) -> dict[str, object]:
    """The data's sizes, every model's metrics and learning curves, the best lambda and the
    checkpoint files."""
    data = result.data
    return {
        "data": {
            "train": len(data.y_train),
            "test": len(data.y_test),
            "tokens": data.tokens,
            "features": data.features,
        },
        "models": result.models,
        "history": {entry.name: entry.history for entry in result.trained},
        "best_lambda": result.best_lambda,
        "checkpoints": sorted(f"{CHECKPOINTS}/{entry.name}.pt" for entry in result.trained),
    }


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """One line per model: accuracy, parameters, evaluations, kinetic energy, time."""
    return [
        f"{name:<22} accuracy {entry['test_accuracy']:.3f}  params {entry['parameter_count']:>7}  "
        f"nfe {entry['nfe']:>4}  K {_number(entry['kinetic_energy'])}  straightness "
        f"{entry['straightness']:.3f}  {entry['wall_time_s']:.0f} s"
        for name, entry in metrics["models"].items()
    ]


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"
