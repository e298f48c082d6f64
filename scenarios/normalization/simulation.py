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


MINILM = "all-MiniLM-L6-v2"
"""The setting name of the pretrained model in the conclusions."""


def conclusions(
    config: NormalizationConfig, settings: dict[str, dict[str, dict]]
) -> dict[str, object]:
    """Which scheme clusters slowest early (lowest mean cosine at the early depth) and which
    resists collapse deepest (highest effective rank at depth L), per setting (each (d, beta) of
    the layers, and all-MiniLM-L6-v2 when run) and by majority over the (d, beta) cells, and the
    papers' conclusions checked in every setting: ``agree`` when they hold in every cell,
    ``agree_by_setting`` for each, with the numbers as ``evidence``."""
    slowest = {
        name: min(runs, key=lambda s: runs[s]["mean_cosine_early"])
        for name, runs in settings.items()
    }
    deepest = {
        name: max(runs, key=lambda s: runs[s]["effective_rank_at_depth"])
        for name, runs in settings.items()
    }
    cells = [name for name in settings if name != MINILM]

    def rank(name: str, scheme: str) -> float:
        return settings[name][scheme]["effective_rank_at_depth"]

    def update(name: str, scheme: str) -> float:
        return settings[name][scheme]["deep_update"]

    def claim(text: str, holds, evidence) -> dict[str, object]:
        by_setting = {name: bool(holds(name)) for name in settings}
        return {
            "claim": text,
            "agree": all(by_setting[name] for name in cells),
            "cells_agreeing": f"{sum(by_setting[name] for name in cells)} of {len(cells)}",
            "agree_by_setting": by_setting,
            "evidence": {name: evidence(name) for name in settings},
        }

    claims = [
        claim(
            f"{scheme} resists collapse in deep layers more than post_ln (effective rank at "
            f"depth {config.depth} above post_ln's)",
            lambda name, scheme=scheme: rank(name, scheme) > rank(name, "post_ln"),
            lambda name, scheme=scheme: (
                f"{rank(name, scheme):.2f} vs post_ln {rank(name, 'post_ln'):.2f}"
            ),
        )
        for scheme in ("pre_ln", "mix_ln", "ngpt")
    ]
    claims.append(
        claim(
            "peri_ln is the best balance (effective rank at depth above post_ln's and mean "
            "relative update over the deep layers above pre_ln's)",
            lambda name: (
                rank(name, "peri_ln") > rank(name, "post_ln")
                and update(name, "peri_ln") > update(name, "pre_ln")
            ),
            lambda name: (
                f"rank {rank(name, 'peri_ln'):.2f} vs post_ln {rank(name, 'post_ln'):.2f}, deep "
                f"update {update(name, 'peri_ln'):.3g} vs pre_ln {update(name, 'pre_ln'):.3g}"
            ),
        )
    )
    unscaled = {
        name: [scheme for scheme in runs if scheme != "depth_scaled"]
        for name, runs in settings.items()
    }
    slowest_unscaled = {
        name: min(unscaled[name], key=lambda s: runs[s]["mean_cosine_early"])
        for name, runs in settings.items()
    }
    deepest_unscaled = {
        name: max(unscaled[name], key=lambda s: runs[s]["effective_rank_at_depth"])
        for name, runs in settings.items()
    }

    def majority(by_setting: dict[str, str]) -> str:
        return Counter(by_setting[name] for name in cells).most_common(1)[0][0]

    return {
        "slowest_early_by_setting": slowest,
        "slowest_early": majority(slowest),
        "resists_collapse_deepest_by_setting": deepest,
        "resists_collapse_deepest": majority(deepest),
        "among_unit_steps": {
            "note": "the same without depth_scaled, whose steps h / sqrt(l) shrink with depth",
            "slowest_early_by_setting": slowest_unscaled,
            "slowest_early": majority(slowest_unscaled),
            "resists_collapse_deepest_by_setting": deepest_unscaled,
            "resists_collapse_deepest": majority(deepest_unscaled),
        },
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
    }
    settings = {
        cell: {s: runs["layers"] for s, runs in schemes.items()} for cell, schemes in cells.items()
    }
    if results.minilm is not None:
        found["minilm"] = {
            scheme: run_metrics(config, series) for scheme, series in results.minilm.items()
        }
        settings[MINILM] = found["minilm"]
    found["conclusions"] = conclusions(config, settings)
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
    plain = found["among_unit_steps"]
    lines.append(
        f"slowest early: {found['slowest_early']} ({plain['slowest_early']} without "
        f"depth_scaled); resists collapse deepest: {found['resists_collapse_deepest']} "
        f"({plain['resists_collapse_deepest']} without depth_scaled)"
    )
    for claim in found["papers"]:
        minilm = claim["agree_by_setting"].get(MINILM)
        lines.append(
            f"  papers: {claim['claim']}: agree={claim['agree']} ({claim['cells_agreeing']} "
            f"cells{'' if minilm is None else f'; {MINILM}: {minilm}'})"
        )
    return lines
