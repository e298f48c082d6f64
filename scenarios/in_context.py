"""In-context least squares by linear attention: excess error against depth and against time.

A prompt holds N context tokens z_j = (x_j, y_j) in R^{d+1} and Q query tokens (x_q, 0); the
linear-attention field of ``dynamics.gradient_step_attention(d, N, eta)`` makes one residual layer
z <- z + h f(z) one gradient-descent step of size eta h on L(w) = (1/2N) sum_j (w^T x_j - y_j)^2
from w = 0, read as the query prediction -z_q[-1] (von Oswald et al., "Transformers learn in-context
by gradient descent"); the continuous flow is gradient flow on L (``dynamics.in_context``).

``tasks`` independent regression tasks, x_j, x_q ~ N(0, I_d), w_true ~ N(0, I_d),
y = x^T w_true + noise * N(0, 1), are solved as one batch (prompts of shape (tasks, N + Q, d + 1);
the field is the same for every task). The reference is each task's ordinary least squares (OLS)
prediction (``torch.linalg.lstsq``), which every method converges to; the one-layer OLS
construction ``dynamics.least_squares_attention`` is checked against it (``ols_layer_error``).

Measured: the relative excess error

    E = mean_{tasks, queries} (prediction - OLS)^2 / mean (OLS)^2,

1 at depth 0 (prediction 0), for

- discrete layers, depth L = 1..max_layers (one field evaluation per layer, step ``step``):
  plain layers (Euler = gradient descent), and momentum layers on ``dynamics.Accelerated`` with
  heavy-ball (constant ``gamma``) or Nesterov (r / (t + t0)) friction, each stepped by the
  ``leapfrog`` and the ``nesterov_layer`` integrators from the state (tokens, 0);
- continuous time t in [0, T]: the gradient flow, the heavy-ball and the Nesterov flows (dopri5),
  and the closed form ``dynamics.gradient_flow_prediction`` of the gradient flow
  (``flow_closed_form_deviation`` is the largest |flow - closed form| over times, tasks, queries).

For each method ``metrics.json`` gives the final E and the first depth (or output time) where E
falls below ``target`` (null if never). Figures are drawn by ``scenarios.in_context_figures``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

import dynamics
import solvers
from scenarios.config import config_to_dict
from scenarios.in_context_figures import make_figures
from scenarios.progress import progress
from scenarios.style import save_figures
from scenarios.validation import (
    check_device,
    check_seed,
    is_int,
    is_real,
    require,
    require_int_in,
)

NAME = "in_context"
DTYPE = torch.float64

LAYER_METHODS: dict[str, tuple[str, str]] = {
    "gd": ("none", "euler"),
    "heavy_ball/leapfrog": ("heavy_ball", "leapfrog"),
    "heavy_ball/nesterov_layer": ("heavy_ball", "nesterov_layer"),
    "nesterov/leapfrog": ("nesterov", "leapfrog"),
    "nesterov/nesterov_layer": ("nesterov", "nesterov_layer"),
}
"""Discrete layers: name -> (momentum friction, or "none" for plain layers; stepping method)."""

FLOW_METHODS = ("gradient_flow", "heavy_ball", "nesterov")
"""Continuous flows (dopri5): plain gradient flow and the two momentum flows."""


@dataclass(frozen=True)
class InContextConfig:
    """Parameters of the in-context scenario; every field can be set with ``--set KEY=VALUE``."""

    d: int = field(default=4, metadata={"help": "input dimension of the regression tasks (>= 1)"})
    n_context: int = field(
        default=40, metadata={"help": "context pairs (x_j, y_j) per prompt, N >= d"}
    )
    n_queries: int = field(default=20, metadata={"help": "query inputs per prompt (>= 1)"})
    tasks: int = field(
        default=64, metadata={"help": "independent regression tasks, solved as one batch (>= 1)"}
    )
    noise: float = field(
        default=0.1, metadata={"help": "standard deviation of the label noise (>= 0)"}
    )
    seed: int = field(default=0, metadata={"help": "seed of the tasks, >= 0"})
    eta: float = field(
        default=0.5,
        metadata={"help": "attention scale: one layer of step h is a GD step of size eta h (> 0)"},
    )
    step: float = field(default=1.0, metadata={"help": "step h of every layer (> 0)"})
    max_layers: int = field(default=64, metadata={"help": "deepest stack of layers (>= 1)"})
    T: float = field(
        default=0.0,
        metadata={"help": "final time of the flows (> 0); 0: max_layers * step, the layers' time"},
    )
    gamma: float = field(
        default=1.0, metadata={"help": "constant friction of the heavy-ball dynamics (>= 0)"}
    )
    r: float = field(
        default=3.0, metadata={"help": "Nesterov friction r / (t + t0): r (>= 0; 3 is Nesterov)"}
    )
    t0: float = field(default=1.0, metadata={"help": "Nesterov friction r / (t + t0): t0 (> 0)"})
    num_times: int = field(
        default=257, metadata={"help": "output times of the flows, evenly spaced on [0, T] (>= 2)"}
    )
    target: float = field(
        default=1e-3,
        metadata={"help": "relative excess error whose first crossing is reported, in (0, 1)"},
    )
    rtol: float = field(default=1e-10, metadata={"help": "relative tolerance of dopri5 (> 0)"})
    atol: float = field(default=1e-12, metadata={"help": "absolute tolerance of dopri5 (> 0)"})
    figures: bool = field(
        default=True,
        metadata={"help": "write the figures (false: only metrics.json and config.json)"},
    )
    device: str = field(default="cpu", metadata={"help": "torch device: cpu, cuda or cuda:N"})

    def validate(self) -> None:
        """Raise ValueError naming the first field with an impossible value."""
        require(is_int(self.d) and self.d >= 1, "d", self.d, "an integer >= 1")
        require(
            is_int(self.n_context) and self.n_context >= self.d,
            "n_context",
            self.n_context,
            f"an integer >= d = {self.d} (least squares needs N >= d context points)",
        )
        require(is_int(self.n_queries) and self.n_queries >= 1, "n_queries", self.n_queries, ">= 1")
        require(is_int(self.tasks) and self.tasks >= 1, "tasks", self.tasks, "an integer >= 1")
        require(is_real(self.noise) and self.noise >= 0, "noise", self.noise, "a number >= 0")
        check_seed(self.seed)
        require(is_real(self.eta) and self.eta > 0, "eta", self.eta, "a finite number > 0")
        require(is_real(self.step) and self.step > 0, "step", self.step, "a finite number > 0")
        require_int_in("max_layers", self.max_layers, 1, 100_000)
        require(
            is_real(self.T) and self.T >= 0,
            "T",
            self.T,
            "a finite number > 0 (or 0: max_layers * step)",
        )
        require(is_real(self.gamma) and self.gamma >= 0, "gamma", self.gamma, "a number >= 0")
        require(is_real(self.r) and self.r >= 0, "r", self.r, "a number >= 0")
        require(is_real(self.t0) and self.t0 > 0, "t0", self.t0, "a number > 0")
        require_int_in("num_times", self.num_times, 2, 100_000)
        require(
            is_real(self.target) and 0 < self.target < 1,
            "target",
            self.target,
            "a number in (0, 1)",
        )
        require(is_real(self.rtol) and self.rtol > 0, "rtol", self.rtol, "a number > 0")
        require(is_real(self.atol) and self.atol > 0, "atol", self.atol, "a number > 0")
        require(isinstance(self.figures, bool), "figures", self.figures, "true or false")
        check_device(self.device)

    @property
    def horizon(self) -> float:
        """The flows' final time: ``T``, or ``max_layers * step`` when T = 0."""
        return float(self.T) if self.T > 0 else self.max_layers * float(self.step)


