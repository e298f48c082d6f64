"""What the lora scenario reports: its metrics and the lines printed after a run."""

from __future__ import annotations

import math

import numpy as np

from scenarios.lora.config import LoraConfig
from scenarios.lora.simulation import Results


def eps_slopes(config: LoraConfig, results: Results) -> dict[str, float | None]:
    """Per rank, the slope of log max_i |x_i - y_i| against log eps at t = fit_time between the
    two smallest sizes (median over the clouds): 1 where the deviation is linear in eps."""
    if len(config.eps) < 2:
        return {}
    at = int(np.searchsorted(results.times, config.fit_time, side="right")) - 1
    order = np.argsort(config.eps)[:2]
    small = np.asarray(config.eps)[order]
    deviation = np.median(results.max_deviation[at][:, order], axis=-1)  # (ranks, 2)
    slopes = np.log(deviation[:, 1] / deviation[:, 0]) / math.log(small[1] / small[0])
    return {str(rank): float(slope) for rank, slope in zip(config.ranks, slopes, strict=True)}


def by_rank_and_eps(config: LoraConfig, values: np.ndarray) -> dict[str, dict[str, float | None]]:
    """A (ranks, eps) array as {rank: {eps: value}}, non-finite values as None."""
    return {
        str(rank): {
            f"{size:g}": float(value) if math.isfinite(value) else None
            for size, value in zip(config.eps, row, strict=True)
        }
        for rank, row in zip(config.ranks, values, strict=True)
    }


def metrics(config: LoraConfig, results: Results) -> dict[str, object]:
    """The Gronwall fit, the slopes in eps, and per rank and size the time to deviation, the
    final deviations, ARI and cluster counts (medians or means over the clouds)."""
    return {
        "gronwall": results.gronwall.metrics(config.fit_time),
        "eps_slope_at_fit_time": eps_slopes(config, results),
        "time_to_deviation": by_rank_and_eps(config, results.time_to_deviation()),
        "never_deviated": by_rank_and_eps(config, np.isinf(results.crossing).sum(-1)),
        "final_max_deviation": by_rank_and_eps(
            config, np.median(results.max_deviation[-1], axis=-1)
        ),
        "final_w2": by_rank_and_eps(config, np.median(results.w2[-1], axis=-1)),
        "ari": by_rank_and_eps(config, results.ari.mean(-1)),
        "final_cluster_count": {
            "base": float(results.base_clusters.mean()),
            "perturbed": by_rank_and_eps(config, results.perturbed_clusters.mean(-1)),
        },
    }


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """The fitted Gronwall rate and, per rank, the time to deviation and ARI at each size."""
    fit = metrics["gronwall"]
    lines = [
        f"Gronwall fit on t <= {fit['fit_time']:g}: L = {fit['L']:.3g}, C = {fit['C']:.3g}; "
        f"curves under the envelope: {100 * fit['fraction_under']:.1f}%"
    ]
    for rank, times in metrics["time_to_deviation"].items():
        ari = metrics["ari"][rank]
        cells = ", ".join(
            f"eps {size}: t {'> T' if time is None else f'{time:.3g}'}, ARI {ari[size]:.2f}"
            for size, time in times.items()
        )
        lines.append(f"rank {rank}: {cells}")
    return lines
