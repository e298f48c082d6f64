"""Vector fields on token clouds and the observables measured on them.

A token cloud is a tensor of shape (..., n, d); every field is a ``torch.nn.Module`` with
``forward(t, x) -> dx/dt`` and a ``geometry`` (``SPHERE`` or ``EUCLIDEAN``); ``dynamics.field``
declares the kinds of field the solvers accept. Subpackages: ``geometry`` (sphere and R^d),
``attention`` (attention fields, streaming kernels, weighted clouds), ``momentum`` (accelerated and
damped Hamiltonian fields, friction), ``mean_field`` (circle velocity, particle-in-cell, Gaussian
closure), ``blocks`` (transformer blocks, time-dependent weights, LoRA, BERT, in-context layers),
``observables``; ``sampling``, ``checks``, ``inertia`` and ``field`` at the top. Every public name
is importable from ``dynamics`` itself. ``dynamics`` imports neither ``solvers`` nor ``scenarios``.
"""

from dynamics.attention.batched_weights import BATCHED_NORMALIZATIONS, BatchedWeightsAttention
from dynamics.attention.linear_attention import (
    AcceleratedLinearAttentionMoments,
    LinearAttention,
    LinearAttentionMoments,
    second_moment,
)
from dynamics.attention.self_attention import NORMALIZATIONS, SelfAttention
from dynamics.attention.short import short_attention, short_attention_serves
from dynamics.attention.sinkhorn import sinkhorn_attention, sinkhorn_matrix, sinkhorn_potentials
from dynamics.attention.streaming import (
    attention_with_lse,
    fused_kernel_serves,
    softmax_attention,
    streaming_attention,
)
from dynamics.attention.weighted import WithMasses, check_masses
from dynamics.blocks.bert import (
    PARTS,
    PROJECTIONS,
    BertBlockField,
    BertConfig,
    BertEncoder,
    BertLayer,
    mean_pool,
)
from dynamics.blocks.bert_weights import MODEL_PACKAGE, load_bert, pretrained_module, tokenize
from dynamics.blocks.in_context import (
    gradient_flow_prediction,
    gradient_step_attention,
    in_context_prediction,
    least_squares_attention,
    prompt,
)
from dynamics.blocks.lora import TARGETS as LORA_TARGETS
from dynamics.blocks.lora import LoRA
from dynamics.blocks.time_dependent import (
    BASES,
    SplitTimeDependent,
    TimeDependent,
    basis_functions,
)
from dynamics.blocks.transformer import FeedForward, MultiHeadAttention, TransformerBlock
from dynamics.checks import check_choice, check_cloud, check_int, check_real
from dynamics.field import (
    GeometricField,
    HamiltonianField,
    MomentumField,
    SplitField,
    State,
    VectorField,
    geometry_of,
    is_autonomous,
)
from dynamics.geometry.spaces import (
    EUCLIDEAN,
    GEOMETRIES,
    SPHERE,
    Euclidean,
    Geometry,
    Sphere,
    geometry_named,
)
from dynamics.geometry.span import span_coordinates, span_width
from dynamics.geometry.sphere import (
    directions,
    exp_map,
    geodesic_flow,
    normalize,
    project_tangent,
)
from dynamics.inertia import EIGVALSH_BATCH, eigenvalue_sign_count, positive_eigenvalue_count
from dynamics.mean_field.circle import (
    CIRCLE_NORMALIZATIONS,
    CircleVelocity,
    circle_kernels,
    circle_velocity,
)
from dynamics.mean_field.gaussian_closure import GaussianAttentionMoments
from dynamics.mean_field.particle_in_cell import ParticleInCellVelocity, deposit
from dynamics.momentum.accelerated import DAMPINGS, Accelerated
from dynamics.momentum.hamiltonian_attention import GRADIENTS, HamiltonianAttention
from dynamics.momentum.hamiltonian_block import HamiltonianBlock
from dynamics.momentum.linear_hamiltonian import (
    LinearHamiltonianAttention,
    LinearHamiltonianMoments,
    phase_space_moments,
)
from dynamics.normalization import (
    EQUIANGULAR_SCHEMES,
    ClusteringRate,
    EquiangularFlow,
    NGPTFlow,
    PeriLNFlow,
    PostLNFlow,
    PreLNFlow,
    attention_moments,
    clustering_rate,
    depth_scaled_clock,
    depth_scaled_layer,
    equiangular_cloud,
    layer_stack,
    ngpt_layer,
    peri_ln_layer,
    post_ln_layer,
    pre_ln_layer,
)
from dynamics.normalization import FLOWS as NORMALIZATION_FLOWS
from dynamics.normalization import LAYER_RULES as NORMALIZATION_LAYERS
from dynamics.normalization import SCHEMES as NORMALIZATION_SCHEMES
from dynamics.observables.bert import effective_rank, masked_cluster_count, mean_pairwise_cosine
from dynamics.observables.circle import circle_cluster_count
from dynamics.observables.cloud import (
    cluster_count,
    cluster_labels,
    connected_labels,
    interaction_energy,
    log_interaction_energy,
    min_pairwise_cosine,
    pairwise_cosines,
)
from dynamics.observables.cluster_statistics import (
    COLLISION_COSINE,
    SPAN_THRESHOLD,
    check_span_threshold,
    cluster_sizes,
    largest_cluster_fraction,
    pair_collision_fraction,
    span_dimension,
)
from dynamics.observables.distances import (
    sliced_wasserstein2,
    w1_particles_grid,
    wasserstein1,
    wasserstein2,
    wasserstein_circle,
)
from dynamics.observables.energy_gap import relative_energy_gap
from dynamics.observables.partitions import adjusted_rand_index
from dynamics.observables.renyi import (
    RENYI_PARKING_CONSTANT,
    circle_renyi_center_mean,
    circle_strong_center_mean,
    renyi_centers,
    renyi_parking_mean,
    strong_renyi_centers,
)
from dynamics.optional import optional_module
from dynamics.sampling import (
    gaussian,
    separated_groups,
    sphere_mixture,
    spread_directions,
    uniform_sphere,
    von_mises_fisher,
)
from dynamics.weight_ensembles import QUERY_KEY_ENSEMBLES, VALUE_ENSEMBLES, sample_weights

