"""Trainable models that integrate a block: the ODE transformer and its discrete-layer twin.

The public names are re-exported by the top-level package."""
