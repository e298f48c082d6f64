"""Train the discrete transformer, the ODE transformer and the OT-regularised ODE transformer.

Data: MNIST-1D (``scenarios.datasets.mnist1d``, default 4000 / 1000 split), each 40-step signal cut
into tokens of ``patch`` values every ``stride`` steps. Models (``dynamics.models``), all of width
``d`` with ``heads`` heads and MLP width ``hidden``:

- ``discrete``: the standard ``layers``-layer residual pre-norm transformer (independent blocks,
  residual step 1);
- ``ode_lambda_<lambda>`` for each lambda of ``lambdas``: the ODE transformer on [0, T] solved by
  ``method`` (fixed-step methods take ``steps`` steps of T / steps; adaptive ones use rtol, atol),
  with an autonomous block or, with ``time_basis``, weights W(t) = sum_{k < basis_size} c_k
  phi_k(t); trained on cross-entropy + lambda K, with K = int_0^T (1/n) sum_i |f_i(t, x(t))|^2 dt
  the kinetic energy carried by the solver (Kan, Li, Osher, "OT-Transformer: a continuous-time
  transformer architecture with optimal transport regularization"). lambda = 0 is the plain ODE
  transformer;
- ``ode_<momentum>`` for each momentum flow of ``momenta`` (``heavy_ball``, ``hamiltonian``; the
  SympFormer flows of Stein, Li, Steidl, "SympFormer: accelerated attention blocks via inertial
  dynamics on density manifolds", ``dynamics.models``): the same classifier with velocity or
  momentum 0 at t = 0 and friction ``friction``, heavy ball x' = v, v' = f(x) - gamma v around
  the block f, Hamiltonian attention x' = dH/dp, p' = -dH/dx + MLP(LN x) - gamma p
  (``dynamics.hamiltonian_block``), each trained on cross-entropy alone and solved by its stepper
  of ``MOMENTUM_METHODS`` with as many steps as give the same field evaluations per forward pass
  as the ODE transformer's ``steps`` steps of ``method`` (evaluations per step from
  ``solvers.METHODS``: with 4 Euler steps, 4 symplectic Euler steps for heavy ball and 2
  presymplectic Euler steps, 2 evaluations each, for the Hamiltonian flow).

Training: AdamW (learning rate ``lr``, ``weight_decay``), batches of ``batch_size`` in an order
drawn from (``seed``, epoch), learning rate warmed up linearly over the first 5% of steps and then
decayed to 0 along a cosine; every model starts from weights drawn from ``seed``.

Measured per model (``metrics.json``, ``models``): final test accuracy, parameter count, field
evaluations per forward pass (``nfe``; layers for the discrete model), training wall time (seconds,
excluding the per-epoch evaluation), mean kinetic energy K over the test set (for the discrete
model its Euler value sum_l (1/n) sum_i |f_l(x_l)_i|^2; none for the momentum flows), and the mean
straightness of the test tokens' paths, |x_i(T) - x_i(0)| / (length of the path through the output
states), 1 for a straight path (states at the solver's steps for fixed-step methods, at
``num_times`` times for adaptive ones, after each layer for the discrete model); the ODE models
also record their ``momentum`` and solver ``method``. Learning curves (train loss, test
accuracy per epoch) are kept in ``history``. ``best_lambda`` is the largest lambda > 0 whose test
accuracy is within 1 point of lambda = 0's, else the most accurate lambda > 0.

Checkpoints: ``checkpoints/<model>.pt`` holds ``torch.save`` of a dict of state dicts (model,
optimizer, scheduler), the epoch, the history and the config; it is read back with
``torch.load(..., weights_only=True)``. With ``resume=DIR`` (a previous run's output directory)
every model with a checkpoint there continues from it up to ``epochs`` epochs (the checkpoint's
config must agree in every field but ``epochs``, ``resume``, ``figures`` and ``device``; the cosine
schedule follows the new ``epochs``). Figures are drawn by ``scenarios.train_figures``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from dynamics import BASES
from scenarios.config import config_to_dict
from scenarios.datasets import MNIST1D_LENGTH, Dataset, mnist1d
from scenarios.progress import progress
from scenarios.style import save_figures
from scenarios.train_figures import make_figures
from scenarios.validation import check_device, check_seed, is_int, is_real, require
from solvers import METHODS, DiscreteTransformer, ODETransformer

NAME = "train"
MOMENTUM_METHODS = {"heavy_ball": "symplectic_euler", "hamiltonian": "presymplectic_euler"}
"""The stepper of each momentum flow: the momentum first (with the exact friction), then the
position with the new momentum."""
CHECKPOINTS = "checkpoints"
WARMUP_FRACTION = 0.05
UNCHECKED_ON_RESUME = ("epochs", "resume", "figures", "device")
"""Config fields a resumed run may change."""


@dataclass(frozen=True)
class TrainConfig:
    """Parameters of the train scenario; every field can be set with ``--set KEY=VALUE``."""

    samples: int = field(default=5000, metadata={"help": "MNIST-1D signals generated (>= 20)"})
    train_fraction: float = field(
        default=0.8, metadata={"help": "fraction of the signals used for training, in (0, 1)"}
    )
    data_seed: int = field(
        default=42, metadata={"help": "MNIST-1D generator seed (42: the published data set)"}
    )
    patch: int = field(default=8, metadata={"help": "signal values per token (1..40)"})
    stride: int = field(default=4, metadata={"help": "steps between token starts (>= 1)"})
    d: int = field(default=32, metadata={"help": "token width (>= 1, divisible by heads)"})
    heads: int = field(default=4, metadata={"help": "attention heads (>= 1)"})
    hidden: int = field(default=0, metadata={"help": "MLP hidden width (>= 1; 0: 4 d)"})
    layers: int = field(default=4, metadata={"help": "layers of the discrete transformer (>= 1)"})
    T: float = field(default=1.0, metadata={"help": "final time of the ODE transformer (> 0)"})
    method: str = field(default="euler", metadata={"help": "ODE solver (solvers.METHODS)"})
    steps: int = field(
        default=4, metadata={"help": "fixed-step methods: steps of size T / steps on [0, T] (>= 1)"}
    )
    rtol: float = field(default=1e-3, metadata={"help": "adaptive methods: relative tolerance"})
    atol: float = field(default=1e-3, metadata={"help": "adaptive methods: absolute tolerance"})
    time_basis: str = field(
        default="",
        metadata={"help": "'' (autonomous block), legendre or cosine (weights smooth in t)"},
    )
    basis_size: int = field(
        default=1, metadata={"help": "basis functions of the time-dependent weights (>= 1)"}
    )
    lambdas: tuple[float, ...] = field(
        default=(0.0, 0.01, 0.1, 1.0),
        metadata={"help": "kinetic-energy weights of the ODE transformers (distinct, >= 0)"},
    )
    momenta: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "momentum flows also trained at the ODE transformer's field evaluations: "
            "heavy_ball, hamiltonian (empty: none)"
        },
    )
    friction: float = field(
        default=1.0, metadata={"help": "constant friction gamma of the momentum flows (>= 0)"}
    )
    epochs: int = field(default=30, metadata={"help": "training epochs per model (>= 1)"})
    batch_size: int = field(default=128, metadata={"help": "training batch size (>= 1)"})
    lr: float = field(default=3e-3, metadata={"help": "peak AdamW learning rate (> 0)"})
    weight_decay: float = field(default=0.05, metadata={"help": "AdamW weight decay (>= 0)"})
    seed: int = field(default=0, metadata={"help": "seed of the weights and batch order, >= 0"})
    num_times: int = field(
        default=33, metadata={"help": "adaptive methods: output times of the paths (>= 2)"}
    )
    threads: int = field(
        default=0, metadata={"help": "torch CPU threads while training (0: leave as is)"}
    )
    resume: str = field(
        default="", metadata={"help": "a previous run's output directory to continue ('' : none)"}
    )
    figures: bool = field(
        default=True,
        metadata={"help": "write the figures (false: only metrics, config and checkpoints)"},
    )
    device: str = field(default="cpu", metadata={"help": "torch device: cpu, cuda or cuda:N"})

    def validate(self) -> None:
        """Raise ValueError naming the first field with an impossible value."""
        require(is_int(self.samples) and self.samples >= 20, "samples", self.samples, ">= 20")
        require(
            is_real(self.train_fraction) and 0 < self.train_fraction < 1,
            "train_fraction",
            self.train_fraction,
            "a number in (0, 1)",
        )
        require(is_int(self.data_seed) and self.data_seed >= 0, "data_seed", self.data_seed, ">= 0")
        require(
            is_int(self.patch) and 1 <= self.patch <= MNIST1D_LENGTH,
            "patch",
            self.patch,
            f"an integer in [1, {MNIST1D_LENGTH}]",
        )
        require(is_int(self.stride) and self.stride >= 1, "stride", self.stride, "an integer >= 1")
        require(is_int(self.heads) and self.heads >= 1, "heads", self.heads, "an integer >= 1")
        require(
            is_int(self.d) and self.d >= 1 and self.d % self.heads == 0,
            "d",
            self.d,
            f"an integer >= 1 divisible by heads = {self.heads}",
        )
        require(is_int(self.hidden) and self.hidden >= 0, "hidden", self.hidden, ">= 0")
        require(is_int(self.layers) and self.layers >= 1, "layers", self.layers, ">= 1")
        require(is_real(self.T) and self.T > 0, "T", self.T, "a number > 0")
        require(
            self.method in METHODS and METHODS[self.method].source == "torchdiffeq",
            "method",
            self.method,
            "a torchdiffeq method of solvers.METHODS (e.g. euler, rk4, dopri5)",
        )
        require(is_int(self.steps) and self.steps >= 1, "steps", self.steps, "an integer >= 1")
        require(is_real(self.rtol) and self.rtol > 0, "rtol", self.rtol, "a number > 0")
        require(is_real(self.atol) and self.atol > 0, "atol", self.atol, "a number > 0")
        require(
            self.time_basis in ("", *BASES),
            "time_basis",
            self.time_basis,
            f"'' or one of {', '.join(BASES)}",
        )
        require(
            is_int(self.basis_size)
            and self.basis_size >= 1
            and (self.time_basis or self.basis_size == 1),
            "basis_size",
            self.basis_size,
            "an integer >= 1 (1 without time_basis)",
        )
        require(
            len(self.lambdas) >= 1
            and len(set(self.lambdas)) == len(self.lambdas)
            and all(is_real(value) and value >= 0 for value in self.lambdas),
            "lambdas",
            self.lambdas,
            "one or more distinct numbers >= 0",
        )
        self._validate_momenta()
        require(is_int(self.epochs) and self.epochs >= 1, "epochs", self.epochs, ">= 1")
        require(
            is_int(self.batch_size) and self.batch_size >= 1, "batch_size", self.batch_size, ">= 1"
        )
        require(is_real(self.lr) and self.lr > 0, "lr", self.lr, "a number > 0")
        require(
            is_real(self.weight_decay) and self.weight_decay >= 0,
            "weight_decay",
            self.weight_decay,
            "a number >= 0",
        )
        check_seed(self.seed)
        require(is_int(self.num_times) and self.num_times >= 2, "num_times", self.num_times, ">= 2")
        require(is_int(self.threads) and self.threads >= 0, "threads", self.threads, ">= 0")
        require(isinstance(self.resume, str), "resume", self.resume, "a directory path or ''")
        if self.resume:
            require(
                Path(self.resume).is_dir(),
                "resume",
                self.resume,
                "an existing output directory of a previous run",
            )
        require(isinstance(self.figures, bool), "figures", self.figures, "true or false")
        check_device(self.device)

    def _validate_momenta(self) -> None:
        require(
            len(set(self.momenta)) == len(self.momenta)
            and all(momentum in MOMENTUM_METHODS for momentum in self.momenta),
            "momenta",
            self.momenta,
            f"distinct names among {', '.join(MOMENTUM_METHODS)} (or none)",
        )
        require(is_real(self.friction) and self.friction >= 0, "friction", self.friction, ">= 0")
        if not self.momenta:
            return
        require(
            METHODS[self.method].evaluations is not None,
            "method",
            self.method,
            "a fixed-step method with known evaluations per step (e.g. euler, rk4) when "
            "momenta are trained: they are compared at its field evaluations",
        )
        for momentum in self.momenta:
            per_step = METHODS[MOMENTUM_METHODS[momentum]].evaluations
            require(
                self.evaluations % per_step == 0,
                "steps",
                self.steps,
                f"steps whose {self.evaluations} field evaluations are a multiple of {per_step} "
                f"(a {MOMENTUM_METHODS[momentum]} step of the {momentum} flow)",
            )
        require(
            "hamiltonian" not in self.momenta or not self.time_basis,
            "momenta",
            self.momenta,
            "no hamiltonian flow with time_basis (its block is autonomous)",
        )

    @property
    def adaptive(self) -> bool:
        return METHODS[self.method].adaptive

    @property
    def evaluations(self) -> int:
        """Field evaluations per forward pass of the (fixed-step) ODE transformer."""
        return self.steps * METHODS[self.method].evaluations

    def flow_steps(self, momentum: str) -> int:
        """Fixed steps of the flow ``momentum`` ("none": ``steps``; else as many steps of its
        ``MOMENTUM_METHODS`` stepper as give ``evaluations``)."""
        if momentum == "none":
            return self.steps
        return self.evaluations // METHODS[MOMENTUM_METHODS[momentum]].evaluations


Config = TrainConfig
"""The scenario's config class (the name every scenario module exports)."""


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


