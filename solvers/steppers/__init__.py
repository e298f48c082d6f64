"""Our own one-step maps, one module each: ``step(field, t, state, h, **options) -> state``.

``solvers.METHODS`` declares each one's contract (field kind, geometry, states, options); the shared
pieces are ``momentum`` (drift and kick of the momentum steppers), ``splitting`` (the splitting
docstring and the midpoint sub-step) and ``state_checks`` (unit rows, tangent velocities). Adding a
stepper is one module here plus one row in ``solvers.methods``.

The public names are re-exported by the top-level package."""
