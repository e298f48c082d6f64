"""Figures of the train scenario (see ``scenarios.train``), drawn from its trained models.

- ``learning_curves``: training loss (log scale) and test accuracy against epoch, a line per model;
- ``accuracy_vs_lambda``: test accuracy and kinetic energy of the ODE transformers against the
  kinetic weight lambda (symmetric-log axis, so lambda = 0 is drawn), the discrete transformer's
  accuracy dashed;
- ``trajectories``: the tokens of one test signal along the flow for lambda = 0, the best lambda
  and each momentum flow, projected on the two leading principal components of that model's states
  (start: circle, end: square);
- ``momentum_comparison`` (only with ``momenta``): test accuracy and training wall time of the
  discrete transformer, the ODE transformer at lambda = 0 and each momentum flow, bars labelled
  with their field evaluations per forward pass and parameter counts.
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from scenarios.harness import FULL_WIDTH, figure_style, new_figure
from scenarios.train.config import MOMENTUM_METHODS, TrainConfig
from scenarios.train.datasets import Dataset
from scenarios.train.simulation import TrainResult, paths
from scenarios.train.training import Trained

FIRST_ORDER = (None, "none")
"""``_momentum`` of the models without momentum (discrete, first-order ODE)."""
_NAMES = {"heavy_ball": "heavy ball", "hamiltonian": "Hamiltonian"}


def make_figures(config: TrainConfig, result: TrainResult) -> dict[str, Figure]:
    """Every figure of the scenario, by file stem."""
    data, trained, models, best = result.data, result.trained, result.models, result.best_lambda
    with figure_style():
        figures = {
            "learning_curves": plot_learning_curves(config, trained),
            "accuracy_vs_lambda": plot_accuracy_vs_lambda(config, models),
            "trajectories": plot_trajectories(config, data, trained, best),
        }
        if config.momenta:
            figures["momentum_comparison"] = plot_momentum_comparison(config, trained, models)
        return figures


def _setting(config: TrainConfig) -> str:
    basis = f", {config.time_basis} weights K = {config.basis_size}" if config.time_basis else ""
    solver = (
        f"{config.method} (rtol {config.rtol:g})"
        if config.adaptive
        else f"{config.steps} {config.method} steps"
    )
    momenta = ", ".join(
        f"{_NAMES[momentum]}: {config.flow_steps(momentum)} {MOMENTUM_METHODS[momentum]} steps"
        for momentum in config.momenta
    )
    momenta = f"\nmomentum flows (friction γ = {config.friction:g}): {momenta}" if momenta else ""
    return (
        f"MNIST-1D, d = {config.d}, {config.heads} heads; discrete: {config.layers} layers; "
        f"ODE: {solver} on [0, {config.T:g}]{basis}; {config.epochs} epochs{momenta}"
    )


def _momentum(entry: Trained) -> str | None:
    """None (discrete), "none" (first-order ODE), "heavy_ball" or "hamiltonian"."""
    return getattr(entry.model, "momentum", None)


def _label(entry: Trained) -> str:
    momentum = _momentum(entry)
    if momentum is None:
        return "discrete"
    if momentum == "none":
        return f"ODE, λ = {entry.lam:g}"
    return f"ODE, {_NAMES[momentum]}"


def _linestyle(entry: Trained) -> str:
    return {None: "--", "none": "-"}.get(_momentum(entry), "-.")


def plot_learning_curves(config: TrainConfig, trained: list[Trained]) -> Figure:
    """Training loss and test accuracy against epoch."""
    fig = new_figure(FULL_WIDTH, 3.0, layout="constrained")
    loss_ax, accuracy_ax = fig.subplots(1, 2)
    for index, entry in enumerate(trained):
        epochs = np.arange(1, len(entry.history["train_loss"]) + 1)
        style = {"color": f"C{index}", "linestyle": _linestyle(entry)}
        loss_ax.plot(epochs, entry.history["train_loss"], label=_label(entry), **style)
        accuracy_ax.plot(epochs, entry.history["test_accuracy"], **style)
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss (cross-entropy + λ K)")
    loss_ax.legend()
    accuracy_ax.set_xlabel("epoch")
    accuracy_ax.set_ylabel("test accuracy")
    fig.suptitle(f"Learning curves: {_setting(config)}")
    return fig


def plot_accuracy_vs_lambda(config: TrainConfig, models: dict[str, dict[str, object]]) -> Figure:
    """Test accuracy and kinetic energy against lambda."""
    fig = new_figure(FULL_WIDTH, 2.8, layout="constrained")
    accuracy_ax, energy_ax = fig.subplots(1, 2)
    ode = sorted(
        (entry["lambda"], entry) for entry in models.values() if entry["lambda"] is not None
    )
    lambdas = [lam for lam, _ in ode]
    positive = [lam for lam in lambdas if lam > 0]
    threshold = min(positive) if positive else 1.0
    accuracy_ax.plot(lambdas, [e["test_accuracy"] for _, e in ode], "o-", label="ODE transformer")
    accuracy_ax.axhline(
        models["discrete"]["test_accuracy"], color="0.4", linestyle="--", label="discrete"
    )
    accuracy_ax.set_ylabel("test accuracy")
    accuracy_ax.legend()
    energy_ax.plot(lambdas, [e["kinetic_energy"] for _, e in ode], "o-", color="C1")
    energy_ax.set_ylabel("kinetic energy K (test mean)")
    energy_ax.set_yscale("log")
    for ax in (accuracy_ax, energy_ax):
        ax.set_xscale("symlog", linthresh=threshold)
        ax.set_xlabel("kinetic weight λ")
    fig.suptitle(f"OT regularisation: accuracy and kinetic energy against λ\n{_setting(config)}")
    return fig


def _principal_plane(states: torch.Tensor) -> np.ndarray:
    """States (times, n, d) projected on their two leading principal components."""
    flat = states.reshape(-1, states.shape[-1]).double()
    centred = flat - flat.mean(0)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    return (centred @ vh[:2].T).reshape(*states.shape[:-1], 2).cpu().numpy()


def plot_trajectories(
    config: TrainConfig, data: Dataset, trained: list[Trained], best: float | None
) -> Figure:
    """PCA projections of one test signal's token paths for lambda = 0 and the best lambda."""
    chosen = [
        entry
        for entry in trained
        if _momentum(entry) not in FIRST_ORDER or (entry.lam is not None and entry.lam in (0, best))
    ]
    fig = new_figure(FULL_WIDTH, 3.2, layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, max(1, len(chosen))))
    for ax, entry in zip(axes, chosen, strict=False):
        states = paths(config, entry.model, data.x_test[:1])[0][:, 0]
        plane = _principal_plane(states)
        colors = [f"C{i % 10}" for i in range(plane.shape[1])]
        for token, color in enumerate(colors):
            ax.plot(plane[:, token, 0], plane[:, token, 1], color=color, linewidth=1)
        ax.scatter(plane[0, :, 0], plane[0, :, 1], c=colors, marker="o", s=14)
        ax.scatter(plane[-1, :, 0], plane[-1, :, 1], c=colors, marker="s", s=14)
        ax.set_xlabel("principal component 1")
        ax.set_ylabel("principal component 2")
        ax.set_title(_label(entry))
    fig.suptitle(
        f"Token paths of test signal 0 (label {int(data.y_test[0])}), o start, □ end\n"
        f"{_setting(config)}"
    )
    return fig


