"""all-MiniLM-L6-v2 (a Post-LN BERT) run under every scheme's layer rule with its own weights.

Layer l = 1..L uses the weights of the model's layer (l - 1) mod 6 (its six layers cycled, so L =
48 runs them eight times over, the reuse of one trained layer at many depths of ALBERT: Lan et al.,
"ALBERT: a lite BERT for self-supervised learning of language representations"). Each layer applies
the scheme's rule (``dynamics.normalization.layers``) to the attention sublayer A_k (normalised by
the layer's first LayerNorm LN_1) and then to the MLP M_k (normalised by LN_2), with step 1 as in
the model, e.g. Pre-LN: h = x + A_k(LN_1 x), y = h + M_k(LN_2 h); Peri-LN normalises each
sublayer's output with the same LayerNorm; nGPT takes the step ``minilm_alpha`` (alpha = 1 would
discard x); Mix-LN switches at ``post_layers``. Post-LN is the model itself: its first six layers
give the model's hidden states exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

import dynamics
from dynamics.normalization import LAYER_RULES, SCHEMES, post_ln_layer, pre_ln_layer
from scenarios.normalization.config import NormalizationConfig
from scenarios.normalization.measures import observe

SENTENCES = (
    "A heavy fog rolled over the valley before sunrise.",
    "The council approved the new cycling lanes after a long debate.",
    "Which planet in the solar system has the shortest day?",
    "Stir the sauce gently until it thickens, then remove it from the heat.",
    "Her grandfather repaired old clocks in a tiny workshop by the river.",
    "The algorithm sorts a million numbers in under a second.",
    "Thunder echoed across the hills while the farmers hurried home.",
    "Remember to water the seedlings twice a week during the summer.",
)
"""Sentences written for this scenario; the run takes the first ``minilm_sentences``."""


def sublayers(layer: dynamics.BertLayer, mask: Tensor) -> tuple[Callable, Callable]:
    """The layer's attention A(x) (keys masked by ``mask``) and MLP M(x) as fields f(t, x)."""
    return (lambda t, x: layer.attention(x, mask)), (lambda t, x: layer.mlp(x))


def minilm_stack(
    encoder: dynamics.BertEncoder,
    x0: Tensor,
    mask: Tensor,
    scheme: str,
    depth: int,
    *,
    alpha: float,
    post_layers: int,
) -> Tensor:
    """Hidden states x_0..x_L of the cycled layers under ``scheme``, shape (L + 1, B, n, d)."""
    states = [x0]
    for layer_index in range(1, depth + 1):
        layer = encoder.layers[(layer_index - 1) % len(encoder.layers)]
        if scheme == "mix_ln":
            rule = post_ln_layer if layer_index <= post_layers else pre_ln_layer
        else:
            rule = LAYER_RULES[scheme]
        step = alpha if scheme == "ngpt" else 1.0
        attention, mlp = sublayers(layer, mask)
        x = rule(attention, states[-1], step, layer_index, norm=layer.norm1)
        states.append(rule(mlp, x, step, layer_index, norm=layer.norm2))
    return torch.stack(states)


def run_minilm(config: NormalizationConfig) -> dict[str, dict[str, object]]:
    """Every scheme's observables against depth on the first ``minilm_sentences`` sentences."""
    encoder = dynamics.load_bert().to(config.device)
    ids, mask = dynamics.tokenize(list(SENTENCES[: config.minilm_sentences]), device=config.device)
    found = {}
    with torch.no_grad():
        x0 = encoder.embeddings(ids)
        for scheme in SCHEMES:
            states = minilm_stack(
                encoder,
                x0,
                mask,
                scheme,
                config.depth,
                alpha=config.minilm_alpha,
                post_layers=config.post_layers,
            )
            found[scheme] = observe(states, None, 1.0, config.cluster_tol, mask)
    return found
