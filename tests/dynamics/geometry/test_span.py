"""Span coordinates: inner products kept, and self-attention commutes with the change of basis."""

from __future__ import annotations

import pytest
import torch

import dynamics
from solvers import integrate

F64 = torch.float64


@pytest.mark.parametrize(("n", "d", "width"), [(5, 40, 5), (1, 7, 2), (6, 6, 6), (8, 3, 3)])
def test_coordinates_keep_every_inner_product(generator, n, d, width):
    x = torch.randn(4, n, d, generator=generator, dtype=F64)
    c = dynamics.span_coordinates(x)
    assert c.shape == (4, n, width) == (4, n, dynamics.span_width(n, d))
    torch.testing.assert_close(c @ c.mT, x @ x.mT, rtol=0, atol=1e-13)


@pytest.mark.parametrize("normalization", ["softmax", "uniform", "sinkhorn"])
def test_attention_flow_in_span_coordinates_has_the_same_gram_matrix(generator, normalization):
    """f(B c) = B f(c): the flows from x0 in R^24 and from its 6 span coordinates have the same
    Gram matrix at every time, to the solvers' tolerance."""
    x0 = dynamics.uniform_sphere(6, 24, generator=generator, dtype=F64)
    c0 = dynamics.span_coordinates(x0)
    t = torch.linspace(0.0, 1.0, 3, dtype=F64)
    options = {"rtol": 1e-9, "atol": 1e-11}
    full = integrate(
        dynamics.SelfAttention(24, beta=4.0, normalization=normalization), x0, t, **options
    )
    reduced = integrate(
        dynamics.SelfAttention(6, beta=4.0, normalization=normalization), c0, t, **options
    )
    torch.testing.assert_close(reduced @ reduced.mT, full @ full.mT, rtol=0, atol=1e-7)
    assert float((full[-1] @ full[-1].mT - x0 @ x0.mT).abs().max()) > 0.05  # the tokens moved


def test_bad_cloud_is_refused():
    with pytest.raises(TypeError, match=r"x must be a torch\.Tensor"):
        dynamics.span_coordinates([[1.0, 0.0]])
