"""Attention fields on token clouds: softmax, uniform, Sinkhorn and linear attention, the
streaming and short-sequence kernels they share, and weighted (mean-field) clouds.

The public names are re-exported by the top-level package."""
