"""SelfAttention ensembles: today's batched torchdiffeq dopri5, torchode, and ``solvers.ensemble``.

For every token dimension d and inverse temperature beta, S independent clouds of n tokens on
S^{d-1} (``uniform_sphere``) are solved to T with rtol, atol in float64 on one torch thread by

- ``torchdiffeq``: ``solvers.integrate(..., method="dopri5")``, one step size for the whole batch
  (error norm: the largest per-system RMS);
- ``torchode-dopri5``, ``torchode-tsit5``: torchode's per-system ``IntegralController`` (every
  field call still evaluates all systems until the last one finishes);
- ``ensemble-dopri5``, ``ensemble-tsit5``: ``solvers.ensemble.solve_ensemble``, per-system steps,
  finished systems leave the batch.

Wall times (the solve alone) are medians of ``--repeats`` rounds interleaved in one process (the
order rotates every round, as ``benchlib.interleaved_times``) and ratios are medians of per-round
ratios (``benchlib.ratio``), so a load from other processes
affects all solvers alike; the other processes' share of the CPU is printed.
``calls`` counts field calls, ``evals`` the systems evaluated summed over calls (the work), and
``error`` is the largest |x - x_ref| over times, systems and entries against ``integrate`` at
``--reference-rtol`` (1e-9: its own error is below 1e-8, a hundredth of the errors measured).

    PYTHONPATH=. python benchmarks/ensemble_solvers.py --seeds 256 --dims 8 128 --betas 1 5 9

``--mixed`` solves one ensemble whose systems alternate between the given betas (``MixedBeta``: one
SelfAttention call per distinct beta), the case where one joint step size costs the most.

Measured 2026-12-04 (2-core AMD EPYC shared with other sessions: other processes used 62-79% of the
machine during the runs, part of it a second run of this script; ratios are per-round, so the load
hits all solvers alike, but single wall times vary by up to 2x between runs). S = 256, n = 32,
T = 30, 201 times, rtol 1e-6, atol 1e-8, float64; wall s (median), evals, ratio ours/torchdiffeq
and ours/torchode (same method):

    d    beta  torchdiffeq       torchode dopri5   ensemble dopri5           ensemble tsit5
    8    1     4.26 s  75776     2.40 s  68096     1.66 s  62204 0.55 0.97   2.84 s 0.76 1.41
    8    5     8.97 s 166400     5.87 s 129536     4.85 s  91262 0.54 0.81   4.81 s 0.54 1.19
    8    9     8.42 s 149504     6.35 s 129536     5.83 s 109616 0.67 0.89   6.10 s 0.71 0.93
    8    1/9   9.30 s 144896     6.49 s 124928     5.35 s  86390 0.56 0.88   5.37 s 0.58 0.68
    128  1    15.31 s  58880    15.21 s  60416     8.03 s  58340 0.52 0.59   7.87 s 0.50 0.57
    128  9    18.99 s  75776    18.24 s  51200     4.42 s  14114 0.26 0.27   5.54 s 0.33 0.24
    128  1/9  43.40 s 104960    23.39 s  60416     9.39 s  36206 0.21 0.40   7.62 s 0.17 0.34

Each system's error is its solo torchdiffeq error (the same steps); the joint solve is more
accurate on the hardest systems only because it over-resolves them with the others' steps.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import benchlib
import torch
import torchode
from torch import Tensor, nn

from dynamics import SelfAttention, uniform_sphere
from solvers import integrate
from solvers.ensemble import solve_ensemble

Solver = Callable[[nn.Module, Tensor, Tensor, float, float, Tensor | None], Tensor]


class Counted(nn.Module):
    """The field, counting its calls and the systems it evaluates."""

    def __init__(self, field: nn.Module) -> None:
        super().__init__()
        self.field, self.calls, self.evals = field, 0, 0

    def forward(self, t: Tensor, x: Tensor, *params: Tensor) -> Tensor:
        self.calls += 1
        self.evals += x[..., 0, 0].numel()
        return self.field(t, x, *params)


class MixedBeta(nn.Module):
    """SelfAttention with beta[s] for system s: one SelfAttention call per distinct beta. Without
    ``beta`` it uses the whole ensemble's (torchdiffeq, torchode); ``solve_ensemble`` passes the
    running systems' as ``params``."""

    def __init__(self, d: int, beta: Tensor) -> None:
        super().__init__()
        self.beta, self.values = beta, sorted(set(beta.tolist()))
        self.fields = nn.ModuleList(SelfAttention(d, beta=value) for value in self.values)

    def forward(self, t: Tensor, x: Tensor, beta: Tensor | None = None) -> Tensor:
        beta = self.beta if beta is None else beta
        out = torch.empty_like(x)
        for value, field in zip(self.values, self.fields, strict=True):
            rows = (beta == value).nonzero().squeeze(1)
            out[rows] = field(t, x[rows])
        return out


def torchdiffeq_joint(
    field: nn.Module, x0: Tensor, t: Tensor, rtol: float, atol: float, params: Tensor | None
) -> Tensor:
    return integrate(field, x0, t, method="dopri5", rtol=rtol, atol=atol)


