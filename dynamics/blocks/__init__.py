"""Blocks that models are built from: transformer blocks, time-dependent weights, LoRA, BERT
layers and in-context linear-attention layers.

The public names are re-exported by the top-level package."""