Config = InContextConfig
"""The scenario's config class (the name every scenario module exports)."""


@dataclass(frozen=True)
class Tasks:
    """A batch of regression tasks and their OLS query predictions (all on ``device``)."""

    x_context: Tensor  # (tasks, N, d)
    y_context: Tensor  # (tasks, N)
    x_query: Tensor  # (tasks, Q, d)
    ols: Tensor  # (tasks, Q)

    @property
    def prompts(self) -> Tensor:
        """The prompts, shape (tasks, N + Q, d + 1)."""
        return dynamics.prompt(self.x_context, self.y_context, self.x_query)


@dataclass(frozen=True)
class Curve:
    """A relative excess-error curve: ``axis`` holds depths (layers) or times (flows)."""

    name: str
    axis: np.ndarray
    error: np.ndarray

    def metrics(self, target: float) -> dict[str, object]:
        below = np.flatnonzero(self.error < target)
        first = self.axis[below[0]].item() if below.size else None
        return {"final_relative_error": float(self.error[-1]), "first_below_target": first}


@dataclass(frozen=True)
class Results:
    """Every curve of one run, and the checks."""

    layers: dict[str, Curve]
    flows: dict[str, Curve]
    closed_form: Curve
    ols_layer_error: float
    flow_closed_form_deviation: float
    baseline: float


