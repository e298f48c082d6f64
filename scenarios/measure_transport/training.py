"""The transport loss through POT's torch backend, and the training loop.

Loss over the N pairs, for output clouds X_k = T_# mu_k and target clouds Y_k (uniform masses):

- ``"w2"``: sum_k W2^2(X_k, Y_k), the exact optimal-transport cost (``ot.emd2``);
- ``"sinkhorn"``: sum_k S_eps(X_k, Y_k), the debiased Sinkhorn divergence of Genevay, Peyre,
  Cuturi, "Learning generative models with Sinkhorn divergences",
  S_eps(a, b) = OT_eps(a, b) - (OT_eps(a, a) + OT_eps(b, b)) / 2, with OT_eps the entropic
  transport cost of ``ot.sinkhorn2`` (log domain) for the squared distance at regularization eps,
  iterated to a marginal error of 1e-9 in float64, 1e-5 in float32.

Both are differentiable on torch tensors: POT's torch backend returns the cost with the gradient
of the envelope theorem, d/dx_i sum_ij pi_ij |x_i - y_j|^2 = 2 sum_j pi_ij (x_i - y_j) at the
optimal plan pi. With a kinetic weight lambda > 0 the OT-Transformer penalty lambda * sum_k K_k
(``scenarios.measure_transport.flows``) is added.

Training: Adam on fresh samples of every pair at every step (the flow learns the measures, not
one sample), a fixed number of steps, the learning rate divided by 10 over the last quarter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ot
import torch
from torch import Tensor

import dynamics
from scenarios.measure_transport.flows import PiecewiseFlow
from scenarios.measure_transport.pairs import sample_pairs

LOSSES = ("w2", "sinkhorn")
SINKHORN_STOP = {torch.float64: 1e-9, torch.float32: 1e-5}
"""POT's stopping threshold (marginal error) of the Sinkhorn loss per dtype, above rounding."""


def squared_w2(x: Tensor, y: Tensor) -> Tensor:
    """W2^2 between the clouds x (n, d) and y (m, d) of uniform masses (``ot.emd2``)."""
    return dynamics.wasserstein2(x, y, squared=True)


def sinkhorn_divergence(x: Tensor, y: Tensor, reg: float) -> Tensor:
    """S_eps(x, y) of the module docstring for clouds of uniform masses."""
    a, b = x.new_full((x.shape[0],), 1 / x.shape[0]), y.new_full((y.shape[0],), 1 / y.shape[0])

    threshold = SINKHORN_STOP.get(x.dtype, SINKHORN_STOP[torch.float32])

    def cost(p: Tensor, u: Tensor, q: Tensor, v: Tensor) -> Tensor:
        return ot.sinkhorn2(p, q, ot.dist(u, v), reg, method="sinkhorn_log", stopThr=threshold)

    return cost(a, x, b, y) - (cost(a, x, a, x) + cost(b, y, b, y)) / 2


def transport_loss(outputs: Tensor, targets: Tensor, loss: str, reg: float) -> Tensor:
    """The terms W2^2(X_k, Y_k) or S_eps(X_k, Y_k), shape (N,), of the pairs of (N, n, 2) clouds;
    the loss is their sum."""
    if loss == "w2":
        terms = [squared_w2(x, y) for x, y in zip(outputs, targets, strict=True)]
    else:
        terms = [sinkhorn_divergence(x, y, reg) for x, y in zip(outputs, targets, strict=True)]
    return torch.stack(terms)


@dataclass(frozen=True)
class TrainingOptions:
    """What a training run needs besides the flow: pairs N, samples n per measure, component
    std, optimiser steps and learning rate, the loss and its Sinkhorn eps, the kinetic weight."""

    pairs: int
    n: int
    std: float
    steps: int
    lr: float
    loss: str
    reg: float
    kinetic: float


def train(
    flow: PiecewiseFlow, options: TrainingOptions, generator: torch.Generator, dtype: torch.dtype
) -> np.ndarray:
    """Train ``flow`` in place; return the root mean W2 over the pairs at every step (the
    training samples, before the step), shape (steps,)."""
    optimiser = torch.optim.Adam(flow.parameters(), lr=options.lr)
    decay = int(0.75 * options.steps)
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimiser, milestones=[decay], gamma=0.1)
    history = np.empty(options.steps)
    device = next(flow.parameters()).device
    for step in range(options.steps):
        pairs = sample_pairs(options.pairs, options.n, options.std, generator, dtype)
        sources, targets = (cloud.to(device) for cloud in pairs)
        outputs, energy = flow(sources, kinetic=options.kinetic > 0)
        terms = transport_loss(outputs, targets, options.loss, options.reg)
        squared = terms.detach()
        if options.loss != "w2":
            squared = transport_loss(outputs.detach(), targets, "w2", options.reg)
        history[step] = float(squared.mean().clamp_min(0).sqrt())
        optimiser.zero_grad()
        (terms.sum() + options.kinetic * energy.sum()).backward()
        optimiser.step()
        schedule.step()
    return history
