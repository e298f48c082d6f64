"""The measure_transport scenario's simulation: the main attention and MLP flows, the runs
against N, K and Sinkhorn iterations, the held-out W2 and the measured W1-Lipschitz constants
(see ``scenarios.measure_transport``)."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

import dynamics
from scenarios.harness import progress
from scenarios.measure_transport.config import MeasureTransportConfig
from scenarios.measure_transport.flows import PiecewiseFlow
from scenarios.measure_transport.pairs import sample_pairs, spread
from scenarios.measure_transport.training import TrainingOptions, squared_w2, train

NAME = "measure_transport"
DTYPE = torch.float32
"""Training and evaluation dtype; the Lipschitz measurement runs in float64."""
PATH_POINTS = 48
"""Held-out points per pair whose paths are drawn."""
POINTS_PER_PIECE = 8
"""Output times per time piece of the drawn paths."""
LIPSCHITZ_QUERIES = 64
"""Queries at which T_mu and T_nu are compared."""

RunKey = tuple[str, int, int, int]
"""(kind, pairs N, pieces K, Sinkhorn iterations) of a training run."""


@dataclass(frozen=True)
class Run:
    """One trained flow: the training W2 at every step and the held-out W2 per pair (both in
    units of the spread), and the training time in seconds."""

    history: np.ndarray
    w2: np.ndarray
    seconds: float


@dataclass(frozen=True)
class Results:
    """The main runs (by kind), their drawn paths (times, and points (times, N, m, 2)), the
    held-out targets of the drawn points (N, m, 2), the measured Lipschitz ratios by kind, and
    every sweep run by its key."""

    main: dict[str, Run]
    times: np.ndarray
    paths: dict[str, np.ndarray]
    targets: np.ndarray
    lipschitz: dict[str, dict[str, list[float]]]
    sweep: dict[RunKey, Run]


def make_flow(
    config: MeasureTransportConfig, kind: str, pieces: int, iterations: int
) -> PiecewiseFlow:
    """A flow with initial weights drawn from ``seed`` (the global generator is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        flow = PiecewiseFlow(
            kind,
            pieces=pieces,
            T=config.T,
            steps=config.steps_per_piece,
            method="rk4",
            heads=config.heads,
            hidden=config.hidden,
            beta=config.beta,
            sinkhorn_iterations=iterations,
            generator=torch.Generator().manual_seed(config.seed),
        )
    return flow.to(device=config.device, dtype=DTYPE)


def held_out(config: MeasureTransportConfig, pairs: int, n: int) -> tuple[Tensor, Tensor]:
    """n held-out points of every mu_k and their translates in nu_k, drawn from ``seed`` + 1."""
    generator = torch.Generator().manual_seed(config.seed + 1)
    sources, targets = sample_pairs(pairs, n, config.std, generator, DTYPE)
    return sources.to(config.device), targets.to(config.device)


def train_run(config: MeasureTransportConfig, key: RunKey, steps: int) -> tuple[PiecewiseFlow, Run]:
    """Train the flow of ``key`` for ``steps`` steps; evaluate it on held-out samples."""
    kind, pairs, pieces, iterations = key
    flow = make_flow(config, kind, pieces, iterations)
    options = TrainingOptions(
        pairs=pairs, n=config.n, std=config.std, steps=steps, lr=config.lr,
        loss=config.loss, reg=config.sinkhorn_reg, kinetic=config.kinetic,
    )  # fmt: skip
    unit = spread(pairs, config.std)
    start = time.perf_counter()
    history = train(flow, options, torch.Generator().manual_seed(config.seed), DTYPE)
    seconds = time.perf_counter() - start
    sources, targets = held_out(config, pairs, config.eval_n)
    with torch.no_grad():
        outputs, _ = flow(sources)
        w2 = [
            float(squared_w2(x, y).clamp_min(0).sqrt())
            for x, y in zip(outputs, targets, strict=True)
        ]
    return flow, Run(history / unit, np.array(w2) / unit, seconds)


def lipschitz_ratios(
    config: MeasureTransportConfig, flow: PiecewiseFlow, pairs: int
) -> dict[str, list[float]]:
    """Per pair k, with mu the held-out n-point context of mu_k and nu = mu with every point
    moved by lipschitz_eps times a standard normal vector: sup_z |T_mu(z) - T_nu(z)| / W1(mu, nu)
    over held-out queries z, and W1(T_mu#mu, T_nu#nu) / W1(mu, nu). Lower bounds of the
    W1-Lipschitz constants of the in-context map and of the push-forward; float64."""
    flow = copy.deepcopy(flow).to(torch.float64)
    sources, _ = held_out(config, pairs, config.n + LIPSCHITZ_QUERIES)
    sources = sources.to(torch.float64)
    generator = torch.Generator().manual_seed(config.seed + 2)
    ratios: dict[str, list[float]] = {"queries": [], "outputs": []}
    with torch.no_grad():
        for points in sources:
            context, queries = points[: config.n], points[config.n :]
            direction = torch.randn(context.shape, generator=generator, dtype=torch.float64)
            moved = context + config.lipschitz_eps * direction.to(context.device)
            distance = float(dynamics.wasserstein1(context, moved))
            change = flow.in_context(context, queries) - flow.in_context(moved, queries)
            ratios["queries"].append(float(torch.linalg.vector_norm(change, dim=-1).max()))
            outputs = dynamics.wasserstein1(flow(context)[0], flow(moved)[0])
            ratios["outputs"].append(float(outputs))
            for name in ratios:
                ratios[name][-1] /= distance
    return ratios


def sweep_keys(config: MeasureTransportConfig) -> list[RunKey]:
    """Every distinct run of the sweeps: attention and MLP against N (at K = pieces), attention
    against K (at N = pairs), attention against Sinkhorn iterations (at N = pairs, K = pieces)."""
    keys = [("attention", n, config.pieces, 1) for n in config.sweep_pairs]
    keys += [("mlp", n, config.pieces, 1) for n in config.sweep_pairs]
    keys += [("attention", config.pairs, k, 1) for k in config.sweep_pieces]
    keys += [("attention", config.pairs, config.pieces, it) for it in config.compare_iterations]
    return list(dict.fromkeys(keys))


def simulate(config: MeasureTransportConfig) -> Results:
    """Train the two main flows and every sweep run; measure paths and Lipschitz ratios."""
    main, flows = {}, {}
    jobs = [("main", kind) for kind in ("attention", "mlp")]
    jobs += [("sweep", key) for key in sweep_keys(config)]
    sweep = {}
    for role, item in progress(jobs, desc=NAME, total=len(jobs)):
        if role == "main":
            iterations = config.iterations if item == "attention" else 1
            key = (item, config.pairs, config.pieces, iterations)
            flows[item], main[item] = train_run(config, key, config.train_steps)
        else:
            sweep[item] = train_run(config, item, config.sweep_steps)[1]
    sources, targets = held_out(config, config.pairs, PATH_POINTS)
    paths = {}
    with torch.no_grad():
        for kind, flow in flows.items():
            times, path = flow.paths(sources, POINTS_PER_PIECE)
            paths[kind] = path.cpu().numpy()
    return Results(
        main=main,
        times=times.cpu().numpy(),
        paths=paths,
        targets=targets.cpu().numpy(),
        lipschitz={
            kind: lipschitz_ratios(config, flow, config.pairs) for kind, flow in flows.items()
        },
        sweep=sweep,
    )


def _w2_entry(run: Run) -> dict[str, object]:
    return {
        "w2_per_pair": run.w2.tolist(),
        "w2_mean": float(run.w2.mean()),
        "w2_max": float(run.w2.max()),
        "final_training_w2": float(run.history[-1]),
        "train_seconds": run.seconds,
    }


def metrics(config: MeasureTransportConfig, results: Results) -> dict[str, object]:
    """Held-out W2 (units of the spread) of the main runs, the Lipschitz ratios, W2 against N,
    K and Sinkhorn iterations, and whether the targets are met."""
    sweep = results.sweep

    def column(keys: list[RunKey], reduce: str) -> list[float]:
        return [float(getattr(sweep[key].w2, reduce)()) for key in keys]

    by_pairs = {
        kind: [(kind, n, config.pieces, 1) for n in config.sweep_pairs]
        for kind in ("attention", "mlp")
    }
    by_pieces = [("attention", config.pairs, k, 1) for k in config.sweep_pieces]
    by_iterations = [
        ("attention", config.pairs, config.pieces, it) for it in config.compare_iterations
    ]
    attention, mlp = results.main["attention"], results.main["mlp"]
    return {
        "spread": spread(config.pairs, config.std),
        "main": {kind: _w2_entry(run) for kind, run in results.main.items()},
        "lipschitz_w1": {
            kind: {
                **ratios,
                "max_queries": max(ratios["queries"]),
                "max_outputs": max(ratios["outputs"]),
            }
            for kind, ratios in results.lipschitz.items()
        },
        "w2_against_pairs": {
            "pairs": list(config.sweep_pairs),
            **{f"{kind}_mean": column(keys, "mean") for kind, keys in by_pairs.items()},
            **{f"{kind}_max": column(keys, "max") for kind, keys in by_pairs.items()},
        },
        "w2_against_pieces": {
            "pieces": list(config.sweep_pieces),
            "attention_mean": column(by_pieces, "mean"),
            "attention_max": column(by_pieces, "max"),
        },
        "sinkhorn_iterations": {
            "iterations": list(config.compare_iterations),
            "w2_mean": column(by_iterations, "mean"),
            "w2_max": column(by_iterations, "max"),
            "train_seconds": [sweep[key].seconds for key in by_iterations],
        },
        "targets": {
            "attention_w2_max_below_0.05": bool(attention.w2.max() < 0.05),
            "mlp_w2_min_above_0.3": bool(mlp.w2.min() > 0.3),
        },
    }


def _iterations_label(iterations: int) -> str:
    return {0: "converged Sinkhorn", 1: "softmax (1 iteration)"}.get(
        iterations, f"{iterations} Sinkhorn iterations"
    )


def summary_lines(found: dict[str, object]) -> list[str]:
    """Held-out W2 of the main flows, the Lipschitz ratios, and the sweeps."""
    main, lipschitz = found["main"], found["lipschitz_w1"]
    lines = [
        f"{kind}: held-out W2 / spread per pair "
        f"{', '.join(f'{w:.3f}' for w in entry['w2_per_pair'])} ({entry['train_seconds']:.0f} s);"
        " W1-Lipschitz ratios: in-context "
        f"{lipschitz[kind]['max_queries']:.2f}, push-forward {lipschitz[kind]['max_outputs']:.2f}"
        for kind, entry in main.items()
    ]
    pairs = found["w2_against_pairs"]
    lines.append(
        "W2 against N "
        + ", ".join(
            f"N={n}: {a:.3f} (MLP {m:.3f})"
            for n, a, m in zip(
                pairs["pairs"], pairs["attention_mean"], pairs["mlp_mean"], strict=True
            )
        )
    )
    pieces = found["w2_against_pieces"]
    lines.append(
        "W2 against K "
        + ", ".join(
            f"K={k}: {w:.3f}"
            for k, w in zip(pieces["pieces"], pieces["attention_mean"], strict=True)
        )
    )
    sinkhorn = found["sinkhorn_iterations"]
    lines.append(
        "attention normalisation: "
        + ", ".join(
            f"{_iterations_label(it)} {w:.3f}"
            for it, w in zip(sinkhorn["iterations"], sinkhorn["w2_mean"], strict=True)
        )
    )
    return lines
