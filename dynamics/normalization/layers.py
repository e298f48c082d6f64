"""Normalization schemes as discrete residual layers, written as used in practice.

With an attention sublayer A (any field ``A(t, x)`` of ``dynamics``: ``SelfAttention``,
``TransformerBlock``), a step h > 0 and LN(z) = z / |z| per token (the scale-free LayerNorm
projected to the unit sphere; the factor sqrt(d) of a real LayerNorm is absorbed into the
attention's beta and value), layer l = 1, 2, ... maps the hidden state x as follows:

- ``post_ln``:  x <- LN(x + h A(x))                        (original transformer, BERT);
- ``pre_ln``:   x <- x + h A(LN(x))                        (GPT-2, LLaMA);
- ``peri_ln``:  x <- x + h LN(A(LN(x)))                    (Gemma: input and output normalisation);
- ``mix_ln``:   ``post_ln`` for l <= post_layers, ``pre_ln`` after (Li et al., "Mix-LN:
  unleashing the power of deeper layers by combining Pre-LN and Post-LN");
- ``ngpt``:     x <- LN(x + h (LN(A(x)) - x)), h the step alpha (Loshchilov et al., "nGPT:
  normalized transformer with representation learning on the hypersphere");
- ``depth_scaled``: x <- x + (h / sqrt(l)) A(LN(x)), the residual branch of layer l scaled by
  1 / sqrt(l) (the depth scaling discussed in Sun et al., "The curse of depth in large language
  models").

``post_ln``, ``mix_ln`` and ``ngpt`` keep their hidden state on the unit sphere (their x0 must have
unit rows); the others let the radius |x_i| grow. The sublayer is called at the layer's time
t = (l - 1) h. ``post_ln`` is exactly ``solvers.projected_euler_step`` (one projected Euler step).
Each rule takes another normalisation as ``norm`` (a trained model's own LayerNorm, say).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from dynamics.checks import check_choice, check_cloud, check_int, check_real
from dynamics.field import VectorField
from dynamics.geometry.sphere import normalize

Norm = Callable[[Tensor], Tensor]

SCHEMES = ("post_ln", "pre_ln", "peri_ln", "mix_ln", "ngpt", "depth_scaled")
"""The normalization schemes, in the order the scenario reports them."""

ON_SPHERE = ("post_ln", "mix_ln", "ngpt")
"""Schemes whose hidden state stays on the unit sphere (Mix-LN starts with Post-LN layers)."""

UNIT_ROW_TOL = 1e-6
"""Largest | |x0_i| - 1 | accepted where a scheme needs unit rows (relative to float32 eps too)."""


def post_ln_layer(
    attention: VectorField, x: Tensor, h: float, layer: int = 1, *, norm: Norm = normalize
) -> Tensor:
    """x <- LN(x + h A(x))."""
    return norm(x + h * attention(_layer_time(x, h, layer), x))


def pre_ln_layer(
    attention: VectorField, x: Tensor, h: float, layer: int = 1, *, norm: Norm = normalize
) -> Tensor:
    """x <- x + h A(LN(x))."""
    return x + h * attention(_layer_time(x, h, layer), norm(x))


def peri_ln_layer(
    attention: VectorField, x: Tensor, h: float, layer: int = 1, *, norm: Norm = normalize
) -> Tensor:
    """x <- x + h LN(A(LN(x)))."""
    return x + h * norm(attention(_layer_time(x, h, layer), norm(x)))


def ngpt_layer(
    attention: VectorField, x: Tensor, h: float, layer: int = 1, *, norm: Norm = normalize
) -> Tensor:
    """x <- LN(x + h (LN(A(x)) - x)), h the step alpha."""
    return norm(x + h * (norm(attention(_layer_time(x, h, layer), x)) - x))


def depth_scaled_layer(
    attention: VectorField, x: Tensor, h: float, layer: int = 1, *, norm: Norm = normalize
) -> Tensor:
    """x <- x + (h / sqrt(l)) A(LN(x)) at layer l."""
    return x + (h / math.sqrt(layer)) * attention(_layer_time(x, h, layer), norm(x))


def _layer_time(x: Tensor, h: float, layer: int) -> Tensor:
    return torch.as_tensor((layer - 1) * h, dtype=x.dtype, device=x.device)


LayerRule = Callable[..., Tensor]
"""``rule(attention, x, h, layer, *, norm=normalize) -> x`` after the layer."""

LAYER_RULES: dict[str, LayerRule] = {
    "post_ln": post_ln_layer,
    "pre_ln": pre_ln_layer,
    "peri_ln": peri_ln_layer,
    "ngpt": ngpt_layer,
    "depth_scaled": depth_scaled_layer,
}
"""Scheme -> its layer rule ``rule(attention, x, h, layer)`` (Mix-LN switches between two)."""


def layer_stack(
    scheme: str,
    attention: VectorField,
    x0: Tensor,
    h: float | Sequence[float],
    depth: int,
    *,
    post_layers: int = 0,
) -> Tensor:
    """The hidden states of ``depth`` layers of ``scheme``, shape (depth + 1, *x0.shape).

    Args:
        scheme: one of ``SCHEMES``.
        attention: the sublayer A, a field ``A(t, x)``.
        x0: the input cloud (..., n, d); unit rows for the schemes in ``ON_SPHERE``.
        h: the step of every layer, or one step per layer (``depth`` positive reals: a
            per-layer nGPT alpha, say).
        depth: the number of layers L >= 1.
        post_layers: ``mix_ln`` only: the first ``post_layers`` layers (0 <= . <= depth) are
            Post-LN, the rest Pre-LN.
    """
    scheme = check_choice("scheme", scheme, SCHEMES)
    check_cloud("x0", x0)
    depth = check_int("depth", depth, minimum=1)
    steps = _check_steps(h, depth)
    post_layers = check_int("post_layers", post_layers, minimum=0)
    if post_layers > depth:
        raise ValueError(f"post_layers={post_layers} must be <= depth={depth}")
    if scheme in ON_SPHERE:
        _check_unit_rows(scheme, x0)
    states = [x0]
    for layer, step in enumerate(steps, start=1):
        if scheme == "mix_ln":
            rule = post_ln_layer if layer <= post_layers else pre_ln_layer
        else:
            rule = LAYER_RULES[scheme]
        states.append(rule(attention, states[-1], step, layer))
    return torch.stack(states)


def _check_steps(h: float | Sequence[float], depth: int) -> list[float]:
    if isinstance(h, (Sequence, Tensor)):
        steps = [check_real("h", float(step), minimum=0.0, strict=True) for step in h]
        if len(steps) != depth:
            raise ValueError(f"h has {len(steps)} steps; give one step or depth={depth} steps")
        return steps
    return [check_real("h", h, minimum=0.0, strict=True)] * depth


def _check_unit_rows(scheme: str, x0: Tensor) -> None:
    tol = max(UNIT_ROW_TOL, 10 * torch.finfo(x0.dtype).eps)
    error = float((torch.linalg.vector_norm(x0, dim=-1) - 1).abs().max())
    if error > tol:
        raise ValueError(
            f"x0 has rows of norm 1 +- {error:.3g}; scheme={scheme!r} keeps its hidden state on "
            f"the unit sphere and needs unit rows (within {tol:g}): pass dynamics.normalize(x0)"
        )
