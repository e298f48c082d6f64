"""CUDA against the CPU: the same float64 inputs give the same numbers on both devices (to
rounding, or to the solve's tolerance where rounding may change an adaptive step), outputs stay
on the input's device and dtype, and the factorisation-based counts equal eigenvalue counts.
Skipped where no CUDA device is present (CI); run on a GPU with ``python -m pytest
tests/test_cuda.py``."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import replace

import pytest
import torch

import dynamics
import solvers
from scenarios.clustering import ClusteringConfig
from scenarios.clustering.simulation import output_times
from scenarios.clustering.sweep import SWEEP, initial_clouds, observe_run
from scenarios.harness.cli import main
from tests.reference import F64
from tests.scenarios.helpers import TINY_SET
from tests.solvers.test_contracts import KINDS

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CUDA = torch.device("cuda")
ADAPTIVE = {name for name, spec in solvers.METHODS.items() if spec.adaptive}


def on(state, device: torch.device):
    """A tensor or a tuple of tensors moved to ``device``."""
    if isinstance(state, tuple):
        return tuple(part.to(device) for part in state)
    return state.to(device)


def parts(state) -> tuple[torch.Tensor, ...]:
    return state if isinstance(state, tuple) else (state,)


ACCEPTED = [
    (method, kind)
    for kind, (make_field, _, _) in KINDS.items()
    for method in solvers.methods_for(make_field())
    if method != "scipy_solver"  # SciPy's LSODA solves on the CPU by design
]


@pytest.mark.parametrize(("method", "kind"), ACCEPTED)
def test_every_method_solves_every_field_kind_on_cuda_as_on_the_cpu(method, kind):
    """Fixed steps agree to rounding; adaptive solves (rtol 1e-6) whose rounding flips an
    accept/reject decision differ by at most both global errors, a small multiple of rtol."""
    make_field, make_state, start = KINDS[kind]
    field = make_field()
    x0 = make_state(torch.Generator().manual_seed(0))
    t = torch.tensor([start, start + 0.05, start + 0.1], dtype=F64)
    adaptive = method in ADAPTIVE
    tolerances = {"rtol": 1e-6, "atol": 1e-8} if adaptive else {}
    expected = solvers.integrate(field, x0, t, method=method, **tolerances)
    found = solvers.integrate(
        copy.deepcopy(field).to(CUDA), on(x0, CUDA), t.to(CUDA), method=method, **tolerances
    )
    for got, want in zip(parts(found), parts(expected), strict=True):
        assert got.device.type == "cuda" and got.dtype == F64
        agreement = 1e-4 if adaptive else 1e-10
        torch.testing.assert_close(got.cpu(), want, rtol=agreement, atol=agreement)


BETAS = {"softmax": 60.0, "uniform": 60.0, "sinkhorn": 5.0}
"""A beta per normalization: e^60 overflows no float32 but a raw exponential of the logits would
lose the softmax's precision; Sinkhorn's iterations converge slowly at large beta."""


@pytest.mark.parametrize("normalization", dynamics.NORMALIZATIONS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_self_attention_fields_at_large_beta_on_cuda(normalization, dtype):
    """To 1000 eps of the attention output's bound before the tangent projection (a convex
    combination of unit tokens: 1; with the uniform normalizer sum_j e^{beta <x_i, x_j>} / n:
    e^beta), whose terms along x_i cancel in the projection."""
    x = dynamics.uniform_sphere(64, 8, generator=torch.Generator().manual_seed(1), dtype=F64)
    field = dynamics.SelfAttention(8, beta=BETAS[normalization], normalization=normalization)
    expected = field(torch.tensor(0.0, dtype=F64), x)
    found = copy.deepcopy(field).to(device=CUDA, dtype=dtype)(
        torch.tensor(0.0, device=CUDA, dtype=dtype), x.to(CUDA, dtype)
    )
    assert found.device.type == "cuda" and found.dtype == dtype
    assert bool(torch.isfinite(found).all())
    bound = math.exp(BETAS[normalization]) if normalization == "uniform" else 1.0
    tolerance = 1000 * torch.finfo(dtype).eps * bound
    torch.testing.assert_close(found.cpu().double(), expected, rtol=0, atol=tolerance)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_attention_kernels_on_cuda(dtype):
    """The fused and chunked kernels on CUDA give the CPU's softmax(beta q k^T) v and its
    log-sum-exp, at a beta whose raw exponentials would overflow."""
    generator = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(3, 700, 16, generator=generator, dtype=F64) for _ in range(3))
    beta = 80.0
    expected = dynamics.attention_with_lse(q, k, v, scale=beta)
    moved = [a.to(CUDA, dtype) for a in (q, k, v)]
    found = dynamics.attention_with_lse(*moved, scale=beta)
    streamed = dynamics.streaming_attention(*moved, scale=beta, block_elements=4096)[0]
    tolerance = 2e-3 if dtype == torch.float32 else 1e-9
    for got, want in zip(found, expected, strict=True):
        assert got.device.type == "cuda" and got.dtype == dtype
        torch.testing.assert_close(got.cpu().double(), want, rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(streamed.cpu().double(), expected[0], rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_positive_eigenvalue_count_on_cuda_is_the_prescribed_inertia(dtype):
    """A = Q diag(lambda) Q^T with Q orthogonal and |lambda| in [0.1, 1] of random signs has
    #{lambda > 0} positive eigenvalues."""
    generator = torch.Generator().manual_seed(3)
    q = torch.linalg.qr(torch.randn(512, 32, 32, generator=generator, dtype=F64)).Q
    magnitudes = 0.1 + 0.9 * torch.rand(512, 32, generator=generator, dtype=F64)
    signs = torch.where(torch.rand(512, 32, generator=generator) < 0.5, -1.0, 1.0).to(F64)
    matrices = q @ torch.diag_embed(signs * magnitudes) @ q.mT
    counts = dynamics.positive_eigenvalue_count(matrices.to(CUDA, dtype))
    assert counts.device.type == "cuda" and counts.dtype == torch.long
    assert torch.equal(counts.cpu(), (signs > 0).sum(-1))


