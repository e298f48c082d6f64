"""SelfAttention against closed forms, exact configurations and a dense reference."""

from __future__ import annotations

import math

import pytest
import torch

from dynamics import SelfAttention, project_tangent, uniform_sphere
from solvers import integrate
from tests.reference import F64, equiangular, equiangular_rho


def dense_attention(x, beta, normalization, *, causal=False, query=None, key=None, value=None):
    """The textbook formula with an explicit n x n matrix, one head."""
    q = x if query is None else x @ query.T
    k = x if key is None else x @ key.T
    v = x if value is None else x @ value.T
    logits = beta * q @ k.transpose(-1, -2)
    if causal:
        n = x.shape[-2]
        logits = logits.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), -math.inf)
    if normalization == "softmax":
        weights = torch.softmax(logits, -1)
    else:
        weights = torch.exp(logits) / x.shape[-2]
    return weights @ v


@pytest.mark.parametrize("normalization", ["softmax", "uniform"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("manifold", ["sphere", "euclidean"])
def test_matches_dense_formula_with_random_weights(normalization, causal, manifold, generator):
    d, n = 4, 37
    x = uniform_sphere(n, d, batch_shape=(2, 3), generator=generator, dtype=F64)
    query, key, value = (torch.randn(d, d, generator=generator, dtype=F64) for _ in range(3))
    field = SelfAttention(
        d,
        beta=0.8,
        query=query,
        key=key,
        value=value,
        normalization=normalization,
        manifold=manifold,
        causal=causal,
    )
    expected = dense_attention(
        x, 0.8, normalization, causal=causal, query=query, key=key, value=value
    )
    if manifold == "sphere":
        expected = project_tangent(x, expected)
    torch.testing.assert_close(field(0.0, x), expected, rtol=1e-12, atol=1e-12)


def test_heads_sum_their_outputs(generator):
    d, n = 3, 20
    x = uniform_sphere(n, d, generator=generator, dtype=F64)
    mats = [torch.randn(2, d, d, generator=generator, dtype=F64) for _ in range(3)]
    both = SelfAttention(d, beta=1.5, query=mats[0], key=mats[1], value=mats[2], heads=2)
    one_by_one = sum(
        SelfAttention(d, beta=1.5, query=mats[0][h], key=mats[1][h], value=mats[2][h])(0.0, x)
        for h in range(2)
    )
    torch.testing.assert_close(both(0.0, x), one_by_one, rtol=1e-12, atol=1e-12)


def test_default_weights_do_not_depend_on_heads(generator):
    x = uniform_sphere(16, 3, generator=generator, dtype=F64)
    torch.testing.assert_close(
        SelfAttention(3, beta=2.0, heads=4)(0.0, x), SelfAttention(3, beta=2.0)(0.0, x)
    )


def test_batched_systems_are_independent(generator):
    x = uniform_sphere(10, 3, batch_shape=(5,), generator=generator, dtype=F64)
    field = SelfAttention(3, beta=3.0)
    separately = torch.stack([field(0.0, x[b]) for b in range(5)])
    torch.testing.assert_close(field(0.0, x), separately, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("normalization", ["softmax", "uniform"])
@pytest.mark.parametrize(("n", "d", "rho0", "beta"), [(4, 4, 0.0, 1.0), (4, 5, 0.3, 5.0)])
def test_equiangular_start_follows_the_scalar_ode(normalization, n, d, rho0, beta):
    x0 = equiangular(n, d, rho0)
    t = torch.linspace(0.0, 4.0, 9, dtype=F64)
    xs = integrate(
        SelfAttention(d, beta=beta, normalization=normalization), x0, t, rtol=1e-11, atol=1e-12
    )
    gram = xs @ xs.transpose(-1, -2)
    off_diagonal = gram[:, ~torch.eye(n, dtype=torch.bool)]
    rho = equiangular_rho(n, beta, rho0, t, normalization)
    # Every pair stays at the common inner product rho(t) of the scalar ODE.
    torch.testing.assert_close(
        off_diagonal, rho[:, None].expand_as(off_diagonal), atol=1e-8, rtol=0
    )
    assert rho[-1] > rho0 + 0.1  # the closed form is not trivially constant here


@pytest.mark.parametrize("normalization", ["softmax", "uniform"])
def test_beta_zero_pair_closes_like_tanh(normalization):
    x0 = torch.eye(2, dtype=F64)
    t = torch.linspace(0.0, 3.0, 13, dtype=F64)
    xs = integrate(
        SelfAttention(2, beta=0.0, normalization=normalization), x0, t, rtol=1e-11, atol=1e-12
    )
    torch.testing.assert_close((xs[:, 0] * xs[:, 1]).sum(-1), torch.tanh(t), atol=1e-9, rtol=0)


@pytest.mark.parametrize("normalization", ["softmax", "uniform"])
@pytest.mark.parametrize(("d", "beta"), [(2, 0.5), (3, 2.0), (7, 9.0)])
def test_antipodal_pair_is_stationary(normalization, d, beta, generator):
    """x_2 = -x_1: each token's attention output is parallel to itself, so P_x kills it.

    (The pair is an unstable equilibrium, so a long solve would amplify rounding; the statement
    tested is the exact one, zero velocity.)
    """
    x1 = torch.nn.functional.normalize(torch.randn(d, generator=generator, dtype=F64), dim=0)
    velocity = SelfAttention(d, beta=beta, normalization=normalization)(0.0, torch.stack([x1, -x1]))
    assert velocity.abs().max() < 1e-15 * math.exp(beta)


def test_causal_first_token_is_fixed_and_attracts_all(generator):
    x0 = uniform_sphere(6, 3, generator=torch.Generator().manual_seed(3), dtype=F64)
    field = SelfAttention(3, beta=1.0, causal=True)
    assert field(0.0, x0)[0].abs().max() < 1e-15
    t = torch.tensor([0.0, 5.0, 40.0], dtype=F64)
    xs = integrate(field, x0, t, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(xs[:, 0], x0[0].expand(3, 3), atol=1e-14, rtol=0)
    cosines_to_first = xs @ x0[0]
    assert cosines_to_first[0].min() < 0  # they start far from it ...
    assert cosines_to_first[-1].min() > 1 - 1e-6  # ... and all end on it


def test_large_beta_is_stable_in_float32(generator):
    x = uniform_sphere(64, 3, generator=generator, dtype=F64)
    field = SelfAttention(3, beta=1e3)
    exact = field(0.0, x)
    single = field(0.0, x.float())
    assert torch.isfinite(single).all()
    torch.testing.assert_close(single.double(), exact, atol=1e-4, rtol=1e-4)


def test_uniform_overflow_is_a_clear_error(generator):
    x = uniform_sphere(8, 3, generator=generator, dtype=torch.float32)
    with pytest.raises(ValueError, match=r"beta=1000.*float32"):
        SelfAttention(3, beta=1e3, normalization="uniform")(0.0, x)


def test_a_uniform_velocity_that_overflows_past_a_finite_normalizer_is_a_clear_error():
    """Euclidean tokens of norm 3 at beta = 88.5 / 9: the normalizer e^{beta |x|^2} ~ 2.7e38 is a
    float32 number, the velocity (it times x_j, |x_j| = 3) is not."""
    x = torch.zeros(1, 2, 3, dtype=torch.float32)
    x[..., 0] = 3.0
    field = SelfAttention(3, beta=88.5 / 9, normalization="uniform", manifold="euclidean")
    with pytest.raises(ValueError, match=r"velocity reaches e\^89\.6, .* float64 \(up to"):
        field(0.0, x)
    assert torch.isfinite(field(0.0, x.double())).all()
    with pytest.raises(ValueError, match=r"smaller beta or the log-space quantity"):
        SelfAttention(3, beta=80.0, normalization="uniform", manifold="euclidean")(0.0, x.double())


def test_float32_and_float64_agree(generator):
    x = uniform_sphere(50, 3, generator=generator, dtype=F64)
    for normalization in ("softmax", "uniform"):
        field = SelfAttention(3, beta=4.0, normalization=normalization)
        torch.testing.assert_close(
            field(0.0, x.float()).double(), field(0.0, x), atol=2e-5, rtol=2e-5
        )


def test_trainable_weights_get_gradients(generator):
    query = torch.nn.Parameter(torch.eye(3, dtype=F64))
    field = SelfAttention(3, query=query)
    assert [name for name, _ in field.named_parameters()] == ["query"]
    x = uniform_sphere(12, 3, generator=generator, dtype=F64)
    field(0.0, x).pow(2).sum().backward()
    assert query.grad is not None and query.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"d": 1}, ValueError, r"d=1 is not accepted on the sphere: S\^0"),
        ({"d": 3, "normalization": "sinkhorm"}, ValueError, r"normalization='sinkhorm'.*softmax"),
        ({"d": 3, "manifold": "torus"}, ValueError, r"manifold='torus'.*sphere, euclidean"),
        ({"d": 3, "beta": math.nan}, ValueError, r"beta=nan must be finite"),
        ({"d": 3, "beta": "big"}, TypeError, r"beta='big' must be a real number"),
        ({"d": 3, "heads": 0}, ValueError, r"heads=0 must be >= 1"),
        ({"d": 3, "causal": 1}, TypeError, r"causal=1 must be a bool"),
        ({"d": 3, "query": torch.eye(4)}, ValueError, r"query has shape \(4, 4\)"),
        ({"d": 3, "value": torch.eye(3)[:2]}, ValueError, r"value has shape \(2, 3\)"),
        ({"d": 3, "query": [[1.0]]}, TypeError, r"query must be a floating torch.Tensor"),
        ({"d": 3, "query": torch.ones(2, 3), "key": torch.ones(3, 3)}, ValueError, r"must match"),
    ],
)
def test_bad_construction_is_refused(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        SelfAttention(**kwargs)


def test_bad_clouds_are_refused():
    field = SelfAttention(3)
    with pytest.raises(ValueError, match=r"last dimension 4, expected d=3"):
        field(0.0, torch.ones(5, 4))
    with pytest.raises(TypeError, match=r"floating dtype"):
        field(0.0, torch.ones(5, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., n, d\)"):
        field(0.0, torch.ones(3))


@pytest.mark.parametrize("normalization", ["softmax", "uniform"])
def test_query_key_width_may_differ_from_d(normalization, generator):
    d, rows = 3, 5
    x = uniform_sphere(40, d, generator=generator, dtype=F64)
    query, key = (torch.randn(rows, d, generator=generator, dtype=F64) for _ in range(2))
    field = SelfAttention(d, beta=0.9, query=query, key=key, normalization=normalization)
    expected = project_tangent(x, dense_attention(x, 0.9, normalization, query=query, key=key))
    torch.testing.assert_close(field(0.0, x), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("normalization", ["softmax", "uniform"])
def test_sphere_field_depends_on_directions_only(normalization, generator):
    """f(c x) = f(x) for c > 0, and f(x) is orthogonal to x: the flow keeps every |x_i|."""
    x = uniform_sphere(20, 3, generator=generator, dtype=F64)
    radii = 0.5 + 50.0 * torch.rand(20, 1, generator=generator, dtype=F64)  # e^{beta 50^2} = inf
    field = SelfAttention(3, beta=9.0, normalization=normalization)
    velocity = field(0.0, radii * x)
    torch.testing.assert_close(velocity, field(0.0, x), rtol=1e-13, atol=1e-13)
    assert (velocity * x).sum(-1).abs().max() < 1e-14 * velocity.abs().max()
    xs = integrate(field, radii * x, [0.0, 3.0], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(
        torch.linalg.vector_norm(xs[-1], dim=-1), radii[:, 0], atol=1e-8, rtol=0
    )


def test_fields_move_between_dtypes_like_any_module(generator):
    field = SelfAttention(3, key=torch.eye(3), value=2 * torch.eye(3)).double()
    assert field.key.dtype == field.value.dtype == torch.float64
    x = uniform_sphere(6, 3, generator=generator, dtype=F64)
    assert field.to(torch.float32)(0.0, x.float()).dtype == torch.float32
