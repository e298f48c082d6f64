"""Long contexts: SA with beta = gamma log n, and the critical rate gamma_c as n grows.

Long-context models scale the attention logits with the context length (scalable softmax,
Nakanishi, "Scalable-Softmax is superior for attention": logits times s log n). Here SA on
S^{d-1} (Q = K = V = I) runs at beta = gamma log n, so e^{beta <x_i, x_j>} = n^{gamma <x_i, x_j>}.
Rigollet, "The Mean-Field Dynamics of Transformers", and Chen, Lin, Polyanskiy, Rigollet,
"Critical attention scaling in long-context transformers": for tokens with pairwise cosines rho,
a token weighs itself by n^gamma against n^{gamma rho} for each of the n - 1 others, so as n
grows the attention is spread over all tokens (fast collapse) when gamma (1 - rho) < 1 and on the
token itself (frozen tokens) when gamma (1 - rho) > 1. In the equiangular reduction
rho' = 2 (1 - rho) (1 + (n - 1) rho) / (n^{gamma (1 - rho)} + n - 1), whose rate at
gamma (1 - rho) = 1 tends to (1 - rho) rho for every n: the curves for different n cross at
gamma_c = 1 / (1 - rho). With d finite the cosines spread, by about (1 - rho) / sqrt(d - 1) around
rho, which shifts the balance (``predicted_gamma_c``).

Run: for every n in ``ns`` (``seeds`` clouds, one batch) the initial tokens
x_i = sqrt(rho) e_1 + sqrt(1 - rho) u_i (u_i uniform on the sphere orthogonal to e_1: cosines
rho on average), for every gamma in ``gammas`` and for the scalable-softmax gamma = s, solved to
time T with ``steps`` fixed steps of ``method`` (``solvers.integrate``; the softmax attention is
the fused kernel, memory O(n d), so n = 2^16 fits). Measured at T on each cloud: the mean
pairwise cosine and the effective rank (``dynamics.mean_pairwise_cosine``,
``dynamics.effective_rank``, both O(n d)), the cluster count among the first ``cluster_sample``
tokens over their number, and the RMS velocity.

gamma_c: the mean cosine at T against gamma is a decreasing curve for each n; for consecutive n
the larger n lies above for small gamma (faster collapse) and below for large gamma (frozen). The
crossing of each consecutive pair is interpolated linearly on the gamma grid; gamma_c is their
median, with a percentile bootstrap interval over resamples of the seeds. Whether the transition
sharpens: the steepest drop of the mean curve between neighbouring gammas, per n. The seconds per
n and the peak resident memory are reported (the n = 2^16 point:
``--set ns=64,65536 gammas=1,3 d=4 method=projected_euler steps=4``).

On S^1 (d = 2) the same rates are compared with the mean-field limit, which a grid reaches at
n = infinity directly: ``seeds`` clouds of n tokens drawn from the von Mises density
e^{circle_kappa cos theta} / (2 pi I_0(circle_kappa)) against the density of the same law solved
by the Vlasov grid (``solvers.solve_vlasov_circle``, ``vlasov_cells`` cells) at the same
beta = gamma log n, by their mean pairwise cosine at T (for a density,
|int e^{i theta} rho(theta) d theta|^2). On the circle the neighbours of a token within the
kernel's width beta^{-1/2} always outnumber it, so no finite-n (self-attention) regime is expected:
the gap should close as n grows at every gamma.

Sweeps (``attnflow sweep long_context``): one row per (n, gamma, rule, seed) with the observables
at T, ``scenarios.long_context.sweep``. Figures: ``scenarios.long_context.figures``.
"""

from scenarios.harness import Scenario
from scenarios.long_context.config import LongContextConfig
from scenarios.long_context.figures import make_figures
from scenarios.long_context.simulation import (
    OBSERVABLES,
    ORDER_PARAMETER,
    LongContextResult,
    bootstrap_interval,
    circle_comparison,
    circle_density,
    critical_gamma,
    crossing,
    density_mean_cosine,
    initial_clouds,
    metrics,
    observe,
    pair_crossings,
    predicted_gamma_c,
    simulate,
    steepest_drop,
    summary_lines,
)
from scenarios.long_context.sweep import SWEEP, sweep_point

SCENARIO = Scenario(
    name="long_context",
    summary=__doc__.splitlines()[0],
    config=LongContextConfig,
    simulate=simulate,
    metrics=metrics,
    figures=make_figures,
    summary_lines=summary_lines,
    work=lambda config: config.seeds * max(config.ns) ** 2 * config.d,
    sweep=SWEEP,
)

__all__ = [
    "OBSERVABLES",
    "ORDER_PARAMETER",
    "SCENARIO",
    "LongContextConfig",
    "LongContextResult",
    "bootstrap_interval",
    "circle_comparison",
    "circle_density",
    "critical_gamma",
    "crossing",
    "density_mean_cosine",
    "initial_clouds",
    "make_figures",
    "metrics",
    "observe",
    "pair_crossings",
    "predicted_gamma_c",
    "simulate",
    "steepest_drop",
    "summary_lines",
    "sweep_point",
]