def make_tasks(config: InContextConfig) -> Tasks:
    """Draw the tasks from ``seed`` on the CPU (the same on every device) and solve OLS."""
    generator = torch.Generator().manual_seed(config.seed)
    shape = (config.tasks, config.n_context + config.n_queries, config.d)
    x = torch.randn(shape, generator=generator, dtype=DTYPE)
    w_true = torch.randn(config.tasks, config.d, 1, generator=generator, dtype=DTYPE)
    x_context, x_query = x[:, : config.n_context], x[:, config.n_context :]
    noise = torch.randn(config.tasks, config.n_context, 1, generator=generator, dtype=DTYPE)
    y_context = (x_context @ w_true + config.noise * noise)[..., 0]
    w_ols = torch.linalg.lstsq(x_context, y_context[..., None]).solution
    ols = (x_query @ w_ols)[..., 0]
    return Tasks(*(tensor.to(config.device) for tensor in (x_context, y_context, x_query, ols)))


def relative_excess_error(predictions: Tensor, tasks: Tasks) -> Tensor:
    """mean over tasks and queries of (prediction - OLS)^2 / mean OLS^2; predictions (..., tasks,
    Q)."""
    excess = (predictions - tasks.ols).pow(2).mean(dim=(-1, -2))
    return excess / tasks.ols.pow(2).mean()


def ols_layer_error(tasks: Tasks) -> float:
    """Largest |one OLS-construction layer - lstsq| over tasks and queries."""
    n_context = tasks.x_context.shape[-2]
    worst = 0.0
    for k, tokens in enumerate(tasks.prompts):
        layer = dynamics.least_squares_attention(tasks.x_context[k].cpu()).to(tokens.device)
        after = solvers.integrate(layer, tokens, [0.0, 1.0], method="euler")[-1]
        predictions = dynamics.in_context_prediction(after, n_context)
        worst = max(worst, float((predictions - tasks.ols[k]).abs().max()))
    return worst


def _base_field(config: InContextConfig) -> dynamics.LinearAttention:
    """The gradient-step field (the same for every task), on ``device``."""
    field_ = dynamics.gradient_step_attention(config.d, config.n_context, config.eta, dtype=DTYPE)
    return field_.to(config.device)


def momentum_field(config: InContextConfig, friction: str) -> dynamics.Accelerated:
    """The momentum dynamics of the gradient-step field with ``friction`` (heavy_ball, nesterov)."""
    return dynamics.Accelerated(
        _base_field(config), damping=friction, gamma=config.gamma, r=config.r, t0=config.t0
    )


def _trajectory(
    field_: object, tokens: Tensor, times: Tensor, method: str, config: InContextConfig
) -> Tensor:
    """Token trajectory (len(times), tasks, N + Q, d + 1); momentum fields start at rest."""
    state = (
        (tokens, torch.zeros_like(tokens)) if isinstance(field_, dynamics.Accelerated) else tokens
    )
    options = {"rtol": config.rtol, "atol": config.atol} if method == "dopri5" else {}
    with torch.no_grad():
        xs = solvers.integrate(field_, state, times, method=method, **options)
    xs = xs[0] if isinstance(xs, tuple) else xs
    if not bool(torch.isfinite(xs).all()):
        raise RuntimeError(
            f"method {method!r} produced non-finite tokens; try a smaller eta * step"
        )
    return xs


