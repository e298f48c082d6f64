"""Weighted clouds: masses in every attention normalization, against dense formulas, the
multiplicity identity (k copies of a token = one token of mass k/n), the energy identity and POT."""

from __future__ import annotations

import math

import numpy as np
import ot
import pytest
import torch

from dynamics import (
    EUCLIDEAN,
    SPHERE,
    Accelerated,
    LinearAttention,
    LinearAttentionMoments,
    SelfAttention,
    WithMasses,
    attention_with_lse,
    check_masses,
    interaction_energy,
    log_interaction_energy,
    project_tangent,
    second_moment,
    sinkhorn_matrix,
    sinkhorn_potentials,
    softmax_attention,
    streaming_attention,
    uniform_sphere,
)
from dynamics.attention.weighted import simplex_tolerance
from solvers import integrate
from tests.reference import F64

NORMALIZATIONS = ["softmax", "uniform", "sinkhorn"]
# functorch-free, but the sinkhorn field's backward runs through the CPU flash kernel.
pytestmark = pytest.mark.filterwarnings("ignore:There is a performance drop:UserWarning")


def random_masses(shape: tuple[int, ...], generator: torch.Generator, zeros: int = 0):
    """Masses uniform on the simplex (normalized exponentials), the first ``zeros`` set to 0."""
    weights = -torch.log(torch.rand(shape, generator=generator, dtype=F64))
    weights[..., :zeros] = 0.0
    return weights / weights.sum(-1, keepdim=True)


def field(normalization: str, d: int, **options) -> SelfAttention:
    return SelfAttention(d, normalization=normalization, sinkhorn_tol=1e-13, **options)


def pot_plan(masses: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """The entropic plan with marginals (m, m) for the cost -logits at regularization 1, by POT,
    for every system of a batch."""
    n = masses.shape[-1]
    systems = zip(masses.reshape(-1, n).numpy(), logits.reshape(-1, n, n).numpy(), strict=True)
    plans = [
        ot.sinkhorn(m, m, -c, reg=1.0, method="sinkhorn_log", stopThr=1e-15, numItermax=100_000)
        for m, c in systems
    ]
    return torch.from_numpy(np.stack(plans)).reshape(logits.shape)


def dense_weighted(x, masses, beta, normalization, query, key, value):
    """The weighted formulas with explicit n x n matrices, one head (positive masses)."""
    logits = beta * (x @ query.T) @ (x @ key.T).transpose(-1, -2)
    if normalization == "softmax":
        weights = torch.softmax(logits + torch.log(masses)[..., None, :], -1)
    elif normalization == "uniform":
        weights = torch.exp(logits) * masses[..., None, :]
    else:
        weights = pot_plan(masses, logits) / masses[..., :, None]
    return weights @ (x @ value.T)


# --- the key-bias kernels --------------------------------------------------------------------


def dense_biased(q, k, v, scale, bias, causal=False):
    logits = scale * q @ k.transpose(-1, -2) + bias[..., None, :]
    if causal:
        n = q.shape[-2]
        logits = logits.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), -torch.inf)
    return torch.softmax(logits, -1) @ v, torch.logsumexp(logits, -1)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("block_elements", [1, 1 << 22])
