"""Where tokens live: the unit sphere S^{d-1} (post-LayerNorm tokens) or R^d.

The public names are re-exported by the top-level package."""
