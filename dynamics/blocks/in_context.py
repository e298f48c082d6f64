"""In-context least squares with one linear-attention layer, and its continuous flow.

A prompt is N context tokens z_j = (x_j, y_j) in R^{d+1} followed by query tokens
z_q = (x_q, 0). With ``LinearAttention(d + 1, context=N)`` and

    K = [I_d 0],  Q = eta [I_d 0] (or Q = Sigma^{-1} [I_d 0]),  V = -e_y e_y^T,

one residual layer z <- z + f(z) writes into the query's last coordinate
-(1/N) sum_j <Q x_q, x_j> y_j, that is minus:

* with Q = eta I: x_q^T w_1, the prediction after one gradient-descent step
  w_1 = w_0 - eta grad L(w_0) from w_0 = 0 on L(w) = (1/2N) sum_j (w^T x_j - y_j)^2 (von Oswald
  et al., "Transformers learn in-context by gradient descent");
* with Q = Sigma^{-1}, Sigma = (1/N) sum_j x_j x_j^T: x_q^T (X^T X)^{-1} X^T y, the ordinary least
  squares prediction ("Ordinary least squares is a special case of transformer").

The context tokens' last coordinates become the residuals y_j - x_j^T w_1, so L layers of step h are
L gradient steps of size eta h, and the continuous flow is gradient flow on L: the prediction is
x_q^T w(t) with w(t) = (I - e^{-eta t Sigma}) Sigma^{-1} (1/N) X^T y, which tends to OLS.
Predictions are read as ``-z_q[-1]`` (``in_context_prediction``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from dynamics.attention.linear_attention import LinearAttention, second_moment
from dynamics.checks import check_real


def prompt(x_context: Tensor, y_context: Tensor, x_query: Tensor) -> Tensor:
    """The tokens [(x_j, y_j)]_{j <= N} followed by [(x_q, 0)]: shape (..., N + Q, d + 1)."""
    context = torch.cat([x_context, y_context[..., None]], dim=-1)
    queries = torch.cat([x_query, torch.zeros_like(x_query[..., :1])], dim=-1)
    return torch.cat([context, queries], dim=-2)


def in_context_prediction(tokens: Tensor, n_context: int) -> Tensor:
    """The queries' predictions -z_q[-1], shape (..., Q)."""
    return -tokens[..., n_context:, -1]


def _readers(d: int, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """[I_d 0] (reads x) and -e_y e_y^T (writes minus the read y into the last coordinate)."""
    read_x = torch.eye(d, d + 1, dtype=dtype)
    write_y = torch.zeros(d + 1, d + 1, dtype=dtype)
    write_y[-1, -1] = -1.0
    return read_x, write_y


def gradient_step_attention(
    d: int, n_context: int, eta: float, dtype=torch.float64
) -> LinearAttention:
    """The layer whose residual step is one gradient-descent step of size ``eta`` on L."""
    eta = check_real("eta", eta, minimum=0.0, strict=True)
    read_x, write_y = _readers(d, dtype)
    return LinearAttention(d + 1, query=eta * read_x, key=read_x, value=write_y, context=n_context)


def least_squares_attention(x_context: Tensor) -> LinearAttention:
    """The layer whose residual step predicts by ordinary least squares on the context.

    Q = Sigma^{-1} [I_d 0] from the spectral decomposition Sigma = U diag(lambda) U^T of the
    context covariance; needs Sigma invertible (N >= d points in general position).
    """
    n_context, d = x_context.shape[-2], x_context.shape[-1]
    eigenvalues, vectors = torch.linalg.eigh(second_moment(x_context))
    if bool((eigenvalues <= eigenvalues.amax() * torch.finfo(x_context.dtype).eps * d).any()):
        raise ValueError("x_context is rank deficient: least squares has no unique solution")
    inverse = vectors @ torch.diag(1.0 / eigenvalues) @ vectors.T
    read_x, write_y = _readers(d, x_context.dtype)
    return LinearAttention(
        d + 1, query=inverse @ read_x, key=read_x, value=write_y, context=n_context
    )


def gradient_flow_prediction(
    x_context: Tensor, y_context: Tensor, x_query: Tensor, eta: float, t: float
) -> Tensor:
    """x_q^T w(t), w(t) = (I - e^{-eta t Sigma}) Sigma^{-1} (1/N) X^T y: gradient flow on L.

    Shapes: ``x_context`` (..., N, d), ``y_context`` (..., N), ``x_query`` (..., Q, d); returns
    (..., Q). Leading dimensions are independent tasks.
    """
    sigma = second_moment(x_context)
    target = x_context.transpose(-1, -2) @ y_context[..., None] / x_context.shape[-2]
    decay = torch.linalg.matrix_exp(-eta * t * sigma)
    w = (torch.eye(sigma.shape[-1], dtype=sigma.dtype) - decay) @ torch.linalg.solve(sigma, target)
    return (x_query @ w)[..., 0]
