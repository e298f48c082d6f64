"""The ODE transformer and its discrete twin: exact equivalence, budgets, gradients, the adjoint."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dynamics.blocks import TransformerBlock
from dynamics.models import DiscreteTransformer, ODETransformer
from tests.reference import F64

SHAPE = {"features": 3, "tokens": 6, "classes": 4}


def inputs(generator, dtype=F64, batch=5):
    return torch.randn(batch, SHAPE["tokens"], SHAPE["features"], generator=generator, dtype=dtype)


def ode(**options) -> ODETransformer:
    torch.manual_seed(0)
    model = ODETransformer(**SHAPE, d=8, heads=2, hidden=12, **options).double()
    with torch.no_grad():  # LayerNorm weights away from 1 and 0, so that every term is exercised
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    return model


@pytest.mark.parametrize(
    ("norm", "method"), [("pre", "euler"), ("post", "projected_euler")], ids=["pre", "post"]
)
def test_fixed_steps_are_the_tied_discrete_transformer(generator, norm, method):
    """Euler (projected Euler for post-norm) with step T / L = L tied layers with step h = T / L:
    logits and layer states agree to rounding, and so does the kinetic energy (pre-norm: the
    sphere steppers cannot carry it)."""
    layers, T = 5, 2.0
    model = ode(T=T, norm=norm, method=method, step_size=T / layers)
    network = DiscreteTransformer.tied(model, layers)
    assert network.step == T / layers and len(network.blocks) == layers
    u = inputs(generator)
    assert (model(u) - network(u)).abs().max() < 1e-12
    if norm == "pre":
        energy, twin_energy = model(u, kinetic=True)[1], network(u, kinetic=True)[1]
        assert (energy - twin_energy).abs().max() < 1e-12
    times = torch.linspace(0, T, layers + 1, dtype=F64)
    states = model.flow(u, times=times)[0]
    assert (states - network.flow(u)[0]).abs().max() < 1e-12
    assert model.nfe == layers


@pytest.mark.parametrize(("method", "per_step"), [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_function_evaluations_are_counted(generator, method, per_step):
    model = ode(method=method, step_size=0.25)
    model(inputs(generator))
    assert model.nfe == 4 * per_step
    model.flow(inputs(generator), times=torch.tensor([0.0, 0.5]))
    assert model.nfe == 2 * per_step


def block_parameters(d: int, hidden: int) -> int:
    attention = 3 * d * d + 3 * d + d * d + d
    mlp = d * hidden + hidden + hidden * d + d
    return attention + mlp + 4 * d  # two LayerNorms


def test_parameter_budgets():
    """P per block, E for embedding (F d + d), positions (n d), final LayerNorm (2 d) and head
    (d c + c): ODE P + E, time-dependent K P + E, discrete L P + E."""
    d, hidden = 8, 12
    f, n, c = SHAPE["features"], SHAPE["tokens"], SHAPE["classes"]
    shared = f * d + d + n * d + 2 * d + d * c + c
    block = block_parameters(d, hidden)
    assert sum(p.numel() for p in TransformerBlock(d, 2, hidden).parameters()) == block
    assert ode().parameter_count() == block + shared
    assert ode(time_basis="legendre", basis_size=3).parameter_count() == 3 * block + shared
    network = DiscreteTransformer(**SHAPE, layers=4, d=d, heads=2, hidden=hidden)
    assert network.parameter_count() == 4 * block + shared


@pytest.mark.parametrize("options", [{}, {"time_basis": "cosine", "basis_size": 2}])
def test_gradients_reach_every_parameter(generator, options):
    model = ode(rtol=1e-6, atol=1e-8, **options)
    logits, energy = model(inputs(generator), kinetic=True)
    loss = nn.functional.cross_entropy(logits, torch.arange(5) % 4) + 0.1 * energy.mean()
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and bool(parameter.grad.abs().sum() > 0), name
        assert bool(torch.isfinite(parameter.grad).all()), name


def test_adjoint_gradients_equal_direct_backpropagation(generator):
    """Both differentiate the same solution; at rtol 1e-10 they agree far below 1e-4."""
    u = inputs(generator, batch=3)
    labels = torch.tensor([0, 3, 1])
    gradients = []
    for adjoint in (False, True):
        model = ode(rtol=1e-10, atol=1e-12, adjoint=adjoint)
        logits, energy = model(u, kinetic=True)
        loss = nn.functional.cross_entropy(logits, labels) + 0.3 * energy.mean()
        gradients.append(torch.autograd.grad(loss, list(model.parameters())))
    for direct, adjoint in zip(*gradients, strict=True):
        assert (direct - adjoint).abs().max() <= 1e-6 * direct.abs().max()


def test_float32_model(generator):
    model = ODETransformer(**SHAPE, d=8, heads=2)
    logits = model(inputs(generator, dtype=torch.float32))
    assert logits.dtype == torch.float32 and logits.shape == (5, 4)
    assert model.nfe > 0


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"method": "dopri5", "step_size": 0.1}, ValueError, "step_size=0.1"),
        ({"method": "rk5"}, ValueError, "method='rk5'"),
        ({"time_basis": "spline"}, ValueError, "time_basis='spline'"),
        ({"basis_size": 3}, ValueError, "basis_size=3"),
        ({"T": -1.0}, ValueError, "T=-1"),
        ({"adjoint": "yes"}, TypeError, "adjoint='yes'"),
        ({"heads": 3}, ValueError, "heads=3"),
    ],
)
def test_bad_options_are_refused(options, error, words):
    with pytest.raises(error, match=words):
        ODETransformer(**SHAPE, d=8, **options)


def test_bad_inputs_are_refused(generator):
    model = ode()
    with pytest.raises(ValueError, match=r"expected \(batch, 6, 3\)"):
        model(torch.zeros(2, 5, 3, dtype=F64))
    with pytest.raises(TypeError, match="floating"):
        model(torch.zeros(2, 6, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="autonomous"):
        DiscreteTransformer.tied(ode(time_basis="legendre", basis_size=2), 3)
