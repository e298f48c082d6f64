"""Cost of one momentum step against the plain Euler layer (issue #4).

Measured: one step of each momentum method of ``solvers.METHODS`` (``symplectic_euler``,
``leapfrog``, ``nesterov_layer``) on ``Accelerated(SelfAttention(d, manifold="euclidean"))``,
against one plain Euler layer x + h F(x) of the same attention field and against one field
evaluation alone; n tokens, float32, batch 1, timed in interleaved rounds (see ``benchlib``).
Target: a momentum step costs at most one field evaluation plus O(n d) work, taken here as at most
1.15x the Euler layer at n = 4096.

Run: ``python benchmarks/accelerated.py [--n 4096] [--d 3] [--device cpu]``.
"""

from __future__ import annotations

import argparse

import benchlib
import torch

from dynamics import Accelerated, SelfAttention, uniform_sphere
from solvers import METHODS

TARGET = 1.15  # momentum step / Euler layer, at most
MOMENTUM_METHODS = ("symplectic_euler", "leapfrog", "nesterov_layer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096, help="tokens")
    parser.add_argument("--d", type=int, default=3, help="token dimension")
    benchlib.add_common_args(parser, repeats=15, warmup=2)
    args = parser.parse_args()
    generator = torch.Generator().manual_seed(0)
    x = uniform_sphere(args.n, args.d, generator=generator).to(args.device)
    v = torch.zeros_like(x)
    force = SelfAttention(args.d, manifold="euclidean")
    field = Accelerated(force, damping="nesterov")
    t, h = torch.tensor(1.0, device=args.device), torch.tensor(0.1, device=args.device)
    candidates = {
        "field evaluation": lambda: force(t, x),
        "Euler layer": lambda: x + h * force(t, x),
    }
    for name in MOMENTUM_METHODS:
        stepper = METHODS[name].stepper
        candidates[name] = lambda stepper=stepper: stepper(field, t, (x, v), h)
    with torch.no_grad(), benchlib.MachineLoad() as load:
        times = benchlib.interleaved_times(
            candidates, repeats=args.repeats, warmup=args.warmup, device=args.device
        )
    print(benchlib.machine_description(args.device))
    print(load.describe())
    rows = []
    for name in candidates:
        ratio = benchlib.ratio(times, name, "Euler layer")
        target = f"<= {TARGET}x" if name in MOMENTUM_METHODS else ""
        ok = ratio <= TARGET if name in MOMENTUM_METHODS else None
        evaluations = METHODS[name].evaluations if name in METHODS else 1
        rows.append(
            [
                name,
                evaluations,
                benchlib.milliseconds(benchlib.median(times[name])),
                f"{ratio:.3f}x",
                target,
                "" if ok is None else benchlib.verdict(ok),
            ]
        )
    benchlib.print_table(
        f"one step, n={args.n}, d={args.d}, float32, {args.device}; {args.repeats} rounds",
        ["candidate", "field evals", "time", "vs Euler layer", "target", "verdict"],
        rows,
    )
    for name in MOMENTUM_METHODS:
        ratio = benchlib.ratio(times, name, "Euler layer")
        benchlib.report_result(
            f"{name} step / Euler layer, n={args.n}, d={args.d}", ratio <= TARGET, f"{ratio:.3f}x"
        )


if __name__ == "__main__":
    main()
