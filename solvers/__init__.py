"""Integrators for token-cloud dynamics and the ``integrate`` entry point.

torchdiffeq provides the generic methods and the adjoint; our own steppers (``solvers.steppers``,
one module each) cover what it lacks: sphere-preserving steps, symplectic steps for momentum and
Hamiltonian dynamics, Lie-Trotter and Strang splitting of attention and MLP. ``METHODS`` lists
every method with its contract (order, evaluations, what it preserves, the field kind, geometry and
state it accepts, its options); ``check_method`` and ``methods_for`` read it. ``solvers.mean_field``
solves the Vlasov equation on the circle, ``solvers.learning`` holds the trainable models that
integrate a block, and ``solvers.ensemble`` (``solve_ensemble``) solves batches of independent
autonomous systems with a step size per system, streaming observables instead of trajectories.
"""

from solvers.checks import RTOL_EPS_FRACTION, DivergedError, check_rtol
from solvers.contracts import (
    Configured,
    MethodLike,
    check_method,
    check_step_size,
    configure,
    methods_for,
)
from solvers.ensemble import EnsembleStats, solve_ensemble
from solvers.grid import fixed_steps, step_grid, steps_per_interval
from solvers.in_context_map import InContextMap
from solvers.integration import integrate
from solvers.kinetic import KineticAugmented, integrate_with_kinetic, kinetic_rate
from solvers.learning.transformers import DiscreteTransformer, ODETransformer
from solvers.mean_field.particle_in_cell import PIC_STEPPERS, particle_in_cell_circle
from solvers.mean_field.vlasov_grid import SCHEMES, SSP_STEPPERS, solve_vlasov_circle
from solvers.methods import METHODS, STATE_PARTS, Method
from solvers.steppers.exponential_euler import exponential_euler_step
from solvers.steppers.leapfrog import leapfrog_step
from solvers.steppers.lie_trotter import lie_trotter_step
from solvers.steppers.nesterov_layer import nesterov_layer_step
from solvers.steppers.presymplectic_euler import presymplectic_euler_step
from solvers.steppers.projected_euler import projected_euler_step
from solvers.steppers.strang import strang_step
from solvers.steppers.symplectic_euler import symplectic_euler_step
from solvers.steppers.tao import TAO_OMEGA, tao_step, tao_stepper
from solvers.threads import SMALL_WORK, thread_count, torch_threads

__all__ = [
    "METHODS",
    "PIC_STEPPERS",
    "RTOL_EPS_FRACTION",
    "SCHEMES",
    "SMALL_WORK",
    "SSP_STEPPERS",
    "STATE_PARTS",
    "TAO_OMEGA",
    "Configured",
    "DiscreteTransformer",
    "DivergedError",
    "EnsembleStats",
    "InContextMap",
    "KineticAugmented",
    "Method",
    "MethodLike",
    "ODETransformer",
    "check_method",
    "check_rtol",
    "check_step_size",
    "configure",
    "exponential_euler_step",
    "fixed_steps",
    "integrate",
    "integrate_with_kinetic",
    "kinetic_rate",
    "leapfrog_step",
    "lie_trotter_step",
    "methods_for",
    "nesterov_layer_step",
    "particle_in_cell_circle",
    "presymplectic_euler_step",
    "projected_euler_step",
    "solve_ensemble",
    "solve_vlasov_circle",
    "step_grid",
    "steps_per_interval",
    "strang_step",
    "symplectic_euler_step",
    "tao_step",
    "tao_stepper",
    "thread_count",
    "torch_threads",
]
