"""Normalization schemes (Post-LN, Pre-LN, Peri-LN, Mix-LN, nGPT, depth-scaled residuals) as
discrete layers (``layers``), their continuous limits on x = r theta (``flows``), and their
equiangular reductions to (rho, r) with the clustering rates they give (``equiangular``)."""

from dynamics.normalization.equiangular import (
    EQUIANGULAR_SCHEMES,
    ClusteringRate,
    EquiangularFlow,
    attention_moments,
    clustering_rate,
    equiangular_cloud,
)
from dynamics.normalization.flows import (
    FLOWS,
    NGPTFlow,
    PeriLNFlow,
    PostLNFlow,
    PreLNFlow,
    depth_scaled_clock,
)
from dynamics.normalization.layers import (
    LAYER_RULES,
    ON_SPHERE,
    SCHEMES,
    depth_scaled_layer,
    layer_stack,
    ngpt_layer,
    peri_ln_layer,
    post_ln_layer,
    pre_ln_layer,
)

__all__ = [
    "EQUIANGULAR_SCHEMES",
    "FLOWS",
    "LAYER_RULES",
    "ON_SPHERE",
    "SCHEMES",
    "ClusteringRate",
    "EquiangularFlow",
    "NGPTFlow",
    "PeriLNFlow",
    "PostLNFlow",
    "PreLNFlow",
    "attention_moments",
    "clustering_rate",
    "depth_scaled_clock",
    "depth_scaled_layer",
    "equiangular_cloud",
    "layer_stack",
    "ngpt_layer",
    "peri_ln_layer",
    "post_ln_layer",
    "pre_ln_layer",
]
