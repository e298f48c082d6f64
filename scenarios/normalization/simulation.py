"""The normalization scenario: simulation, metrics and summary (``scenarios.normalization``)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

from dynamics.normalization import SCHEMES
from scenarios.harness import progress
from scenarios.normalization.config import NormalizationConfig
from scenarios.normalization.equiangular import EquiangularResult, solve_all
from scenarios.normalization.measures import first_depth, observe
from scenarios.normalization.pretrained_schemes import run_minilm
from scenarios.normalization.trajectories import (
    attention_field,
    flow_states,
    layer_states,
    particle_flows,
    uniform_start,
)

NAME = "normalization"
KINDS = ("layers", "flow")

Series = dict[str, np.ndarray]


@dataclass(frozen=True)
class Results:
    """``cells``: "d=.., beta=.." -> scheme -> kind ("layers", "flow") -> observable -> series;
    ``equiangular``: scheme -> beta -> result; ``minilm``: scheme -> observable -> series, or
    None when not run."""

    cells: dict[str, dict[str, dict[str, Series]]]
    equiangular: dict[str, dict[float, EquiangularResult]]
    minilm: dict[str, Series] | None


def cell_name(d: int, beta: float) -> str:
    return f"d={d}, beta={beta:g}"


def solve_cell(config: NormalizationConfig, d: int, beta: float) -> dict[str, dict[str, Series]]:
    """Every scheme as layers and as a flow from the uniform start in R^d at ``beta``."""
    field, x0 = attention_field(config, d, beta), uniform_start(config, d)
    found = {}
    with torch.no_grad():
        for scheme in SCHEMES:
            runs = {
                "layers": layer_states(config, scheme, field, x0),
                "flow": flow_states(config, scheme, particle_flows(field), x0),
            }
            found[scheme] = {
                kind: observe(states, field, config.h, config.cluster_tol)
                for kind, states in runs.items()
            }
    return found


def simulate(config: NormalizationConfig) -> Results:
    """The cells (d, beta), the equiangular reductions and, if asked, all-MiniLM-L6-v2."""
    cells = {}
    jobs = [(d, beta) for d in config.dims for beta in config.betas]
    for d, beta in progress(jobs, desc=f"{NAME}: cells", total=len(jobs)):
        cells[cell_name(d, beta)] = solve_cell(config, d, beta)
    with torch.no_grad():
        equiangular = solve_all(config)
    minilm = None
    if config.minilm:
        minilm = run_minilm(config)
    return Results(cells=cells, equiangular=equiangular, minilm=minilm)


def _finite(value: float) -> float | None:
    return None if not math.isfinite(value) else float(value)


def run_metrics(config: NormalizationConfig, series: Series) -> dict[str, object]:
    """One run's numbers: depth to one cluster, values at the early and last depths, the mean
    relative update over the deep layers, and every series."""
    deep = config.deep_layers
    numbers = {
        "depth_to_single_cluster": first_depth(series["clusters"] <= 1.0),
        "effective_rank_at_depth": float(series["effective_rank"][-1]),
        "mean_cosine_at_depth": float(series["mean_cosine"][-1]),
        "mean_cosine_early": float(series["mean_cosine"][config.early_depth]),
        "clusters_at_depth": float(series["clusters"][-1]),
        "radius_at_depth": float(series["radius"][-1]),
        "deep_update": float(series["update"][-deep:].mean()),
    }
    return numbers | {
        "series": {name: [_finite(v) for v in values] for name, values in series.items()}
    }


def equiangular_metrics(result: EquiangularResult) -> dict[str, object]:
    return {
        "max_cosine_gap": result.cosine_gap,
        "max_radius_gap": result.radius_gap,
        "law": result.law,
        "predicted_rate": result.predicted_rate,
        "fitted_rate": _finite(result.fitted_rate),
    }


def conclusions(
    config: NormalizationConfig, cells: dict[str, dict[str, dict]]
) -> dict[str, object]:
    """Which scheme clusters slowest early and which resists collapse deepest (layers), per cell
    and by majority, and the papers' conclusions checked against the numbers."""
    slowest, deepest = {}, {}
    for cell, schemes in cells.items():
        layers = {scheme: entry["layers"] for scheme, entry in schemes.items()}
        slowest[cell] = min(layers, key=lambda s: layers[s]["mean_cosine_early"])
        deepest[cell] = max(layers, key=lambda s: layers[s]["effective_rank_at_depth"])

    def rank(scheme: str, cell: str) -> float:
        return cells[cell][scheme]["layers"]["effective_rank_at_depth"]

    def update(scheme: str, cell: str) -> float:
        return cells[cell][scheme]["layers"]["deep_update"]

    resist = {
        scheme: [cell for cell in cells if rank(scheme, cell) > rank("post_ln", cell)]
        for scheme in ("pre_ln", "mix_ln", "ngpt")
    }
    balance = [
        cell
        for cell in cells
        if rank("peri_ln", cell) > rank("post_ln", cell)
        and update("peri_ln", cell) > update("pre_ln", cell)
    ]
    claims = []
    for scheme, cells_won in resist.items():
        evidence = "; ".join(
            f"{cell}: {rank(scheme, cell):.2f} vs {rank('post_ln', cell):.2f}" for cell in cells
        )
        claims.append(
            {
                "claim": f"{scheme} resists collapse in deep layers more than post_ln "
                f"(effective rank at depth {config.depth} above post_ln's)",
                "agree": len(cells_won) == len(cells),
                "cells_agreeing": f"{len(cells_won)} of {len(cells)}",
                "evidence": evidence,
            }
        )
    claims.append(
        {
            "claim": "peri_ln is the best balance (effective rank at depth above post_ln's and "
            "deep-layer relative update above pre_ln's)",
            "agree": len(balance) == len(cells),
            "cells_agreeing": f"{len(balance)} of {len(cells)}",
            "evidence": "; ".join(
                f"{cell}: rank {rank('peri_ln', cell):.2f} vs post_ln {rank('post_ln', cell):.2f},"
                f" deep update {update('peri_ln', cell):.3g} vs pre_ln {update('pre_ln', cell):.3g}"
                for cell in cells
            ),
        }
    )
    return {
        "slowest_early_by_cell": slowest,
        "slowest_early": Counter(slowest.values()).most_common(1)[0][0],
        "resists_collapse_deepest_by_cell": deepest,
        "resists_collapse_deepest": Counter(deepest.values()).most_common(1)[0][0],
        "papers": claims,
    }


