"""integrate on the inputs of issue 14: each ends in a correct result or one clear refusal."""

from __future__ import annotations

import pytest
import torch

from dynamics import SPHERE, Accelerated, SelfAttention, TransformerBlock, uniform_sphere
from solvers import DivergedError, integrate
from solvers.checks import check_finite_trajectory
from tests.reference import F64

T = torch.linspace(0.0, 1.0, 5, dtype=F64)


@pytest.fixture
def cloud(generator) -> torch.Tensor:
    return uniform_sphere(8, 3, generator=generator, dtype=F64)


@pytest.mark.parametrize("method", ["euler", "projected_euler"])
def test_a_step_count_over_the_budget_is_refused_before_any_work(cloud, method):
    field = SelfAttention(3)
    evaluations = []
    field.register_forward_hook(lambda *_: evaluations.append(1))
    with pytest.raises(ValueError, match=r"step_size=1e-300 .* the budget of 1e\+08 steps"):
        integrate(field, cloud, T, method=method, step_size=1e-300)
    times = torch.linspace(0.0, 1e300, 8, dtype=F64)
    with pytest.raises(ValueError, match="larger step_size or fewer output times"):
        integrate(field, cloud, times, method=method, step_size=1.0)
    assert not evaluations


class NaNAfterHalf(torch.nn.Module):
    """SelfAttention on the sphere until t = 0.5, NaN after."""

    geometry = SPHERE

    def __init__(self) -> None:
        super().__init__()
        self.attention = SelfAttention(3)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        dx = self.attention(t, x)
        return dx if float(t) <= 0.5 else torch.full_like(dx, torch.nan)


@pytest.mark.parametrize(
    ("method", "step_size", "first"),
    # scipy's LSODA steps past t = 0.5 and interpolates the output there from NaN stages.
    [("euler", 0.05, 3), ("rk4", 0.05, 3), ("projected_euler", 0.05, 3), ("scipy_solver", None, 2)],
)
def test_a_field_that_turns_nan_is_reported_at_the_first_output_time_it_reached(
    cloud, method, step_size, first
):
    expected = rf"'{method}'.* NaN or infinite by output time t\[{first}\]={T[first]:g} "
    with pytest.raises(DivergedError, match=expected) as diverged:
        integrate(NaNAfterHalf(), cloud, T, method=method, step_size=step_size)
    # The trajectory stays available to callers that study divergence: finite up to t[first - 1].
    assert diverged.value.index == first and isinstance(diverged.value, ValueError)
    assert diverged.value.trajectory.shape == (len(T), *cloud.shape)
    assert bool(torch.isfinite(diverged.value.trajectory[:first]).all())
    assert not bool(torch.isfinite(diverged.value.trajectory[first]).all())


def test_a_trajectory_non_finite_from_its_first_output_time_says_so():
    trajectory = torch.full((3, 2, 3), torch.nan, dtype=F64)
    with pytest.raises(
        DivergedError, match=r"'rk4': the state was NaN .* first output time t\[0\]=0;"
    ):
        check_finite_trajectory(trajectory, T[:3], "rk4")


def test_an_adaptive_solve_that_meets_nan_names_the_time_in_one_line(cloud):
    with pytest.raises(
        ValueError, match=r"'dopri5': the field NaNAfterHalf returned NaN .* t=0\.[5-9]"
    ):
        integrate(NaNAfterHalf(), cloud, T)


def test_an_unreachable_tolerance_is_refused_and_an_underflow_named(cloud):
    with pytest.raises(
        ValueError, match=r"rtol=1e-30 is finer than a torch.float64 state .* 2.2e-18"
    ):
        integrate(SelfAttention(3), cloud, T, rtol=1e-30, atol=1e-30)
    with pytest.raises(ValueError, match=r"rtol=1e-12 .* torch.float32 .* 1.2e-09"):
        integrate(SelfAttention(3), cloud.float(), T, rtol=1e-12)
    assert integrate(SelfAttention(3), cloud.float(), T).isfinite().all()  # the default rtol

    def jump(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x) if float(t) < 0.5 else torch.full_like(x, 1e300)

    with pytest.raises(
        ValueError, match=r"'dopri5': the step size underflowed at t=0\.5: .* loosen"
    ):
        integrate(jump, torch.ones(2, 3, dtype=F64), T)


