"""Solvers of the mean-field (Vlasov) equation of attention on the circle: finite volumes on a
grid and particle-in-cell.

The public names are re-exported by the top-level package."""
