"""The pretrained scenario's config: every field with its default, meaning and check."""

from __future__ import annotations

from dataclasses import dataclass

import torch

import dynamics
from dynamics import PARTS, PROJECTIONS
from scenarios.harness import (
    ScenarioConfig,
    at_least,
    atol_field,
    boolean,
    check_step_size,
    cluster_tol_field,
    device_field,
    dtype_field,
    int_in,
    items,
    method_field,
    one_of,
    param,
    require,
    rtol_field,
    step_size_field,
    threads_field,
)
from scenarios.pretrained.sentences import SENTENCES

LAYERS = 6
"""all-MiniLM-L6-v2's depth."""
WIDTH = 384
"""all-MiniLM-L6-v2's token width d."""


@dataclass(frozen=True)
class PretrainedConfig(ScenarioConfig):
    """Parameters of the pretrained scenario; every field can be set with ``--set KEY=VALUE``.

    The scenario draws nothing at random (the model and sentences are fixed), so ``seed`` changes
    nothing.
    """

    sentences: int = param(
        64, f"first sentences of the shipped {len(SENTENCES)}", int_in(2, len(SENTENCES))
    )
    albert_sentences: int = param(
        4, "of those, the first ones the ALBERT-like flows run (at most sentences)", at_least(1)
    )
    albert_layers: tuple[int, ...] = param(
        (1, 6),
        "layers k whose weights are held at all depths (empty: no ALBERT-like flows)",
        items(int_in(1, LAYERS), min_count=0),
    )
    albert_parts: tuple[str, ...] = param(
        ("block", "attention"),
        "ALBERT-like fields: block (attention + MLP), attention (alone)",
        items(one_of(PARTS)),
    )
    T: int = param(50, "duration (integer: depth) of the ALBERT-like flows", int_in(1, 100_000))
    projection: str = param(
        "layernorm",
        "flow velocity: layernorm (projected, tokens keep scale) or none",
        one_of(PROJECTIONS),
    )
    method: str = method_field(
        "dopri5",
        "each layer's flow over a unit of depth",
        dynamics.BertBlockField(
            dynamics.BertLayer(
                dynamics.BertConfig(hidden_size=2, num_attention_heads=1, intermediate_size=4)
            ),
            torch.ones(1, 2, dtype=torch.bool),
        ),
    )
    step_size: float = step_size_field()
    rtol: float = rtol_field(1e-3)
    atol: float = atol_field(1e-4)
    cluster_tol: float = cluster_tol_field()
    check: bool = param(
        True, "check our encoder against the package's SentenceTransformer", boolean()
    )
    dtype: str = dtype_field("float32")
    device: str = device_field()
    threads: int = threads_field("the batch of sentences (B n d)")

    def cross_check(self) -> None:
        """albert_sentences at most sentences; step_size only with fixed-step methods."""
        require(
            self.albert_sentences <= self.sentences,
            "albert_sentences",
            self.albert_sentences,
            f"an integer in [1, {self.sentences}] (at most sentences)",
        )
        check_step_size(self.method, self.step_size, self.T)
