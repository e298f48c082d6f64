"""Fixed weights of the attention fields are checked at construction (issue 14)."""

from __future__ import annotations

import math

import pytest
import torch

from dynamics import HamiltonianAttention, LinearAttention, SelfAttention
from dynamics.momentum.linear_hamiltonian import LinearHamiltonianAttention

FIELDS = [SelfAttention, LinearAttention, HamiltonianAttention, LinearHamiltonianAttention]


@pytest.mark.parametrize("field", FIELDS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("name", ["query", "key", "value"])
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_non_finite_query_key_or_value_is_refused_naming_it(field, name, bad):
    matrix = torch.eye(3, dtype=torch.float64)
    matrix[0, 1] = bad
    with pytest.raises(ValueError, match=rf"^{name} must be finite; it holds NaN or infinite"):
        field(3, **{name: matrix})


def test_a_non_finite_trained_matrix_is_refused_too():
    query = torch.nn.Parameter(torch.full((3, 3), math.nan))
    with pytest.raises(ValueError, match=r"^query must be finite"):
        SelfAttention(3, query=query)
