"""LoRA: how a low-rank perturbation of Q, K, V moves self-attention's clustering on the sphere.

The base field is SA on S^{d-1} (``dynamics.SelfAttention``, Q = K = V = I, inverse temperature
``beta``); each perturbed field is ``dynamics.LoRA`` of it with random factors (Hu et al., "LoRA:
Low-rank adaptation of large language models"; Koubbi, Boussard, Hernandez, "The impact of LoRA
on the emergence of clusters in transformers"): Q, K, V -> W + B_W A_W with rank r and relative size

    eps = |B_W A_W|_F / |W|_F   for each of Q, K, V (``LoRA.rescale_``).

For every rank r in ``ranks`` and every initial cloud one direction B A is drawn, and the sizes
``eps`` scale that one direction, so the eps axis moves along a line in weight space. Every
system (base and perturbed, for ``systems`` clouds of n uniform tokens) starts from the same cloud
and all of them are solved by dopri5 in one batch (``WeightFamily``).

Measured, between the base trajectory x(t) and the perturbed one y(t) from the same start:

- the largest token deviation max_i |x_i(t) - y_i(t)| and W2(mu_t, nu_t) between the empirical
  measures (``dynamics.wasserstein2``, exact OT); W2 <= max_i |x_i - y_i| (the identity coupling);
- the time to deviation: the first output time with W2 > ``threshold`` (median over the clouds;
  None when more than half never deviate by T);
- the final cluster structures: ``dynamics.cluster_labels`` at T of both, compared by the
  adjusted Rand index (``dynamics.adjusted_rand_index``; 1 for the same partition);
- the Gronwall bound. With K the sensitivity of the field to its weights and L its Lipschitz
  constant, |x(t) - y(t)| <= (K eps / L) (e^{L t} - 1) (``dynamics.lora``). On the early part
  t in (0, ``fit_time``] the curves R(t) = max_i |x_i - y_i|(t) / eps of every rank, size and cloud
  are fitted together, while the deviation is still below ``threshold`` (its linear part), by
  least squares on log R against log(C (e^{L t} - 1)), which gives L and C; the envelope constant
  C_env = max over those points of R(t) / (e^{L t} - 1) makes the bound hold there, and
  ``metrics.json`` reports whether every measured curve stays under C_env eps (e^{L t} - 1) up
  to T, i.e. whether the early growth rate L bounds the later growth.

Figures: ``scenarios.lora.figures``.
"""

from scenarios.harness import Scenario
from scenarios.lora.config import LoraConfig
from scenarios.lora.figures import make_figures
from scenarios.lora.gronwall import GronwallFit, fit_gronwall, growth
from scenarios.lora.report import by_rank_and_eps, eps_slopes, metrics, summary_lines
from scenarios.lora.simulation import (
    Results,
    WeightFamily,
    base_field,
    first_crossing,
    initial_clouds,
    max_deviation,
    output_times,
    perturbed_weights,
    simulate,
    solve,
    wasserstein_curves,
)

SCENARIO = Scenario(
    name="lora",
    summary=__doc__.splitlines()[0],
    config=LoraConfig,
    simulate=simulate,
    metrics=metrics,
    figures=make_figures,
    summary_lines=summary_lines,
    work=lambda config: config.n * config.n * config.d,
)

__all__ = [
    "SCENARIO",
    "GronwallFit",
    "LoraConfig",
    "Results",
    "WeightFamily",
    "base_field",
    "by_rank_and_eps",
    "eps_slopes",
    "first_crossing",
    "fit_gronwall",
    "growth",
    "initial_clouds",
    "make_figures",
    "max_deviation",
    "metrics",
    "output_times",
    "perturbed_weights",
    "simulate",
    "solve",
    "summary_lines",
    "wasserstein_curves",
]
