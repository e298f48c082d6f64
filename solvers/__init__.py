"""Integrators for token-cloud dynamics and the ``integrate`` entry point.

torchdiffeq provides the generic methods and the adjoint; our own steppers cover what it lacks
(sphere-preserving steps, symplectic steps for momentum dynamics, Lie-Trotter and Strang splitting
of attention and MLP). ``METHODS`` lists every method with its order.
"""

from solvers.grid import step_grid, steps_per_interval
from solvers.integrate import integrate
from solvers.kinetic import KineticAugmented, integrate_with_kinetic, kinetic_rate
from solvers.learning.transformers import DiscreteTransformer, ODETransformer
from solvers.mean_field.particle_in_cell import (
    PIC_STEPPERS,
    ParticleInCellVelocity,
    deposit,
    particle_in_cell_circle,
)
from solvers.mean_field.vlasov_grid import SCHEMES, SSP_STEPPERS, solve_vlasov_circle
from solvers.methods import METHODS, Method
from solvers.steppers.phase_space import leapfrog_step, nesterov_layer_step, symplectic_euler_step
from solvers.steppers.sphere import exponential_euler_step, projected_euler_step
from solvers.steppers.splitting import lie_trotter_step, strang_step
from solvers.steppers.tao import TAO_OMEGA, presymplectic_euler_step, tao_step, tao_stepper

__all__ = [
    "METHODS",
    "PIC_STEPPERS",
    "SCHEMES",
    "SSP_STEPPERS",
    "TAO_OMEGA",
    "DiscreteTransformer",
    "KineticAugmented",
    "Method",
    "ODETransformer",
    "ParticleInCellVelocity",
    "deposit",
    "exponential_euler_step",
    "integrate",
    "integrate_with_kinetic",
    "kinetic_rate",
    "leapfrog_step",
    "lie_trotter_step",
    "nesterov_layer_step",
    "particle_in_cell_circle",
    "presymplectic_euler_step",
    "projected_euler_step",
    "solve_vlasov_circle",
    "step_grid",
    "steps_per_interval",
    "strang_step",
    "symplectic_euler_step",
    "tao_step",
    "tao_stepper",
]
