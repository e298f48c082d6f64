"""Phase diagram of clustering: probability of a single cluster and time to it, against beta and d.

The clustering scenario (n tokens uniform on S^{d-1}, Q = K = V = I, SA or USA dynamics) swept
over the inverse temperature beta and the dimension d with the sweep machinery
(``scenarios.harness.sweep``): every (beta, d) point solves all ``seeds`` initial clouds as one
batched solve. Measured per point: the fraction of seeds whose tokens form a single cluster by
time T (single linkage, cos > 1 - ``cluster_tol``), and the time at which they first do.

Reference curve (Geshkovski, Letrouit, Polyanskiy, Rigollet, "A mathematical perspective on
Transformers"): when all pairwise inner products start equal to rho(0), they stay equal, and rho
follows the equiangular ODE

    SA:  rho' = 2 e^{beta rho} (1 - rho) ((n - 1) rho + 1) / (e^beta + (n - 1) e^{beta rho})
    USA: rho' = (2 / n) e^{beta rho} (1 - rho) ((n - 1) rho + 1).

For large d, n uniform tokens are nearly orthogonal (inner products of size 1/sqrt(d)), so the
equiangular solution from rho(0) = 0 predicts the time to a single cluster: the time t* at which
rho reaches 1 - cluster_tol (every pair is then linked). Since rho' = g(rho) > 0 on [0, 1), the
time is t* = int_0^{1 - tol} d rho / g(rho), computed by Gauss-Legendre quadrature
(``equiangular_cluster_time``). The figures: a heat map of the single-cluster probability over
(beta, d), and the mean time to a single cluster against beta per d (band: one standard error over
the seeds that reached one cluster by T) with t*(beta) drawn over it.

The sweep's table (``sweep/``: ``sweep.json``, ``results.jsonl``, ``results.csv``) is written
beside the figures; ``attnflow plot phase OUT/sweep ...`` draws other views of it.
"""

from scenarios.harness import Scenario
from scenarios.phase_diagram.config import PhaseDiagramConfig, sweep_of
from scenarios.phase_diagram.figures import make_figures
from scenarios.phase_diagram.simulation import (
    equiangular_cluster_time,
    equiangular_rate,
    metrics,
    simulate,
    summary_lines,
)

SCENARIO = Scenario(
    name="phase_diagram",
    summary=__doc__.splitlines()[0],
    config=PhaseDiagramConfig,
    simulate=simulate,
    metrics=metrics,
    figures=make_figures,
    summary_lines=summary_lines,
    keeps_files=True,
)

__all__ = [
    "SCENARIO",
    "PhaseDiagramConfig",
    "equiangular_cluster_time",
    "equiangular_rate",
    "make_figures",
    "metrics",
    "simulate",
    "summary_lines",
    "sweep_of",
]
