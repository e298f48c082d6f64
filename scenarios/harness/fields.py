"""Config fields that many scenarios share, each declared once with its default, help and check.

Each function returns a fresh field (a dataclass field object cannot be shared between classes);
its arguments are the scenario's default where scenarios differ.
"""

from __future__ import annotations

from typing import Any

import torch

import dynamics
import solvers
from scenarios.harness.checks import Check, is_real, non_negative, one_of, positive, real_in
from scenarios.harness.config import param

DTYPES = {"float32": torch.float32, "float64": torch.float64}
"""The dtypes a scenario computes in, by the name a config gives."""


def dtype_field(default: str = "float64") -> Any:
    """``dtype: str``, a name in ``DTYPES``."""
    return param(default, "floating-point precision", one_of(DTYPES))


def device_field() -> Any:
    """``device: str``, "cpu" by default; CUDA must be available when asked for."""
    return param("cpu", "torch device", device_check())


def cluster_tol_field(default: float = 1e-2) -> Any:
    """``cluster_tol: float``, ``default`` 1e-2 unless the scenario needs another."""
    return param(
        default,
        "tokens whose cosine exceeds 1 - cluster_tol are linked; clusters are the connected groups",
        real_in(0.0, 2.0, open_low=True),
    )


def method_field(default: str, help: str, sample: object) -> Any:
    """``method: str``: a name in ``solvers.METHODS`` that accepts fields like ``sample`` (a
    small instance of the field the scenario integrates), by the contract each method declares
    (``solvers.methods_for``)."""
    return param(default, f"integration method; {help}", one_of(solvers.methods_for(sample)))


def rtol_field(default: float = 1e-6) -> Any:
    """``rtol: float``, relative tolerance of adaptive methods, no finer than a float64 state
    resolves (``solvers.check_rtol``; a float32 scenario checks its own dtype too)."""
    floor = solvers.RTOL_EPS_FRACTION * torch.finfo(torch.float64).eps
    return param(
        default,
        "relative tolerance (adaptive methods)",
        Check(lambda value: is_real(value) and value >= floor, f"a number >= {floor:.2g}"),
    )


def atol_field(default: float = 1e-8) -> Any:
    """``atol: float``, absolute tolerance of adaptive methods."""
    return param(default, "absolute tolerance (adaptive methods)", positive())


def step_size_field() -> Any:
    """``step_size: float``: the largest fixed step, 0 for one step per output interval."""
    return param(
        0.0,
        "fixed-step methods only: largest step; 0 takes one step per output interval",
        real_in(0.0, float("inf"), open_high=True),
    )


def check_step_size(method: str, step_size: float, horizon: float) -> None:
    """Refuse a step_size > 0 with an adaptive method (``solvers.check_step_size``; 0 means one
    step per output interval), and one that cuts [0, horizon] into more steps than a solve may
    take (``solvers.steps_per_interval``)."""
    solvers.check_step_size(method, step_size or None)
    if step_size > 0:
        solvers.steps_per_interval(torch.tensor([0.0, horizon], dtype=torch.float64), step_size)


def device_check() -> Check:
    """cpu, cuda or cuda:N, where that device exists on this machine."""
    if not torch.cuda.is_available():
        available = "CUDA is not available on this machine: use cpu"
    else:
        available = f"this machine has cuda:0 to cuda:{torch.cuda.device_count() - 1}"
    return Check(_device_available, f"cpu, cuda or cuda:N ({available})")


def _device_available(device: object) -> bool:
    if not isinstance(device, str):
        return False
    if device == "cpu":
        return True
    kind, _, index = device.partition(":")
    if kind != "cuda" or (index and not index.isdigit()) or not torch.cuda.is_available():
        return False
    return not index or int(index) < torch.cuda.device_count()


def query_key_field() -> Any:
    """``query_key: str``, the ensemble of A = Q^T K drawn per seed (``dynamics.sample_weights``),
    "identity" for Q = K = I."""
    return param(
        "identity",
        "interaction A = Q^T K, drawn per seed unless identity (sweeps only; normalisations: "
        "dynamics.weight_ensembles)",
        one_of(dynamics.QUERY_KEY_ENSEMBLES),
    )


def value_field() -> Any:
    """``value: str``, the ensemble of V drawn per seed, "identity" for V = I."""
    return param(
        "identity",
        "value matrix V (plus_ktq, minus_ktq: V = +-K^T Q), drawn per seed unless identity",
        one_of(dynamics.VALUE_ENSEMBLES),
    )


def redraw_period_field() -> Any:
    """``redraw_period: float``, time between weight draws; 0 for one draw."""
    return param(
        0.0,
        "with random weights, draw new ones every redraw_period time units (piecewise constant "
        "in time); 0: one draw for the whole solve",
        non_negative(),
    )


def plateau_factor_field() -> Any:
    """``plateau_factor: float``, how long a cluster count must hold to be a plateau
    (``scenarios.analysis.plateaus``)."""
    return param(
        3.0,
        "a plateau holds the count from t_a to at least factor * t_a",
        Check(lambda value: is_real(value) and value > 1, "a finite number > 1"),
    )
