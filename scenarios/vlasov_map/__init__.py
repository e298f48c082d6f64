"""Vlasov map: a discrete transformer trained to be the solution map of the SA Vlasov equation.

"Transformers through the lens of support-preserving maps between measures" shows that the solution
map mu_0 -> mu_T of the Vlasov equation of interacting particles is a continuous in-context map
and can therefore be approximated by a transformer. This scenario measures it on the circle, for
SA with Q = K = V = I (``dynamics.mean_field.circle``):

    d rho / dt + d/dtheta (rho v[rho]) = 0,
    v[rho](theta) = int e^{beta cos(phi - theta)} sin(phi - theta) rho(phi) dphi / Z(theta).

Data. Random initial densities rho_0, von Mises mixtures (``densities``), as cell averages on M
cells; the grid solver (``solvers.solve_vlasov_circle``) gives rho(t) on [0, T]; n tokens are
sampled from rho_0 and moved along the characteristics of the grid solution, d theta / dt =
v[rho(t)] at theta (``characteristics``), so that their images Phi_T(theta_i) are samples of
rho_T.

Model. For each depth L in ``depths``, a transformer of L pre-norm residual layers with step T / L
(``solvers.DiscreteTransformer`` without positions: it sees the tokens' empirical measure only, at
any n), reading tokens as (cos theta, sin theta) and writing angles (``model``), is trained on
n = ``n`` tokens of ``train_densities`` densities to send each token to Phi_T(theta_i) (mean
squared chord).

Measured, on ``test_densities`` held-out densities and at every n in ``eval_ns``: W1(model output,
rho_T), exact on the circle against the piecewise-constant grid density
(``dynamics.w1_particles_grid``, radians), against depth; the references W1(rho_0, rho_T) (POT's
``wasserstein_circle`` on the cells), the identity map W1(samples, rho_T), and the exact flow map
W1(Phi_T(samples), rho_T) (what sampling alone leaves). The target: held-out W1 below
W1(rho_0, rho_T) / 10. At n = 256 the output of any map that sees only the samples carries their
fluctuation (for the exact n-particle SA system of the samples it is of the order of the
sampling error, about 0.07 rad at the defaults), so the target is read at the largest n.
"""

from scenarios.harness import Scenario
from scenarios.vlasov_map.characteristics import GridVelocity, characteristics
from scenarios.vlasov_map.config import VlasovMapConfig
from scenarios.vlasov_map.densities import Mixtures, cell_averages, random_mixtures, sample_cells
from scenarios.vlasov_map.figures import make_figures
from scenarios.vlasov_map.model import CircleTransformer, chord_loss, on_circle, train
from scenarios.vlasov_map.simulation import (
    FACTOR,
    Problem,
    Results,
    make_problem,
    metrics,
    simulate,
    summary_lines,
    w1_between_densities,
    w1_to,
)

SCENARIO = Scenario(
    name="vlasov_map",
    summary=__doc__.splitlines()[0],
    config=VlasovMapConfig,
    simulate=simulate,
    metrics=metrics,
    figures=make_figures,
    summary_lines=summary_lines,
)

__all__ = [
    "FACTOR",
    "SCENARIO",
    "CircleTransformer",
    "GridVelocity",
    "Mixtures",
    "Problem",
    "Results",
    "VlasovMapConfig",
    "cell_averages",
    "characteristics",
    "chord_loss",
    "make_figures",
    "make_problem",
    "metrics",
    "on_circle",
    "random_mixtures",
    "sample_cells",
    "simulate",
    "summary_lines",
    "train",
    "w1_between_densities",
    "w1_to",
]