def test_streaming_key_bias_matches_dense(causal, block_elements, generator):
    """Finite biases broadcast over a batch, across tilings (1 element: query rows one by one)."""
    q, k = (torch.randn(2, 3, 40, 4, generator=generator, dtype=F64) for _ in range(2))
    v = torch.randn(2, 3, 40, 2, generator=generator, dtype=F64)
    bias = 3.0 * torch.randn(2, 1, 40, generator=generator, dtype=F64)
    out, lse = streaming_attention(
        q, k, v, scale=0.7, causal=causal, block_elements=block_elements, key_bias=bias
    )
    expected_out, expected_lse = dense_biased(q, k, v, 0.7, bias, causal)
    torch.testing.assert_close(out, expected_out, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(lse, expected_lse, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel", ["streaming", "fused_lse", "softmax"])
def test_minus_infinite_bias_removes_keys_without_nan(kernel, generator):
    """Keys with bias -inf (mass 0) drop out exactly, even a whole 256-key tile of them."""
    n = 600
    q, k = (torch.randn(n, 3, generator=generator, dtype=F64) for _ in range(2))
    v = torch.randn(n, 2, generator=generator, dtype=F64)
    bias = torch.randn(n, generator=generator, dtype=F64)
    bias[:300] = -torch.inf  # the first key tile of streaming_attention(block_elements=1)
    bias[400:450] = -torch.inf
    kept = torch.isfinite(bias)
    expected_out, expected_lse = dense_biased(q, k[kept], v[kept], 1.3, bias[kept])
    if kernel == "streaming":
        out, lse = streaming_attention(q, k, v, scale=1.3, key_bias=bias, block_elements=1)
    elif kernel == "fused_lse":
        out, lse = attention_with_lse(q, k, v, scale=1.3, key_bias=bias)
    else:
        out, lse = softmax_attention(q, k, v, scale=1.3, key_bias=bias), expected_lse
    torch.testing.assert_close(out, expected_out, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(lse, expected_lse, rtol=1e-12, atol=1e-12)


# --- SelfAttention with masses ---------------------------------------------------------------


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("manifold", ["sphere", "euclidean"])
def test_weighted_field_matches_dense_formula(normalization, manifold, generator):
    d, n = 3, 17
    x = uniform_sphere(n, d, batch_shape=(2,), generator=generator, dtype=F64)
    masses = random_masses((2, n), generator)
    query, key, value = (torch.randn(2, d, d, generator=generator, dtype=F64) for _ in range(3))
    attention = field(normalization, d, beta=0.8, query=query, key=key, value=value, heads=2,
                      manifold=manifold)  # fmt: skip
    expected = sum(
        dense_weighted(x, masses, 0.8, normalization, query[h], key[h], value[h]) for h in range(2)
    )
    if manifold == "sphere":
        expected = project_tangent(x, expected)
    torch.testing.assert_close(attention(0.0, x, masses=masses), expected, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("manifold", ["sphere", "euclidean"])
@pytest.mark.parametrize("tracked", [False, True])
def test_uniform_masses_give_the_unweighted_field(normalization, manifold, tracked, generator):
    """m = 1/n, as (n,) and as (*batch, n), on the fused (no gradient) and streaming paths."""
    d, n = 4, 21
    x = uniform_sphere(n, d, batch_shape=(2, 3), generator=generator, dtype=F64)
    query, key, value = (torch.randn(2, d, d, generator=generator, dtype=F64) for _ in range(3))
    attention = field(normalization, d, beta=0.6, query=query, key=key, value=value, heads=2,
                      manifold=manifold)  # fmt: skip
    x.requires_grad_(tracked)
    expected = attention(0.0, x)
    for masses in (torch.full((n,), 1 / n, dtype=F64), torch.full((2, 3, n), 1 / n, dtype=F64)):
        weighted = attention(0.0, x, masses=masses)
        torch.testing.assert_close(weighted, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_copies_of_a_token_are_one_token_with_their_mass(normalization, generator):
    """Token i repeated k_i times in a cloud of n = sum k_i tokens moves like token i of the
    distinct cloud with masses k_i / n: the empirical measures coincide."""
    d = 3
    multiplicity = torch.tensor([1, 3, 2, 1, 4, 1])
    y = uniform_sphere(6, d, batch_shape=(2,), generator=generator, dtype=F64)
    duplicated = y.repeat_interleave(multiplicity, dim=-2)
    masses = multiplicity.to(F64) / multiplicity.sum()
    query, key, value = (torch.randn(d, d, generator=generator, dtype=F64) for _ in range(3))
    attention = field(normalization, d, beta=2.5, query=query, key=key, value=value)
    first_copy = torch.cumsum(multiplicity, 0) - multiplicity
    torch.testing.assert_close(
        attention(0.0, duplicated)[:, first_copy],
        attention(0.0, y, masses=masses),
        rtol=1e-11,
        atol=1e-11,
    )


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_splitting_a_weighted_token_in_two_halves_changes_nothing(normalization, generator):
    """The statement of the issue: duplicate token 0 and halve both masses."""
    y = uniform_sphere(7, 3, generator=generator, dtype=F64)
    masses = random_masses((7,), generator)
    split = torch.cat([y[:1], y])
    split_masses = torch.cat([masses[:1] / 2, masses[:1] / 2, masses[1:]])
    attention = field(normalization, 3, beta=3.0)
    torch.testing.assert_close(
        attention(0.0, split, masses=split_masses)[1:],
        attention(0.0, y, masses=masses),
        rtol=1e-11,
        atol=1e-11,
    )


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("tracked", [False, True])
def test_zero_mass_token_feels_the_field_and_exerts_none(normalization, tracked, generator):
    """A token of mass 0 leaves every other velocity as without it, and moves with the mean field
    of the others: X[mu](z) = sum_j w(z, x_j) V x_j with the others' weights (for sinkhorn,
    w(z, x_j) = softmax_j(beta <Qz, Kx_j> + g_j), g the potential of the others' plan)."""
    d, n = 3, 12
    x = uniform_sphere(n, d, generator=generator, dtype=F64)
    masses = random_masses((n,), generator)
    z = uniform_sphere(2, d, generator=generator, dtype=F64)  # two test particles
    query, key = (torch.randn(d, d, generator=generator, dtype=F64) for _ in range(2))
    attention = field(normalization, d, beta=2.0, query=query, key=key)
    cloud = torch.cat([z[:1], x, z[1:]]).requires_grad_(tracked)
    velocity = attention(
        0.0, cloud, masses=torch.cat([masses.new_zeros(1), masses, masses.new_zeros(1)])
    )
    assert torch.isfinite(velocity).all()
    torch.testing.assert_close(
        velocity[1:-1], attention(0.0, x, masses=masses), rtol=1e-12, atol=1e-12
    )
    logits = 2.0 * (z @ query.T) @ (x @ key.T).T
    if normalization == "sinkhorn":
        _, g = sinkhorn_potentials(x @ query.T, x @ key.T, scale=2.0, tol=1e-13,
                                   log_marginals=torch.log(masses))  # fmt: skip
        weights = torch.softmax(logits + g, -1)
    elif normalization == "softmax":
        weights = torch.softmax(logits + torch.log(masses), -1)
    else:
        weights = torch.exp(logits) * masses
    expected = project_tangent(z, weights @ x)
    torch.testing.assert_close(velocity[[0, -1]], expected, rtol=1e-11, atol=1e-12)
    assert expected.abs().min() > 1e-3  # it does move
    if tracked:  # and derivatives through the -inf biases stay finite
        (gradient,) = torch.autograd.grad(velocity.pow(2).sum(), cloud)
        assert torch.isfinite(gradient).all()


@pytest.mark.parametrize(
    ("normalization", "beta"), [("softmax", 1e3), ("uniform", 60.0), ("sinkhorn", 10.0)]
)
def test_large_beta_with_masses_is_stable_in_float32(normalization, beta, generator):
    """Logits up to beta (e^60 is near float32's e^88.7), masses with zeros. Float32 rounds the
    logits by about beta eps = 4e-6 (uniform, beta = 60); Sinkhorn runs to a 1e-6 marginal
    error in float32 (its 1e-5 default moves the field by 1.4e-4 here)."""
    x = uniform_sphere(40, 3, generator=generator, dtype=F64)
    masses = random_masses((40,), generator, zeros=3)
    attention = SelfAttention(3, beta=beta, normalization=normalization)
    exact = attention(0.0, x, masses=masses)
    attention.sinkhorn_tol = 1e-6
    single = attention(0.0, x.float(), masses=masses.float())
    assert single.dtype == torch.float32 and torch.isfinite(single).all()
    scale = exact.abs().max()
    torch.testing.assert_close(single.double() / scale, exact / scale, atol=2e-5, rtol=0)


def test_sinkhorn_plan_has_the_masses_as_marginals_and_matches_pot(generator):
    n, d, beta = 15, 3, 2.0
    x = uniform_sphere(n, d, generator=generator, dtype=F64)
    query = torch.randn(d, d, generator=generator, dtype=F64)
    masses = random_masses((n,), generator)
    plan = sinkhorn_matrix(x @ query.T, x, scale=beta, log_marginals=torch.log(masses), tol=1e-13)
    torch.testing.assert_close(plan.sum(-1), masses, rtol=1e-14, atol=0)  # rows: to rounding
    torch.testing.assert_close(plan.sum(-2), masses, rtol=1e-13, atol=0)
    cost = (-beta * (x @ query.T) @ x.T).numpy()
    expected = ot.sinkhorn(masses.numpy(), masses.numpy(), cost, reg=1.0, method="sinkhorn_log",
                           stopThr=1e-15, numItermax=100_000)  # fmt: skip
    torch.testing.assert_close(plan, torch.from_numpy(expected), rtol=0, atol=1e-14)


def test_sinkhorn_zero_marginals_give_zero_rows_and_columns(generator):
    x = uniform_sphere(10, 3, generator=generator, dtype=F64)
    masses = random_masses((10,), generator, zeros=2)
    plan = sinkhorn_matrix(x, x, scale=1.5, log_marginals=torch.log(masses), tol=1e-13)
    assert torch.equal(plan[:2], torch.zeros_like(plan[:2]))
    assert torch.equal(plan[:, :2], torch.zeros_like(plan[:, :2]))
    torch.testing.assert_close(plan.sum(-2), masses, rtol=1e-12, atol=0)


# --- the energy ------------------------------------------------------------------------------


def test_weighted_energy_matches_its_definition(generator):
    x = uniform_sphere(30, 4, batch_shape=(3,), generator=generator, dtype=F64)
    masses = random_masses((3, 30), generator, zeros=4)
    beta = 2.5
    pairs = masses[..., :, None] * masses[..., None, :] * torch.exp(beta * x @ x.mT)
    dense = pairs.sum((-1, -2)) / (2 * beta)
    torch.testing.assert_close(interaction_energy(x, beta, masses), dense, rtol=1e-13, atol=0)
    uniform = torch.full((30,), 1 / 30, dtype=F64)
    torch.testing.assert_close(
        log_interaction_energy(x, beta, uniform),
        log_interaction_energy(x, beta),
        rtol=1e-14,
        atol=0,
    )


@pytest.mark.parametrize("normalization", ["softmax", "uniform"])
@pytest.mark.parametrize("beta", [0.5, 4.0])
def test_weighted_energy_rate_identity(normalization, beta, generator):
    """E = (1/2beta) sum_ij m_i m_j e^{beta <x_i, x_j>} has grad_i E = m_i u_i with
    u_i = sum_j m_j e^{beta <x_i, x_j>} x_j. USA: x_i' = P_{x_i} u_i, so
    dE/dt = sum_i m_i |x_i'|^2. SA: x_i' = P_{x_i} u_i / Z_i, Z_i = sum_j m_j e^{beta <x_i, x_j>},
    so dE/dt = sum_i m_i Z_i |x_i'|^2. dE/dt is the directional derivative along x' (autograd);
    with m = 1/n these are the identities of test_observables.test_energy_rate_identity."""
    n = 25
    x = uniform_sphere(n, 3, generator=generator, dtype=F64)
    masses = random_masses((n,), generator, zeros=2)
    velocity = SelfAttention(3, beta=beta, normalization=normalization)(0.0, x, masses=masses)
    x = x.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(interaction_energy(x, beta, masses), x)
    rate = (gradient * velocity).sum()
    speed2 = velocity.pow(2).sum(-1)
    if normalization == "softmax":
        speed2 = speed2 * (torch.exp(beta * x @ x.T) * masses).sum(-1)
    torch.testing.assert_close(rate, (masses * speed2).sum(), rtol=1e-12, atol=0)
    assert rate > 0


# --- integrating weighted clouds -------------------------------------------------------------


@pytest.mark.parametrize(
    "normalization",
    ["softmax", "uniform", pytest.param("sinkhorn", marks=pytest.mark.slow)],  # sinkhorn: 19 s
)
def test_weighted_flow_is_the_flow_of_the_duplicated_cloud(normalization, generator):
    """Masses ride on Lagrangian particles: integrating (y, k/n) with WithMasses follows the
    copies of the duplicated cloud, to the solver's tolerance (the field identity itself is
    exact, test_copies_of_a_token_are_one_token_with_their_mass)."""
    multiplicity = torch.tensor([2, 1, 3, 1])
    y0 = uniform_sphere(4, 3, generator=generator, dtype=F64)
    masses = multiplicity.to(F64) / multiplicity.sum()
    attention = field(normalization, 3, beta=1.5)
    t = torch.linspace(0.0, 1.5, 4, dtype=F64)
    weighted = integrate(WithMasses(attention, masses), y0, t, rtol=1e-9, atol=1e-11)
    duplicated = integrate(attention, y0.repeat_interleave(multiplicity, 0), t, rtol=1e-9,
                           atol=1e-11)  # fmt: skip
    first_copy = torch.cumsum(multiplicity, 0) - multiplicity
    torch.testing.assert_close(weighted, duplicated[:, first_copy], rtol=0, atol=1e-8)
    assert (weighted[-1] - y0).abs().max() > 0.1  # the tokens really moved
    energy = log_interaction_energy(weighted, 1.5, masses)
    if normalization != "sinkhorn":  # SA and USA increase E_beta
        assert energy.diff().min() > 0


def test_with_masses_is_a_field_like_any_other(generator):
    masses = random_masses((5,), generator)
    wrapped = WithMasses(SelfAttention(3, beta=2.0), masses)
    assert wrapped.geometry is SPHERE
    assert Accelerated(wrapped).geometry is SPHERE
    assert Accelerated(WithMasses(LinearAttention(3), masses)).geometry is EUCLIDEAN
    assert wrapped.float().masses.dtype == torch.float32
    x = uniform_sphere(5, 3, generator=generator)
    torch.testing.assert_close(wrapped(0.0, x), wrapped.field(0.0, x, masses=masses.float()))
    with pytest.raises(TypeError, match=r"field must be a vector field"):
        WithMasses("attention", masses)


# --- linear attention ------------------------------------------------------------------------


def test_weighted_linear_attention_and_its_moments(generator):
    """x_i' = sum_j m_j <Qx_i, Kx_j> V x_j; the weighted moments m = sum_j m_j x_j and
    M = sum_j m_j x_j x_j^T follow the closed moment ODE exactly."""
    query, key = (0.5 * torch.randn(3, 3, generator=generator, dtype=F64) for _ in range(2))
    value = -torch.eye(3, dtype=F64) + 0.3 * torch.randn(3, 3, generator=generator, dtype=F64)
    attention = LinearAttention(3, query=query, key=key, value=value)
    x0 = torch.randn(40, 3, generator=generator, dtype=F64)
    masses = random_masses((40,), generator, zeros=3)
    dense = ((x0 @ query.T) @ (x0 @ key.T).T * masses) @ (x0 @ value.T)
    torch.testing.assert_close(attention(0.0, x0, masses=masses), dense, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(second_moment(x0, masses=masses), (x0.T * masses) @ x0)
    uniform = torch.full((40,), 1 / 40, dtype=F64)
    torch.testing.assert_close(
        attention(0.0, x0, masses=uniform), attention(0.0, x0), rtol=1e-14, atol=1e-14
    )
    t = torch.linspace(0, 1, 5, dtype=F64)
    xs = integrate(WithMasses(attention, masses), x0, t, rtol=1e-10, atol=1e-12)
    start = (masses @ x0, second_moment(x0, masses=masses))
    means, moments = integrate(LinearAttentionMoments(attention), start, t, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(masses @ xs, means, atol=1e-8, rtol=0)
    torch.testing.assert_close(second_moment(xs, masses=masses), moments, atol=1e-8, rtol=0)
    assert (moments[-1] - moments[0]).abs().max() > 0.1


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("masses", "error", "pattern"),
    [
        ([0.25] * 4, TypeError, r"masses must be a floating torch.Tensor.*got list"),
        (torch.ones(4, dtype=torch.long), TypeError, r"masses must be a floating.*torch.int64"),
        (torch.full((5,), 0.2), ValueError, r"masses has shape \(5,\); expected \(4,\)"),
        (torch.full((3, 4), 0.25), ValueError, r"masses has shape \(3, 4\).*batch shape \(2,\)"),
        (torch.full((1, 2, 4), 0.25), ValueError, r"masses has shape \(1, 2, 4\)"),
        (torch.tensor([0.5, 0.5, 0.5, -0.5]), ValueError, r"masses must be finite and >= 0"),
        (torch.tensor([0.5, 0.5, math.nan, 0.0]), ValueError, r"masses must be finite"),
        (torch.full((4,), 0.2), ValueError, r"masses must sum to 1.*got sums from 0.8"),
    ],
)
def test_bad_masses_are_refused(masses, error, pattern, generator):
    x = uniform_sphere(4, 3, batch_shape=(2,), generator=generator)
    with pytest.raises(error, match=pattern):
        SelfAttention(3)(0.0, x, masses=masses)
    with pytest.raises(error, match=pattern):
        check_masses(masses, x)


def test_masses_follow_the_cloud_dtype_and_tolerance(generator):
    x = uniform_sphere(3, 3, generator=generator)
    masses = torch.tensor([0.5, 0.25, 0.25 + 1e-5], dtype=F64)  # off by 1e-5: float32 rounding
    assert check_masses(masses, x).dtype == torch.float32
    with pytest.raises(ValueError, match=r"within 1e-08 in torch.float64"):
        check_masses(masses, x.double())


def test_float32_masses_of_a_float64_cloud_are_checked_to_float32_rounding(generator):
    """Masses normalised in float32 sum to 1 only to float32 rounding (here 1 - 3e-8, beyond
    float64's tolerance): accepted, and used as the float64 numbers they are."""
    x = uniform_sphere(7, 3, generator=generator, dtype=F64)
    masses = torch.rand(7, generator=torch.Generator().manual_seed(1))
    masses = masses / masses.sum()
    assert abs(float(masses.double().sum()) - 1) > simplex_tolerance(F64)
    with_masses = WithMasses(SelfAttention(3), masses)
    expected = SelfAttention(3)(0.0, x, masses=masses.double() / masses.double().sum())
    torch.testing.assert_close(with_masses(0.0, x), expected, rtol=1e-7, atol=0)
    assert torch.isfinite(log_interaction_energy(x, 2.0, masses))
    assert LinearAttention(3)(0.0, x, masses=masses).dtype == F64


def test_masses_with_causal_or_context_are_refused(generator):
    x = uniform_sphere(4, 3, generator=generator)
    masses = torch.full((4,), 0.25)
    with pytest.raises(ValueError, match=r"masses are not accepted with causal=True"):
        SelfAttention(3, causal=True)(0.0, x, masses=masses)
    with pytest.raises(ValueError, match=r"masses are not accepted with context=2"):
        LinearAttention(3, context=2)(0.0, x, masses=masses)
