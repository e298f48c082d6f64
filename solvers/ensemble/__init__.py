"""Ensembles of independent systems solved together, each with its own adaptive steps.

``solve_ensemble`` integrates clouds (*batch, n, d) with a Runge-Kutta 5(4) pair (Dormand-Prince
or Tsitouras) whose step-size control, rejection and dense output are per system, and either
returns the trajectory or streams observables at the output times (``observe``).
"""

from solvers.ensemble.stepper import EnsembleStats, solve_ensemble
from solvers.ensemble.tableau import DOPRI5, TABLEAUS, TSIT5, Tableau

__all__ = ["DOPRI5", "TABLEAUS", "TSIT5", "EnsembleStats", "Tableau", "solve_ensemble"]
