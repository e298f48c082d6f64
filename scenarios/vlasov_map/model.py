"""The learned Vlasov map: a discrete transformer acting on angles, and its training.

A token at angle theta enters as u = (cos theta, sin theta) and leaves as the angle of W x_L + c,
where x_L is the output of L residual pre-norm layers x <- x + h f_l(x), h = T / L
(``solvers.DiscreteTransformer`` without positions, so the map depends on the empirical measure of
the tokens only and accepts any number of them), and W, c a linear readout to R^2.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

import solvers
from dynamics import normalize
from scenarios.vlasov_map.config import VlasovMapConfig

DTYPE = torch.float32


def on_circle(theta: Tensor) -> Tensor:
    """(cos theta, sin theta), shape (..., n, 2)."""
    return torch.stack([torch.cos(theta), torch.sin(theta)], -1)


class CircleTransformer(nn.Module):
    """The map theta -> angle(W x_L + c) of the module docstring, on (batch, n) angles."""

    def __init__(self, config: VlasovMapConfig, layers: int) -> None:
        super().__init__()
        self.network = solvers.DiscreteTransformer(
            2,
            None,
            2,
            layers=layers,
            d=config.d,
            heads=config.heads,
            hidden=config.hidden,
            step=config.T / layers,
        )
        self.readout = nn.Linear(config.d, 2)

    def points(self, theta: Tensor) -> Tensor:
        """The output tokens as unit vectors (batch, n, 2)."""
        states, _ = self.network.flow(on_circle(theta).to(self.readout.weight))
        return normalize(self.readout(states[-1]))

    def forward(self, theta: Tensor) -> Tensor:
        """The output angles (batch, n) in (-pi, pi]."""
        x = self.points(theta)
        return torch.atan2(x[..., 1], x[..., 0])

    def parameter_count(self) -> int:
        """The trainable parameters used by the map (the network's classifier head is not)."""
        head = self.network.head, self.network.final_norm
        unused = sum(p.numel() for module in head for p in module.parameters())
        return sum(p.numel() for p in self.parameters()) - unused


def chord_loss(model: CircleTransformer, theta: Tensor, target: Tensor) -> Tensor:
    """Mean over tokens of |u(model(theta)) - u(target)|^2 = 2 - 2 cos(error), the squared chord
    between the predicted and the target angle."""
    return (model.points(theta) - on_circle(target).to(DTYPE)).square().sum(-1).mean()


def train(
    config: VlasovMapConfig, layers: int, theta: Tensor, target: Tensor, generator: torch.Generator
) -> tuple[CircleTransformer, list[float]]:
    """An L-layer ``CircleTransformer`` fitted to move the tokens ``theta`` (densities, n) to
    ``target`` by Adam on ``chord_loss`` over minibatches of ``batch`` densities, the learning
    rate decaying as a cosine from ``lr`` to 0; returns it and the loss at every step."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(2**31, (1,), generator=generator)))
        model = CircleTransformer(config, layers).to(device=config.device, dtype=DTYPE)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    losses = []
    for step in range(config.iterations):
        for group in optimizer.param_groups:
            group["lr"] = 0.5 * config.lr * (1 + math.cos(math.pi * step / config.iterations))
        chosen = torch.randperm(len(theta), generator=generator)[: config.batch]
        loss = chord_loss(model, theta[chosen], target[chosen])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return model, losses