__all__ = [
    "BASES",
    "BATCHED_NORMALIZATIONS",
    "CIRCLE_NORMALIZATIONS",
    "COLLISION_COSINE",
    "DAMPINGS",
    "EIGVALSH_BATCH",
    "EQUIANGULAR_SCHEMES",
    "EUCLIDEAN",
    "GEOMETRIES",
    "GRADIENTS",
    "LORA_TARGETS",
    "MODEL_PACKAGE",
    "NORMALIZATIONS",
    "NORMALIZATION_FLOWS",
    "NORMALIZATION_LAYERS",
    "NORMALIZATION_SCHEMES",
    "PARTS",
    "PROJECTIONS",
    "QUERY_KEY_ENSEMBLES",
    "RENYI_PARKING_CONSTANT",
    "SPAN_THRESHOLD",
    "SPHERE",
    "VALUE_ENSEMBLES",
    "Accelerated",
    "AcceleratedLinearAttentionMoments",
    "BatchedWeightsAttention",
    "BertBlockField",
    "BertConfig",
    "BertEncoder",
    "BertLayer",
    "CircleVelocity",
    "ClusteringRate",
    "EquiangularFlow",
    "Euclidean",
    "FeedForward",
    "GaussianAttentionMoments",
    "GeometricField",
    "Geometry",
    "HamiltonianAttention",
    "HamiltonianBlock",
    "HamiltonianField",
    "LinearAttention",
    "LinearAttentionMoments",
    "LinearHamiltonianAttention",
    "LinearHamiltonianMoments",
    "LoRA",
    "MomentumField",
    "MultiHeadAttention",
    "NGPTFlow",
    "ParticleInCellVelocity",
    "PeriLNFlow",
    "PostLNFlow",
    "PreLNFlow",
    "SelfAttention",
    "Sphere",
    "SplitField",
    "SplitTimeDependent",
    "State",
    "TimeDependent",
    "TransformerBlock",
    "VectorField",
    "WithMasses",
    "adjusted_rand_index",
    "attention_moments",
    "attention_with_lse",
    "basis_functions",
    "check_choice",
    "check_cloud",
    "check_int",
    "check_masses",
    "check_real",
    "check_span_threshold",
    "circle_cluster_count",
    "circle_kernels",
    "circle_renyi_center_mean",
    "circle_strong_center_mean",
    "circle_velocity",
    "cluster_count",
    "cluster_labels",
    "cluster_sizes",
    "clustering_rate",
    "connected_labels",
    "deposit",
    "depth_scaled_clock",
    "depth_scaled_layer",
    "directions",
    "effective_rank",
    "eigenvalue_sign_count",
    "equiangular_cloud",
    "exp_map",
    "fused_kernel_serves",
    "gaussian",
    "geodesic_flow",
    "geometry_named",
    "geometry_of",
    "gradient_flow_prediction",
    "gradient_step_attention",
    "in_context_prediction",
    "interaction_energy",
    "is_autonomous",
    "largest_cluster_fraction",
    "layer_stack",
    "least_squares_attention",
    "load_bert",
    "log_interaction_energy",
    "masked_cluster_count",
    "mean_pairwise_cosine",
    "mean_pool",
    "min_pairwise_cosine",
    "ngpt_layer",
    "normalize",
    "optional_module",
    "pair_collision_fraction",
    "pairwise_cosines",
    "peri_ln_layer",
    "phase_space_moments",
    "positive_eigenvalue_count",
    "post_ln_layer",
    "pre_ln_layer",
    "pretrained_module",
    "project_tangent",
    "prompt",
    "relative_energy_gap",
    "renyi_centers",
    "renyi_parking_mean",
    "sample_weights",
    "second_moment",
    "separated_groups",
    "short_attention",
    "short_attention_serves",
    "sinkhorn_attention",
    "sinkhorn_matrix",
    "sinkhorn_potentials",
    "sliced_wasserstein2",
    "softmax_attention",
    "span_coordinates",
    "span_dimension",
    "span_width",
    "sphere_mixture",
    "spread_directions",
    "streaming_attention",
    "strong_renyi_centers",
    "tokenize",
    "uniform_sphere",
    "von_mises_fisher",
    "w1_particles_grid",
    "wasserstein1",
    "wasserstein2",
    "wasserstein_circle",
]