def layer_curve(config: InContextConfig, tasks: Tasks, name: str) -> Curve:
    """Relative excess error at depths 0..max_layers of the layer stack ``name``."""
    friction, method = LAYER_METHODS[name]
    field_ = _base_field(config) if friction == "none" else momentum_field(config, friction)
    depths = torch.arange(config.max_layers + 1, dtype=DTYPE)
    xs = _trajectory(
        field_, tasks.prompts, (depths * config.step).to(config.device), method, config
    )
    predictions = dynamics.in_context_prediction(xs, config.n_context)
    return Curve(
        name,
        np.arange(config.max_layers + 1),
        relative_excess_error(predictions, tasks).cpu().numpy(),
    )


def flow_predictions(config: InContextConfig, tasks: Tasks, name: str) -> Tensor:
    """Query predictions of the flow ``name`` at the output times, shape (num_times, tasks, Q)."""
    field_ = _base_field(config) if name == "gradient_flow" else momentum_field(config, name)
    times = output_times(config).to(config.device)
    xs = _trajectory(field_, tasks.prompts, times, "dopri5", config)
    return dynamics.in_context_prediction(xs, config.n_context)


def closed_form_predictions(config: InContextConfig, tasks: Tasks) -> Tensor:
    """``dynamics.gradient_flow_prediction`` at the output times, shape (num_times, tasks, Q)."""
    return torch.stack(
        [
            dynamics.gradient_flow_prediction(
                tasks.x_context, tasks.y_context, tasks.x_query, config.eta, float(t)
            )
            for t in output_times(config)
        ]
    )


def output_times(config: InContextConfig) -> Tensor:
    """The flows' ``num_times`` evenly spaced output times on [0, T], float64 on the CPU."""
    return torch.linspace(0.0, config.horizon, config.num_times, dtype=DTYPE)


def simulate(config: InContextConfig) -> Results:
    """Run every layer stack and flow on one batch of tasks; return the error curves."""
    config.validate()
    tasks = make_tasks(config)
    times = output_times(config).numpy()
    jobs = [("layers", name) for name in LAYER_METHODS] + [("flows", name) for name in FLOW_METHODS]
    layers, flows = {}, {}
    deviation = 0.0
    closed = closed_form_predictions(config, tasks)
    for kind, name in progress(jobs, desc=NAME, total=len(jobs)):
        if kind == "layers":
            layers[name] = layer_curve(config, tasks, name)
            continue
        predictions = flow_predictions(config, tasks, name)
        if name == "gradient_flow":
            deviation = float((predictions - closed).abs().max())
        flows[name] = Curve(name, times, relative_excess_error(predictions, tasks).cpu().numpy())
    return Results(
        layers=layers,
        flows=flows,
        closed_form=Curve("closed_form", times, relative_excess_error(closed, tasks).cpu().numpy()),
        ols_layer_error=ols_layer_error(tasks),
        flow_closed_form_deviation=deviation,
        baseline=float(tasks.ols.pow(2).mean()),
    )


def run(config: InContextConfig, out_dir: Path) -> dict[str, object]:
    """Simulate, write the figures into ``out_dir``, and return the metrics dict."""
    results = simulate(config)
    figures = make_figures(config, results) if config.figures else {}
    save_figures(figures, out_dir, f"{NAME} figures")
    target = config.target
    return {
        "scenario": NAME,
        "parameters": config_to_dict(config),
        "resolved": {
            "T": config.horizon,
            "gd_step": config.eta * config.step,
            "mean_squared_ols_prediction": results.baseline,
        },
        "layers": {name: curve.metrics(target) for name, curve in results.layers.items()},
        "flows": {name: curve.metrics(target) for name, curve in results.flows.items()},
        "closed_form": results.closed_form.metrics(target),
        "ols_layer_error": results.ols_layer_error,
        "flow_closed_form_deviation": results.flow_closed_form_deviation,
        "figures": sorted(figures),
    }


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """One line per method: final relative excess error and first depth / time below target."""
    target = metrics["parameters"]["target"]
    lines = []
    for kind, unit in (("layers", "depth"), ("flows", "t")):
        for name, entry in metrics[kind].items():
            first = entry["first_below_target"]
            lines.append(
                f"{kind + '/' + name:<33} final error {entry['final_relative_error']:.3e}   "
                f"{unit} to {target:g}: {'never' if first is None else f'{first:g}'}"
            )
    lines.append(
        f"OLS layer vs lstsq: {metrics['ols_layer_error']:.1e}   flow vs closed form: "
        f"{metrics['flow_closed_form_deviation']:.1e}"
    )
    return lines
