"""Causal attention: a fixed first token, Rényi-parking metastability, and no energy to climb.

Karagodin, Polyanskiy, Rigollet, "Clustering in causal attention masking": with the causal mask,
token k attends to tokens j <= k only,

    x_k' = P_{x_k}( sum_{j <= k} w_kj V x_j ),  w_kj = e^{beta <Q x_k, K x_j>} / Z_k,

Z_k = sum_{j <= k} e^{beta <Q x_k, K x_j>}

(SA; USA takes Z_k = n). The first token attends to itself alone, so with V = I it never
moves (x_1' = P_{x_1} x_1 = 0), and every token ends in its cluster; the dynamics is no gradient
flow, so the interaction energy E_beta = (1 / (2 beta n^2)) sum_ij e^{beta <x_i, x_j>}, which full
SA increases, need not be monotone. Before the final collapse, metastable clusters form around
Rényi centers (``dynamics.renyi_centers``: scanning the tokens in order, a token farther than
delta from every earlier center, delta = ``delta_scale`` / sqrt(beta)); the strong ones
(``dynamics.strong_renyi_centers``: farther than delta from every earlier token) barely move.

Prediction on the circle: two centers are delta-separated when their arc exceeds
alpha = 2 arcsin(delta / 2); with many tokens the centers are a saturated Rényi parking of cars of
length alpha on the circle, 1 + M(2 pi / alpha - 1) of them on average, M(x) ~ c x + c - 1 with
Rényi's constant c = 0.7476 (``dynamics.circle_renyi_center_mean``); i.e. about
2 pi c / alpha ~ 2 pi c sqrt(beta) / delta_scale = 1.174 sqrt(beta) for delta_scale = 4. The
strong centers of n uniform tokens number (1 - (1 - alpha / pi)^n) / (alpha / pi) on average
(``dynamics.circle_strong_center_mean``).

Runs, every one a batch of ``seeds`` clouds solved by ``solvers.solve_ensemble`` (dopri5, one step
size per seed), from the same clouds for every beta and both masks:

- SA on S^1, Q = K = V = I, n tokens, every beta of ``betas``, causal and full: cluster counts
  (``dynamics.circle_cluster_count``, single linkage at cos > 1 - ``cluster_tol``), their first
  plateau from ``t_min`` on (the count held over a factor ``plateau_factor`` of time, as in
  ``scenarios.metastability``), the time to one cluster (every pairwise cosine > 1 - tol), the
  energy's largest decrease, the first token's displacement, and how long the strong and the other
  Rényi centers stay within delta / 2 of their start;
- SA and USA at ``small_beta``, causal and full, which reach one cluster by T;
- causal SA on S^2 at ``atlas_beta`` with value matrices of different spectra (identity, a
  symmetric positive V with a simple top eigenvalue, an indefinite V, -I): where the tokens go.
  The first token follows x' = P_x(V x), solved by e^{tV} x_1(0) / |e^{tV} x_1(0)| (checked).

Sweeps (``attnflow sweep causal``): the S^1 runs of every grid point, one row per (beta, mask,
seed), ``scenarios.causal.sweep``. Figures: ``scenarios.causal.figures``.
"""

from scenarios.causal.config import CausalConfig
from scenarios.causal.figures import make_figures
from scenarios.causal.simulation import (
    MASKS,
    VALUE_MATRICES,
    CausalResult,
    Run,
    beta_metrics,
    first_plateaus,
    initial_clouds,
    metrics,
    output_times,
    simulate,
    stay_times,
    summary_lines,
    time_to_one_cluster,
    value_matrix,
)
from scenarios.causal.sweep import SWEEP, sweep_point
from scenarios.harness import Scenario

SCENARIO = Scenario(
    name="causal",
    summary=__doc__.splitlines()[0],
    config=CausalConfig,
    simulate=simulate,
    metrics=metrics,
    figures=make_figures,
    summary_lines=summary_lines,
    work=lambda config: config.seeds * config.n * config.n * 2,
    sweep=SWEEP,
)

__all__ = [
    "MASKS",
    "SCENARIO",
    "SWEEP",
    "VALUE_MATRICES",
    "CausalConfig",
    "CausalResult",
    "Run",
    "beta_metrics",
    "first_plateaus",
    "initial_clouds",
    "make_figures",
    "metrics",
    "output_times",
    "simulate",
    "stay_times",
    "summary_lines",
    "sweep_point",
    "time_to_one_cluster",
    "value_matrix",
]
