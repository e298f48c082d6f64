"""The damped Hamiltonian field mixin shared by the three (x, p) fields: bad times and states."""

from __future__ import annotations

import pytest
import torch

from dynamics import HamiltonianAttention, HamiltonianBlock, LinearHamiltonianAttention

FIELDS = {
    "HamiltonianAttention": lambda: HamiltonianAttention(2),
    "LinearHamiltonianAttention": lambda: LinearHamiltonianAttention(2),
    "HamiltonianBlock": lambda: HamiltonianBlock(2, 1, 4),
}


@pytest.mark.parametrize("name", FIELDS)
def test_bad_states_are_refused_clearly(name):
    field, x = FIELDS[name](), torch.zeros(3, 2)
    with pytest.raises(TypeError, match=rf"{name} takes the state as a tuple \(x, p\)"):
        field(torch.tensor(1.0), x)
    with pytest.raises(ValueError, match=r"x has shape \(3, 2\) and p has shape \(4, 2\)"):
        field.hamiltonian(x, torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"expected d=2"):
        field.gradients(torch.zeros(3, 5), torch.zeros(3, 5))


@pytest.mark.parametrize("name", ["HamiltonianAttention", "LinearHamiltonianAttention"])
def test_nesterov_friction_needs_positive_times(name):
    field, x = FIELDS[name](), torch.zeros(3, 2)
    with pytest.raises(ValueError, match=r"t=0: with c_log=3 > 0 .* needs t > 0"):
        field(torch.tensor(0.0), (x, x))
