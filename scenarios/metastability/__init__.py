"""Metastability: at large beta the tokens linger in multi-cluster states for exponentially long.

Geshkovski, Koubbi, Polyanskiy, Rigollet, "Dynamic metastability in the self-attention model", and
Bruno, Pasqualotto, Agazzi, "Emergence of meta-stable clustering in mean-field transformer
models": n tokens uniform on S^{d-1} (the circle by default) follow self-attention

    x_i' = P_{x_i}( sum_j e^{beta <x_i, x_j>} x_j / sum_k e^{beta <x_i, x_k>} )   (SA),

Q = K = V = I. At large beta the uniform state first breaks into a few clusters within a time of
order one, then these clusters merge one pair at a time on far longer times: the cluster count
against log t is a staircase, and so is the interaction energy
E_beta = (1 / (2 beta n^2)) sum_ij e^{beta <x_i, x_j>}, which SA increases. On a plateau the
clusters are points with masses m_c, so E_beta / E_max = sum_c m_c^2 up to the inter-cluster
terms e^{-beta |x_c - x_c'|^2 / 2}, E_max = e^beta / (2 beta).

How many clusters first. Linearising the Vlasov equation (``scenarios.mean_field``) at the uniform
density on the circle, the mode cos(k theta) grows at the rate

    lambda_k = (k^2 / beta) I_k(beta) / I_0(beta)

(SA; USA multiplies every rate by the same constant, as in the linear stability analysis of Bruno,
Pasqualotto, Agazzi). For large beta, I_k(beta) / I_0(beta) ~ e^{-k^2 / (2 beta)}, so the fastest
mode is k* ~ sqrt(2 beta) (``most_unstable_mode`` finds the integer argmax): the first metastable
state has about sqrt(2 beta) clusters, a count c sqrt(beta). Here the count on the first plateau
is fitted against beta (``fit_power_law``, least squares in log-log over the means over seeds):
the exponent should be about 1/2 on the circle. (On S^{d-1} clusters spaced 1/sqrt(beta) apart
suggest a count ~ beta^{(d-1)/2}, a heuristic reported as ``reference_exponent``.)

Plateau, precisely: with the cluster count c(t) at the output times (``dynamics.cluster_count``:
single linkage, cos > 1 - ``cluster_tol``), a plateau is a maximal run of consecutive positive
output times t_a < ... < t_b on which c is constant and t_b >= ``plateau_factor`` * t_a: the
count held over a factor of time. The first plateau is the earliest. The positive output times
are geometric from ``t_min`` to T (plus t = 0), so a factor of time is a fixed number of output
intervals; ``t_min`` of order one skips the initial stretch where the tokens have barely moved and
the count of the uniform cloud is constant only because nothing has happened yet.

Integration: the flow is stiff once clusters form (each cluster contracts at a rate of order one
while the clusters drift at rates ~ e^{-beta delta^2 / 2}), over times up to T = 10^4 and more, so
the default is scipy's LSODA (``method="scipy_solver"``), which switches to implicit BDF steps
where the flow is stiff (as ``scenarios.clustering`` does). All seeds are one batched solve per
beta, from the same clouds for every beta. Figures: ``scenarios.metastability.figures``.
"""

from scenarios.harness import Scenario
from scenarios.metastability.config import NORMALIZATIONS, MetastabilityConfig
from scenarios.metastability.figures import make_figures
from scenarios.metastability.plateau_analysis import first_plateau, plateaus
from scenarios.metastability.simulation import (
    BetaRun,
    MetastabilityResult,
    beta_metrics,
    cluster_mass_energy,
    fit_metrics,
    initial_clouds,
    metrics,
    output_times,
    simulate,
    solve_beta,
    summary_lines,
)
from scenarios.metastability.stability import growth_rates, most_unstable_mode

SCENARIO = Scenario(
    name="metastability",
    summary=__doc__.splitlines()[0],
    config=MetastabilityConfig,
    simulate=simulate,
    metrics=metrics,
    figures=make_figures,
    summary_lines=summary_lines,
    work=lambda config: config.seeds * config.n * config.n * config.d,
)

__all__ = [
    "NORMALIZATIONS",
    "SCENARIO",
    "BetaRun",
    "MetastabilityConfig",
    "MetastabilityResult",
    "beta_metrics",
    "cluster_mass_energy",
    "first_plateau",
    "fit_metrics",
    "growth_rates",
    "initial_clouds",
    "make_figures",
    "metrics",
    "most_unstable_mode",
    "output_times",
    "plateaus",
    "simulate",
    "solve_beta",
    "summary_lines",
]