def test_cluster_observables_on_cuda_equal_the_cpu():
    """Labels, counts, span dimensions and collisions of clouds from a partial clustering solve."""
    generator = torch.Generator().manual_seed(4)
    x0 = dynamics.uniform_sphere(32, 32, batch_shape=(8,), generator=generator, dtype=F64)
    xs = solvers.solve_ensemble(dynamics.SelfAttention(32, beta=4.0), x0, [0.0, 2.0, 6.0, 20.0])
    clouds = xs.reshape(-1, 32, 32)
    cosines = dynamics.pairwise_cosines(clouds)
    for observable in (
        lambda x, c: dynamics.connected_labels(c > 0.99),
        lambda x, c: dynamics.cluster_count(x),
        lambda x, c: dynamics.span_dimension(x, cosines=c),
        lambda x, c: dynamics.span_dimension(x),
        lambda x, c: dynamics.pair_collision_fraction(x),
    ):
        expected = observable(clouds, cosines)
        found = observable(clouds.to(CUDA), cosines.to(CUDA))
        assert found.device.type == "cuda"
        torch.testing.assert_close(found.cpu(), expected, rtol=1e-12, atol=1e-12)


def test_ensemble_solve_with_streamed_observables_on_cuda():
    """Per-system steps on a batch mixing beta = 1 and 9 systems: the same observed series and
    nearly the same step counts as on the CPU, on the input's device and dtype."""
    generator = torch.Generator().manual_seed(5)
    x0 = dynamics.uniform_sphere(16, 8, batch_shape=(32,), generator=generator, dtype=F64)
    betas = torch.tensor([1.0, 9.0], dtype=F64).repeat_interleave(16)
    field = dynamics.BatchedWeightsAttention(beta=1.0)
    weights = torch.eye(8, dtype=F64).repeat(32, 2, 1, 1)
    weights[:, 0] *= betas[:, None, None]  # A = beta I, V = I

    def observe(x):
        return {
            "clusters": dynamics.cluster_count(x),
            "min_cosine": dynamics.min_pairwise_cosine(x),
        }

    times = torch.linspace(0.0, 10.0, 11, dtype=F64)
    expected, expected_stats = solvers.solve_ensemble(
        field, x0, times, observe=observe, params=weights, return_stats=True
    )
    found, stats = solvers.solve_ensemble(
        field,
        x0.to(CUDA),
        times.to(CUDA),
        observe=observe,
        params=weights.to(CUDA),
        return_stats=True,
    )
    assert found["min_cosine"].device.type == "cuda" and found["min_cosine"].dtype == F64
    assert torch.equal(found["clusters"].cpu(), expected["clusters"])
    torch.testing.assert_close(found["min_cosine"].cpu(), expected["min_cosine"], atol=1e-6, rtol=0)
    assert (stats.accepted.cpu() - expected_stats.accepted).abs().max() <= 2


