"""Integrators for token-cloud dynamics and the ``integrate`` entry point.

torchdiffeq provides the generic methods and the adjoint; our own steppers cover what it lacks
(sphere-preserving steps, symplectic steps for momentum dynamics). ``METHODS`` lists every method
with its order.
"""

from solvers.grid import step_grid, steps_per_interval
from solvers.integrate import integrate
from solvers.methods import METHODS, Method
from solvers.phase_space_steppers import leapfrog_step, nesterov_layer_step, symplectic_euler_step
from solvers.sphere_steppers import exponential_euler_step, projected_euler_step

__all__ = [
    "METHODS",
    "Method",
    "exponential_euler_step",
    "integrate",
    "leapfrog_step",
    "nesterov_layer_step",
    "projected_euler_step",
    "step_grid",
    "steps_per_interval",
    "symplectic_euler_step",
]
