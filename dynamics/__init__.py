"""Vector fields on token clouds and the observables measured on them.

A token cloud is a tensor of shape (..., n, d); every field is a ``torch.nn.Module`` with
``forward(t, x) -> dx/dt`` (see ``dynamics.field``).
"""

from dynamics.accelerated import DAMPINGS, Accelerated
from dynamics.attention import MANIFOLDS, NORMALIZATIONS, SelfAttention
from dynamics.bert import BertBlockField, BertConfig, BertEncoder, BertLayer
from dynamics.blocks import FeedForward, MultiHeadAttention, TransformerBlock
from dynamics.circle import CIRCLE_NORMALIZATIONS, CircleVelocity, circle_kernels, circle_velocity
from dynamics.distances import (
    sliced_wasserstein2,
    w1_particles_grid,
    wasserstein2,
    wasserstein_circle,
)
from dynamics.energy_gap import relative_energy_gap
from dynamics.field import State, VectorField
from dynamics.gaussian_closure import GaussianAttentionMoments
from dynamics.hamiltonian_attention import GRADIENTS, HamiltonianAttention
from dynamics.hamiltonian_block import HamiltonianBlock
from dynamics.in_context import (
    gradient_flow_prediction,
    gradient_step_attention,
    in_context_prediction,
    least_squares_attention,
    prompt,
)
from dynamics.linear_attention import (
    AcceleratedLinearAttentionMoments,
    LinearAttention,
    LinearAttentionMoments,
    second_moment,
)
from dynamics.linear_hamiltonian import (
    LinearHamiltonianAttention,
    LinearHamiltonianMoments,
    phase_space_moments,
)
from dynamics.lora import LoRA
from dynamics.observables import (
    cluster_count,
    cluster_labels,
    interaction_energy,
    log_interaction_energy,
    min_pairwise_cosine,
    pairwise_cosines,
)
from dynamics.partitions import adjusted_rand_index
from dynamics.sampling import (
    gaussian,
    separated_groups,
    sphere_mixture,
    spread_directions,
    uniform_sphere,
    von_mises_fisher,
)
from dynamics.sinkhorn import sinkhorn_attention, sinkhorn_matrix, sinkhorn_potentials
from dynamics.sphere import exp_map, geodesic_flow, normalize, project_tangent
from dynamics.streaming import (
    attention_with_lse,
    fused_kernel_serves,
    softmax_attention,
    streaming_attention,
)
from dynamics.time_dependent import BASES, TimeDependent, basis_functions
from dynamics.weighted import WithMasses, check_masses

__all__ = [
    "BASES",
    "CIRCLE_NORMALIZATIONS",
    "DAMPINGS",
    "GRADIENTS",
    "MANIFOLDS",
    "NORMALIZATIONS",
    "Accelerated",
    "AcceleratedLinearAttentionMoments",
    "BertBlockField",
    "BertConfig",
    "BertEncoder",
    "BertLayer",
    "CircleVelocity",
    "FeedForward",
    "GaussianAttentionMoments",
    "HamiltonianAttention",
    "HamiltonianBlock",
    "LinearAttention",
    "LinearAttentionMoments",
    "LinearHamiltonianAttention",
    "LinearHamiltonianMoments",
    "LoRA",
    "MultiHeadAttention",
    "SelfAttention",
    "State",
    "TimeDependent",
    "TransformerBlock",
    "VectorField",
    "WithMasses",
    "adjusted_rand_index",
    "attention_with_lse",
    "basis_functions",
    "check_masses",
    "circle_kernels",
    "circle_velocity",
    "cluster_count",
    "cluster_labels",
    "exp_map",
    "fused_kernel_serves",
    "gaussian",
    "geodesic_flow",
    "gradient_flow_prediction",
    "gradient_step_attention",
    "in_context_prediction",
    "interaction_energy",
    "least_squares_attention",
    "log_interaction_energy",
    "min_pairwise_cosine",
    "normalize",
    "pairwise_cosines",
    "phase_space_moments",
    "project_tangent",
    "prompt",
    "relative_energy_gap",
    "second_moment",
    "separated_groups",
    "sinkhorn_attention",
    "sinkhorn_matrix",
    "sinkhorn_potentials",
    "sliced_wasserstein2",
    "softmax_attention",
    "sphere_mixture",
    "spread_directions",
    "streaming_attention",
    "uniform_sphere",
    "von_mises_fisher",
    "w1_particles_grid",
    "wasserstein2",
    "wasserstein_circle",
]
