"""Acceleration: attention flows against their heavy-ball and Nesterov momentum versions.

Two problems, each started from one initial cloud shared by every variant:

- ``sphere``: self-attention clustering on S^{d-1} (``systems`` independent clouds of n tokens,
  uniform on the sphere, solved as one batch). Progress is the relative energy gap
  1 - E_beta / E_max (``dynamics.relative_energy_gap``), 1 far from consensus and 0 at it,
  averaged over the systems and divided by its initial value.
- ``linear``: linear attention x' = -M x, M = (1/n) sum_j x_j x_j^T (Q = K = I, V = -I), on n
  Gaussian tokens in R^d. It is gradient descent of E(X) = (1/4) tr(M^2) =
  (1/4n^2) sum_ij <x_i, x_j>^2 (x_i' = -n grad_i E), a degenerate (quartic) minimum at 0: the
  regime where momentum is expected to help. Progress is E(t) / E(0). Its moments solve the
  exact moment ODE (``dynamics.LinearAttentionMoments``, ``AcceleratedLinearAttentionMoments``),
  checked against the particles.

Variants: the plain first-order flow x' = F(x), and the momentum flows x' = v,
v' = -gamma(t) v + F(x) of ``dynamics.Accelerated`` from rest, with heavy-ball friction (constant
``gamma``) and Nesterov friction r / (t + t0) (Su, Boyd, Candes, "A differential equation for
modeling Nesterov's accelerated gradient method"; Stein, Li, Steidl, "SympFormer: accelerated
attention blocks via inertial dynamics on density manifolds"). Two axes:

- time: each continuous flow solved by dopri5 on [0, T];
- field evaluations (the paper's "same number of oracle calls"): discrete layers of one field
  evaluation each: plain layers (post-LayerNorm ``projected_euler`` on the sphere, ``euler`` in
  R^d) and the momentum layers ``leapfrog`` and ``nesterov_layer`` (geodesic on the sphere), each
  run for ``max_evaluations`` evaluations at every step size in ``steps``. A variant's cost is its
  fewest evaluations to bring the gap below ``target`` over those step sizes (each variant at its
  own best step: a fair comparison of tuned methods); a run whose values stop being finite
  diverged at that step.

``metrics.json`` gives, per problem, each flow's time to ``target`` and final gap, each layer
variant's evaluations to ``target`` at every step, its best step and its speed-up over the plain
layers; for the sphere the mean final cluster count; for the linear problem the moment checks.
Figures are drawn by ``scenarios.acceleration.figures``.
"""

from scenarios.acceleration.config import AccelerationConfig
from scenarios.acceleration.figures import make_figures
from scenarios.acceleration.moments import linear_map_residual, moment_checks
from scenarios.acceleration.problems import (
    Problem,
    flow_times,
    linear_problem,
    quartic_energy,
    sphere_problem,
    variant_field,
)
from scenarios.acceleration.simulation import (
    FLOWS,
    LAYERS,
    Results,
    layer_curve,
    metrics,
    simulate,
    solve,
    summary_lines,
)
from scenarios.harness import Scenario

SCENARIO = Scenario(
    name="acceleration",
    summary=__doc__.splitlines()[0],
    config=AccelerationConfig,
    simulate=simulate,
    metrics=metrics,
    figures=make_figures,
    summary_lines=summary_lines,
    work=lambda config: max(
        config.systems * config.n * config.n * config.d, config.linear_n * config.linear_d**2
    ),
)

__all__ = [
    "FLOWS",
    "LAYERS",
    "SCENARIO",
    "AccelerationConfig",
    "Problem",
    "Results",
    "flow_times",
    "layer_curve",
    "linear_map_residual",
    "linear_problem",
    "make_figures",
    "metrics",
    "moment_checks",
    "quartic_energy",
    "simulate",
    "solve",
    "sphere_problem",
    "summary_lines",
    "variant_field",
]
