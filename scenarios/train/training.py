"""Training one model of the train scenario: the data, the models, the optimiser's schedule and
the checkpoints (see ``scenarios.train``)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from scenarios.harness import ConfigError, config_to_dict, progress
from scenarios.train.config import MOMENTUM_METHODS, TrainConfig
from scenarios.train.datasets import Dataset, mnist1d
from solvers import DiscreteTransformer, ODETransformer

NAME = "train"
CHECKPOINTS = "checkpoints"
WARMUP_FRACTION = 0.05
UNCHECKED_ON_RESUME = ("epochs", "resume", "figures", "device")
"""Config fields a resumed run may change."""


@dataclass
class Trained:
    """One trained model and what was measured on it."""

    name: str
    model: DiscreteTransformer | ODETransformer
    lam: float | None
    history: dict[str, list[float]]
    wall_time: float
    epochs_run: int


def variants(config: TrainConfig) -> dict[str, tuple[float | None, str | None]]:
    """Model name -> (lambda, momentum): "discrete" (None, None), "ode_lambda_<lambda>" (lambda,
    "none") for each lambda, then "ode_<momentum>" (None, momentum) for each of ``momenta``."""
    table: dict[str, tuple[float | None, str | None]] = {"discrete": (None, None)}
    table |= {f"ode_lambda_{lam:g}": (lam, "none") for lam in config.lambdas}
    return table | {f"ode_{momentum}": (None, momentum) for momentum in config.momenta}


def model_names(config: TrainConfig) -> list[str]:
    """The models in training order (``variants``)."""
    return list(variants(config))


def load_data(config: TrainConfig) -> Dataset:
    """MNIST-1D as configured, on ``device``."""
    data = mnist1d(
        samples=config.samples,
        train_fraction=config.train_fraction,
        seed=config.data_seed,
        patch=config.patch,
        stride=config.stride,
    )
    tensors = (data.x_train, data.y_train, data.x_test, data.y_test)
    return Dataset(*(tensor.to(config.device) for tensor in tensors), classes=data.classes)


def build_model(
    config: TrainConfig, name: str, data: Dataset
) -> DiscreteTransformer | ODETransformer:
    """The untrained model ``name`` with weights drawn from ``seed`` (the same for every lambda)."""
    torch.manual_seed(config.seed)
    shape = {"features": data.features, "tokens": data.tokens, "classes": data.classes}
    width = {"d": config.d, "heads": config.heads, "hidden": config.hidden or None}
    momentum = variants(config)[name][1]
    if momentum is None:
        model = DiscreteTransformer(**shape, **width, layers=config.layers)
    else:
        options = {"momentum": momentum, "friction": config.friction} if momentum != "none" else {}
        model = ODETransformer(
            **shape,
            **width,
            T=config.T,
            time_basis=config.time_basis or None,
            basis_size=config.basis_size,
            method=MOMENTUM_METHODS.get(momentum, config.method),
            step_size=None if config.adaptive else config.T / config.flow_steps(momentum),
            rtol=config.rtol,
            atol=config.atol,
            **options,
        )
    return model.to(config.device)


def lr_factor(step: int, total: int) -> float:
    """Linear warmup over the first ``WARMUP_FRACTION`` of ``total`` steps, then cosine to 0."""
    warmup = max(1, round(WARMUP_FRACTION * total))
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def _loss(model: nn.Module, lam: float | None, x: Tensor, y: Tensor) -> Tensor:
    if not lam:
        return nn.functional.cross_entropy(model(x), y)
    logits, energy = model(x, kinetic=True)
    return nn.functional.cross_entropy(logits, y) + lam * energy.mean()


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Fraction of ``x`` classified as ``y``."""
    model.eval()
    return float((model(x).argmax(-1) == y).double().mean())


def _order(config: TrainConfig, epoch: int, size: int) -> Tensor:
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
    return torch.randperm(size, generator=generator)


def _checkpoint_config(config: TrainConfig) -> dict[str, object]:
    return {
        key: value
        for key, value in config_to_dict(config).items()
        if key not in UNCHECKED_ON_RESUME
    }


CHECKPOINT_KEYS = {
    "model": dict,
    "optimizer": dict,
    "scheduler": dict,
    "epoch": int,
    "history": dict,
    "config": dict,
}
"""What a checkpoint written by ``train_model`` holds, and each entry's type."""


