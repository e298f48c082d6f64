"""The normalization scenario's config: every field with its default, meaning and check."""

from __future__ import annotations

from dataclasses import dataclass

from scenarios.harness import (
    ScenarioConfig,
    atol_field,
    boolean,
    cluster_tol_field,
    device_field,
    int_in,
    items,
    one_of,
    param,
    positive,
    real_in,
    refuse,
    rtol_field,
    threads_field,
)

ATTENTIONS = ("softmax", "uniform")
"""The attention's normalisation: SA (softmax rows) or USA (rows divided by n)."""


@dataclass(frozen=True)
class NormalizationConfig(ScenarioConfig):
    """Parameters of the normalization scenario; every field can be set with ``--set KEY=VALUE``.
    ``seed`` draws the uniform start (one per d) and the equiangular start's rotation."""

    n: int = param(32, "tokens", int_in(2, 4096))
    dims: tuple[int, ...] = param((8, 32), "token dimensions d", items(int_in(2, 4096)))
    betas: tuple[float, ...] = param((1.0, 4.0), "inverse temperatures beta", items(positive()))
    attention: str = param(
        "softmax", "attention: softmax (SA) or uniform (USA), identity Q, K, V", one_of(ATTENTIONS)
    )
    depth: int = param(48, "layers L (depth)", int_in(2, 100_000))
    h: float = param(0.25, "step of every layer (nGPT's alpha); layer l is at time l h", positive())
    mix_fraction: float = param(
        0.25, "Mix-LN: the first round(mix_fraction L) layers are Post-LN", real_in(0.0, 1.0)
    )
    early_fraction: float = param(
        0.25,
        "'clusters slowest early' compares mean cosines at depth round(early_fraction L)",
        real_in(0.0, 1.0, open_low=True),
    )
    deep_fraction: float = param(
        0.25,
        "the deep layers: the last round(deep_fraction L), over which update norms are averaged",
        real_in(0.0, 1.0, open_low=True),
    )
    equiangular_n: int = param(
        8, "tokens of the equiangular start (in d = equiangular_n + 1)", int_in(2, 256)
    )
    rho0: float = param(
        0.1, "common cosine of the equiangular start", real_in(0.0, 1.0, open_high=True)
    )
    minilm: bool = param(
        True, "run all-MiniLM-L6-v2's layers under every scheme (needs its package)", boolean()
    )
    minilm_sentences: int = param(4, "sentences fed to all-MiniLM-L6-v2", int_in(1, 8))
    minilm_alpha: float = param(
        0.5,
        "nGPT's step alpha on all-MiniLM-L6-v2 (the other schemes take step 1)",
        real_in(0.0, 1.0, open_low=True),
    )
    cluster_tol: float = cluster_tol_field()
    rtol: float = rtol_field(1e-10)
    atol: float = atol_field(1e-12)
    device: str = device_field()
    threads: int = threads_field("the cloud's attention kernel (n^2 d)")

    def cross_check(self) -> None:
        """The early depth and the deep layers hold at least one layer."""
        if round(self.early_fraction * self.depth) < 1:
            refuse(
                "early_fraction",
                self.early_fraction,
                f"a fraction with >= 1 of {self.depth} layers",
            )
        if round(self.deep_fraction * self.depth) < 1:
            refuse(
                "deep_fraction", self.deep_fraction, f"a fraction with >= 1 of {self.depth} layers"
            )

    @property
    def post_layers(self) -> int:
        """Mix-LN's Post-LN layers."""
        return round(self.mix_fraction * self.depth)

    @property
    def early_depth(self) -> int:
        """The depth where early clustering is compared."""
        return round(self.early_fraction * self.depth)

    @property
    def deep_layers(self) -> int:
        """How many of the last layers count as deep."""
        return round(self.deep_fraction * self.depth)