def metrics(config: NormalizationConfig, results: Results) -> dict[str, object]:
    """Per cell, scheme and kind the ``run_metrics``; the equiangular checks and rates; the
    conclusions; MiniLM's series when run."""
    cells = {
        cell: {
            scheme: {kind: run_metrics(config, series) for kind, series in runs.items()}
            for scheme, runs in schemes.items()
        }
        for cell, schemes in results.cells.items()
    }
    found = {
        "depth": config.depth,
        "early_depth": config.early_depth,
        "deep_layers": config.deep_layers,
        "mix_ln_post_layers": config.post_layers,
        "cells": cells,
        "equiangular": {
            scheme: {
                f"beta={beta:g}": equiangular_metrics(result) for beta, result in by_beta.items()
            }
            for scheme, by_beta in results.equiangular.items()
        },
        "conclusions": conclusions(config, cells),
    }
    if results.minilm is not None:
        found["minilm"] = {
            scheme: run_metrics(config, series) for scheme, series in results.minilm.items()
        }
    return found


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """Per scheme (first cell, layers): depth to one cluster, effective rank at depth, fitted
    equiangular rate; then the conclusions."""
    first_cell = next(iter(metrics["cells"]))
    lines = [f"cell {first_cell}, {metrics['depth']} layers:"]
    for scheme, runs in metrics["cells"][first_cell].items():
        layers = runs["layers"]
        rates = ", ".join(
            f"{beta} {entry['law'][:3]} {entry['fitted_rate']:.3f}"
            if entry["fitted_rate"] is not None
            else f"{beta} n/a"
            for beta, entry in metrics["equiangular"][scheme].items()
        )
        lines.append(
            f"  {scheme:<13} single cluster at {layers['depth_to_single_cluster']}, "
            f"eff. rank {layers['effective_rank_at_depth']:.2f}; equiangular rate {rates}"
        )
    found = metrics["conclusions"]
    lines.append(
        f"slowest early: {found['slowest_early']}; resists collapse deepest: "
        f"{found['resists_collapse_deepest']}"
    )
    for claim in found["papers"]:
        lines.append(
            f"  papers: {claim['claim']}: agree={claim['agree']} ({claim['cells_agreeing']})"
        )
    return lines