def torchode_solver(method: str) -> Solver:
    def solve(
        field: nn.Module, x0: Tensor, t: Tensor, rtol: float, atol: float, params: Tensor | None
    ) -> Tensor:
        systems, n, d = x0.shape
        term = torchode.ODETerm(lambda s, y: field(s, y.view(-1, n, d)).reshape(systems, -1))
        step = {"dopri5": torchode.Dopri5, "tsit5": torchode.Tsit5}[method](term=term)
        controller = torchode.IntegralController(atol=atol, rtol=rtol, term=term)
        problem = torchode.InitialValueProblem(
            y0=x0.reshape(systems, -1), t_eval=t.expand(systems, -1)
        )
        solution = torchode.AutoDiffAdjoint(step, controller).solve(problem)
        if bool((solution.status != 0).any()):
            raise RuntimeError(f"torchode failed: status {solution.status.tolist()}")
        return solution.ys.view(systems, len(t), n, d).transpose(0, 1)

    return solve


def ensemble_solver(method: str) -> Solver:
    def solve(
        field: nn.Module, x0: Tensor, t: Tensor, rtol: float, atol: float, params: Tensor | None
    ) -> Tensor:
        return solve_ensemble(field, x0, t, method=method, rtol=rtol, atol=atol, params=params)

    return solve


SOLVERS: dict[str, Solver] = {
    "torchdiffeq": torchdiffeq_joint,
    "torchode-dopri5": torchode_solver("dopri5"),
    "torchode-tsit5": torchode_solver("tsit5"),
    "ensemble-dopri5": ensemble_solver("dopri5"),
    "ensemble-tsit5": ensemble_solver("tsit5"),
}


def measure(args: argparse.Namespace, d: int, betas: list[float]) -> list[list[object]]:
    """Table rows (median wall time, work, error, ratios) of every solver on one ensemble, whose
    system s has beta = betas[s % len(betas)]."""
    generator = torch.Generator().manual_seed(args.seed)
    x0 = uniform_sphere(
        args.n, d, batch_shape=(args.seeds,), generator=generator, dtype=torch.float64
    )
    t = torch.linspace(0.0, args.horizon, args.times, dtype=torch.float64)
    beta = torch.tensor(betas, dtype=torch.float64).repeat(args.seeds // len(betas) + 1)
    params = None if len(betas) == 1 else beta[: args.seeds]
    field = SelfAttention(d, beta=betas[0]) if params is None else MixedBeta(d, params)
    reference = integrate(field, x0, t, rtol=args.reference_rtol, atol=args.reference_rtol * 1e-2)
    work: dict[str, tuple[int, int, float]] = {}
    times: dict[str, list[float]] = {name: [] for name in SOLVERS}
    names = list(SOLVERS)
    for round_index in range(args.repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            counted = Counted(field)
            start = time.perf_counter()
            x = SOLVERS[name](counted, x0, t, args.rtol, args.atol, params)
            times[name].append(time.perf_counter() - start)
            error = max(float((xi - ri).abs().max()) for xi, ri in zip(x, reference, strict=True))
            work[name] = (counted.calls, counted.evals, error)
            del x
    rows = []
    for name in SOLVERS:
        calls, evals, error = work[name]
        ratios = ["", ""]
        if name.startswith("ensemble"):
            peer = name.replace("ensemble", "torchode")
            ratios = [
                f"{benchlib.ratio(times, name, 'torchdiffeq'):.2f}",
                f"{benchlib.ratio(times, name, peer):.2f}",
            ]
        wall = benchlib.median(times[name])
        label = "/".join(f"{value:g}" for value in betas)
        rows.append([d, label, name, f"{wall:.3f}", calls, evals, f"{error:.2e}", *ratios])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=256)
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--dims", type=int, nargs="+", default=[8, 128])
    parser.add_argument("--betas", type=float, nargs="+", default=[1.0, 5.0, 9.0])
    parser.add_argument("--horizon", type=float, default=30.0)
    parser.add_argument("--times", type=int, default=201)
    parser.add_argument("--rtol", type=float, default=1e-6)
    parser.add_argument("--atol", type=float, default=1e-8)
    parser.add_argument("--reference-rtol", type=float, default=1e-9)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--mixed", action="store_true", help="one ensemble, system s at betas[s %% len(betas)]"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(benchlib.machine_description("cpu"))
    headers = ["d", "beta", "solver", "wall s", "calls", "evals", "error", "/tdq", "/torchode"]
    rows = []
    with benchlib.MachineLoad() as load:
        for d in args.dims:
            for betas in [args.betas] if args.mixed else [[beta] for beta in args.betas]:
                rows += measure(args, d, betas)
                print(f"d={d} betas={betas} done", flush=True)
    benchlib.print_table(
        f"S={args.seeds} n={args.n} T={args.horizon:g} {args.times} times rtol={args.rtol:g} "
        f"atol={args.atol:g} float64, 1 thread; ratios: median of per-round ratios",
        headers,
        rows,
    )
    print(load.describe())


if __name__ == "__main__":
    main()
