"""Transformer blocks: standard multi-head attention, the MLP, and the two block fields."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import dynamics
from dynamics import SPHERE, SelfAttention
from dynamics.blocks.transformer import FeedForward, MultiHeadAttention, TransformerBlock
from dynamics.geometry.sphere import normalize
from solvers import integrate
from tests.reference import F64


def cloud(generator, *shape, dtype=F64):
    return torch.randn(*shape, generator=generator, dtype=dtype)


def randomize(module: nn.Module, generator) -> nn.Module:
    """Random weights everywhere (LayerNorm's are otherwise exactly 1 and 0)."""
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(0.5 * torch.randn(parameter.shape, generator=generator))
    return module


@pytest.mark.parametrize(("dtype", "tol"), [(F64, 1e-12), (torch.float32, 1e-5)])
def test_attention_is_torch_multihead_attention(generator, dtype, tol):
    d, heads = 12, 3
    attention = randomize(MultiHeadAttention(d, heads), generator).to(dtype)
    reference = nn.MultiheadAttention(d, heads, batch_first=True).to(dtype)
    with torch.no_grad():
        reference.in_proj_weight.copy_(attention.qkv.weight)
        reference.in_proj_bias.copy_(attention.qkv.bias)
        reference.out_proj.weight.copy_(attention.out.weight)
        reference.out_proj.bias.copy_(attention.out.bias)
    x = cloud(generator, 2, 3, 7, d, dtype=dtype)
    out = attention(torch.tensor(0.0), x)
    expected = reference(*(x.reshape(6, 7, d),) * 3, need_weights=False)[0].reshape(x.shape)
    assert out.dtype == dtype and out.shape == x.shape
    assert (out - expected).abs().max() < tol


def test_attention_without_bias_is_self_attention_with_value_w_o_w_v(generator):
    """sum_h W_O^h softmax(<W_Q^h x_i, W_K^h x_j> / sqrt(d_h)) W_V^h x_j."""
    d, heads = 8, 2
    width = d // heads
    attention = randomize(MultiHeadAttention(d, heads, bias=False), generator).double()
    w_q, w_k, w_v = attention.qkv.weight.detach().reshape(3, heads, width, d)
    w_o = attention.out.weight.detach().reshape(d, heads, width).permute(1, 0, 2)
    field = SelfAttention(
        d,
        beta=1 / math.sqrt(width),
        query=w_q,
        key=w_k,
        value=w_o @ w_v,
        manifold="euclidean",
        heads=heads,
    )
    x = cloud(generator, 5, 9, d)
    assert (attention(0.0, x) - field(0.0, x)).abs().max() < 1e-12


def test_feed_forward_formula(generator):
    mlp = FeedForward(6, 10, activation="tanh").double()
    x = cloud(generator, 4, 6)
    expected = torch.tanh(x @ mlp.inner.weight.T + mlp.inner.bias) @ mlp.outer.weight.T
    assert (mlp(0.0, x) - expected - mlp.outer.bias).abs().max() < 1e-14


def layer_norm(x, weight, bias):
    centred = x - x.mean(-1, keepdim=True)
    return centred / torch.sqrt(centred.pow(2).mean(-1, keepdim=True) + 1e-5) * weight + bias


def test_pre_norm_block_is_the_parallel_sum(generator):
    """f(x) = Attn(LN_1 x) + MLP(LN_2 x), with the LayerNorms written out."""
    block = randomize(TransformerBlock(8, 2, 16), generator).double()
    x = cloud(generator, 3, 5, 8)
    attention = block.attention(0.0, layer_norm(x, block.norm1.weight, block.norm1.bias))
    mlp = block.mlp(0.0, layer_norm(x, block.norm2.weight, block.norm2.bias))
    assert (block.attention_part(0.0, x) - attention).abs().max() < 1e-12
    assert (block.mlp_part(0.0, x) - mlp).abs().max() < 1e-12
    assert (block(0.0, x) - attention - mlp).abs().max() < 1e-12


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_block_is_permutation_equivariant(generator, norm):
    block = randomize(TransformerBlock(6, 3, 12, norm=norm), generator).double()
    x = cloud(generator, 2, 7, 6)
    permutation = torch.randperm(7, generator=generator)
    moved = block(0.0, x[:, permutation])
    assert (moved - block(0.0, x)[:, permutation]).abs().max() < 1e-12


def test_post_norm_field_is_tangent_and_scale_free(generator):
    block = randomize(TransformerBlock(6, 2, 12, norm="post"), generator).double()
    assert block.geometry is SPHERE
    x = cloud(generator, 3, 5, 6)
    velocity = block(0.0, x)
    assert (normalize(x) * velocity).sum(-1).abs().max() < 1e-12
    assert (block(0.0, 3.7 * x) - velocity).abs().max() < 1e-12
    parts = block.attention_part(0.0, x) + block.mlp_part(0.0, x)
    assert (parts - velocity).abs().max() < 1e-12


def test_post_norm_block_with_projected_euler_is_a_post_norm_layer(generator):
    """One projected Euler step of size h is LN(x + h P_x(Attn(x) + MLP(x))) on unit tokens."""
    block = randomize(TransformerBlock(6, 2, 12, norm="post"), generator).double()
    x = normalize(cloud(generator, 4, 6))
    h = 0.3
    after = integrate(block, x, [0.0, h], method="projected_euler")[-1]
    update = block.attention(0.0, x) + block.mlp(0.0, x)
    update = update - (x * update).sum(-1, keepdim=True) * x
    assert (after - normalize(x + h * update)).abs().max() < 1e-14


def test_gradients_reach_every_weight(generator):
    block = TransformerBlock(8, 4, 16).double()
    block(0.0, cloud(generator, 2, 5, 8)).pow(2).sum().backward()
    for name, parameter in block.named_parameters():
        assert parameter.grad is not None and bool(parameter.grad.abs().sum() > 0), name


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda: MultiHeadAttention(10, 3), ValueError, "heads=3"),
        (lambda: TransformerBlock(8, 2, 16, norm="middle"), ValueError, "norm='middle'"),
        (lambda: FeedForward(8, 16, activation="swish"), ValueError, "activation='swish'"),
        (lambda: FeedForward(8, 0), ValueError, "hidden=0"),
        (lambda: TransformerBlock(8, 2, 16, bias=1), TypeError, "bias=1"),
    ],
)
def test_bad_arguments_are_refused(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_wrong_token_width_is_refused(generator):
    with pytest.raises(ValueError, match="d=8"):
        TransformerBlock(8, 2, 16)(0.0, cloud(generator, 3, 5, dtype=torch.float32))


@pytest.mark.parametrize(
    "make",
    [
        lambda: TransformerBlock(8, 2, 16),
        lambda: TransformerBlock(8, 2, 16, norm="post"),
        lambda: MultiHeadAttention(8, 2),
        lambda: FeedForward(8, 16),
        lambda: dynamics.HamiltonianBlock(8, 2, 16),
    ],
)
def test_float64_tokens_need_float64_weights_and_say_so(make, generator):
    """Trainable weights do not follow the input (torch's rule): float64 tokens through float32
    weights are one clear TypeError, and ``.to(torch.float64)`` makes them run in float64."""
    x = cloud(generator, 2, 5, 8, dtype=torch.float64)
    block = make()
    state = (x, torch.zeros_like(x)) if isinstance(block, dynamics.HamiltonianBlock) else x
    with pytest.raises(TypeError, match=r"x is torch.float64 .* weights are torch.float32 .*\.to"):
        block(0.0, state)
    out = block.to(torch.float64)(0.0, state)
    assert all(part.dtype == torch.float64 for part in (out if isinstance(out, tuple) else [out]))


def test_float32_stays_float32(generator):
    x = cloud(generator, 2, 5, 8, dtype=torch.float32)
    assert TransformerBlock(8, 2, 16)(torch.tensor(0.0), x).dtype == torch.float32
