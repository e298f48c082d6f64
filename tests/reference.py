"""Closed forms and fits that the numerical tests compare against."""

from __future__ import annotations

import math

import torch
from torchdiffeq import odeint

F64 = torch.float64


def equiangular(n: int, d: int, rho0: float, dtype: torch.dtype = F64) -> torch.Tensor:
    """n unit vectors in R^d, pairwise inner products rho0 >= 0 (d >= n + 1 when rho0 > 0).

    x_i = sqrt(1 - rho0) e_i + sqrt(rho0) e_{n+1}.
    """
    x = torch.zeros(n, d, dtype=dtype)
    x[torch.arange(n), torch.arange(n)] = math.sqrt(1.0 - rho0)
    if rho0 > 0:
        x[:, n] = math.sqrt(rho0)
    return x


def equiangular_rho(
    n: int, beta: float, rho0: float, t: torch.Tensor, normalization: str
) -> torch.Tensor:
    """High-accuracy solution of the equiangular ODE of Geshkovski, Letrouit, Polyanskiy, Rigollet:

    SA:  rho' = 2 e^{beta rho} (1 - rho)((n - 1) rho + 1) / (e^beta + (n - 1) e^{beta rho})
    USA: rho' = (2 / n) e^{beta rho} (1 - rho)((n - 1) rho + 1)
    """

    def rhs(_t: torch.Tensor, rho: torch.Tensor) -> torch.Tensor:
        growth = 2.0 * torch.exp(beta * rho) * (1.0 - rho) * ((n - 1) * rho + 1.0)
        if normalization == "softmax":
            return growth / (math.exp(beta) + (n - 1) * torch.exp(beta * rho))
        return growth / n

    rho0_tensor = torch.tensor(rho0, dtype=t.dtype)
    return odeint(rhs, rho0_tensor, t, method="dopri5", rtol=1e-13, atol=1e-14)


def fitted_slope(steps: list[float], errors: list[float]) -> float:
    """Least-squares slope of log(error) against log(step): the observed order."""
    log_h = torch.log(torch.tensor(steps, dtype=F64))
    log_e = torch.log(torch.tensor(errors, dtype=F64))
    centred = log_h - log_h.mean()
    return float((centred * (log_e - log_e.mean())).sum() / (centred * centred).sum())
