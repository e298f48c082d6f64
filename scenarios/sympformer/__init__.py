"""SympFormer: Hamiltonian attention against the plain, heavy-ball and Nesterov attention flows.

Stein, Li, Steidl, "SympFormer: accelerated attention blocks via inertial dynamics on density
manifolds" claims that its accelerated (Hamiltonian) attention blocks converge faster than plain
attention at the same number of oracle calls. This scenario measures that claim on the
attention potential, from one start shared by every variant.

Start. ``systems`` independent clouds of n tokens in R^d, x_i ~ N(0, scale^2 I) (seeded), solved
as one batch; momenta and velocities start at rest (p = v = 0). R^d, not the sphere, because
``dynamics.HamiltonianAttention`` is a Euclidean field (its flow leaves any sphere).

The fields. Q = K = I, B = V = I (the kinetic metric of ``HamiltonianAttention``), logits
S_ij = <x_i, x_j> / sqrt(d), E_ij = exp(S_ij), z_i = (1/n) sum_j E_ij, P_ij = E_ij / (n z_i), and
the potential (the potential part of H)

    U(X) = -(1/(2n)) sum_ij E_ij = -(1/2) sum_i z_i.

- Hamiltonian attention: H(X, P) = sum_i p_i^T B p_i / (2 z_i) + U(X), x' = dH/dp,
  p' = -dH/dx - alpha(t) p, alpha(t) = c_log / t (c_log = 3: Nesterov's 3/t), started at t = t0.
- plain: the overdamped limit of that system (the "attention flow" of the ``HamiltonianAttention``
  docstring): dropping p', p = -grad U / alpha, x_i' = B p_i / z_i, and rescaling time by alpha,

      x_i' = -B grad_{x_i} U / z_i = (1/sqrt(d)) B sum_j P_ij x_j,

  (the last form since E is symmetric for Q = K): softmax self-attention in R^d with
  beta = 1/sqrt(d) and V = B / sqrt(d), ``dynamics.SelfAttention(manifold="euclidean")``. It
  decreases U: dU/dt = -sum_i |grad_i U|_B^2 / z_i <= 0.
- heavy ball and Nesterov: ``dynamics.Accelerated`` of the plain field F, x' = v,
  v' = -gamma(t) v + F(x), gamma = ``gamma`` or r / (t + t0) (Su, Boyd, Candes, "A differential
  equation for modeling Nesterov's accelerated gradient method"). With r = c_log and the
  Hamiltonian run started at t0, Nesterov's friction r / (s + t0) at elapsed time s equals the
  Hamiltonian's c_log / t: the two differ only by the position-dependent mass z_i.

Energy and fairness. U is the one quantity every variant decreases (the plain flow exactly, the
momentum flows on average), it is what the paper's energy descent is about, and it is evaluated
on positions only, so it does not favour a variant by its kinetic part. In R^d U is unbounded
below (tokens drift outward and E_ij grows), so there is no minimum to converge to; progress is
the relative potential

    gap(t) = mean over systems of U(0) / U(t)   (1 at the start, -> 0 as U -> -infinity),

computed in the log domain (log sum_ij E_ij), and "faster" means reaching gap <= ``target`` in
fewer field evaluations. H itself (kinetic + U) is the Lyapunov function of the damped
Hamiltonian flow only: dH/dt = -alpha(t) sum_i p_i^T B p_i / z_i <= 0.

Two axes, as in ``scenarios.acceleration`` (both measure with ``scenarios.analysis``'s
``Curve``, ``best_step`` and ``positions``):

- time: each continuous flow by dopri5 over elapsed time [0, T];
- field evaluations: discrete layers, plain ``euler`` (1 evaluation per step), ``leapfrog`` for
  heavy ball and Nesterov (1), and for the Hamiltonian field ``tao`` (Tao, "Explicitly high-order
  symplectic integrators for nonseparable Hamiltonians"; 4 gradient evaluations per step) and
  ``presymplectic_euler`` (2), each run for ``max_evaluations`` evaluations at every step in
  ``steps``; each variant is scored at its own best step (fewest evaluations to ``target``
  among the runs that stay finite: a run whose values stop being finite diverged at that step).

``metrics.json``: per flow the time to target, final gap and final mean cluster count; per layer
variant the metrics at every step, its best step, evaluations to target and speed-up over the
plain layers; ``claim`` says whether the Hamiltonian layers reach the target in fewer
evaluations than the plain and the momentum layers; ``hamiltonian`` gives H along the dopri5
flow (its largest increase between output times, which must be <= 0 up to rounding) and along
the Tao layers at their best step; ``overdamped_check`` the largest gap between the plain field
and -B grad U / z at the start. Figures are drawn by ``scenarios.sympformer.figures``.
"""

from scenarios.harness import Scenario
from scenarios.sympformer.config import SympformerConfig
from scenarios.sympformer.figures import make_figures
from scenarios.sympformer.problem import (
    Problem,
    energy_parts,
    flow_times,
    make_problem,
    overdamped_residual,
    potential_gap,
    trajectory,
)
from scenarios.sympformer.simulation import (
    FLOWS,
    H_TOLERANCE,
    LAYERS,
    Results,
    layer_run,
    metrics,
    simulate,
    summary_lines,
)

SCENARIO = Scenario(
    name="sympformer",
    summary=__doc__.splitlines()[0],
    config=SympformerConfig,
    simulate=simulate,
    metrics=metrics,
    figures=make_figures,
    summary_lines=summary_lines,
    work=lambda config: config.systems * config.n * config.n * config.d,
)

__all__ = [
    "FLOWS",
    "H_TOLERANCE",
    "LAYERS",
    "SCENARIO",
    "Problem",
    "Results",
    "SympformerConfig",
    "energy_parts",
    "flow_times",
    "layer_run",
    "make_figures",
    "make_problem",
    "metrics",
    "overdamped_residual",
    "potential_gap",
    "simulate",
    "summary_lines",
    "trajectory",
]
