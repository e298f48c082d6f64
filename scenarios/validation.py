"""Checks shared by every scenario config's ``validate()``: each raises one ValueError line naming
the field, the value received and what is accepted."""

from __future__ import annotations

import math

import torch

import solvers
from scenarios.config import did_you_mean

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def is_int(value: object) -> bool:
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_real(value: object) -> bool:
    """An int or a finite float."""
    return is_int(value) or (isinstance(value, float) and math.isfinite(value))


def show(value: object) -> str:
    """A value as the user would write it after ``--set KEY=``."""
    if isinstance(value, tuple):
        return ",".join(show(item) for item in value) if value else "(empty)"
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def require(condition: bool, name: str, value: object, accepted: str) -> None:
    """Raise ValueError ``name=value is not accepted; expected accepted`` unless ``condition``."""
    if not condition:
        raise ValueError(f"{name}={show(value)} is not accepted; expected {accepted}")


def require_int_in(name: str, value: object, low: int, high: int, why: str = "") -> None:
    """Refuse anything but an integer in [low, high]; ``why`` is appended to the message."""
    accepted = f"an integer in [{low}, {high}]" + (f" ({why})" if why else "")
    require(is_int(value) and low <= value <= high, name, value, accepted)


def require_positive(config: object, *names: str) -> None:
    """Refuse any of the config's fields ``names`` that is not a finite number > 0."""
    for name in names:
        value = getattr(config, name)
        require(is_real(value) and value > 0, name, value, "a finite number > 0")


def require_steps(name: str, value: object) -> None:
    """Refuse anything but a non-empty tuple of numbers > 0 (layer step sizes)."""
    require(
        isinstance(value, tuple) and len(value) >= 1 and all(is_real(h) and h > 0 for h in value),
        name,
        value,
        "one or more numbers > 0",
    )


def require_distinct(name: str, values: tuple) -> None:
    """Refuse a list with repeated entries."""
    if len(set(values)) != len(values):
        raise ValueError(f"{name}={show(values)} is not accepted; expected distinct values")


def check_seed(seed: object) -> None:
    """A seed torch.Generator.manual_seed takes: an integer in [0, 2^63)."""
    require(is_int(seed) and 0 <= seed < 2**63, "seed", seed, "an integer >= 0 (and < 2^63)")


def check_dtype(dtype: object) -> None:
    """``dtype`` must name a key of ``DTYPES``."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype={dtype!r} is not accepted; choose one of {', '.join(DTYPES)}")


def check_solver_settings(method: object, step_size: object, rtol: object, atol: object) -> None:
    """A method of ``solvers.METHODS``; step_size >= 0 (0: one step per output interval) and only
    for fixed-step methods; positive tolerances."""
    if method not in solvers.METHODS:
        raise ValueError(
            f"method={method!r} is not accepted{did_you_mean(str(method), list(solvers.METHODS))}"
            f"; choose one of {', '.join(solvers.METHODS)}"
        )
    require(is_real(rtol) and rtol > 0, "rtol", rtol, "a number > 0")
    require(is_real(atol) and atol > 0, "atol", atol, "a number > 0")
    require(is_real(step_size) and step_size >= 0, "step_size", step_size, "a number >= 0")
    if step_size > 0 and solvers.METHODS[method].adaptive:
        raise ValueError(
            f"step_size={step_size:g} applies to fixed-step methods only; method={method!r} is "
            "adaptive (set step_size=0, or a fixed-step method)"
        )


def check_device(device: object) -> None:
    """cpu, cuda or cuda:N, and CUDA must be available when asked for."""
    if not isinstance(device, str):
        raise ValueError(f"device={device!r} is not accepted; expected cpu, cuda or cuda:N")
    kind, _, index = device.partition(":")
    if device == "cpu":
        return
    if kind != "cuda" or (index and not index.isdigit()):
        raise ValueError(
            f"device={device!r} is not accepted{did_you_mean(device, ('cpu', 'cuda'))}; "
            "expected cpu, cuda or cuda:N"
        )
    if not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available "
            "(torch.cuda.is_available() is False); use --device cpu"
        )
    if index and int(index) >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r} is not accepted; this machine has {torch.cuda.device_count()} "
            f"CUDA device(s): cuda:0 to cuda:{torch.cuda.device_count() - 1}"
        )
