"""integrate: convergence orders, invariants, batching, the adjoint and input checks."""

from __future__ import annotations

import math

import pytest
import torch
import torchdiffeq
from torchdiffeq._impl.odeint import SOLVERS as TORCHDIFFEQ_SOLVERS

import dynamics
import solvers
from dynamics import (
    SPHERE,
    Accelerated,
    GeometricField,
    MomentumField,
    SelfAttention,
    VectorField,
    uniform_sphere,
)
from solvers import METHODS, integrate, step_grid
from tests.reference import F64, equiangular, equiangular_rho, fitted_slope


@pytest.fixture
def cloud(generator) -> torch.Tensor:
    return uniform_sphere(8, 3, generator=generator, dtype=F64)


def test_every_torchdiffeq_method_is_in_the_table():
    assert set(TORCHDIFFEQ_SOLVERS) <= set(METHODS)
    ours = {name for name, spec in METHODS.items() if spec.source == "attnflow"}
    assert ours == {
        "projected_euler",
        "exponential_euler",
        "symplectic_euler",
        "leapfrog",
        "nesterov_layer",
        "lie_trotter",
        "strang",
        "tao",
        "presymplectic_euler",
    }
    assert {name for name in ours if METHODS[name].preserves == "sphere"} == {
        "projected_euler",
        "exponential_euler",
    }


class CountingField(torch.nn.Module):
    """A field that counts its evaluations."""

    geometry = SPHERE

    def __init__(self) -> None:
        super().__init__()
        self.field, self.calls = SelfAttention(3), 0

    def forward(self, t, x):
        self.calls += 1
        return self.field(t, x)


@pytest.mark.parametrize(
    "method",
    [
        name
        for name, spec in METHODS.items()
        if spec.evaluations is not None
        and spec.accepts in (VectorField, GeometricField, MomentumField)
    ],
)
def test_evaluations_per_step_are_what_the_table_says(method, cloud):
    """Splitting methods count their two parts separately (tests/solvers/steppers/
    test_splitting.py), Hamiltonian methods their gradient evaluations (tests/solvers/steppers/
    test_tao.py)."""
    counter = CountingField()
    momentum = METHODS[method].accepts is MomentumField
    field = Accelerated(counter) if momentum else counter
    state = (cloud, torch.zeros_like(cloud)) if momentum else cloud
    integrate(field, state, torch.linspace(0, 1, 11, dtype=F64), method=method)
    assert counter.calls == 10 * METHODS[method].evaluations


@pytest.mark.parametrize(
    "method", ["euler", "projected_euler", "exponential_euler", "midpoint", "rk4"]
)
def test_observed_order_as_the_step_halves(method, cloud):
    """The error at T = 1 falls like h^p: 2x per halving for order 1, 16x for rk4."""
    field = SelfAttention(3, beta=2.0)
    t = torch.tensor([0.0, 1.0], dtype=F64)
    exact = integrate(field, cloud, t, method="dopri5", rtol=1e-13, atol=1e-14)[-1]
    steps = [1 / 8, 1 / 16, 1 / 32, 1 / 64]
    errors = [
        (integrate(field, cloud, t, method=method, step_size=h)[-1] - exact).abs().max().item()
        for h in steps
    ]
    order = METHODS[method].order
    assert fitted_slope(steps, errors) == pytest.approx(order, abs=0.1)
    assert errors[-2] / errors[-1] == pytest.approx(2.0**order, rel=0.1)


@pytest.mark.parametrize("method", ["projected_euler", "exponential_euler"])
def test_sphere_steppers_keep_unit_norms_in_float32(method, generator):
    x0 = uniform_sphere(16, 3, generator=generator, dtype=torch.float32)
    t = torch.tensor([0.0, 10.0])
    xs = integrate(SelfAttention(3, beta=1.0), x0, t, method=method, step_size=1e-3)  # 10^4 steps
    drift = (torch.linalg.vector_norm(xs[-1], dim=-1) - 1).abs().max()
    assert drift < 1e-6


