"""Measure transport: an attention flow trained to push N measures mu_k onto N measures nu_k.

Following Geshkovski, Rigollet, Ruiz-Balet, "Measure-to-measure interpolation using
Transformers": a transformer flow with time-dependent weights steers N input measures to N target
measures. Here mu_k and nu_k are two-component Gaussian mixtures in R^2 whose sources all share
one component, which each target moves elsewhere (``scenarios.measure_transport.pairs``); the
flows (``scenarios.measure_transport.flows``) have weights constant on K time pieces:

- the attention flow, x' = Attn_{mu_t}(x) + MLP(x), whose velocity depends on the context measure;
- the MLP flow, x' = MLP(x), a map that ignores the context and so cannot send the shared
  component to different places: its W2 stays near half the component shift.

Training (``scenarios.measure_transport.training``): Adam on sum_k W2^2(T_# mu_k, nu_k) (or the
Sinkhorn divergence) through POT's torch backend, on fresh samples at every step, with the
OT-Transformer kinetic penalty as an option. Reported, in units of the mixtures' spread, on
held-out samples of ``eval_n`` points per measure: W2 per pair of both main flows (``train_steps``
steps); after ``sweep_steps`` steps, W2 against N and against K, and softmax against a few
Sinkhorn iterations (``dynamics.SelfAttention(sinkhorn_fixed_iters=k)``) at equal parameters,
converged Sinkhorn too when ``compare_iterations`` holds 0 (slow: the trained logits need about
100 iterations); and lower bounds of the W1-Lipschitz constants of the trained in-context map
(``solvers.InContextMap``) and of its push-forward.
"""

from scenarios.harness import Scenario
from scenarios.measure_transport.config import MeasureTransportConfig
from scenarios.measure_transport.figures import make_figures
from scenarios.measure_transport.flows import KINDS, AttentionMLP, PiecewiseFlow
from scenarios.measure_transport.pairs import centres, sample_pairs, spread
from scenarios.measure_transport.simulation import (
    Results,
    Run,
    lipschitz_ratios,
    metrics,
    simulate,
    summary_lines,
    sweep_keys,
    train_run,
)
from scenarios.measure_transport.training import (
    LOSSES,
    TrainingOptions,
    sinkhorn_divergence,
    squared_w2,
    train,
    transport_loss,
)

SCENARIO = Scenario(
    name="measure_transport",
    summary=__doc__.splitlines()[0],
    config=MeasureTransportConfig,
    simulate=simulate,
    metrics=metrics,
    figures=make_figures,
    summary_lines=summary_lines,
    work=lambda config: max(config.pairs, *config.sweep_pairs) * config.n * config.n * config.heads,
)

__all__ = [
    "KINDS",
    "LOSSES",
    "SCENARIO",
    "AttentionMLP",
    "MeasureTransportConfig",
    "PiecewiseFlow",
    "Results",
    "Run",
    "TrainingOptions",
    "centres",
    "lipschitz_ratios",
    "make_figures",
    "metrics",
    "sample_pairs",
    "simulate",
    "sinkhorn_divergence",
    "spread",
    "squared_w2",
    "summary_lines",
    "sweep_keys",
    "train",
    "train_run",
    "transport_loss",
]
