"""Mean field on the circle: one density evolved by the Vlasov grid, exact particles and PIC.

As n grows the empirical measure of n tokens following self-attention on the circle (d = 2,
Q = K = V = I, tokens (cos theta, sin theta)) solves the continuity (Vlasov) equation

    d rho / dt + d/dtheta (rho v[rho]) = 0,
    v[rho](theta) = int e^{beta cos(phi - theta)} sin(phi - theta) rho(phi) dphi / Z(theta),

Z(theta) = int e^{beta cos(phi - theta)} rho(phi) dphi for SA, Z = 1 for USA (Geshkovski,
Letrouit, Polyanskiy, Rigollet, "A mathematical perspective on Transformers"; ``dynamics.circle``).
One initial density, a von Mises mixture

    rho_0(theta) = sum_c w_c e^{kappa_c cos(theta - mu_c)} / (2 pi I_0(kappa_c)),

is evolved three independent ways:

- the reference: the finite-volume grid solver on ``cells`` cells (``solvers.solve_vlasov_circle``,
  van Leer MUSCL, SSP-RK3), from the exact cell averages of rho_0;
- exact particles: n i.i.d. samples of rho_0 (``seeds`` independent clouds per n, one batched
  solve) moved by the O(n^2) field ``SelfAttention(2, beta=..)``, classical RK4 with a fixed step;
- particle-in-cell (``solvers.particle_in_cell_circle``, same grid, RK4, same step), up to 10^6
  particles per cloud.

For each n the clouds are compared with the grid density by the exact W1 on the circle
(``dynamics.w1_particles_grid``, in radians). Propagation of chaos predicts that the particles
stay within the sampling error of the mean-field solution, W1 ~ C n^{-1/2} (on the line
E W1(mu_n, mu) <= int sqrt(F (1 - F)) / sqrt(n); Bobkov and Ledoux, "One-dimensional empirical
measures, order statistics, and Kantorovich transport distances"), as long as the grid's error
(second order in h = 2 pi / M) and the time step's stay below it. The fitted exponent of
mean-over-seeds W1 against n (least squares in log-log, ``fit_power_law``) is reported at t = 0
(pure sampling) and at t = T, for exact particles and for PIC, with W1 between the PIC and exact
clouds drawn from the same samples (the PIC error alone), the solve times, and the grid's mass
error max_t |h sum_k rho_k(t) - 1| (the scheme conserves mass to rounding).

Samples: the clouds of size n come from their own random stream, seeded by (``seed``, n), so a
cloud does not change when other sizes are added, and exact particles and PIC share the clouds of
the sizes they have in common. Figures: ``scenarios.mean_field.figures``.
"""

from scenarios.harness import Scenario
from scenarios.mean_field.config import MeanFieldConfig
from scenarios.mean_field.figures import make_figures
from scenarios.mean_field.initial import (
    angles_of,
    initial_angles,
    initial_cells,
    mixture_density,
    on_circle,
)
from scenarios.mean_field.simulation import (
    METHODS,
    REFERENCE_SLOPE,
    MethodRuns,
    Results,
    drawn_paths,
    exact_angles,
    method_metrics,
    metrics,
    output_times,
    pic_angles,
    run_method,
    simulate,
    solve_grid,
    summary_lines,
    w1_to_grid,
)

SCENARIO = Scenario(
    name="mean_field",
    summary=__doc__.splitlines()[0],
    config=MeanFieldConfig,
    simulate=simulate,
    metrics=metrics,
    figures=make_figures,
    summary_lines=summary_lines,
)

__all__ = [
    "METHODS",
    "REFERENCE_SLOPE",
    "SCENARIO",
    "MeanFieldConfig",
    "MethodRuns",
    "Results",
    "angles_of",
    "drawn_paths",
    "exact_angles",
    "initial_angles",
    "initial_cells",
    "make_figures",
    "method_metrics",
    "metrics",
    "mixture_density",
    "on_circle",
    "output_times",
    "pic_angles",
    "run_method",
    "simulate",
    "solve_grid",
    "summary_lines",
    "w1_to_grid",
]
