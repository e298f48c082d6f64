"""Momentum fields on (x, v) or (x, p): accelerated (heavy-ball, Nesterov) flows of a first-order
field, the friction they share, and the damped Hamiltonian attention fields.

The public names are re-exported by the top-level package."""
