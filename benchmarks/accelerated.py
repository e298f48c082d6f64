"""Cost of one momentum step against the plain layer (issue #4).

Measured: one step of each momentum method of ``solvers.METHODS`` (``symplectic_euler``,
``leapfrog``, ``nesterov_layer``) on ``Accelerated(SelfAttention(d, manifold=M))``, against one
plain layer of the same attention field (Euclidean: the Euler layer x + h F(x); sphere: the
post-LayerNorm layer (x + h F(x)) / |x + h F(x)|, against which the momentum steps move along
great circles) and against one field evaluation alone; n tokens, float32, batch 1, timed in
interleaved rounds (see ``benchlib``). Target: a momentum step costs at most one field evaluation
plus O(n d) work, taken here as at most 1.15x the plain layer at n = 4096.

Run: ``python benchmarks/accelerated.py [--n 4096] [--d 3] [--manifold sphere] [--threads 1]``.
On a machine shared with other busy processes, ``--threads 1`` avoids measuring OpenMP waits: with
two threads every parallel region (even ``torch.cos`` of 4096 numbers) waits for a descheduled
thread, about 8 ms here under load, which makes the O(n d) work look like another evaluation.
"""

from __future__ import annotations

import argparse

import benchlib
import torch

from dynamics import Accelerated, SelfAttention, uniform_sphere
from solvers import METHODS

TARGET = 1.15  # momentum step / plain layer, at most
MOMENTUM_METHODS = ("symplectic_euler", "leapfrog", "nesterov_layer")
PLAIN = "plain layer"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096, help="tokens")
    parser.add_argument("--d", type=int, default=3, help="token dimension")
    parser.add_argument("--manifold", choices=("euclidean", "sphere"), default="euclidean")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)"
    )
    benchlib.add_common_args(parser, repeats=15, warmup=2)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    x = uniform_sphere(args.n, args.d, generator=generator).to(args.device)
    v = torch.zeros_like(x)
    force = SelfAttention(args.d, manifold=args.manifold)
    field = Accelerated(force, damping="nesterov")
    t, h = torch.tensor(1.0, device=args.device), torch.tensor(0.1, device=args.device)
    plain = METHODS["euler" if args.manifold == "euclidean" else "projected_euler"]
    candidates = {
        "field evaluation": lambda: force(t, x),
        PLAIN: (lambda: x + h * force(t, x))
        if plain.stepper is None
        else (lambda: plain.stepper(force, t, x, h)),
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
        ratio = benchlib.ratio(times, name, PLAIN)
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
        f"one step, n={args.n}, d={args.d}, {args.manifold}, float32, {args.device}; "
        f"{args.repeats} rounds",
        ["candidate", "field evals", "time", "vs plain layer", "target", "verdict"],
        rows,
    )
    for name in MOMENTUM_METHODS:
        ratio = benchlib.ratio(times, name, PLAIN)
        benchlib.report_result(
            f"{name} step / plain layer, n={args.n}, d={args.d}, {args.manifold}",
            ratio <= TARGET,
            f"{ratio:.3f}x",
        )


if __name__ == "__main__":
    main()
