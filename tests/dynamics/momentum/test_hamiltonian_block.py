"""The trainable multi-head Hamiltonian attention block: gradients, the SPD metric, the reduction
to ``HamiltonianAttention`` at one head, and the energy balance."""

from __future__ import annotations

import math

import pytest
import torch

from dynamics.momentum.hamiltonian_attention import HamiltonianAttention
from dynamics.momentum.hamiltonian_block import HamiltonianBlock
from tests.reference import F64


def block(d=8, heads=2, hidden=12, friction=0.5, scale=0.3, seed=0) -> HamiltonianBlock:
    torch.manual_seed(seed)
    field = HamiltonianBlock(d, heads, hidden, friction=friction).double()
    with torch.no_grad():  # move every parameter (B away from I, LayerNorm away from 1 and 0)
        for parameter in field.parameters():
            parameter.add_(scale * torch.randn_like(parameter))
    return field


def state(generator, shape=(3, 5, 8)):
    return (
        torch.randn(*shape, generator=generator, dtype=F64),
        torch.randn(*shape, generator=generator, dtype=F64),
    )


def hand_hamiltonian(field: HamiltonianBlock, x, p):
    """H = sum_i p_i^T B p_i / (2 z_i) - (1/2) sum_i z_i with z_i = (1/(n H)) sum_h sum_j
    exp(<Q_h u_i, K_h u_j> / sqrt(d_h)), u = LN_1(x), head by head, B = L L^T + eps I."""
    d, heads = field.d, field.heads
    width = d // heads
    u = field.attention_norm(x)
    z = 0.0
    for head in range(heads):
        rows = slice(head * width, (head + 1) * width)
        q = u @ field.query.weight[rows].T
        k = u @ field.key.weight[rows].T
        z = z + torch.exp(q @ k.transpose(-1, -2) / math.sqrt(width)).sum(-1)
    z = z / (heads * x.shape[-2])
    factor = field.metric_factor
    metric = factor @ factor.T + field.eps * torch.eye(d, dtype=F64)
    quadratic = torch.einsum("...i,ij,...j->...", p, metric, p)
    return (quadratic / (2 * z) - z / 2).sum(-1)


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_hamiltonian_and_closed_form_gradients(generator, heads):
    """H equals the head-by-head formula; the closed-form dH/dx and dH/dp equal autograd of it."""
    field = block(heads=heads)
    x, p = state(generator)
    assert (field.hamiltonian(x, p) - hand_hamiltonian(field, x, p)).abs().max() < 1e-12
    x.requires_grad_(True)
    p.requires_grad_(True)
    grad_x, grad_p = torch.autograd.grad(hand_hamiltonian(field, x, p).sum(), (x, p))
    closed_x, closed_p = field.attention_gradients(x, p)
    assert (closed_x - grad_x).abs().max() < 1e-12 * max(1.0, float(grad_x.abs().max()))
    assert (closed_p - grad_p).abs().max() < 1e-12 * max(1.0, float(grad_p.abs().max()))


def test_one_head_is_hamiltonian_attention(generator):
    """At H = 1, as functions of the normalised positions u = LN_1(x), H and its gradients are
    those of HamiltonianAttention with query Q, key K, value B, damping alpha = c_lin = gamma."""
    field = block(heads=1, friction=0.7)
    reference = HamiltonianAttention(
        8,
        query=field.query.weight.detach(),
        key=field.key.weight.detach(),
        value=field.metric().detach(),
        c_log=0.0,
        c_lin=0.7,
    )
    x, p = state(generator)
    with torch.no_grad():
        u = field.attention_norm(x)
        for ours, theirs in zip(
            field.normalized_gradients(u, p), reference.gradients(u, p), strict=True
        ):
            assert (ours - theirs).abs().max() < 1e-12
        assert (field.hamiltonian(x, p) - reference.hamiltonian(u, p)).abs().max() < 1e-12
        t, h = torch.tensor(0.3, dtype=F64), torch.tensor(0.2, dtype=F64)
        assert (field.damping_factor(t, h) - reference.damping_factor(t, h)).abs() < 1e-15


