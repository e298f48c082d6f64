"""Normalization: Post-, Pre-, Peri-, Mix-LN, nGPT and depth-scaled layers as speed regulators.

Normalization schemes as interacting particles (Karagodin, Ge, Polyanskiy, Rigollet,
"Normalization in attention dynamics"; Rigollet, "The mean-field dynamics of transformers"): with
x_i = r_i theta_i, every scheme moves the directions along the Post-LN velocity P_theta A(theta)
at a speed it sets (``dynamics.normalization``). For each (d, beta) in ``dims`` x ``betas``, from
one start (n tokens uniform on S^{d-1}), every scheme runs as L = ``depth`` layers of step h
(``dynamics.normalization.layers``) and as its flow at the layers' times l h (dopri5): the attention
is ``SelfAttention`` with identity Q, K, V, unprojected. Measured against depth
(``scenarios.normalization.measures``): mean pairwise cosine, effective rank, clusters, radius,
the direction's speed factor, the relative update of each layer; and the depth to one cluster.

Equiangular reduction (``dynamics.normalization.equiangular``): from ``equiangular_n`` tokens with
common cosine ``rho0``, the particles against each scheme's reduced ODE (rho, r), and the clustering
rate fitted near one cluster against the predicted one. all-MiniLM-L6-v2 under every scheme's rule
(``scenarios.normalization.pretrained_schemes``), its six layers cycled to L.

``metrics.json`` gives, per cell, scheme and kind (layers, flow): depth to a single cluster,
effective rank and mean cosine at depth L, mean cosine at the early depth, mean relative update
over the deep layers and every series; the equiangular gaps and rates; ``conclusions``: the scheme
that clusters slowest early (lowest mean cosine at the early depth) and the one that resists
collapse deepest (highest effective rank at depth L), per cell and by majority, with and without
the depth-scaled layers (whose steps shrink), and the papers' conclusions checked against these
numbers in every cell and on all-MiniLM-L6-v2.
"""

from scenarios.harness import Scenario
from scenarios.normalization.config import ATTENTIONS, NormalizationConfig
from scenarios.normalization.figures import make_figures
from scenarios.normalization.simulation import Results, metrics, simulate, summary_lines

SCENARIO = Scenario(
    name="normalization",
    summary=__doc__.splitlines()[0],
    config=NormalizationConfig,
    simulate=simulate,
    metrics=metrics,
    figures=make_figures,
    summary_lines=summary_lines,
    work=lambda config: config.n * config.n * max(config.dims),
)

__all__ = [
    "ATTENTIONS",
    "SCENARIO",
    "NormalizationConfig",
    "Results",
    "make_figures",
    "metrics",
    "simulate",
    "summary_lines",
]
