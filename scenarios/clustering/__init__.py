"""Clustering of tokens on the sphere under self-attention dynamics (SA and USA).

Reproduces the basic experiment of Geshkovski, Letrouit, Polyanskiy, Rigollet, "A mathematical
perspective on Transformers": n tokens drawn i.i.d. uniformly on S^{d-1} follow

    x_i' = P_{x_i}( sum_j w_ij x_j ),   w_ij = e^{beta <x_i, x_j>} / Z_i,

with Z_i = sum_k e^{beta <x_i, x_k>} (SA, ``normalization="softmax"``) or Z_i = n (USA,
``normalization="uniform"``), Q = K = V = I, and P_x the projection onto the tangent space at x.
Every (normalization, beta) run starts from the same initial cloud. The tokens cluster: for small
beta quickly into a single point; for large beta SA lingers in metastable states with several
clusters, while USA (weights up to e^beta / n) moves fast and freezes into a few far-apart clusters.

Measured at every output time:

- the number of clusters (``dynamics.cluster_count``: single linkage, cos > 1 - ``cluster_tol``);
- the histogram of pairwise inner products <x_i, x_j>, i < j;
- the normalized interaction energy E_beta / E_max in (0, 1], where
  E_beta(x) = (1 / (2 beta n^2)) sum_ij e^{beta <x_i, x_j>} (``dynamics.log_interaction_energy``)
  and E_max = e^beta / (2 beta) is its value when all tokens coincide. Both dynamics increase
  E_beta (USA is its gradient flow on the sphere, SA a gradient flow for a metric reweighted by
  n^2 / Z_i > 0), so the series is nondecreasing up to the solver's tolerance. For beta = 0 the
  energy is constant and no normalized energy is reported (null in ``metrics.json``).

Observables are evaluated on the radially retracted tokens x / |x|: the exact flow stays on the
sphere, and the solver's departure from it is reported as ``max_norm_error``.
"""

from scenarios.clustering.config import NORMALIZATIONS, ClusteringConfig
from scenarios.clustering.figures import make_figures
from scenarios.clustering.simulation import (
    RunResult,
    initial_cloud,
    metrics,
    output_times,
    peak_memory,
    simulate,
    snapshot_indices,
    solve_run,
    summary_lines,
)
from scenarios.clustering.sweep import SWEEP, initial_clouds, sweep_point
from scenarios.harness import Scenario

SCENARIO = Scenario(
    name="clustering",
    summary=__doc__.splitlines()[0],
    config=ClusteringConfig,
    simulate=simulate,
    metrics=metrics,
    figures=make_figures,
    summary_lines=summary_lines,
    work=lambda config: config.n * config.n * config.d,
    sweep=SWEEP,
    memory=peak_memory,
)

__all__ = [
    "NORMALIZATIONS",
    "SCENARIO",
    "ClusteringConfig",
    "RunResult",
    "initial_cloud",
    "initial_clouds",
    "make_figures",
    "metrics",
    "output_times",
    "peak_memory",
    "simulate",
    "snapshot_indices",
    "solve_run",
    "summary_lines",
    "sweep_point",
]