@pytest.mark.parametrize("method", ["rk4", "euler", "scipy_solver", "dopri5"])
def test_a_zero_token_on_the_sphere_is_refused_naming_it(cloud, method):
    batch = torch.stack([cloud, cloud])
    batch[1, 5] = 0.0
    with pytest.raises(ValueError, match=r"x0 token 5 of batch index \(1,\) is zero"):
        integrate(SelfAttention(3), batch, T, method=method)


@pytest.mark.parametrize("method", ["euler", "rk4", "projected_euler"])
def test_float16_runs_with_fixed_steps(cloud, method):
    xs = integrate(SelfAttention(3), cloud.half(), T, method=method, step_size=0.05)
    exact = integrate(SelfAttention(3), cloud, T, rtol=1e-10, atol=1e-12)
    assert xs.dtype == torch.float16 and (xs.double() - exact).abs().max() < 0.05


@pytest.mark.parametrize("method", ["dopri5", "scipy_solver"])
def test_adaptive_methods_refuse_half_precision(cloud, method):
    with pytest.raises(TypeError, match=rf"torch.float16; the adaptive method '{method}' takes"):
        integrate(SelfAttention(3), cloud.half(), T, method=method)


@pytest.mark.parametrize("method", ["dopri5", "euler", "projected_euler", "scipy_solver"])
def test_an_empty_batch_gives_an_empty_trajectory(method):
    xs = integrate(SelfAttention(3), torch.zeros(0, 8, 3), T, method=method)
    assert xs.shape == (len(T), 0, 8, 3)


def test_a_field_must_be_callable():
    with pytest.raises(TypeError, match=r"field=None must be a vector field, a callable f\(t, x\)"):
        integrate(None, torch.zeros(8, 3), T)


class Truncated(torch.nn.Module):
    """Returns the first two coordinates of x only."""

    geometry = SPHERE

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return x[..., :2]


@pytest.mark.parametrize("method", ["dopri5", "euler", "projected_euler"])
def test_a_field_returning_the_wrong_shape_is_named_at_its_first_evaluation(cloud, method):
    with pytest.raises(
        ValueError, match=r"Truncated returned shape \(8, 2\) for a state of shape \(8, 3\)"
    ):
        integrate(Truncated(), cloud, T, method=method)


class ShortForce(Accelerated):
    """An accelerated field whose force drops the last coordinate."""

    def force(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return super().force(t, x)[..., :2]


class ShortMLP(TransformerBlock):
    """A transformer block whose MLP part returns one token."""

    def mlp_part(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return super().mlp_part(t, x)[..., :1, :]


@pytest.mark.parametrize("method", ["leapfrog", "symplectic_euler"])
def test_a_force_of_the_wrong_shape_is_named(cloud, method):
    field = ShortForce(SelfAttention(3), manifold="euclidean")
    with pytest.raises(ValueError, match=r"ShortForce.force returned shape \(8, 2\) for a state"):
        integrate(field, (cloud, torch.zeros_like(cloud)), T, method=method)


@pytest.mark.parametrize("method", ["lie_trotter", "strang"])
def test_a_split_part_of_the_wrong_shape_is_named(generator, method):
    x0 = torch.randn(5, 4, generator=generator, dtype=F64)
    with pytest.raises(ValueError, match=r"ShortMLP.mlp_part returned shape \(1, 4\) for a state"):
        integrate(ShortMLP(4, 2, 8).double(), x0, T, method=method)
