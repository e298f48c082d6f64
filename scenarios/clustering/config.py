"""The clustering scenario's config: every field with its default, meaning and check."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

import dynamics
import solvers
from scenarios.harness import (
    DTYPES,
    ScenarioConfig,
    at_least,
    atol_field,
    check_step_size,
    cluster_tol_field,
    device_field,
    dtype_field,
    int_in,
    items,
    method_field,
    non_negative,
    one_of,
    param,
    positive,
    query_key_field,
    redraw_period_field,
    refuse,
    rtol_field,
    step_size_field,
    threads_field,
    value_field,
)

NORMALIZATIONS = ("softmax", "uniform")
"""SA and USA, the two dynamics of the paper. (Sinkhorn attention needs 1000-1500 iterations per
evaluation once tokens form clusters of unequal sizes, too slow for this scenario's solves.)"""

MAX_SNAPSHOTS = 8


@dataclass(frozen=True)
class ClusteringConfig(ScenarioConfig):
    """Parameters of the clustering scenario; every field can be set with ``--set KEY=VALUE``."""

    n: int = param(32, "number of tokens", at_least(1))
    d: int = param(3, "token dimension: tokens live on the sphere S^{d-1}", at_least(2))
    T: float = param(15.0, "final time: depth of the transformer", positive())
    betas: tuple[float, ...] = param(
        (1.0, 4.0, 9.0),
        "inverse temperatures, one run per beta and normalization",
        items(non_negative()),
    )
    normalizations: tuple[str, ...] = param(
        ("softmax", "uniform"),
        "attention normalizations: softmax (SA) and/or uniform (USA)",
        items(one_of(NORMALIZATIONS)),
    )
    num_times: int = param(301, "number of output times, evenly spaced on [0, T]", at_least(2))
    snapshot_times: tuple[float, ...] = param(
        (),
        "times of the sphere snapshots, each in [0, T], moved to the nearest output time; empty: "
        "0, T/30, 2T/15, T/3, T (0, 0.5, 2, 5, 15)",
        items(non_negative(), min_count=0, max_count=MAX_SNAPSHOTS, distinct=False),
    )
    cluster_tol: float = cluster_tol_field()
    query_key: str = query_key_field()
    value: str = value_field()
    redraw_period: float = redraw_period_field()
    hist_bins: int = param(40, "bins of the inner-product histogram on [-1, 1]", int_in(2, 1000))
    method: str = method_field(
        "scipy_solver",
        "the default, scipy's LSODA, switches to an implicit method where the flow is stiff, as "
        "USA is at large beta once clusters form (rates ~ e^beta / 2), where dopri5 needs ~2e5 "
        "field evaluations at the defaults",
        dynamics.SelfAttention(2),
    )
    rtol: float = rtol_field()
    atol: float = atol_field()
    step_size: float = step_size_field()
    dtype: str = dtype_field()
    device: str = device_field()
    threads: int = threads_field("n^2 d")

    def cross_check(self) -> None:
        """Snapshot times within [0, T]; step_size only with fixed-step methods; rtol that the
        dtype resolves; betas representable in the dtype, and USA's weights e^beta / n too; a
        redraw period only with random weights."""
        if self.redraw_period > 0 and not self.random_weights:
            refuse(
                "redraw_period",
                self.redraw_period,
                "0 with query_key = value = identity (there is nothing to redraw)",
            )
        if any(time > self.T for time in self.snapshot_times):
            refuse("snapshot_times", self.snapshot_times, f"times in [0, T] = [0, {self.T:g}]")
        check_step_size(self.method, self.step_size, self.T)
        solvers.check_rtol(self.rtol, DTYPES[self.dtype])
        largest = torch.finfo(DTYPES[self.dtype]).max
        if max(self.betas) > largest:
            refuse("betas", self.betas, f"beta <= {largest:.4g}, the largest {self.dtype}")
        if "uniform" in self.normalizations:
            limit = math.log(largest)
            if max(self.betas) > limit:
                refuse(
                    "betas",
                    self.betas,
                    f"beta <= {limit:.1f} with the uniform normalization in {self.dtype} "
                    "(its weights e^beta / n overflow beyond)",
                )

    @property
    def random_weights(self) -> bool:
        """Whether the seeds draw their own attention weights (not Q = K = V = I)."""
        return (self.query_key, self.value) != ("identity", "identity")
