"""solvers.ensemble: accuracy against closed forms, tolerance proportionality, per-system step
control, streamed observables, dtypes and input checks."""

from __future__ import annotations

import pytest
import torch
import torchdiffeq

from dynamics import SelfAttention, uniform_sphere
from solvers.ensemble import TABLEAUS, solve_ensemble
from tests.reference import F64, fitted_slope

METHODS = list(TABLEAUS)


class MixedBeta(torch.nn.Module):
    """SelfAttention on S^{d-1} with one beta per system, given as the field's ``params``."""

    def __init__(self, d: int, betas: tuple[float, ...]) -> None:
        super().__init__()
        self.betas = betas
        self.fields = torch.nn.ModuleList(SelfAttention(d, beta=beta) for beta in betas)
        self.rows = 0

    def forward(self, t: torch.Tensor, x: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        self.rows += len(x)
        out = torch.empty_like(x)
        for value, field in zip(self.betas, self.fields, strict=True):
            rows = beta == value
            out[rows] = field(t[rows], x[rows])
        return out


def decay(t: torch.Tensor, x: torch.Tensor, rate: torch.Tensor) -> torch.Tensor:
    return -rate.view(-1, 1, 1) * x


@pytest.mark.parametrize("method", METHODS)
def test_linear_decay_per_system_matches_the_exponential(method):
    """x' = -lambda_s x with its own lambda_s per system; 201 output times, so most steps pass
    several of them (dense output). The local error per step is held below rtol |x|, and for a
    decaying exponential the relative global error is their sum without amplification; with
    lambda T <= 8 it stays below 10 rtol (measured at lambda T = 8: 2.8 rtol dopri5, 0.8 tsit5)."""
    rates = torch.tensor([0.25, 0.5, 1.0, 2.0, 4.0], dtype=F64)
    t = torch.linspace(0.0, 2.0, 201, dtype=F64)
    rtol = 1e-8
    x = solve_ensemble(
        decay, torch.ones(5, 1, 1, dtype=F64), t, params=rates, rtol=rtol, atol=1e-14, method=method
    )
    exact = torch.exp(-rates * t[:, None])
    assert x.shape == (201, 5, 1, 1)
    assert float(((x[..., 0, 0] - exact).abs() / exact).max()) < 10 * rtol


@pytest.mark.parametrize("method", METHODS)
def test_each_system_gets_its_own_time(method):
    """x' = w_s cos(w_s t): the field reads the per-system times (A, 1, 1); exact sin(w_s t)."""

    def wave(t: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        w = w.view(-1, 1, 1)
        return (w * torch.cos(w * t)).expand_as(x)

    speeds = torch.tensor([0.5, 1.0, 3.0], dtype=F64)
    t = torch.linspace(0.0, 3.0, 31, dtype=F64)
    x = solve_ensemble(
        wave,
        torch.zeros(3, 1, 1, dtype=F64),
        t,
        params=speeds,
        rtol=1e-9,
        atol=1e-12,
        method=method,
    )
    exact = torch.sin(speeds * t[:, None])
    assert float((x[..., 0, 0] - exact).abs().max()) < 1e-7


@pytest.mark.parametrize("method", METHODS)
def test_error_is_proportional_to_rtol(method, generator):
    """With local extrapolation the step keeps the fourth-order estimate ~ C h^5 at rtol, and the
    fifth-order solution's global error is then O(h^5) = O(rtol): the log-log slope of the error
    against rtol is 1 (measured: 0.91 dopri5, 1.00 tsit5; accepted 0.8-1.2)."""
    x0 = uniform_sphere(16, 3, batch_shape=(4,), generator=generator, dtype=F64)
    field = SelfAttention(3, beta=4.0)
    t = torch.linspace(0.0, 5.0, 11, dtype=F64)
    reference = torchdiffeq.odeint(field, x0, t, rtol=1e-13, atol=1e-15)
    rtols = [1e-5, 1e-6, 1e-7, 1e-8]
    errors = [
        float(
            (solve_ensemble(field, x0, t, rtol=r, atol=r * 1e-2, method=method) - reference)
            .abs()
            .max()
        )
        for r in rtols
    ]
    assert 0.8 < fitted_slope(rtols, errors) < 1.2


@pytest.fixture(scope="module")
def mixed() -> tuple[torch.Tensor, torch.Tensor, MixedBeta, torch.Tensor, torch.Tensor]:
    """Eight clouds of 16 tokens on S^2, four at beta = 1 and four at beta = 9, the output times
    and a tight reference (torchdiffeq dopri5 at rtol 1e-12, each system alone)."""
    generator = torch.Generator().manual_seed(1234)
    x0 = uniform_sphere(16, 3, batch_shape=(8,), generator=generator, dtype=F64)
    beta = torch.tensor([1.0, 9.0] * 4, dtype=F64)
    field = MixedBeta(3, (1.0, 9.0))
    t = torch.linspace(0.0, 10.0, 21, dtype=F64)
    reference = torch.stack(
        [
            torchdiffeq.odeint(SelfAttention(3, beta=float(b)), x, t, rtol=1e-12, atol=1e-14)
            for x, b in zip(x0, beta, strict=True)
        ],
        dim=1,
    )
    return x0, beta, field, t, reference


def test_per_system_control_matches_solo_solves(mixed):
    """Each system of the mixed batch is as accurate as when solved alone (within 2x; measured
    ratio 1.000: it takes the same steps) and takes the same number of steps; neither group's
    evaluations grow when the other joins, the cheapest system spends fewer than the costliest
    (which a joint step size would charge every system), and finished systems cost nothing."""
    x0, beta, field, t, reference = mixed
    options = {"rtol": 1e-6, "atol": 1e-8, "return_stats": True}
    field.rows = 0
    x, stats = solve_ensemble(field, x0, t, params=beta, **options)
    assert field.rows == int(stats.evaluations.sum())
    errors = (x - reference).abs().amax(dim=(0, 2, 3))
    for s in range(8):
        alone, solo = solve_ensemble(field, x0[s : s + 1], t, params=beta[s : s + 1], **options)
        solo_error = (alone[:, 0] - reference[:, s]).abs().max()
        assert 0.5 < float(errors[s] / solo_error) < 2.0
        assert int(stats.accepted[s]) == int(solo.accepted[0])
        assert int(stats.evaluations[s]) == int(solo.evaluations[0])
    for group in (beta == 1.0, beta == 9.0):
        _, alone = solve_ensemble(field, x0[group], t, params=beta[group], **options)
        assert torch.equal(stats.evaluations[group], alone.evaluations)
    assert int(stats.evaluations.min()) < int(stats.evaluations.max())


def test_each_system_takes_torchdiffeqs_solo_steps(mixed):
    """dopri5 uses torchdiffeq's tableau, error test, controller and initial step per system, so
    every system of the batch reproduces torchdiffeq's solo solve up to rounding."""
    x0, beta, field, t, _ = mixed
    x = solve_ensemble(field, x0, t, params=beta, rtol=1e-6, atol=1e-8)
    for s in range(8):
        alone = torchdiffeq.odeint(
            SelfAttention(3, beta=float(beta[s])), x0[s], t, rtol=1e-6, atol=1e-8
        )
        assert float((x[:, s] - alone).abs().max()) < 1e-12


@pytest.mark.parametrize("method", METHODS)
def test_streamed_observables_equal_those_of_the_trajectory(method, generator):
    """observe sees the interpolated states of the systems at each output time; the results, laid
    out (len(t), *batch, ...), equal the observables of the full trajectory. An event (the first
    output time at which all cosines exceed 0.999: t[argmax] where it is reached) is a boolean
    observable."""
    x0 = uniform_sphere(8, 3, batch_shape=(2, 3), generator=generator, dtype=F64)
    field = SelfAttention(3, beta=2.0)
    t = torch.linspace(0.0, 20.0, 41, dtype=F64)

    def observe(x: torch.Tensor) -> dict[str, torch.Tensor]:
        cosines = (x @ x.transpose(-1, -2)).amin(dim=(-1, -2))
        return {"mean": x.mean(-2), "min_cosine": cosines, "clustered": cosines > 0.999}

    streamed = solve_ensemble(field, x0, t, observe=observe, method=method)
    trajectory = solve_ensemble(field, x0, t, method=method)
    expected = observe(trajectory.reshape(-1, 8, 3))
    assert streamed.keys() == expected.keys()
    for name, value in expected.items():
        assert streamed[name].shape == (41, 2, 3, *value.shape[1:])
        assert streamed[name].dtype == value.dtype
        torch.testing.assert_close(streamed[name], value.reshape(streamed[name].shape))
    clustered = streamed["clustered"]
    assert bool(clustered.any(0).any()) and not bool(clustered[0].any())
    first = clustered.int().argmax(0)
    reached = clustered.gather(0, first[None])[0]
    assert torch.equal(reached, clustered.any(0))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_device_are_kept(dtype, generator):
    """float32 states keep float32 (times run in float64 inside); the error against a float64
    reference stays at float32's tolerance level (rtol 1e-5: error below 1e-4)."""
    x0 = uniform_sphere(16, 3, batch_shape=(3,), generator=generator, dtype=dtype)
    field = SelfAttention(3, beta=3.0)
    t = torch.linspace(0.0, 5.0, 11)
    x = solve_ensemble(field, x0, t, rtol=1e-5, atol=1e-7)
    assert x.dtype == dtype and x.device == x0.device and x.shape == (11, 3, 16, 3)
    reference = torchdiffeq.odeint(field, x0.double(), t.double(), rtol=1e-12, atol=1e-14)
    assert float((x.double() - reference).abs().max()) < 1e-4


def test_a_single_unbatched_cloud_and_a_given_first_step(generator):
    x0 = uniform_sphere(8, 3, generator=generator, dtype=F64)
    field = SelfAttention(3)
    t = torch.linspace(0.0, 2.0, 5, dtype=F64)
    x, stats = solve_ensemble(field, x0, t, first_step=0.01, return_stats=True)
    assert x.shape == (5, 8, 3) and stats.accepted.shape == ()
    assert int(stats.evaluations) == 1 + 6 * int(stats.accepted + stats.rejected)
    reference = torchdiffeq.odeint(field, x0, t, rtol=1e-12, atol=1e-14)
    assert float((x - reference).abs().max()) < 1e-6


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"x0": torch.ones(2, 3, dtype=torch.long)}, TypeError, "x0"),
        ({"t": [0.0, 1.0, 1.0]}, ValueError, "strictly increasing"),
        ({"t": [1.0, 0.0]}, ValueError, "strictly increasing"),
        ({"rtol": 0.0}, ValueError, "rtol"),
        ({"atol": -1e-9}, ValueError, "atol"),
        ({"method": "rk4"}, ValueError, "method"),
        ({"params": torch.ones(3)}, ValueError, "params"),
        ({"max_steps": 0}, ValueError, "max_steps"),
        ({"first_step": -0.1}, ValueError, "first_step"),
        ({"observe": 3}, TypeError, "observe"),
        ({"x0": torch.ones(2, 4, 3, dtype=F64, requires_grad=True)}, ValueError, "grad"),
    ],
)
def test_bad_input_is_refused_with_its_name(change, error, match):
    arguments = {"x0": torch.ones(2, 4, 3, dtype=F64), "t": [0.0, 1.0]} | change
    with pytest.raises(error, match=match):
        solve_ensemble(lambda t, x: -x, arguments.pop("x0"), arguments.pop("t"), **arguments)


def test_max_steps_is_enforced():
    with pytest.raises(RuntimeError, match="max_steps"):
        solve_ensemble(lambda t, x: -x, torch.ones(2, 1, 1, dtype=F64), [0.0, 100.0], max_steps=3)
