"""Tiny configs shared by the scenario tests: small enough to run in about a second."""

from __future__ import annotations

TINY = {"n": 8, "T": 2.0, "betas": (0.5, 2.0), "num_times": 21}
"""A tiny clustering run: 8 tokens on S^2, two betas, both normalizations, 21 output times."""

TINY_SET = ["n=8", "T=2", "betas=0.5,2", "num_times=21", "figures=false"]
"""``TINY`` as ``--set`` arguments, without figures (only metrics.json and config.json)."""
