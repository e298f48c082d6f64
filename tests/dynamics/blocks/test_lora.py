"""LoRA against its definition W_eff = W + s B A and the perturbation facts of its docstring."""

from __future__ import annotations

import pytest
import torch

import dynamics
from dynamics import LORA_TARGETS, LoRA, SelfAttention

DTYPE = torch.float64
D, K = 4, 3
"""Token dimension and query/key rows of the explicit matrices (k != d: rectangular W)."""


def cloud(generator: torch.Generator, manifold: str, batch: tuple[int, ...] = (2,)) -> torch.Tensor:
    x = torch.randn(*batch, 7, D, generator=generator, dtype=DTYPE)
    return dynamics.normalize(x) if manifold == "sphere" else 0.5 * x


def base_field(generator, *, explicit: bool, heads: int, **options) -> SelfAttention:
    """SA with identity (None) matrices, or with explicit query/key (K x D, shared by the heads
    when ``heads`` > 1: LoRA must give each head its own copy) and a per-head value."""
    if not explicit:
        return SelfAttention(D, beta=1.5, heads=heads, **options)
    query, key = (torch.randn(K, D, generator=generator, dtype=DTYPE) for _ in range(2))
    value = torch.randn(heads, D, D, generator=generator, dtype=DTYPE) / heads
    return SelfAttention(D, beta=1.5, heads=heads, query=query, key=key, value=value, **options)


