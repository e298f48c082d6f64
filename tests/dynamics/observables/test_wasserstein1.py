"""W1 in R^d against closed forms (a translation, the quantile formula on the line), and W2^2."""

from __future__ import annotations

import numpy as np
import torch

from dynamics import wasserstein1, wasserstein2
from tests.reference import F64


def test_translation_costs_its_length(generator):
    x = torch.randn(20, 3, generator=generator, dtype=F64)
    shift = torch.tensor([0.3, -0.4, 1.2], dtype=F64)
    torch.testing.assert_close(wasserstein1(x, x + shift), torch.tensor(1.3, dtype=F64))


def test_weighted_measures_on_the_line_match_the_cdf_formula(generator):
    """W1 = int |F_mu - F_nu| on R."""
    x, y = (torch.randn(15, 1, generator=generator, dtype=F64) for _ in range(2))
    a, b = (torch.rand(15, generator=generator, dtype=F64) + 0.1 for _ in range(2))
    a, b = a / a.sum(), b / b.sum()
    grid = np.sort(np.concatenate([x[:, 0].numpy(), y[:, 0].numpy()]))
    cdf = [
        ((p[:, 0].numpy()[None] <= grid[:-1, None]) * w.numpy()).sum(1) for p, w in ((x, a), (y, b))
    ]
    expected = float((np.abs(cdf[0] - cdf[1]) * np.diff(grid)).sum())
    assert abs(float(wasserstein1(x, y, masses_x=a, masses_y=b)) - expected) < 1e-12


def test_squared_w2_is_the_square_with_a_finite_gradient_at_zero(generator):
    x = torch.randn(8, 2, generator=generator, dtype=F64)
    y = torch.randn(8, 2, generator=generator, dtype=F64)
    torch.testing.assert_close(wasserstein2(x, y, squared=True), wasserstein2(x, y) ** 2)
    point = x.clone().requires_grad_()
    (gradient,) = torch.autograd.grad(wasserstein2(point, x, squared=True), point)
    assert float(gradient.abs().max()) == 0.0
