"""Random attention weights, one draw per system: the ensembles of the phase diagrams of
Geshkovski, Letrouit, Polyanskiy, Rigollet, "A mathematical perspective on Transformers".

A system's weights are the bilinear form A = Q^T K of its logits beta <Q x_i, K x_j> =
beta x_i^T A x_j and its value matrix V, stacked as ``weights[..., 0, :, :] = A`` and
``weights[..., 1, :, :] = V`` (the layout ``dynamics.BatchedWeightsAttention`` reads).

The interaction ``query_key`` (A), scaled so that for unit x, y the logit x^T A y has variance of
order 1, as <x, y> has under the identity (beta keeps its meaning across ensembles and d):

- ``"identity"``: A = I (Q = K = I);
- ``"gaussian"``: A = Q^T K with Q, K independent, entries i.i.d. N(0, d^{-1/2}); then
  <Qx, Ky> has mean 0 and variance |x|^2 |y|^2, and E|A|_F^2 = d^2;
- ``"wigner"``: A symmetric, entries A_ij = A_ji i.i.d. N(0, 1) for i <= j (E|A|_F^2 = d^2);
- ``"goe"``: the Gaussian orthogonal ensemble A = (G + G^T) / sqrt(2), G with i.i.d. N(0, 1)
  entries: off-diagonal N(0, 1), diagonal N(0, 2), law invariant under A -> O A O^T
  (E|A|_F^2 = d (d + 1)).

The ``value`` ensemble (V), scaled so that E|V|_F^2 = d = |I|_F^2:

- ``"identity"``: V = I;
- ``"gaussian"``: entries i.i.d. N(0, 1/d), independent of A;
- ``"plus_ktq"`` / ``"minus_ktq"``: V = +-K^T Q / c = +-A^T / c with c^2 = E|A|_F^2 / d
  (c = 1 for the identity): for a symmetric A with V = +A the dynamics ascend the interaction
  energy, with V = -A they descend it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from dynamics.checks import check_choice, check_int
from dynamics.sampling import _check_sampling

QUERY_KEY_ENSEMBLES = ("identity", "gaussian", "wigner", "goe")
VALUE_ENSEMBLES = ("identity", "gaussian", "plus_ktq", "minus_ktq")


def _squared_frobenius(query_key: str, d: int) -> float:
    """E|A|_F^2 of the interaction ensemble in dimension d."""
    return {"identity": d, "gaussian": d * d, "wigner": d * d, "goe": d * (d + 1)}[query_key]


def sample_weights(
    d: int,
    query_key: str = "identity",
    value: str = "identity",
    *,
    batch_shape: tuple[int, ...] = (),
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Independent draws of (A, V) (module docstring), shape (*batch_shape, 2, d, d).

    All randomness comes from ``generator`` (same generator state, same weights); the identity
    ensembles draw nothing. ``dtype`` and ``device`` default to torch's defaults.
    """
    d = check_int("d", d, minimum=1)
    query_key = check_choice("query_key", query_key, QUERY_KEY_ENSEMBLES)
    value = check_choice("value", value, VALUE_ENSEMBLES)
    batch_shape = _check_sampling(batch_shape, generator, dtype)
    like = {"dtype": dtype or torch.get_default_dtype(), "device": device}

    def normal(std: float) -> Tensor:
        shape = (*batch_shape, d, d)
        return std * torch.randn(shape, generator=generator, **like)

    identity = torch.eye(d, **like).expand(*batch_shape, d, d)
    if query_key == "identity":
        interaction = identity
    elif query_key == "gaussian":
        std = d**-0.25
        interaction = normal(std).transpose(-1, -2) @ normal(std)
    elif query_key == "wigner":
        upper = normal(1.0).triu()
        interaction = upper + upper.triu(1).transpose(-1, -2)
    else:
        g = normal(1.0)
        interaction = (g + g.transpose(-1, -2)) / math.sqrt(2.0)
    if value == "identity":
        values = identity
    elif value == "gaussian":
        values = normal(d**-0.5)
    else:
        sign = 1.0 if value == "plus_ktq" else -1.0
        scale = math.sqrt(_squared_frobenius(query_key, d) / d)
        values = sign * interaction.transpose(-1, -2) / scale
    return torch.stack([interaction, values], dim=-3)
