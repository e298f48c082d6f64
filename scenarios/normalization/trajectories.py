"""Every scheme's hidden states at depths 0..L, as layers and as flows (see
``scenarios.normalization``); the flows of Mix-LN and of the depth-scaled layers are composed from
the Post-LN and Pre-LN flows (``dynamics.normalization.flows``)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

import dynamics
import solvers
from dynamics.normalization import FLOWS, depth_scaled_clock, layer_stack
from scenarios.normalization.config import NormalizationConfig

DTYPE = torch.float64


def attention_field(config: NormalizationConfig, d: int, beta: float) -> dynamics.SelfAttention:
    """The sublayer A: identity Q, K, V, unprojected (its radial part feeds the radius)."""
    return dynamics.SelfAttention(
        d, beta=beta, normalization=config.attention, manifold="euclidean"
    )


def uniform_start(config: NormalizationConfig, d: int) -> Tensor:
    """n tokens uniform on S^{d-1}, drawn from ``seed`` (the same start for every scheme)."""
    generator = torch.Generator().manual_seed(config.seed)
    x0 = dynamics.uniform_sphere(config.n, d, generator=generator, dtype=DTYPE)
    return x0.to(config.device)


def layer_states(config: NormalizationConfig, scheme: str, field: nn.Module, x0: Tensor) -> Tensor:
    """``config.depth`` layers of ``scheme``, shape (L + 1, n, d)."""
    return layer_stack(scheme, field, x0, config.h, config.depth, post_layers=config.post_layers)


def flow_states(
    config: NormalizationConfig,
    scheme: str,
    make_flow: Callable[[str], nn.Module],
    x0: Tensor,
) -> Tensor:
    """The flow of ``scheme`` at the layers' times l h, l = 0..L (depth-scaled: the Pre-LN flow
    at tau_l; Mix-LN: Post-LN up to the switch, Pre-LN after), with ``make_flow(base)`` the flow
    of a base scheme (particles or a reduced ODE)."""
    times = torch.arange(config.depth + 1, dtype=DTYPE, device=x0.device) * config.h
    if scheme == "depth_scaled":
        clock = depth_scaled_clock(config.h, config.depth).to(x0.device)
        return _solve(config, make_flow("pre_ln"), x0, clock)
    if scheme != "mix_ln":
        return _solve(config, make_flow(scheme), x0, times)
    switch = config.post_layers
    if switch == 0:
        return _solve(config, make_flow("pre_ln"), x0, times)
    post = _solve(config, make_flow("post_ln"), x0, times[: switch + 1])
    if switch == config.depth:
        return post
    pre = _solve(config, make_flow("pre_ln"), post[-1], times[switch:])
    return torch.cat([post, pre[1:]])


def _solve(config: NormalizationConfig, field: nn.Module, x0: Tensor, times: Tensor) -> Tensor:
    return solvers.integrate(field, x0, times, rtol=config.rtol, atol=config.atol)


def particle_flows(field: nn.Module) -> Callable[[str], nn.Module]:
    """``make_flow`` for the particle system around the sublayer ``field``."""
    return lambda scheme: FLOWS[scheme](field)
