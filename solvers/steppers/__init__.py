"""Our own one-step maps, each ``step(field, t, state, h) -> state``; ``solvers.methods`` lists
them with their contracts.

The public names are re-exported by the top-level package."""