def test_field_is_attention_force_plus_mlp_force_minus_friction(generator):
    """x' = B p / z, p' = -dH/dx + MLP(LN x) - gamma p, and grad_x = dH/dx - MLP(LN x)."""
    field = block(friction=0.4)
    x, p = state(generator)
    with torch.no_grad():
        velocity, force = field(torch.tensor(0.0, dtype=F64), (x, p))
        grad_x, grad_p = field.attention_gradients(x, p)
        mlp = field.mlp.outer(torch.nn.functional.gelu(field.mlp.inner(field.norm(x))))
        assert (velocity - grad_p).abs().max() < 1e-15
        assert (force - (-grad_x + mlp - 0.4 * p)).abs().max() < 1e-12
        assert (field.grad_x(x, p) - (grad_x - mlp)).abs().max() < 1e-12
        assert (field.grad_p(x, p) - grad_p).abs().max() < 1e-15


def test_energy_balance_without_the_mlp(generator):
    """With the MLP's output zeroed, dH/dt along the field = -gamma sum_i p_i^T B p_i / z_i."""
    field = block(friction=0.6)
    with torch.no_grad():
        field.mlp.outer.weight.zero_()
        field.mlp.outer.bias.zero_()
    x, p = state(generator)
    with torch.no_grad():
        velocity, force = field(torch.tensor(0.0, dtype=F64), (x, p))
        grad_x, grad_p = field.attention_gradients(x, p)
        rate = (grad_x * velocity).sum((-1, -2)) + (grad_p * force).sum((-1, -2))
        z = torch.exp(field.log_normalizer(x))
        dissipation = -0.6 * (torch.einsum("...i,ij,...j->...", p, field.metric(), p) / z).sum(-1)
    assert (rate - dissipation).abs().max() < 1e-10 * float(dissipation.abs().max())
    assert bool((dissipation < 0).all())


@pytest.mark.parametrize("seed", range(4))
def test_metric_is_symmetric_positive_definite_for_any_factor(seed):
    """B = L L^T + eps I is exactly symmetric with eigenvalues >= eps for random L, also a
    singular L (rank 1), where the smallest eigenvalue is eps itself."""
    field = HamiltonianBlock(6, 2, 8, eps=1e-3).double()
    generator = torch.Generator().manual_seed(seed)
    factors = [
        3.0 * torch.randn(6, 6, generator=generator, dtype=F64),
        torch.outer(torch.randn(6, generator=generator, dtype=F64), torch.ones(6, dtype=F64)),
    ]
    for factor in factors:
        with torch.no_grad():
            field.metric_factor.copy_(factor)
        metric = field.metric().detach()
        assert torch.equal(metric, metric.T)
        eigenvalues = torch.linalg.eigvalsh(metric)
        assert float(eigenvalues.min()) >= 1e-3 - 1e-12 * float(eigenvalues.max())
    assert abs(float(eigenvalues.min()) - 1e-3) < 1e-12 * float(eigenvalues.max())


def test_metric_starts_at_the_identity():
    """L(0) = sqrt(1 - eps) I, held in float32: B(0) = I to a few float32 roundings."""
    field = HamiltonianBlock(6, 3, 8)
    assert (field.metric() - torch.eye(6)).abs().max() < 4 * torch.finfo(torch.float32).eps


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"heads": 3}, "heads=3"),
        ({"friction": -1.0}, "friction=-1"),
        ({"eps": 0.0}, "eps=0"),
        ({"eps": 1.5}, "eps=1.5"),
    ],
)
def test_bad_options_are_refused(options, words):
    with pytest.raises(ValueError, match=words):
        HamiltonianBlock(**{"d": 8, "heads": 2, "hidden": 4, **options})


def test_bad_states_are_refused():
    field = HamiltonianBlock(4, 2, 4)
    with pytest.raises(TypeError, match="tuple"):
        field(torch.tensor(0.0), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="must match"):
        field.gradients(torch.zeros(3, 4), torch.zeros(2, 4))
