"""integrate on the inputs of issue 14: each ends in a correct result or one clear refusal."""

from __future__ import annotations

import pytest
import torch

from dynamics import SelfAttention, uniform_sphere
from solvers import integrate
from tests.reference import F64

T = torch.linspace(0.0, 1.0, 5, dtype=F64)


@pytest.fixture
def cloud(generator) -> torch.Tensor:
    return uniform_sphere(8, 3, generator=generator, dtype=F64)


@pytest.mark.parametrize("method", ["euler", "projected_euler"])
def test_a_step_count_over_the_budget_is_refused_before_any_work(cloud, method):
    field = SelfAttention(3)
    evaluations = []
    field.register_forward_hook(lambda *_: evaluations.append(1))
    with pytest.raises(ValueError, match=r"step_size=1e-300 .* the budget of 1e\+08 steps"):
        integrate(field, cloud, T, method=method, step_size=1e-300)
    times = torch.linspace(0.0, 1e300, 8, dtype=F64)
    with pytest.raises(ValueError, match="larger step_size or fewer output times"):
        integrate(field, cloud, times, method=method, step_size=1.0)
    assert not evaluations
