"""Integrators for token-cloud dynamics and the ``integrate`` entry point.

torchdiffeq provides the generic methods and the adjoint; our own steppers cover what it lacks
(sphere-preserving steps, symplectic steps for momentum dynamics, Lie-Trotter and Strang splitting
of attention and MLP). ``METHODS`` lists every method with its order.
"""

from solvers.grid import step_grid, steps_per_interval
from solvers.integrate import integrate
from solvers.kinetic import KineticAugmented, integrate_with_kinetic, kinetic_rate
from solvers.methods import METHODS, Method
from solvers.particle_in_cell import (
    PIC_STEPPERS,
    ParticleInCellVelocity,
    deposit,
    particle_in_cell_circle,
)
from solvers.phase_space_steppers import leapfrog_step, nesterov_layer_step, symplectic_euler_step
from solvers.sphere_steppers import exponential_euler_step, projected_euler_step
from solvers.splitting_steppers import lie_trotter_step, strang_step
from solvers.tao_steppers import TAO_OMEGA, presymplectic_euler_step, tao_step, tao_stepper
from solvers.vlasov_grid import SCHEMES, SSP_STEPPERS, solve_vlasov_circle

__all__ = [
    "METHODS",
    "PIC_STEPPERS",
    "SCHEMES",
    "SSP_STEPPERS",
    "TAO_OMEGA",
    "KineticAugmented",
    "Method",
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
