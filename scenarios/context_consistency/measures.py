"""The family of measures: isotropic Gaussian mixtures in R^2 labelled by their component count.

Class c in {0, ..., classes - 1} is the mixture with k = c + 1 equal components

    mu = (1/k) sum_{j<k} N(r (cos a_j, sin a_j), s^2 I),   a_j = phi + 2 pi j / k,

with a random rotation phi uniform on [0, 2 pi): the class is a property of the measure, not of a
sample of it, so a classifier of contexts is a map of measures.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

DTYPE = torch.float64


def mixture_centres(labels: Tensor, rotations: Tensor, classes: int, radius: float) -> Tensor:
    """The centres (measures, classes, 2) of each measure's components, the unused ones (index
    >= label + 1) repeating the used ones."""
    index = torch.arange(classes, dtype=DTYPE)
    count = (labels + 1).to(DTYPE)[:, None]
    angles = rotations[:, None] + 2 * math.pi * torch.remainder(index, count) / count
    return radius * torch.stack([torch.cos(angles), torch.sin(angles)], -1)


def sample(
    labels: Tensor,
    rotations: Tensor,
    n: int,
    classes: int,
    radius: float,
    spread: float,
    generator: torch.Generator,
) -> Tensor:
    """n i.i.d. points (measures, n, 2) of each measure: a component drawn uniformly among its
    label + 1, then a Gaussian point around its centre."""
    centres = mixture_centres(labels, rotations, classes, radius)
    count = (labels + 1)[:, None]
    component = (torch.rand((len(labels), n), generator=generator, dtype=DTYPE) * count).long()
    chosen = torch.gather(centres, 1, component[..., None].expand(-1, -1, 2))
    noise = torch.randn((len(labels), n, 2), generator=generator, dtype=DTYPE)
    return chosen + spread * noise


def random_measures(count: int, classes: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Labels uniform in [0, classes) and rotations uniform on [0, 2 pi), each (count,)."""
    labels = torch.randint(classes, (count,), generator=generator)
    rotations = 2 * math.pi * torch.rand(count, generator=generator, dtype=DTYPE)
    return labels, rotations
