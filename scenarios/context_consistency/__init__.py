"""Context consistency: trained transformers applied to longer contexts converge as measure maps.

A transformer without positional information is a map of measures: the context u_1..u_n acts
through its empirical measure mu_n, each token moves by the in-context map x -> T_{mu_n}(x), and
the output measure is (T_{mu_n})_# mu_n ("Transformers through the lens of support-preserving maps
between measures"). As n grows, mu_n -> mu and the attention averages converge at the rate of the
central limit theorem, so T_{mu_n} -> T_mu with error O(n^{-1/2}): a model trained at one context
length has a mean-field limit.

Setting. Measures: isotropic Gaussian mixtures in R^2 with 1 .. ``classes`` components at a random
rotation (``measures``). An ODE transformer (``solvers.ODETransformer``, one block, RK4) and a
discrete one (``solvers.DiscreteTransformer``, independent blocks), both without positions
(``tokens=None``), are trained to classify contexts of n = ``n`` samples by their class
(``models``). Then ``test_measures`` held-out measures get one nested cloud each: the context of
length n is the first n points, for n in (``n``, *``ns``).

Measured, per model, on the output measures x(T) (the token states before the pooled readout):

- the map gap RMS_{i <= shared} |T_{mu_n}(x_i) - T_{mu_N}(x_i)| on the tokens every context shares
  (N the largest n): the in-context map's convergence, free of the outputs' sampling noise;
- W2 between the output measures at successive n, sliced (``dynamics.sliced_wasserstein2``, every
  n) and exact (POT's emd through ``dynamics.wasserstein2``, while the larger cloud has at most
  ``exact_up_to`` tokens: the LP needs O(n^2) memory and about O(n^3) time, 2 GB at 16384). These
  include the sampling distance of the clouds themselves, W2(mu_n, mu_m) ~ n^{-1/2} up to a log in
  R^2 (the outputs are a smooth image of the plane);
- with each exponent fitted by ``fit_power_law``, and the accuracy against n.

Where the field is linear attention the mean-field limit is known in closed form: x_i' = A(M) x_i,
A(M) = V M K^T Q, with the moments solving m' = A m, M' = A M + M A^T exactly
(``dynamics.LinearAttentionMoments``), so a Gaussian stays Gaussian. A fixed linear-attention field
(random Q, K, V) moves nested Gaussian contexts, and the W2 (Bures, ``ot.gaussian``) between the
Gaussian fitted to its output and the closure's N(m(T), M(T) - m m^T) is reported against n.

The more consistent trained model is the one with the smaller map gap, relative to the spread of
its outputs, at the second largest n.
"""

from scenarios.context_consistency.config import ContextConsistencyConfig
from scenarios.context_consistency.figures import make_figures
from scenarios.context_consistency.measures import mixture_centres, random_measures, sample
from scenarios.context_consistency.models import (
    MODELS,
    contexts,
    linear_field,
    make_model,
    output_states,
    train,
)
from scenarios.context_consistency.simulation import (
    Convergence,
    Results,
    classification_accuracy,
    convergence,
    linear_outputs,
    metrics,
    model_metrics,
    nested_contexts,
    rate,
    simulate,
    summary_lines,
)
from scenarios.harness import Scenario

SCENARIO = Scenario(
    name="context_consistency",
    summary=__doc__.splitlines()[0],
    config=ContextConsistencyConfig,
    simulate=simulate,
    metrics=metrics,
    figures=make_figures,
    summary_lines=summary_lines,
)

__all__ = [
    "MODELS",
    "SCENARIO",
    "ContextConsistencyConfig",
    "Convergence",
    "Results",
    "classification_accuracy",
    "contexts",
    "convergence",
    "linear_field",
    "linear_outputs",
    "make_figures",
    "make_model",
    "metrics",
    "mixture_centres",
    "model_metrics",
    "nested_contexts",
    "output_states",
    "random_measures",
    "rate",
    "sample",
    "simulate",
    "summary_lines",
    "train",
]
