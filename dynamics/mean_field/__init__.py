"""Mean-field velocities: attention on the circle (FFT grid, particle-in-cell) and the Gaussian
moment closure.

The public names are re-exported by the top-level package."""
