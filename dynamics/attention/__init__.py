"""Attention fields on token clouds: softmax, uniform, Sinkhorn and linear attention, the
streaming kernels they share, and weighted (mean-field) clouds.

The public names are re-exported by the top-level package."""
