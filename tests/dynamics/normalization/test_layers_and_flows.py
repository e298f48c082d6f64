"""Normalization schemes: each layer rule against its continuous limit, by observed order, and the
identities the limits satisfy (Post-LN is projected Euler; the speed factors; Pre-LN radii)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import dynamics
import solvers
from dynamics.normalization import (
    FLOWS,
    SCHEMES,
    depth_scaled_clock,
    layer_stack,
    post_ln_layer,
)
from tests.reference import fitted_slope

F64 = torch.float64
T = 1.0
DEPTHS = (16, 32, 64, 128)


def attention(d: int, beta: float = 1.0, normalization: str = "softmax") -> dynamics.SelfAttention:
    return dynamics.SelfAttention(d, beta=beta, normalization=normalization, manifold="euclidean")


def flow_at(scheme: str, field, x0: torch.Tensor, duration: float) -> torch.Tensor:
    times = torch.tensor([0.0, duration], dtype=x0.dtype)
    return solvers.integrate(FLOWS[scheme](field), x0, times, rtol=1e-12, atol=1e-13)[-1]


def reference_flow(scheme: str, field, x0: torch.Tensor) -> torch.Tensor:
    """The flow on [0, T] that the scheme's layers discretise (Mix-LN: Post-LN on the first
    half, then Pre-LN; depth-scaled: Pre-LN to T in its clock)."""
    if scheme == "mix_ln":
        return flow_at("pre_ln", field, flow_at("post_ln", field, x0, T / 2), T / 2)
    return flow_at("pre_ln" if scheme == "depth_scaled" else scheme, field, x0, T)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_layers_converge_to_the_flow_at_order_one(scheme, generator):
    """L layers of step T / L against the flow at T: the observed order over L = 16..128 is 1
    within 0.1 (measured 0.98 to 1.00). Mix-LN switches at L / 2 = time T / 2. Depth-scaled
    layers take steps h / sqrt(k) with tau_L = T: Euler steps of varying size, whose global error
    is O(sum_k h_k^2) = O(h^2 log L); its order is fitted against sum_k h_k^2 (measured 0.95;
    against L it is 0.85, the logarithm showing)."""
    n, d = 6, 4
    field = attention(d)
    x0 = dynamics.uniform_sphere(n, d, generator=generator, dtype=F64)
    reference = reference_flow(scheme, field, x0)
    errors, steps = [], []
    for depth in DEPTHS:
        if scheme == "depth_scaled":
            h = T / float(depth_scaled_clock(1.0, depth)[-1])
            steps.append(h**2 * sum(1.0 / k for k in range(1, depth + 1)))
        else:
            h = T / depth
            steps.append(h)
        output = layer_stack(scheme, field, x0, h, depth, post_layers=depth // 2)[-1]
        errors.append(float(torch.linalg.vector_norm(output - reference, dim=-1).max()))
    assert fitted_slope(steps, errors) == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("manifold", ["sphere", "euclidean"])
def test_post_ln_layer_is_the_projected_euler_step_exactly(dtype, manifold, generator):
    field = dynamics.SelfAttention(5, beta=2.0, manifold=manifold)
    x = dynamics.uniform_sphere(7, 5, generator=generator, dtype=dtype)
    h = 0.3
    expected = solvers.projected_euler_step(field, torch.zeros((), dtype=dtype), x, h)
    assert torch.equal(post_ln_layer(field, x, h), expected)
    stack = layer_stack("post_ln", field, x, h, 3)
    assert stack.dtype == dtype
    assert torch.equal(stack[1], expected)


@pytest.mark.parametrize("scheme", list(FLOWS))
def test_directions_move_along_the_post_ln_velocity_at_the_speed_factor(scheme, generator):
    """theta' = P_theta x' / r equals s P_theta A(theta) with the scheme's speed factor s."""
    field = attention(4, beta=3.0, normalization="uniform")
    x = 2.5 * dynamics.uniform_sphere(9, 4, generator=generator, dtype=F64)
    if FLOWS[scheme].geometry is dynamics.SPHERE:
        x = dynamics.normalize(x)
    flow, t = FLOWS[scheme](field), torch.zeros((), dtype=F64)
    theta, radius = dynamics.normalize(x), torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    direction_velocity = dynamics.project_tangent(theta, flow(t, x)) / radius
    post_velocity = dynamics.project_tangent(theta, field(t, theta))
    expected = flow.speed_factor(t, x)[..., None] * post_velocity
    torch.testing.assert_close(direction_velocity, expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(("normalization", "speed"), [("uniform", None), ("softmax", 1.0)])
def test_pre_ln_radius_grows_linearly_from_coincident_tokens(normalization, speed):
    """All tokens at one direction theta: A = n c* theta is radial, so r(t) = r0 + n c* t exactly,
    n c* = e^beta (USA) or 1 (SA); the layers are exact too: r_l = r0 + l h n c*."""
    beta, r0, h, depth = 1.7, 0.8, 0.25, 12
    rate = math.exp(beta) if speed is None else speed
    field = attention(3, beta=beta, normalization=normalization)
    x0 = r0 * dynamics.normalize(torch.tensor([[1.0, -2.0, 0.5]], dtype=F64)).expand(5, 3)
    times = torch.arange(depth + 1, dtype=F64) * h
    flow = solvers.integrate(FLOWS["pre_ln"](field), x0, times, rtol=1e-12, atol=1e-13)
    layers = layer_stack("pre_ln", field, x0, h, depth)
    expected = (r0 + rate * times)[:, None].expand(-1, 5)
    for states in (flow, layers):
        torch.testing.assert_close(
            torch.linalg.vector_norm(states, dim=-1), expected, rtol=1e-12, atol=0
        )


def test_pre_ln_usa_radius_is_at_most_r0_plus_e_beta_t(generator):
    """USA: r_i' = <theta_i, A_i> = (1/n) sum_j e^{beta cos_ij} cos_ij <= e^beta, so
    r_i(t) <= r_i(0) + e^beta t, with equality only for coincident tokens; the largest cluster
    nears the bound's slope (measured: largest radius 19.5 against the bound 30.6 at t = 4)."""
    beta = 2.0
    x0 = dynamics.uniform_sphere(8, 3, generator=generator, dtype=F64)
    times = torch.linspace(0.0, 4.0, 9, dtype=F64)
    field = attention(3, beta=beta, normalization="uniform")
    flow = solvers.integrate(FLOWS["pre_ln"](field), x0, times, rtol=1e-10, atol=1e-12)
    radius = torch.linalg.vector_norm(flow, dim=-1)
    bound = 1.0 + math.exp(beta) * times[:, None]
    assert (radius <= bound + 1e-9).all()
    assert float(radius[-1].max()) > 0.6 * float(bound[-1, 0])


def test_pre_ln_at_beta_zero_moves_every_token_by_the_same_vector(generator):
    """beta = 0: A_i = mean_j theta_j for every i, so x_i - x_j is conserved by the flow and by
    every layer (hence |x_i - x_j|^2 = 2 r^2 (1 - rho) on equiangular clouds)."""
    x0 = 1.5 * dynamics.uniform_sphere(6, 4, generator=generator, dtype=F64)
    field = attention(4, beta=0.0)
    times = torch.linspace(0.0, 3.0, 4, dtype=F64)
    flow = solvers.integrate(FLOWS["pre_ln"](field), x0, times, rtol=1e-12, atol=1e-13)
    for states in (flow, layer_stack("pre_ln", field, x0, 0.5, 6)):
        differences = states - states[:, :1]
        torch.testing.assert_close(differences, differences[:1].expand_as(differences))
    assert float(torch.linalg.vector_norm(flow[-1] - x0, dim=-1).min()) > 1.0


def test_float32_layers_stay_float32_and_match_float64(generator):
    x0 = dynamics.uniform_sphere(5, 4, generator=generator, dtype=F64)
    for scheme in SCHEMES:
        wide = layer_stack(scheme, attention(4, beta=4.0), x0, 0.25, 8, post_layers=2)
        narrow = layer_stack(scheme, attention(4, beta=4.0), x0.float(), 0.25, 8, post_layers=2)
        assert narrow.dtype == torch.float32
        torch.testing.assert_close(narrow, wide.float(), rtol=1e-5, atol=1e-5)


def test_constant_per_layer_steps_equal_one_step(generator):
    field = attention(4)
    x0 = dynamics.uniform_sphere(5, 4, generator=generator, dtype=F64)
    for scheme in SCHEMES:
        torch.testing.assert_close(
            layer_stack(scheme, field, x0, [0.2] * 4, 4, post_layers=2),
            layer_stack(scheme, field, x0, 0.2, 4, post_layers=2),
            rtol=0,
            atol=0,
        )


def test_depth_scaled_clock_sums_the_scaled_steps():
    tau = depth_scaled_clock(0.5, 4)
    expected = 0.5 * np.cumsum([0.0, 1.0, 2**-0.5, 3**-0.5, 0.5])
    np.testing.assert_allclose(tau.numpy(), expected, rtol=1e-15)
    large = float(depth_scaled_clock(1.0, 10_000)[-1])
    # Euler-Maclaurin: sum_{k <= N} k^{-1/2} = 2 sqrt(N) + zeta(1/2) + 1 / (2 sqrt(N)) + O(N^-1.5)
    assert large == pytest.approx(200 - 1.4603545088 + 0.005, abs=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"scheme": "layer_norm"}, "scheme"),
        ({"h": 0.0}, "h"),
        ({"h": [0.1, 0.2]}, "h"),
        ({"depth": 0}, "depth"),
        ({"scheme": "mix_ln", "post_layers": 5}, "post_layers"),
        ({"scheme": "ngpt", "x0": 2.0}, "x0"),
    ],
)
def test_bad_input_is_refused_naming_the_parameter(kwargs, name, generator):
    x0 = dynamics.uniform_sphere(4, 3, generator=generator, dtype=F64)
    arguments = {"scheme": "pre_ln", "attention": attention(3), "x0": x0, "h": 0.1, "depth": 3}
    arguments.update(kwargs)
    if name == "x0":
        arguments["x0"] = 2.0 * x0
    with pytest.raises(ValueError, match=f"{name}[= ]"):
        layer_stack(**arguments)