def read_checkpoint(path: Path, config: TrainConfig) -> dict:
    """A checkpoint written by ``train_model`` (loaded with ``weights_only=True``: tensors and
    plain containers only). ConfigError, one line naming the file, when it cannot be read, does
    not hold a checkpoint's entries, was trained with a different config, ran more epochs than
    ``config.epochs``, or holds non-finite weights."""
    try:
        checkpoint = torch.load(path, map_location=config.device, weights_only=True)
    except FileNotFoundError:
        raise ConfigError(
            f"resume={config.resume!r} holds no checkpoint {path.name} ({str(path)!r}); resume "
            "from the output directory of a train run with the same models"
        ) from None
    except Exception as error:  # torch.load raises many types for damaged files
        raise ConfigError(
            f"checkpoint {str(path)!r} cannot be read ({type(error).__name__}): it is damaged "
            "or not a checkpoint written by attnflow run train"
        ) from None
    wrong = [
        key
        for key, kind in CHECKPOINT_KEYS.items()
        if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get(key), kind)
    ]
    if wrong:
        raise ConfigError(
            f"checkpoint {str(path)!r} is not a checkpoint written by attnflow run train "
            f"(missing or wrong: {', '.join(wrong)})"
        )
    saved, current = checkpoint["config"], _checkpoint_config(config)
    different = sorted(key for key in current if saved.get(key) != current[key])
    if different:
        raise ConfigError(
            f"resume={config.resume!r}: checkpoint {path.name} was trained with different "
            f"{', '.join(f'{key}={saved.get(key)!r}' for key in different)}; only "
            f"{', '.join(UNCHECKED_ON_RESUME)} may change on resume"
        )
    if checkpoint["epoch"] > config.epochs:
        raise ConfigError(
            f"epochs={config.epochs} is not accepted with resume={config.resume!r}: checkpoint "
            f"{path.name} already ran {checkpoint['epoch']} epochs; expected epochs >= "
            f"{checkpoint['epoch']}"
        )
    weights = checkpoint["model"].values()
    if not all(torch.is_tensor(w) and bool(torch.isfinite(w).all()) for w in weights):
        raise ConfigError(f"checkpoint {str(path)!r} holds non-finite weights: it cannot resume")
    return checkpoint


def check_finite(name: str, epoch: int, loss: float, model: nn.Module, lr: float) -> None:
    """RuntimeError, one line, when training ``name`` diverged in ``epoch`` (1-based): the loss
    or a weight is not finite."""
    weights_finite = all(bool(torch.isfinite(weight).all()) for weight in model.parameters())
    if not (math.isfinite(loss) and weights_finite):
        what = f"loss {loss:.3g}" + ("" if weights_finite else " and non-finite weights")
        raise RuntimeError(
            f"training of {name!r} diverged in epoch {epoch}: {what}; lower lr (now {lr:g})"
        )


def train_model(config: TrainConfig, name: str, data: Dataset, out_dir: Path) -> Trained:
    """Train ``name`` (resuming from ``config.resume`` when it holds a checkpoint), save its
    checkpoint into ``out_dir/checkpoints``, and return it."""
    lam = variants(config)[name][0]
    model = build_model(config, name, data)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    batches = math.ceil(len(data.y_train) / config.batch_size)
    total = config.epochs * batches
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, total))
    history: dict[str, list[float]] = {"train_loss": [], "test_accuracy": [], "nfe": []}
    start = 0
    if config.resume:
        checkpoint = read_checkpoint(Path(config.resume) / CHECKPOINTS / f"{name}.pt", config)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        history, start = checkpoint["history"], checkpoint["epoch"]
    wall = 0.0
    for epoch in progress(range(start, config.epochs), desc=f"{NAME} {name}"):
        model.train()
        began, losses, evaluations = time.perf_counter(), [], []
        order = _order(config, epoch, len(data.y_train)).to(config.device)
        for batch in order.split(config.batch_size):
            loss = _loss(model, lam, data.x_train[batch], data.y_train[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(float(loss.detach()))
            check_finite(name, epoch + 1, losses[-1], model, config.lr)
            evaluations.append(getattr(model, "nfe", config.layers))
        wall += time.perf_counter() - began
        history["train_loss"].append(float(np.mean(losses)))
        history["nfe"].append(float(np.mean(evaluations)))
        history["test_accuracy"].append(accuracy(model, data.x_test, data.y_test))
    target = Path(out_dir) / CHECKPOINTS
    target.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "epoch": config.epochs,
            "history": history,
            "config": _checkpoint_config(config),
        },
        target / f"{name}.pt",
    )
    return Trained(name, model, lam, history, wall, config.epochs - start)
