"""Time-dependent weights: the basis, the autonomous limit, and the field at the weights W(t)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from numpy.polynomial import legendre

from dynamics.blocks.time_dependent import TimeDependent, basis_functions
from dynamics.blocks.transformer import TransformerBlock
from tests.reference import F64


def test_legendre_basis_is_shifted_legendre_and_orthogonal():
    """phi_k(t) = P_k(2t/T - 1); int_0^T phi_j phi_k dt = T / (2k + 1) delta_jk (Gauss-Legendre
    with 12 nodes integrates these degree <= 14 products exactly)."""
    T, size = 2.5, 8
    t = torch.linspace(-0.5, 3.0, 29, dtype=F64)
    values = basis_functions(t, size, "legendre", T)
    for k in range(size):
        expected = legendre.legval(2 * t.numpy() / T - 1, np.eye(size)[k])
        np.testing.assert_allclose(values[k].numpy(), expected, rtol=1e-12, atol=1e-12)
    nodes, weights = legendre.leggauss(12)
    phi = basis_functions(torch.tensor(T * (nodes + 1) / 2), size, "legendre", T).numpy()
    gram = (phi * weights * T / 2) @ phi.T
    np.testing.assert_allclose(gram, np.diag(T / (2 * np.arange(size) + 1)), atol=1e-13)


def test_cosine_basis():
    T = 3.0
    t = torch.linspace(0, T, 11, dtype=F64)
    values = basis_functions(t, 5, "cosine", T)
    for k in range(5):
        assert (values[k] - torch.cos(k * math.pi * t / T)).abs().max() < 1e-14


@pytest.mark.parametrize("basis", ["legendre", "cosine"])
@pytest.mark.parametrize("size", [1, 3])
def test_starts_as_the_autonomous_block(generator, basis, size):
    block = TransformerBlock(8, 2, 16).double()
    field = TimeDependent(block, basis=basis, size=size, T=2.0)
    x = torch.randn(3, 6, 8, generator=generator, dtype=F64)
    for t in (0.0, 0.7, 2.0):
        assert (field(torch.tensor(t, dtype=F64), x) - block(0.0, x)).abs().max() == 0
    own = sum(p.numel() for p in block.parameters())
    assert sum(p.numel() for p in field.parameters()) == size * own


@pytest.mark.parametrize("basis", ["legendre", "cosine"])
def test_field_at_t_is_the_block_with_weights_w_t(generator, basis):
    """With random coefficients, f(t, x) equals a copy of the block loaded with
    W(t) = sum_k c_k phi_k(t), computed here from the basis values."""
    T, size = 1.5, 4
    block = TransformerBlock(8, 2, 16).double()
    field = TimeDependent(block, basis=basis, size=size, T=T)
    with torch.no_grad():
        for c in field.coefficients.values():
            c.copy_(0.3 * torch.randn(c.shape, generator=generator, dtype=F64))
    x = torch.randn(2, 5, 8, generator=generator, dtype=F64)
    for t in (0.0, 0.4, 1.5):
        phi = basis_functions(torch.tensor(t, dtype=F64), size, basis, T)
        state = {
            name: sum(phi[k] * c[k] for k in range(size))
            for name, c in ((n, field.coefficients[n.replace(".", "/")]) for n in field.names)
        }
        loaded = copy.deepcopy(block)
        loaded.load_state_dict(state)
        expected = loaded(0.0, x)
        assert (field(torch.tensor(t, dtype=F64), x) - expected).abs().max() < 1e-12


def test_two_legendre_functions_interpolate_linearly():
    """K = 2: W(t) = c_0 + c_1 (2t/T - 1), so W(0) = c_0 - c_1, W(T) = c_0 + c_1, W(T/2) = c_0."""
    block = TransformerBlock(4, 1, 8).double()
    field = TimeDependent(block, size=2, T=4.0)
    c = field.coefficients["attention/qkv/weight"]
    with torch.no_grad():
        c[1] = 1.0
    weights = {t: field.weights(t)["attention.qkv.weight"] for t in (0.0, 2.0, 4.0, 1.0)}
    assert (weights[0.0] - (c[0] - 1)).abs().max() == 0
    assert (weights[2.0] - c[0]).abs().max() == 0
    assert (weights[4.0] - (c[0] + 1)).abs().max() == 0
    assert (weights[1.0] - (c[0] - 0.5)).abs().max() < 1e-15


def test_gradients_reach_every_coefficient(generator):
    field = TimeDependent(TransformerBlock(8, 2, 16), basis="cosine", size=3)
    x = torch.randn(2, 5, 8, generator=generator)
    out = field(torch.tensor(0.3), x)
    assert out.dtype == torch.float32
    out.pow(2).sum().backward()
    for name, c in field.coefficients.items():
        per_function = c.grad.flatten(1).abs().sum(1)
        assert bool((per_function > 0).all()) and bool(torch.isfinite(c.grad).all()), name


def test_the_wrapped_block_is_copied_and_keeps_no_parameters():
    block = TransformerBlock(4, 1, 8)
    field = TimeDependent(block, size=2)
    assert len(list(block.parameters())) == len(field.names)
    assert list(field.field.parameters()) == []
    assert all(key.startswith("coefficients.") for key in field.state_dict())


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"basis": "fourier"}, ValueError, "basis='fourier'"),
        ({"size": 0}, ValueError, "size=0"),
        ({"T": 0.0}, ValueError, "T=0"),
        ({"size": 1.5}, TypeError, "size=1.5"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, words):
    with pytest.raises(error, match=words):
        TimeDependent(TransformerBlock(4, 1, 8), **kwargs)


def test_a_field_without_parameters_or_not_a_module_is_refused():
    with pytest.raises(TypeError, match=r"nn\.Module"):
        TimeDependent(lambda t, x: x)
    with pytest.raises(ValueError, match="no parameters"):
        TimeDependent(torch.nn.Identity())
