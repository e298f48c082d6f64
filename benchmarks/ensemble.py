"""An ensemble of independent systems: one batched ``integrate`` call vs a Python loop (issue #2).

Measured: 256 systems of n = 32 tokens uniform on S^2 (d = 3), the self-attention field on the
sphere (softmax, beta = 1), integrated from t = 0 to T = 10 with dopri5 at ``integrate``'s default
tolerances (rtol = 1e-7, atol = 1e-9), in float64 by default:

* ``batched``: one ``solvers.integrate(field, x0, [0, T])`` with x0 of shape (256, 32, 3);
* ``loop``: ``integrate(field, x0[i], [0, T])`` for i = 0..255, one after the other.

Both are timed in interleaved rounds (see ``benchlib``) after a warm-up (one batched solve and
two single solves). Target: batched at least 20x faster than the loop. Also reported: the number
of field evaluations (the batched solve steps as finely as its hardest system needs, see
``integrate``'s per-system error norm) and the largest difference between the two final states.

Run: ``python benchmarks/ensemble.py [--systems 256] [--dtype float64] [--device cpu]``.
"""

from __future__ import annotations

import argparse
import json
import sys

import benchlib
import torch

from dynamics import SelfAttention, uniform_sphere
from solvers import integrate

TARGET = 20.0  # loop time / batched time, at least


class Counted:
    """A field wrapper counting evaluations (used in untimed runs only)."""

    def __init__(self, field: SelfAttention) -> None:
        self.field = field
        self.calls = 0

    def __call__(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.field(t, x)


def worker(args: argparse.Namespace) -> None:
    """Time both ways in this process and print one JSON line."""
    dtype = getattr(torch, args.dtype)
    generator = torch.Generator().manual_seed(0)
    x0 = uniform_sphere(
        args.n, args.d, batch_shape=(args.systems,), generator=generator, dtype=dtype
    ).to(args.device)
    field = SelfAttention(args.d, beta=args.beta)
    times = torch.tensor([0.0, args.T])
    options = {"method": "dopri5"} if args.rtol is None else {"method": "dopri5", "rtol": args.rtol}

    def batched() -> torch.Tensor:
        return integrate(field, x0, times, **options)[-1]

    def loop() -> torch.Tensor:
        return torch.stack([integrate(field, x0[i], times, **options)[-1] for i in range(len(x0))])

    with torch.no_grad(), benchlib.MachineLoad() as load:
        batched()
        for i in range(2):
            integrate(field, x0[i], times, **options)
        timings = benchlib.interleaved_times(
            {"batched": batched, "loop": loop}, repeats=args.repeats, warmup=0, device=args.device
        )
        counted = Counted(field)
        final_batched = integrate(counted, x0, times, **options)[-1]
        batched_calls = counted.calls
        counted.calls = 0
        final_loop = torch.stack(
            [integrate(counted, x0[i], times, **options)[-1] for i in range(len(x0))]
        )
    norms = torch.linalg.vector_norm(final_batched, dim=-1)
    summary = {
        "times": timings,
        "batched_calls": batched_calls,
        "loop_calls": counted.calls,
        "max_diff": (final_batched - final_loop).abs().max().item(),
        "norm_dev": (norms - 1).abs().max().item(),
        "load": load.share,
    }
    print(json.dumps(summary))


def main() -> None:
    """Parse the options; run the worker in a fresh process (rerun if disturbed) and report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    benchlib.add_common_args(parser, repeats=3, warmup=0)
    benchlib.add_isolation_args(parser)
    parser.add_argument("--systems", type=int, default=256)
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--d", type=int, default=3)
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--T", type=float, default=10.0)
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument("--rtol", type=float, default=None, help="default: integrate's (1e-7)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    command = [sys.executable, __file__, "--worker"]
    for name in ("device", "repeats", "systems", "n", "d", "beta", "T", "dtype", "rtol"):
        value = getattr(args, name)
        if value is not None:
            command += [f"--{name}", str(value)]
    result = benchlib.run_isolated(command, args, "ensemble worker")
    print(f"machine: {benchlib.machine_description(args.device)}")
    print(benchlib.describe_loads([result]))
    timings = result["times"]
    speedup = benchlib.ratio(timings, "loop", "batched")
    ok = speedup >= TARGET
    rtol = "1e-7 (default)" if args.rtol is None else f"{args.rtol:g}"
    rows = [
        [
            "batched (one call)",
            f"{benchlib.median(timings['batched']):.3f} s",
            result["batched_calls"],
            "",
            "",
            "",
        ],
        [
            f"loop ({args.systems} calls)",
            f"{benchlib.median(timings['loop']):.3f} s",
            result["loop_calls"],
            f"{speedup:.1f}x",
            f">= {TARGET:g}x",
            benchlib.verdict(ok),
        ],
    ]
    benchlib.print_table(
        f"{args.systems} systems, n={args.n}, d={args.d}, SA on the sphere, beta={args.beta:g}, "
        f"T={args.T:g}, dopri5, rtol={rtol}, atol=1e-9, {args.dtype}, {args.device}; "
        f"median of {args.repeats} interleaved rounds",
        ["solve", "time", "field evaluations", "loop / batched", "target", "verdict"],
        rows,
    )
    print(
        f"max |batched - loop| at T: {result['max_diff']:.2e}; "
        f"max ||x_i(T)| - 1| (batched): {result['norm_dev']:.2e}"
    )
    benchlib.report_result(
        f"ensemble loop / batched ({args.systems} systems)", ok, f"{speedup:.1f}x (target >= 20x)"
    )


if __name__ == "__main__":
    main()
