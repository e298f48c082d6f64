"""In-context least squares: one layer = a GD step or OLS; the flow = gradient flow on the loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dynamics import (
    LinearAttention,
    gradient_flow_prediction,
    gradient_step_attention,
    in_context_prediction,
    least_squares_attention,
    prompt,
)
from solvers import integrate
from tests.reference import F64

N, D, QUERIES = 40, 4, 5


@pytest.fixture
def task(generator):
    """A noisy linear regression task: N context pairs and QUERIES query inputs."""
    x = torch.randn(N, D, generator=generator, dtype=F64)
    w_true = torch.randn(D, generator=generator, dtype=F64)
    y = x @ w_true + 0.1 * torch.randn(N, generator=generator, dtype=F64)
    return x, y, torch.randn(QUERIES, D, generator=generator, dtype=F64)


def one_layer(field: LinearAttention, tokens: torch.Tensor) -> torch.Tensor:
    """One residual layer z + f(z): one Euler step of size 1."""
    return integrate(field, tokens, [0.0, 1.0], method="euler")[-1]


def test_one_layer_is_one_gradient_step(task):
    x, y, x_query = task
    eta = 0.3
    after = one_layer(gradient_step_attention(D, N, eta), prompt(x, y, x_query))
    w_1 = eta * x.T @ y / N  # w_0 - eta grad L(w_0), w_0 = 0, L(w) = |X w - y|^2 / (2N)
    torch.testing.assert_close(in_context_prediction(after, N), x_query @ w_1, atol=1e-10, rtol=0)
    torch.testing.assert_close(after[:N, -1], y - x @ w_1, atol=1e-10, rtol=0)  # residuals


def test_one_layer_is_ordinary_least_squares(task):
    x, y, x_query = task
    after = one_layer(least_squares_attention(x), prompt(x, y, x_query))
    w_ols = np.linalg.lstsq(x.numpy(), y.numpy(), rcond=None)[0]
    expected = torch.from_numpy(x_query.numpy() @ w_ols)
    torch.testing.assert_close(in_context_prediction(after, N), expected, atol=1e-10, rtol=0)


def test_layers_are_gradient_steps_and_the_flow_is_gradient_flow(task):
    x, y, x_query = task
    eta, horizon, layers = 0.5, 4.0, 8
    field = gradient_step_attention(D, N, eta)
    tokens = prompt(x, y, x_query)
    stacked = integrate(
        field, tokens, torch.linspace(0, horizon, layers + 1, dtype=F64), method="euler"
    )[-1]
    w = torch.zeros(D, dtype=F64)
    for _ in range(layers):  # L gradient steps of size eta * horizon / L
        w = w - eta * (horizon / layers) * x.T @ (x @ w - y) / N
    torch.testing.assert_close(in_context_prediction(stacked, N), x_query @ w, atol=1e-10, rtol=0)
    flow = integrate(field, tokens, [0.0, horizon], rtol=1e-11, atol=1e-12)[-1]
    torch.testing.assert_close(
        in_context_prediction(flow, N),
        gradient_flow_prediction(x, y, x_query, eta, horizon),
        atol=1e-8,
        rtol=0,
    )


def test_long_flow_converges_to_least_squares(task):
    x, y, x_query = task
    flow = integrate(
        gradient_step_attention(D, N, 1.0),
        prompt(x, y, x_query),
        [0.0, 60.0],
        rtol=1e-10,
        atol=1e-12,
    )[-1]
    ols = in_context_prediction(one_layer(least_squares_attention(x), prompt(x, y, x_query)), N)
    torch.testing.assert_close(in_context_prediction(flow, N), ols, atol=1e-6, rtol=0)


def test_rank_deficient_context_is_refused(generator):
    x = torch.randn(3, D, generator=generator, dtype=F64)  # 3 points in R^4
    with pytest.raises(ValueError, match=r"rank deficient"):
        least_squares_attention(x)
    with pytest.raises(ValueError, match=r"context=10 exceeds the cloud's 4 tokens"):
        LinearAttention(D, context=10)(0.0, torch.zeros(4, D, dtype=F64))
