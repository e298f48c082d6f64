"""Plateaus of a cluster-count series: where the count holds over a factor of time
(``scenarios.analysis``, shared with the causal scenario)."""

from scenarios.analysis import first_plateau, plateaus

__all__ = ["first_plateau", "plateaus"]