def read_checkpoint(path: Path, config: TrainConfig) -> dict:
    """A checkpoint written by ``train_model``, refused (ValueError) if its config differs."""
    checkpoint = torch.load(path, map_location=config.device, weights_only=True)
    saved, current = checkpoint["config"], _checkpoint_config(config)
    different = sorted(key for key in current if saved.get(key) != current[key])
    if different:
        raise ValueError(
            f"resume={config.resume!r}: checkpoint {path.name} was trained with different "
            f"{', '.join(f'{key}={saved.get(key)!r}' for key in different)}; only "
            f"{', '.join(UNCHECKED_ON_RESUME)} may change on resume"
        )
    return checkpoint


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
    source = Path(config.resume) / CHECKPOINTS / f"{name}.pt" if config.resume else None
    if source is not None and source.is_file():
        checkpoint = read_checkpoint(source, config)
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
    return {
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


def simulate(config: TrainConfig, out_dir: Path) -> tuple[Dataset, list[Trained]]:
    """Load the data and train every model, saving checkpoints into ``out_dir``."""
    config.validate()
    threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        data = load_data(config)
        return data, [train_model(config, name, data, out_dir) for name in model_names(config)]
    finally:
        torch.set_num_threads(threads)


def run(config: TrainConfig, out_dir: Path) -> dict[str, object]:
    """Train, measure, write the figures and checkpoints into ``out_dir``; return the metrics."""
    data, trained = simulate(config, out_dir)
    models = {entry.name: measure(config, entry, data) for entry in trained}
    accuracies = {
        entry.lam: models[entry.name]["test_accuracy"] for entry in trained if entry.lam is not None
    }
    best = best_lambda(accuracies)
    figures = make_figures(config, data, trained, models, best) if config.figures else {}
    save_figures(figures, out_dir, f"{NAME} figures")
    return {
        "scenario": NAME,
        "parameters": config_to_dict(config),
        "data": {
            "train": len(data.y_train),
            "test": len(data.y_test),
            "tokens": data.tokens,
            "features": data.features,
        },
        "models": models,
        "history": {entry.name: entry.history for entry in trained},
        "best_lambda": best,
        "checkpoints": sorted(f"{CHECKPOINTS}/{entry.name}.pt" for entry in trained),
        "figures": sorted(figures),
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
