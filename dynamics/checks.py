"""Argument checks that turn bad input into one clear ``ValueError``/``TypeError``.

Every message names the parameter, the value received and what is accepted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real

import torch


def check_choice(name: str, value: object, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ValueError listing them."""
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name}={value!r} is not accepted; choose one of {', '.join(options)}")
    return value


def check_real(
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    strict: bool = False,
    maximum: float | None = None,
) -> float:
    """Return ``value`` as a finite float, optionally bounded below (strictly if ``strict``) and
    above (inclusively)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name}={value!r} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name}={value!r} must be finite")
    if minimum is not None and (value < minimum or (strict and value == minimum)):
        relation = ">" if strict else ">="
        raise ValueError(f"{name}={value!r} must be {relation} {minimum:g}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}={value!r} must be <= {maximum:g}")
    return value


def check_int(name: str, value: object, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int, optionally at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name}={value!r} must be an integer, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}={value!r} must be >= {minimum}")
    return value


def check_cloud(
    name: str, x: object, *, d: int | None = None, weights_of: torch.nn.Module | None = None
) -> torch.Tensor:
    """Check that ``x`` is a floating tensor of shape ``(..., n, d)`` with ``n >= 1`` and
    ``d >= 1``, and, given ``weights_of``, that the module's first parameter has x's dtype and
    device (a module with trainable weights does not follow its input: ``module.to(x.dtype)``)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (..., n, d), got {type(x).__name__}"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype (float32 or float64), got {x.dtype}")
    if x.ndim < 2 or x.shape[-2] < 1 or x.shape[-1] < 1:
        raise ValueError(
            f"{name} must have shape (..., n, d) with n >= 1 and d >= 1, got {tuple(x.shape)}"
        )
    if d is not None and x.shape[-1] != d:
        raise ValueError(f"{name} has last dimension {x.shape[-1]}, expected d={d}")
    weight = None if weights_of is None else next(weights_of.parameters(), None)
    if weight is not None and (weight.dtype, weight.device) != (x.dtype, x.device):
        module = type(weights_of).__name__
        raise TypeError(
            f"{name} is {x.dtype} on {x.device} but {module}'s weights are {weight.dtype} on "
            f"{weight.device}; move one to the other, e.g. {module}(...).to({x.dtype})"
        )
    return x


def check_phase_state(
    x: object,
    p: object,
    *,
    d: int | None = None,
    names: tuple[str, str] = ("x", "p"),
    weights_of: torch.nn.Module | None = None,
) -> None:
    """Check that positions ``x`` and momenta or velocities ``p`` are clouds (``check_cloud``,
    ``weights_of`` for x) of one shape."""
    check_cloud(names[0], x, d=d, weights_of=weights_of)
    check_cloud(names[1], p, d=d)
    if x.shape != p.shape:
        raise ValueError(
            f"{names[0]} has shape {tuple(x.shape)} and {names[1]} has shape {tuple(p.shape)}; "
            "they must match"
        )


def first_token(flagged: torch.Tensor) -> str:
    """Where the first True of a token mask (..., n) lies, in words: "token i" or "token i of
    batch index (b, ...)", for errors about one token of a cloud. ``flagged`` holds a True."""
    *batch, token = (int(i) for i in flagged.nonzero()[0])
    return f"token {token}" + (f" of batch index {tuple(batch)}" if batch else "")


def check_finite(name: str, tensor: torch.Tensor) -> torch.Tensor:
    """Return ``tensor`` unless it holds NaN or infinite entries (ValueError)."""
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} must be finite; it holds NaN or infinite entries")
    return tensor


DEFINITENESS = ("any", "semidefinite", "definite")


def check_symmetric(name: str, matrix: torch.Tensor, role: str, *, positive: str = "any") -> None:
    """Raise ValueError unless ``matrix`` is symmetric (max |M - M^T| <= 1e-6 max |M|) and, with
    ``positive`` = "semidefinite" / "definite", its smallest eigenvalue is >= -1e-10 max |M| /
    > 0. ``role`` says what the matrix is for, in the message."""
    positive = check_choice("positive", positive, DEFINITENESS)
    matrix = matrix.detach().to(torch.float64)
    scale = float(matrix.abs().max()) or 1.0
    wanted = {"any": "symmetric", "semidefinite": "symmetric positive semi-definite"}.get(
        positive, "symmetric positive definite"
    )
    asymmetry = float((matrix - matrix.T).abs().max())
    if asymmetry > 1e-6 * scale:
        raise ValueError(f"{name} must be {wanted} ({role}); max |M - M^T| = {asymmetry:.3g}")
    if positive == "any":
        return
    smallest = float(torch.linalg.eigvalsh(matrix).min())
    if smallest <= 0 if positive == "definite" else smallest < -1e-10 * scale:
        raise ValueError(
            f"{name} must be {wanted} ({role}); its smallest eigenvalue is {smallest:.3g}"
        )