@pytest.mark.parametrize("normalization", ["softmax", "uniform", "sinkhorn"])
@pytest.mark.parametrize("manifold", ["sphere", "euclidean"])
@pytest.mark.parametrize("heads", [1, 2])
@pytest.mark.parametrize("explicit", [False, True])
def test_lora_is_self_attention_with_the_effective_matrices(
    generator, normalization, manifold, heads, explicit
):
    """With drawn B, A the LoRA field is SelfAttention built with W + s B A, where W is the
    identity for a None query/key and I / heads per head for a None value."""
    field = base_field(
        generator, explicit=explicit, heads=heads, normalization=normalization, manifold=manifold
    )
    lora = LoRA(field, rank=2, scale=0.7, init="random", std=0.3, generator=generator, dtype=DTYPE)
    expected = {}
    for name in ("query", "key", "value"):
        given = getattr(field, name)
        if given is None:
            base = torch.eye(D, dtype=DTYPE) / (heads if name == "value" else 1)
        else:
            base = given
        if heads > 1:
            base = base.expand(heads, *base.shape[-2:])
        expected[name] = base + 0.7 * lora.B[name].detach() @ lora.A[name].detach()
    reference = SelfAttention(
        D, beta=1.5, heads=heads, normalization=normalization, manifold=manifold, **expected
    )
    x = cloud(generator, manifold)
    with torch.no_grad():
        torch.testing.assert_close(lora(0.0, x), reference(0.0, x), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(lora.merged()(0.0, x), reference(0.0, x), rtol=0, atol=0)
    assert lora.geometry is dynamics.geometry_named(manifold)


@pytest.mark.parametrize("normalization", ["softmax", "uniform", "sinkhorn"])
@pytest.mark.parametrize(("heads", "explicit"), [(1, False), (2, False), (2, True)])
def test_zero_init_is_the_base_field_exactly(generator, normalization, heads, explicit):
    """init="zero" sets B = 0, so W_eff = W + 0 and the field is the wrapped one, bit for bit
    (x I = x and x (I / 2) = x / 2 are exact in floating point). Two exceptions, to rounding: the
    identity field with 2 heads evaluates one head (V = I, mean over heads), while W_eff holds 2
    heads of I / 2, and Sinkhorn's iterations on 2 heads round differently from those on one; a
    query and key shared by 2 heads are one matrix product, W_eff's per-head copies a batched
    one, which a BLAS may sum in another order."""
    field = base_field(generator, explicit=explicit, heads=heads, normalization=normalization)
    lora = LoRA(field, rank=3, generator=generator, dtype=DTYPE)
    x = cloud(generator, "sphere")
    rounding = heads > 1 and (explicit or normalization == "sinkhorn")
    with torch.no_grad():
        torch.testing.assert_close(
            lora(0.0, x),
            field(0.0, x),
            rtol=1e-14 if rounding else 0,
            atol=1e-15 if rounding else 0,
        )
    assert all(size == 0.0 for size in lora.relative_size().values())


def test_masses_keyword_reaches_the_wrapped_field(generator):
    field = SelfAttention(D, beta=2.0)
    lora = LoRA(field, rank=1, init="random", generator=generator)
    x = cloud(generator, "sphere")
    masses = torch.softmax(torch.randn(2, 7, generator=generator, dtype=DTYPE), -1)
    with torch.no_grad():
        weighted = lora(0.0, x, masses=masses)
        torch.testing.assert_close(weighted, lora.merged()(0.0, x, masses=masses))
        assert (weighted - lora(0.0, x)).abs().max() > 1e-3


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_the_perturbation_has_rank_r(generator, rank):
    """W_eff - W = s B A has rank <= r; with drawn factors exactly r (with probability 1)."""
    field = base_field(generator, explicit=True, heads=2)
    lora = LoRA(field, rank=rank, init="random", generator=generator)
    for name, weight in lora.effective_weights().items():
        # (W + s B A) - W carries rounding errors of W's size: a relative rank tolerance
        ranks = torch.linalg.matrix_rank(weight.detach() - lora.base_weight(name), rtol=1e-9)
        assert ranks.tolist() == [rank, rank]


def test_gradients_reach_only_the_factors(generator):
    """The wrapped field's own (trainable) weights are frozen; every factor gets a gradient."""
    query = torch.nn.Parameter(torch.randn(D, D, generator=generator, dtype=DTYPE))
    field = SelfAttention(D, beta=1.0, query=query)
    lora = LoRA(field, rank=2, init="random", generator=generator)
    trainable = {name for name, p in lora.named_parameters() if p.requires_grad}
    assert trainable == {f"{factor}.{name}" for factor in "AB" for name in LORA_TARGETS}
    lora(0.0, cloud(generator, "sphere")).square().sum().backward()
    for factors in (lora.A, lora.B):
        assert all(p.grad is not None and p.grad.abs().max() > 0 for p in factors.values())
    assert lora.field.query.grad is None and query.grad is None and query.requires_grad


def field_change(lora: LoRA, x: torch.Tensor, size: float) -> torch.Tensor:
    """|f_{W + Delta}(x) - f_W(x)|_F with Delta rescaled to relative size ``size``."""
    with torch.no_grad():
        return torch.linalg.vector_norm(lora.rescale_(size)(0.0, x) - lora.field(0.0, x))


@pytest.mark.parametrize("normalization", ["softmax", "uniform"])
def test_the_change_of_the_field_is_linear_in_small_perturbations(generator, normalization):
    """f_{W + Delta}(x) - f_W(x) = D_W f(x)[Delta] + O(|Delta|^2), so halving a small Delta of
    the query and key halves the change: the ratio is 2 up to a relative O(|Delta|) term."""
    field = SelfAttention(D, beta=2.0, normalization=normalization)
    lora = LoRA(
        field, rank=2, targets=("query", "key"), init="random", generator=generator, dtype=DTYPE
    )
    x = cloud(generator, "sphere")
    for size in (1e-2, 1e-4):
        ratio = field_change(lora, x, size) / field_change(lora, x, size / 2)
        assert ratio.item() == pytest.approx(2.0, rel=0.05 if size == 1e-2 else 1e-3)


@pytest.mark.parametrize("manifold", ["sphere", "euclidean"])
def test_a_value_perturbation_changes_the_field_linearly_and_boundedly(generator, manifold):
    """f_{V + Delta}(x) - f_V(x) = P_x(sum_j w_ij Delta x_j) exactly, so the change is linear in
    Delta (ratio 2 to rounding) and each token's change is at most |Delta|_2 max_j |x_j| (softmax
    weights sum to 1, P_x is an orthogonal projection)."""
    field = SelfAttention(D, beta=3.0, manifold=manifold)
    lora = LoRA(field, rank=2, targets=("value",), init="random", generator=generator, dtype=DTYPE)
    x = cloud(generator, manifold, batch=(3,))
    ratio = field_change(lora, x, 0.3) / field_change(lora, x, 0.15)
    assert ratio.item() == pytest.approx(2.0, rel=1e-12)
    with torch.no_grad():
        change = torch.linalg.vector_norm(lora(0.0, x) - field(0.0, x), dim=-1)
        spectral = torch.linalg.matrix_norm(lora.delta("value"), ord=2)
        bound = spectral * torch.linalg.vector_norm(x, dim=-1).amax(-1, keepdim=True)
    assert bool((change <= bound * (1 + 1e-12)).all())
    assert (change / bound).max() > 0.3  # the bound is of the right size, not vacuous


def test_rescale_sets_the_relative_size(generator):
    lora = LoRA(SelfAttention(D), rank=2, init="random", generator=generator, dtype=DTYPE)
    direction = {name: lora.delta(name).detach().clone() for name in lora.targets}
    sizes = lora.rescale_(0.05).relative_size()
    assert sizes == pytest.approx(dict.fromkeys(lora.targets, 0.05), rel=1e-12)
    for name in lora.targets:  # the direction of B A is kept
        delta = lora.delta(name).detach()
        torch.testing.assert_close(delta / delta.norm(), direction[name] / direction[name].norm())
        assert delta.norm() / torch.eye(D, dtype=DTYPE).norm() == pytest.approx(0.05)
    with pytest.raises(ValueError, match="zero"):
        LoRA(SelfAttention(D), rank=1).rescale_(0.1)


def test_random_init_is_reproducible_from_the_generator():
    def draw() -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(7)
        return LoRA(SelfAttention(D), rank=2, init="random", generator=generator).state_dict()

    first, second = draw(), draw()
    assert all(torch.equal(first[key], second[key]) for key in first)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rank": 0}, ValueError, "rank=0"),
        ({"rank": 4}, ValueError, "rank=4 exceeds min"),
        ({"rank": 1.5}, TypeError, "rank"),
        ({"rank": 1, "targets": ("query", "output")}, ValueError, "targets='output'"),
        ({"rank": 1, "targets": ()}, ValueError, r"targets=\(\)"),
        ({"rank": 1, "targets": ("key", "key")}, ValueError, "distinct"),
        ({"rank": 1, "init": "ones"}, ValueError, "init='ones'"),
        ({"rank": 1, "std": 0.0}, ValueError, "std"),
        ({"rank": 1, "scale": float("nan")}, ValueError, "scale"),
    ],
)
def test_bad_arguments_are_refused(generator, kwargs, error, match):
    field = base_field(generator, explicit=True, heads=1)  # query and key are 3 x 4
    with pytest.raises(error, match=match):
        LoRA(field, **kwargs)


def test_fields_without_the_targets_are_refused():
    with pytest.raises(ValueError, match="no 'query' attribute"):
        LoRA(dynamics.FeedForward(D, 8), rank=1)
    with pytest.raises(TypeError, match=r"nn\.Module"):
        LoRA(lambda t, x: x, rank=1)