def test_clustering_sweep_observables_on_cuda_equal_the_cpu():
    """``observe_run`` (span coordinates, device-sized chunks) on 64 seeds at d = 64: every seed's
    cluster count, span dimension and collision fraction at every output time as on the CPU."""
    config = ClusteringConfig(
        **{**SWEEP.defaults, "n": 16, "d": 64, "T": 15.0, "num_times": 31, "betas": (6.0,)}
    )
    seeds = range(64)
    times = output_times(config)
    expected = observe_run(config, "softmax", 6.0, initial_clouds(config, seeds), times, seeds)
    on_cuda = replace(config, device="cuda")
    found = observe_run(on_cuda, "softmax", 6.0, initial_clouds(on_cuda, seeds), times, seeds)
    for name in ("clusters", "span", "collisions"):
        assert found[name].device.type == "cuda"
    for name in ("clusters", "span"):
        assert torch.equal(found[name].cpu(), expected[name])
    # count / pairs: CUDA may divide by multiplying with the reciprocal
    torch.testing.assert_close(
        found["collisions"].cpu(), expected["collisions"], rtol=1e-15, atol=0
    )
    torch.testing.assert_close(found["energy"].cpu(), expected["energy"], rtol=1e-6, atol=0)


def test_the_clustering_scenario_on_cuda_gives_the_cpu_metrics(tmp_path):
    """``attnflow run clustering --device cuda``: every run's metrics as on the CPU."""
    runs = {}
    for device in ("cpu", "cuda"):
        out = tmp_path / device
        code = main(
            ["run", "clustering", "--device", device, "--out", str(out), "--set", *TINY_SET]
        )
        assert code == 0
        runs[device] = json.loads((out / "metrics.json").read_text())["runs"]
    assert runs["cuda"].keys() == runs["cpu"].keys()
    for name, metrics in runs["cpu"].items():
        for key, value in metrics.items():
            if isinstance(value, float):
                assert runs["cuda"][name][key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
            else:
                assert runs["cuda"][name][key] == value, key


def test_a_pooled_sweep_on_cuda_gives_the_cpu_table(tmp_path):
    """``attnflow sweep clustering --set device=cuda --workers 2`` (spawned workers, each with
    its own CUDA context): every row as in the CPU sweep."""
    tables = {}
    for device in ("cpu", "cuda"):
        out = tmp_path / device
        sweep = ["sweep", "clustering", "--grid", "betas=1,6", "--grid", "d=4,48", "--seeds", "8"]
        settings = ["n=16", "T=10", "num_times=21", "normalizations=softmax", f"device={device}"]
        assert main([*sweep, "--set", *settings, "--workers", "2", "--out", str(out)]) == 0
        journal = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
        tables[device] = {entry["index"]: entry["rows"] for entry in journal}
    assert tables["cuda"].keys() == tables["cpu"].keys()
    for index, rows in tables["cpu"].items():
        for found, expected in zip(tables["cuda"][index], rows, strict=True):
            for key, value in expected.items():
                if isinstance(value, float):
                    assert found[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
                else:
                    assert found[key] == value, key
