"""Layers: a transformer block run as L discrete layers against its continuous flow.

A fixed random ``dynamics.TransformerBlock`` (PyTorch's default initialisation drawn from
``seed``; the initial cloud of n tokens uniform on S^{d-1} from ``seed`` + 1) defines the flow
x' = f(x), f = f_attn + f_mlp, on [0, T], in two variants:

- ``euclidean``: the pre-norm block f = Attn(LN_1 x) + MLP(LN_2 x) in R^d;
- ``sphere``: the post-norm block f = P_u(Attn(u) + MLP(u)), u = x / |x|, tangent to S^{d-1}.

The flow is solved by dopri5 at a tight tolerance (the reference); L layers are L steps of size
h = T / L of a layer rule (``solvers.METHODS``), for L in ``depths``:

- ``euler``: x <- x + h f(x), the parallel residual block (euclidean variant), order 1;
- ``projected_euler``: x <- (x + h f) / |x + h f|, the post-LayerNorm layer (sphere), order 1;
- ``lie_trotter``: attention then MLP, the sequential residual layer, order 1;
- ``strang``: half MLP, attention, half MLP (the Macaron layer of Lu et al., "Understanding and
  improving transformer from a multi-particle dynamic system point of view"), each sub-step by
  the midpoint rule, order 2.

Distances between the layers' output cloud X_L and the flow's x(T): the largest token error
max_i |X_L,i - x_i(T)|, and W2 between the two empirical measures (``dynamics.wasserstein2``, which
ignores the token labels). The observed order is minus the least-squares slope of log(distance)
against log(L) over L >= ``fit_from``. Cluster counts (``dynamics.cluster_count``: cosine above
1 - ``cluster_tol``) of the layers' output against the flow's at T, and the flow's count over
time.

``metrics.json`` gives, per variant and layer rule, the distances at every L, the fitted orders
and the cluster counts; figures are drawn by ``scenarios.layers_figures``.
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
from scenarios.fits import fit_power_law
from scenarios.layers_figures import make_figures
from scenarios.progress import progress
from scenarios.shared_fields import (
    check_shared_fields,
    cluster_tol_field,
    device_field,
    figures_field,
    threads_field,
)
from scenarios.style import save_figures
from scenarios.threads import thread_count, torch_threads
from scenarios.validation import (
    check_seed,
    is_int,
    is_real,
    require,
    require_int_in,
)

NAME = "layers"
DTYPE = torch.float64

VARIANTS = {"euclidean": "pre", "sphere": "post"}
"""Variant -> the block's ``norm``."""

LAYER_RULES = {
    "euclidean": ("euler", "lie_trotter", "strang"),
    "sphere": ("projected_euler", "lie_trotter", "strang"),
}
"""Variant -> the layer rules (names in ``solvers.METHODS``) compared with its flow."""

DISTANCES = ("max_token", "w2")
"""max_i |X_i - x_i(T)| and W2 between the clouds."""