def plot_momentum_comparison(
    config: TrainConfig, trained: list[Trained], models: dict[str, dict[str, object]]
) -> Figure:
    """Test accuracy and training wall time of the first-order and momentum models."""
    chosen = [entry for entry in trained if entry.lam in (None, 0.0)]
    labels = [
        f"{_label(entry)}\nnfe {models[entry.name]['nfe']}, "
        f"{models[entry.name]['parameter_count']} params"
        for entry in chosen
    ]
    positions = -np.arange(len(chosen))  # first model on top
    colors = [f"C{index}" for index in range(len(chosen))]
    fig = new_figure(FULL_WIDTH, 1.2 + 0.55 * len(chosen), layout="constrained")
    accuracy_ax, time_ax = fig.subplots(1, 2, sharey=True)
    for ax, key, unit in (
        (accuracy_ax, "test_accuracy", "{:.3f}"),
        (time_ax, "wall_time_s", "{:.0f} s"),
    ):
        values = [models[entry.name][key] for entry in chosen]
        ax.barh(positions, values, color=colors)
        for position, value in zip(positions, values, strict=True):
            ax.annotate(f" {unit.format(value)}", (value, position), va="center")
        ax.margins(x=0.2)
    accuracy_ax.set_yticks(positions, labels, fontsize="small")
    accuracy_ax.set_xlim(0, 1.15)
    accuracy_ax.set_xlabel("test accuracy")
    accuracy_ax.set_ylabel("model")
    time_ax.set_xlabel("training wall time (s, shared CPU)")
    fig.suptitle(
        "First-order, heavy-ball and Hamiltonian flows at equal field evaluations per forward "
        f"pass\n{_setting(config)}"
    )
    return fig