def test_plain_euler_leaves_the_sphere(generator):
    """The contrast that makes the test above meaningful: each Euler step moves |x| by about
    h^2 |v|^2 / 2. (P_x v = v - <x, v> x pulls |x| back towards 1 once the motion stops, so the
    drift is measured over the whole trajectory, not only at the end.)"""
    x0 = uniform_sphere(16, 3, generator=generator, dtype=torch.float32)
    xs = integrate(
        SelfAttention(3, beta=1.0),
        x0,
        torch.linspace(0.0, 10.0, 101),
        method="euler",
        step_size=1e-2,
    )
    assert (torch.linalg.vector_norm(xs, dim=-1) - 1).abs().max() > 1e-3  # measured: 3.3e-3


def test_fixed_steps_land_on_every_output_time():
    t = torch.tensor([0.0, 1.0, 1.5], dtype=F64)
    torch.testing.assert_close(
        step_grid(t, 0.3),
        torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5], dtype=F64),
    )
    torch.testing.assert_close(step_grid(t, None), t)
    torch.testing.assert_close(
        step_grid(torch.tensor([0.0, 0.9], dtype=F64), 0.3).diff(), torch.full((3,), 0.3, dtype=F64)
    )


def test_torchdiffeq_fixed_steps_use_our_grid(cloud):
    """Euler with step_size 0.3 on [0, 1] is four explicit steps of 0.25."""
    field = SelfAttention(3, beta=1.0, manifold="euclidean")
    x = cloud
    for _ in range(4):
        x = x + 0.25 * field(0.0, x)
    result = integrate(field, cloud, [0.0, 1.0], method="euler", step_size=0.3)[-1]
    torch.testing.assert_close(result, x, rtol=1e-14, atol=1e-14)


def test_discrete_layers_are_steps_on_the_output_grid(cloud):
    """L post-LN layers on [0, T]: t = linspace(0, T, L + 1) and one projected step per interval."""
    field = SelfAttention(3, beta=1.0)
    x = cloud
    layers = integrate(field, cloud, torch.linspace(0, 2, 5, dtype=F64), method="projected_euler")
    for layer in range(1, 5):
        x = torch.nn.functional.normalize(x + 0.5 * field(0.0, x), dim=-1)
        torch.testing.assert_close(layers[layer], x, rtol=1e-14, atol=1e-14)


def test_trajectory_shapes(cloud):
    t = torch.linspace(0, 1, 6, dtype=F64)
    batch = cloud.expand(2, 3, 8, 3)
    assert integrate(SelfAttention(3), batch, t).shape == (6, 2, 3, 8, 3)
    assert integrate(SelfAttention(3), batch, t, method="projected_euler").shape == (6, 2, 3, 8, 3)
    pair = integrate(lambda _t, s: (s[1], -s[0]), (cloud, cloud), t)
    assert isinstance(pair, tuple) and pair[0].shape == (6, 8, 3)


def test_batched_adaptive_solve_is_as_accurate_as_alone():
    """A hard system batched with 63 stationary ones keeps the error it has when solved alone
    (the error norm is per system; torchdiffeq's global RMS would dilute it by sqrt(64))."""
    n, beta, rho0 = 4, 3.0, 0.1
    x = equiangular(n, 5, rho0)
    still = torch.zeros(63, n, 5, dtype=F64)
    still[..., 0] = 1.0
    field = SelfAttention(5, beta=beta)
    t = torch.linspace(0.0, 3.0, 4, dtype=F64)
    exact = equiangular_rho(n, beta, rho0, t, "softmax")

    def error(xs: torch.Tensor) -> float:
        return ((xs[:, 0] * xs[:, 1]).sum(-1) - exact).abs().max().item()

    alone = error(integrate(field, x, t, rtol=1e-5, atol=1e-7))
    batched = error(integrate(field, torch.cat([x[None], still]), t, rtol=1e-5, atol=1e-7)[:, 0])
    diluted = error(
        torchdiffeq.odeint(field, torch.cat([x[None], still]), t, rtol=1e-5, atol=1e-7)[:, 0]
    )
    assert batched <= 1.5 * alone
    assert diluted > 3 * alone  # the failure mode this guards against is real


def test_adjoint_gradient_matches_backpropagation(generator):
    x0 = uniform_sphere(6, 3, generator=generator, dtype=F64)
    t = torch.tensor([0.0, 1.0], dtype=F64)
    gradients = []
    for adjoint in (False, True):
        query = torch.nn.Parameter(torch.eye(3, dtype=F64))
        field = SelfAttention(3, beta=2.0, query=query)
        final = integrate(field, x0, t, rtol=1e-10, atol=1e-12, adjoint=adjoint)[-1]
        final[:, 0].sum().backward()
        gradients.append(query.grad)
    torch.testing.assert_close(gradients[0], gradients[1], rtol=1e-6, atol=1e-8)