@dataclass(frozen=True)
class LayersConfig:
    """Parameters of the layers scenario; every field can be set with ``--set KEY=VALUE``."""

    n: int = field(default=32, metadata={"help": "tokens (>= 2)"})
    d: int = field(default=8, metadata={"help": "token dimension (>= 2)"})
    heads: int = field(default=2, metadata={"help": "attention heads (>= 1, dividing d)"})
    hidden: int = field(default=32, metadata={"help": "width of the MLP's hidden layer (>= 1)"})
    activation: str = field(default="gelu", metadata={"help": "MLP nonlinearity: gelu, relu, tanh"})
    T: float = field(default=5.0, metadata={"help": "final time (total depth) of the flow (> 0)"})
    depths: tuple[int, ...] = field(
        default=(2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
        metadata={"help": "numbers of layers L, increasing (each >= 1)"},
    )
    fit_from: int = field(
        default=16, metadata={"help": "orders are fitted over L >= fit_from (>= 1; 2+ depths)"}
    )
    num_times: int = field(
        default=101, metadata={"help": "output times of the flow on [0, T] (>= 2)"}
    )
    cluster_tol: float = cluster_tol_field()
    seed: int = field(default=0, metadata={"help": "seed of the block (seed + 1: the cloud), >= 0"})
    rtol: float = field(default=1e-12, metadata={"help": "relative tolerance of dopri5 (> 0)"})
    atol: float = field(default=1e-13, metadata={"help": "absolute tolerance of dopri5 (> 0)"})
    figures: bool = figures_field()
    device: str = device_field()
    threads: int = threads_field("the cloud's attention kernel (n^2 d)")

    def validate(self) -> None:
        """Raise ValueError naming the first field with an impossible value."""
        require(is_int(self.n) and self.n >= 2, "n", self.n, "an integer >= 2")
        require(is_int(self.d) and self.d >= 2, "d", self.d, "an integer >= 2")
        require(
            is_int(self.heads) and self.heads >= 1 and self.d % self.heads == 0,
            "heads",
            self.heads,
            f"an integer >= 1 dividing d={self.d}",
        )
        require(is_int(self.hidden) and self.hidden >= 1, "hidden", self.hidden, ">= 1")
        require(
            self.activation in ("gelu", "relu", "tanh"),
            "activation",
            self.activation,
            "gelu, relu or tanh",
        )
        require(is_real(self.T) and self.T > 0, "T", self.T, "a finite number > 0")
        require(
            isinstance(self.depths, tuple)
            and len(self.depths) >= 2
            and all(is_int(depth) and 1 <= depth <= 100_000 for depth in self.depths)
            and list(self.depths) == sorted(set(self.depths)),
            "depths",
            self.depths,
            "two or more increasing integers in [1, 100000]",
        )
        require(
            is_int(self.fit_from) and sum(depth >= self.fit_from for depth in self.depths) >= 2,
            "fit_from",
            self.fit_from,
            "an integer with at least two depths >= fit_from",
        )
        require_int_in("num_times", self.num_times, 2, 100_000)
        check_seed(self.seed)
        check_shared_fields(self)


Config = LayersConfig
"""The scenario's config class (the name every scenario module exports)."""


@dataclass(frozen=True)
class VariantResults:
    """One variant: the flow's cluster counts over time, and per layer rule its distances and
    cluster counts at every depth (arrays over ``config.depths``) and its fitted orders."""

    flow_times: np.ndarray
    flow_clusters: np.ndarray
    distances: dict[str, dict[str, np.ndarray]]
    orders: dict[str, dict[str, float | None]]
    clusters: dict[str, np.ndarray]


def make_block(config: LayersConfig, variant: str) -> dynamics.TransformerBlock:
    """The variant's block with PyTorch's default initialisation drawn from ``seed`` (the global
    generator is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        block = dynamics.TransformerBlock(
            config.d,
            config.heads,
            config.hidden,
            norm=VARIANTS[variant],
            activation=config.activation,
        )
    return block.to(device=config.device, dtype=DTYPE)


def initial_cloud(config: LayersConfig) -> Tensor:
    """n tokens uniform on S^{d-1}, drawn from ``seed`` + 1."""
    generator = torch.Generator().manual_seed(config.seed + 1)
    x0 = dynamics.uniform_sphere(config.n, config.d, generator=generator, dtype=DTYPE)
    return x0.to(config.device)


def distances(x: Tensor, reference: Tensor) -> dict[str, float]:
    """max_i |x_i - reference_i| and W2 between the two clouds."""
    return {
        "max_token": float(torch.linalg.vector_norm(x - reference, dim=-1).max()),
        "w2": float(dynamics.wasserstein2(x, reference)),
    }


def solve_variant(config: LayersConfig, variant: str) -> VariantResults:
    """The flow and every layer rule at every depth, for one variant."""
    block, x0 = make_block(config, variant), initial_cloud(config)
    times = torch.linspace(0.0, config.T, config.num_times, dtype=DTYPE, device=config.device)
    with torch.no_grad():
        flow = solvers.integrate(block, x0, times, rtol=config.rtol, atol=config.atol)
        final = flow[-1]
        found = {rule: {name: [] for name in DISTANCES} for rule in LAYER_RULES[variant]}
        clusters: dict[str, list[int]] = {rule: [] for rule in LAYER_RULES[variant]}
        jobs = [(rule, L) for rule in LAYER_RULES[variant] for L in config.depths]
        for rule, L in progress(jobs, desc=f"{NAME}: {variant}", total=len(jobs)):
            layers = torch.linspace(0.0, config.T, L + 1, dtype=DTYPE, device=config.device)
            output = solvers.integrate(block, x0, layers, method=rule)[-1]
            for name, value in distances(output, final).items():
                found[rule][name].append(value)
            clusters[rule].append(int(dynamics.cluster_count(output, config.cluster_tol)))
    arrays = {
        rule: {name: np.array(values) for name, values in by_name.items()}
        for rule, by_name in found.items()
    }
    return VariantResults(
        flow_times=times.cpu().numpy(),
        flow_clusters=dynamics.cluster_count(flow, config.cluster_tol).cpu().numpy(),
        distances=arrays,
        orders={
            rule: {
                name: fitted_order(config.depths, errors, config.fit_from)
                for name, errors in by_name.items()
            }
            for rule, by_name in arrays.items()
        },
        clusters={rule: np.array(counts) for rule, counts in clusters.items()},
    )


def fitted_order(depths: tuple[int, ...], errors: np.ndarray, fit_from: int) -> float | None:
    """Minus the least-squares slope of log(error) against log(L) over L >= ``fit_from``; None
    when an error there is zero (rounding level reached exactly)."""
    depths_array = np.asarray(depths, dtype=float)
    used = depths_array >= fit_from
    if not (errors[used] > 0).all():
        return None
    return -fit_power_law(depths_array[used], errors[used])[0]


def simulate(config: LayersConfig) -> dict[str, VariantResults]:
    """Solve both variants."""
    config.validate()
    with torch_threads(thread_count(config.threads, config.n * config.n * config.d)):
        return {variant: solve_variant(config, variant) for variant in VARIANTS}


def variant_metrics(config: LayersConfig, results: VariantResults) -> dict[str, object]:
    """Per layer rule: expected and fitted orders, distances and cluster counts at every L."""
    rules = {}
    for rule, by_name in results.distances.items():
        rules[rule] = {
            "expected_order": solvers.METHODS[rule].order,
            "fitted_order": results.orders[rule],
            "distances": {name: errors.tolist() for name, errors in by_name.items()},
            "cluster_counts": results.clusters[rule].tolist(),
        }
    return {
        "flow_cluster_count": int(results.flow_clusters[-1]),
        "flow_cluster_count_over_time": results.flow_clusters.tolist(),
        "layers": rules,
    }


def run(config: LayersConfig, out_dir: Path) -> dict[str, object]:
    """Simulate, write the figures into ``out_dir``, and return the metrics dict."""
    results = simulate(config)
    figures = make_figures(config, results) if config.figures else {}
    save_figures(figures, out_dir, f"{NAME} figures")
    return {
        "scenario": NAME,
        "parameters": config_to_dict(config),
        "depths": list(config.depths),
        **{variant: variant_metrics(config, result) for variant, result in results.items()},
        "figures": sorted(figures),
    }


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """Per variant and layer rule: the fitted orders and the cluster counts at the deepest L."""
    lines = []
    for variant in VARIANTS:
        entry = metrics[variant]
        lines.append(f"{variant}/flow clusters at T: {entry['flow_cluster_count']}")
        for rule, found in entry["layers"].items():
            orders = ", ".join(
                f"{name} {'n/a' if value is None else f'{value:.2f}'}"
                for name, value in found["fitted_order"].items()
            )
            lines.append(
                f"{variant}/{rule:<16} order {found['expected_order']}: fitted {orders}; "
                f"clusters at L = {metrics['depths'][-1]}: {found['cluster_counts'][-1]}"
            )
    return lines
