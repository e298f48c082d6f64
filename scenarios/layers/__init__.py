"""Layers: a transformer block run as L discrete layers against its continuous flow.

A fixed random ``dynamics.TransformerBlock`` (PyTorch's default initialisation drawn from
``seed``; the initial cloud of n tokens uniform on S^{d-1} from ``seed`` + 1) defines the flow
x' = f(x), f = f_attn + f_mlp, on [0, T], in two variants:

- ``euclidean``: the pre-norm block f = Attn(LN_1 x) + MLP(LN_2 x) in R^d;
- ``sphere``: the post-norm block f = P_u(Attn(u) + MLP(u)), u = x / |x|, tangent to S^{d-1}.

The flow is solved by dopri5 at a tight tolerance (the reference); L layers are L steps of size
h = T / L of a layer rule (``solvers.METHODS``), for L in ``depths``:

- ``euler``: x <- x + h f(x), the parallel residual block (euclidean variant), order 1;
- ``projected_euler``: x <- (x + h f) / |x + h f|, the post-LayerNorm layer (sphere), order 1;
- ``lie_trotter``: attention then MLP, the sequential residual layer, order 1;
- ``strang``: half MLP, attention, half MLP (the Macaron layer of Lu et al., "Understanding and
  improving transformer from a multi-particle dynamic system point of view"), each sub-step by
  the midpoint rule, order 2.

Distances between the layers' output cloud X_L and the flow's x(T): the largest token error
max_i |X_L,i - x_i(T)|, and W2 between the two empirical measures (``dynamics.wasserstein2``, which
ignores the token labels). The observed order is minus the least-squares slope of log(distance)
against log(L) over L >= ``fit_from``. Cluster counts (``dynamics.cluster_count``: cosine above
1 - ``cluster_tol``) of the layers' output against the flow's at T, and the flow's count over
time.

``metrics.json`` gives, per variant and layer rule, the distances at every L, the fitted orders
and the cluster counts (figures: ``scenarios.layers.figures``).
"""

from scenarios.harness import Scenario
from scenarios.layers.config import ACTIVATIONS, LayersConfig
from scenarios.layers.figures import make_figures
from scenarios.layers.simulation import (
    DISTANCES,
    LAYER_RULES,
    VARIANTS,
    VariantResults,
    distances,
    fitted_order,
    initial_cloud,
    make_block,
    metrics,
    simulate,
    solve_variant,
    summary_lines,
    variant_metrics,
)

SCENARIO = Scenario(
    name="layers",
    summary=__doc__.splitlines()[0],
    config=LayersConfig,
    simulate=simulate,
    metrics=metrics,
    figures=make_figures,
    summary_lines=summary_lines,
    work=lambda config: config.n * config.n * config.d,
)

__all__ = [
    "ACTIVATIONS",
    "DISTANCES",
    "LAYER_RULES",
    "SCENARIO",
    "VARIANTS",
    "LayersConfig",
    "VariantResults",
    "distances",
    "fitted_order",
    "initial_cloud",
    "make_block",
    "make_figures",
    "metrics",
    "simulate",
    "solve_variant",
    "summary_lines",
    "variant_metrics",
]
