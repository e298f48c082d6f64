"""The streaming log-sum-exp kernel against a dense computation, across tilings."""

from __future__ import annotations

import pytest
import torch

from dynamics import streaming_attention
from tests.reference import F64


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("block_elements", [1, 64, 1000, 1 << 22])
def test_tiles_give_the_dense_answer(causal, block_elements, generator):
    q = torch.randn(2, 3, 45, 5, generator=generator, dtype=F64)
    k = torch.randn(2, 3, 45, 5, generator=generator, dtype=F64)
    v = torch.randn(2, 3, 45, 2, generator=generator, dtype=F64)
    logits = 0.7 * q @ k.transpose(-1, -2)
    if causal:
        logits = logits.masked_fill(torch.ones(45, 45, dtype=torch.bool).triu(1), -torch.inf)
    out, lse = streaming_attention(q, k, v, scale=0.7, causal=causal, block_elements=block_elements)
    torch.testing.assert_close(out, torch.softmax(logits, -1) @ v, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(lse, torch.logsumexp(logits, -1), rtol=1e-12, atol=1e-12)


def test_huge_logits_stay_finite_in_float32(generator):
    q = torch.nn.functional.normalize(torch.randn(300, 3, generator=generator), dim=-1)
    out, lse = streaming_attention(q, q, q, scale=1e4, block_elements=6000)
    assert torch.isfinite(out).all() and torch.isfinite(lse).all()
    assert lse.min() >= 1e4 * (1 - 1e-6)  # the self term alone gives e^{scale}