def test_device_and_dtype_follow_the_input(cloud):
    xs = integrate(SelfAttention(3), cloud.float(), [0.0, 0.5])
    assert xs.dtype == torch.float32 and xs.device == cloud.device


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"method": "rk45"}, ValueError, r"method='rk45' is unknown; valid methods: dopri8, .*rk4"),
        ({"t": [0.0, 1.0, 0.5]}, ValueError, r"strictly increasing or strictly decreasing"),
        ({"t": [0.0]}, ValueError, r"at least 2 times"),
        ({"t": [0.0, math.inf]}, ValueError, r"NaN or infinite"),
        ({"t": "soon"}, TypeError, r"t must be a 1-D sequence"),
        ({"method": "rk4", "step_size": -0.1}, ValueError, r"step_size=-0.1 must be > 0"),
        ({"step_size": 0.1}, ValueError, r"adaptive method 'dopri5' chooses its own steps"),
        ({"rtol": 0.0}, ValueError, r"rtol=0.0 must be > 0"),
        ({"atol": "tiny"}, TypeError, r"atol='tiny' must be a real number"),
        (
            {"method": "projected_euler", "adjoint": True},
            ValueError,
            r"adjoint=True needs a torchdiffeq",
        ),
        ({"adjoint": "yes"}, TypeError, r"adjoint='yes' must be a bool"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, pattern, cloud):
    arguments = {"t": [0.0, 1.0], **kwargs}
    t = arguments.pop("t")
    with pytest.raises(error, match=pattern):
        integrate(SelfAttention(3), cloud, t, **arguments)


def test_bad_states_are_refused(cloud):
    field = SelfAttention(3)
    with pytest.raises(TypeError, match=r"x0 must be a floating torch.Tensor"):
        integrate(field, cloud.long(), [0.0, 1.0])
    with pytest.raises(ValueError, match=r"x0 contains NaN"):
        integrate(field, cloud * math.nan, [0.0, 1.0])
    with pytest.raises(ValueError, match=r"x0 rows must have norm 1"):
        integrate(field, 2 * cloud, [0.0, 1.0], method="projected_euler")
    with pytest.raises(TypeError, match=r"integrates tensor states, got a tuple"):
        integrate(field, (cloud, cloud), [0.0, 1.0], method="exponential_euler")
    with pytest.raises(TypeError, match=r"adjoint=True needs the field to be a torch.nn.Module"):
        integrate(lambda t, x: x, cloud, [0.0, 1.0], adjoint=True)


def test_batches_of_autonomous_fields_take_per_system_steps(generator):
    """A batch of an autonomous field with dopri5 is ``solve_ensemble``'s solve, each
    system with the steps of its solo solve; with a tracked gradient it is torchdiffeq's joint
    solve, equal to the tolerance."""
    field = dynamics.SelfAttention(3, beta=4.0)
    x0 = dynamics.uniform_sphere(5, 3, batch_shape=(4,), generator=generator, dtype=torch.float64)
    t = torch.linspace(0.0, 2.0, 5, dtype=torch.float64)
    per_system = integrate(field, x0, t, rtol=1e-8, atol=1e-10)
    assert torch.equal(per_system, solvers.solve_ensemble(field, x0, t, rtol=1e-8, atol=1e-10))
    solo = integrate(field, x0[2], t, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(per_system[:, 2], solo, rtol=0, atol=1e-12)
    tracked = x0.clone().requires_grad_()
    joint = integrate(field, tracked, t, rtol=1e-8, atol=1e-10)
    joint.sum().backward()  # torchdiffeq: differentiable
    torch.testing.assert_close(joint.detach(), per_system, rtol=0, atol=1e-6)
    assert not torch.equal(joint.detach(), per_system)


def test_fields_that_do_not_declare_autonomy_share_steps(generator):
    """A plain callable may depend on t: the batch keeps torchdiffeq's shared steps."""
    x0 = torch.randn(3, 2, 2, generator=generator, dtype=torch.float64)
    t = torch.linspace(0.0, 1.0, 3, dtype=torch.float64)
    x = integrate(lambda time, x: -time * x, x0, t, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(x[-1], x0 * math.exp(-0.5), rtol=1e-8, atol=0)
