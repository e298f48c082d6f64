"""The ODE transformer and its discrete twin: exact equivalence, budgets, gradients, the adjoint;
the heavy-ball and Hamiltonian momentum flows against hand-written steps."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dynamics import TransformerBlock
from solvers import DiscreteTransformer, ODETransformer, integrate
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
        ({"momentum": "nesterov"}, ValueError, "momentum='nesterov'"),
        ({"momentum": "heavy_ball", "friction": -1.0}, ValueError, "friction=-1"),
        ({"momentum": "hamiltonian", "norm": "post"}, ValueError, "norm='post'"),
        (
            {"momentum": "hamiltonian", "time_basis": "legendre", "basis_size": 2},
            ValueError,
            "time_basis='legendre'",
        ),
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


# --- without positions: maps between measures ----------------------------------------------


@pytest.mark.parametrize("kind", ["ode", "discrete"])
def test_without_positions_the_flow_is_a_map_of_the_empirical_measure(generator, kind):
    """tokens=None: any n; permuting the tokens permutes the states; repeating every token k
    times (the same empirical measure) leaves every token's state unchanged; the pooled logits
    depend on the measure only. No n d position parameters."""
    torch.manual_seed(0)
    shape = {"features": 3, "tokens": None, "classes": 4, "d": 8, "heads": 2, "hidden": 12}
    if kind == "ode":
        model = ODETransformer(**shape, method="rk4", step_size=0.25).double()
    else:
        model = DiscreteTransformer(**shape, layers=3, step=0.5).double()
    u = torch.randn(2, 7, 3, generator=generator, dtype=F64)
    states = model.flow(u)[0][-1]
    assert states.shape == (2, 7, 8)
    order = torch.randperm(7, generator=generator)
    torch.testing.assert_close(model.flow(u[:, order])[0][-1], states[:, order])
    repeated = model.flow(u.repeat(1, 3, 1))[0][-1]
    torch.testing.assert_close(repeated, states.repeat(1, 3, 1), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(model(u.repeat(1, 3, 1)), model(u), rtol=1e-12, atol=1e-12)
    with_positions = {**shape, "tokens": 7}
    twin = type(model)(**with_positions, **({"layers": 3} if kind == "discrete" else {}))
    assert twin.parameter_count() - model.parameter_count() == 7 * 8
    with pytest.raises(ValueError, match=r"expected \(batch, n >= 1, 3\)"):
        model(torch.zeros(2, 5, 2, dtype=F64))


# --- momentum flows ---------------------------------------------------------------------------


def test_heavy_ball_flow_is_the_hand_written_symplectic_euler_loop(generator):
    """momentum="heavy_ball" with symplectic Euler, step h: v <- e^{-gamma h} v + h f(x),
    x <- x + h v from v = 0, with f the transformer block; one evaluation per step."""
    steps, T, gamma = 4, 1.5, 0.7
    model = ode(
        T=T, momentum="heavy_ball", friction=gamma, method="symplectic_euler", step_size=T / steps
    )
    block = model.field.field
    assert isinstance(block, TransformerBlock)
    u = inputs(generator)
    h = T / steps
    with torch.no_grad():
        x = model.embed(u)
        v = torch.zeros_like(x)
        expected = [x]
        for step in range(steps):
            v = math.exp(-gamma * h) * v + h * block(torch.tensor(step * h, dtype=F64), x)
            x = x + h * v
            expected.append(x)
        states = model.flow(u, times=torch.linspace(0, T, steps + 1, dtype=F64))[0]
        assert model.nfe == steps
        assert (states - torch.stack(expected)).abs().max() < 1e-12
        assert (model(u) - model.readout(x)).abs().max() < 1e-12


def hand_hamiltonian(block, x, p):
    """H = sum_i p_i^T B p_i / (2 z_i) - (1/2) sum_i z_i, u = LN_1(x), written head by head."""
    width = block.d // block.heads
    u = block.attention_norm(x)
    z = 0.0
    for head in range(block.heads):
        rows = slice(head * width, (head + 1) * width)
        q, k = u @ block.query.weight[rows].T, u @ block.key.weight[rows].T
        z = z + torch.exp(q @ k.transpose(-1, -2) / math.sqrt(width)).sum(-1)
    z = z / (block.heads * x.shape[-2])
    metric = block.metric_factor @ block.metric_factor.T + block.eps * torch.eye(block.d, dtype=F64)
    return (torch.einsum("...i,ij,...j->...", p, metric, p) / (2 * z) - z / 2).sum(-1)


def test_hamiltonian_flow_is_the_hand_written_presymplectic_euler_loop(generator):
    """momentum="hamiltonian" with presymplectic Euler, step h: from p = 0,
    p <- e^{-gamma h} p - h (dH/dx(x, p) - MLP(LN x)),  x <- x + h dH/dp(x, p_new),
    with dH/dx, dH/dp by autograd of H written head by head; two evaluations per step."""
    steps, T, gamma = 3, 1.2, 0.6
    model = ode(
        T=T, momentum="hamiltonian", friction=gamma, method="presymplectic_euler", step_size=T / 3
    )
    block = model.field
    u = inputs(generator)
    h = T / steps
    x = model.embed(u).detach()
    p = torch.zeros_like(x)
    expected = [x]
    for _ in range(steps):
        x_, p_ = x.clone().requires_grad_(True), p.clone().requires_grad_(True)
        grad_x = torch.autograd.grad(hand_hamiltonian(block, x_, p_).sum(), x_)[0]
        mlp = block.mlp.outer(nn.functional.gelu(block.mlp.inner(block.norm(x))))
        p = (math.exp(-gamma * h) * p - h * (grad_x - mlp)).detach()
        p_ = p.clone().requires_grad_(True)
        grad_p = torch.autograd.grad(hand_hamiltonian(block, x, p_).sum(), p_)[0]
        x = x + h * grad_p
        expected.append(x)
    with torch.no_grad():
        states = model.flow(u, times=torch.linspace(0, T, steps + 1, dtype=F64))[0]
        assert model.nfe == 2 * steps
        assert (states - torch.stack(expected)).abs().max() < 1e-12
        assert (model(u) - model.readout(x)).abs().max() < 1e-12


@pytest.mark.parametrize(
    ("momentum", "method", "per_step"),
    [("heavy_ball", "leapfrog", 1), ("hamiltonian", "tao", 4), ("hamiltonian", "midpoint", 2)],
)
def test_momentum_evaluations_are_counted(generator, momentum, method, per_step):
    model = ode(momentum=momentum, method=method, step_size=0.25)
    model(inputs(generator))
    assert model.nfe == 4 * per_step


def test_momentum_parameter_budgets():
    """Heavy ball adds no parameters; the Hamiltonian block has Q, K, L (3 d^2), two LayerNorms
    (4 d) and the MLP, and no value, output projection or biases of the attention."""
    d, hidden = 8, 12
    f, n, c = SHAPE["features"], SHAPE["tokens"], SHAPE["classes"]
    shared = f * d + d + n * d + 2 * d + d * c + c
    mlp = d * hidden + hidden + hidden * d + d
    assert ode(momentum="heavy_ball").parameter_count() == ode().parameter_count()
    assert ode(momentum="hamiltonian").parameter_count() == 3 * d * d + 4 * d + mlp + shared


@pytest.mark.parametrize("momentum", ["heavy_ball", "hamiltonian"])
def test_momentum_gradients_reach_every_parameter(generator, momentum):
    method = {"heavy_ball": "symplectic_euler", "hamiltonian": "presymplectic_euler"}[momentum]
    model = ode(momentum=momentum, method=method, step_size=0.5)
    loss = nn.functional.cross_entropy(model(inputs(generator)), torch.arange(5) % 4)
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and bool(parameter.grad.abs().sum() > 0), name
        assert bool(torch.isfinite(parameter.grad).all()), name


def test_momentum_flows_refuse_kinetic_and_mismatched_steppers(generator):
    model = ode(momentum="heavy_ball", method="symplectic_euler", step_size=0.5)
    with pytest.raises(ValueError, match="kinetic=True needs momentum='none'"):
        model(inputs(generator), kinetic=True)
    with pytest.raises(TypeError, match="Hamiltonian field"):
        ode(momentum="heavy_ball", method="presymplectic_euler", step_size=0.5)(inputs(generator))
    with pytest.raises(TypeError, match="momentum field"):
        ode(momentum="hamiltonian", method="symplectic_euler", step_size=0.5)(inputs(generator))
    with pytest.raises(TypeError, match="autonomous"):
        DiscreteTransformer.tied(ode(momentum="heavy_ball"), 3)


@pytest.mark.parametrize(("method", "per_step"), [("lie_trotter", 1), ("strang", 4)])
@pytest.mark.parametrize("options", [{}, {"time_basis": "legendre", "basis_size": 2}])
def test_splitting_methods_run_the_block_by_its_parts(generator, method, per_step, options):
    """The flow is the splitting method on the block (autonomous or time-dependent), and nfe counts
    the more-used part as solvers.METHODS does."""
    model = ode(method=method, step_size=0.25, **options)
    batch = inputs(generator)
    states, _ = model.flow(batch)
    assert model.nfe == 4 * per_step
    # with the parameters' derivatives tracked, as in the flow: the same attention kernel
    expected = integrate(model.field, model.embed(batch), [0.0, 1.0], method=method, step_size=0.25)
    torch.testing.assert_close(states, expected, rtol=0, atol=0)
    assert bool(torch.isfinite(model(batch)).all())


def test_a_method_that_cannot_run_the_block_is_refused_at_construction():
    with pytest.raises(
        TypeError, match=r"'projected_euler'.*TransformerBlock has geometry euclidean"
    ):
        ode(method="projected_euler")
    with pytest.raises(
        TypeError, match=r"'leapfrog'.*methods accepting TransformerBlock: .*strang"
    ):
        ode(method="leapfrog")
