"""Sweeps (issue #7): seeds as one batched solve vs separate solves; 2 local workers vs 1.

1. ``batched``: ``scenarios.clustering.sweep_point`` on 1000 seeds at once (one ``integrate`` call
   on clouds of shape (1000, 32, 3), then the per-seed metrics), against ``separate``: the same
   function called once per seed. Clustering at its sweep settings: SA (softmax) on S^2, beta = 1,
   T = 15, 301 output times, dopri5 at rtol 1e-6 / atol 1e-8, float64, torch's default thread
   count (the convention of ``benchlib``; ``--threads 1`` is what a sweep worker runs). Both
   sides include the metrics (cluster counts, time to one cluster, energies); the batched solve
   alone is timed once more and reported. The separate solves are timed on the first
   ``--subset`` seeds and the time for all seeds extrapolated linearly (each seed's solve is
   independent and costs about the same); the output says so. Target: batched at least 20x
   faster than separate.
2. ``workers``: ``attnflow sweep``'s local backend (``scenarios.harness.sweep.run_sweep``) on a
   40-point sweep (10 betas x 4 dimensions, ``--point-seeds`` seeds of n = 32 each, T = 10),
   with 1 worker (the points run in the sweep process) and with 2 worker processes, each run into
   a fresh directory; rounds interleaved (see ``benchlib``). Throughput = points / wall time,
   pool start included. Target: 2 workers at least 1.7x the throughput of 1 on a 2-core machine.

Both parts report the share of the CPU that other processes used while they ran
(``benchlib.MachineLoad``): on a shared machine the two-worker run competes with them for the
second core, so its ratio is only meaningful next to that number.

Run: ``python benchmarks/sweep.py [--seeds 1000] [--subset 50] [--point-seeds 8] [--repeats 2]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import benchlib
import torch

from scenarios.clustering import (
    ClusteringConfig,
    initial_clouds,
    output_times,
    solve_run,
    sweep_point,
)
from scenarios.harness.sweep import plan_sweep, run_sweep
from solvers.threads import torch_threads

BATCH_TARGET = 20.0
WORKERS_TARGET = 1.7
BETAS = (0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0)
DIMENSIONS = (2, 3, 8, 32)


def batched_vs_separate(args: argparse.Namespace) -> None:
    """Part 1: time one batched sweep point against separate per-seed points."""
    config = ClusteringConfig(
        n=32, d=3, betas=(1.0,), normalizations=("softmax",), method="dopri5", device=args.device
    )
    seeds = list(range(args.seeds))
    subset = seeds[: args.subset]
    with torch_threads(args.threads or None), benchlib.MachineLoad() as load:
        sweep_point(config, subset[:2])  # warm-up
        start = time.perf_counter()
        batched_rows = sweep_point(config, seeds)
        batched = time.perf_counter() - start
        start = time.perf_counter()
        separate_rows = [row for seed in subset for row in sweep_point(config, [seed])]
        separate_subset = time.perf_counter() - start
        x0 = initial_clouds(config, seeds)
        start = time.perf_counter()
        solve_run(config, "softmax", 1.0, x0, output_times(config))
        solve_only = time.perf_counter() - start
        threads = torch.get_num_threads()
    separate = separate_subset * len(seeds) / len(subset)
    speedup = separate / batched
    same_counts = all(
        b["final_cluster_count"] == s["final_cluster_count"]
        for b, s in zip(batched_rows, separate_rows, strict=False)
    )
    cosine_diff = max(
        abs(b["min_cosine_at_T"] - s["min_cosine_at_T"])
        for b, s in zip(batched_rows, separate_rows, strict=False)
    )
    ok = speedup >= BATCH_TARGET
    benchlib.print_table(
        f"{len(seeds)} seeds, n = 32, d = 3, SA, beta = 1, T = 15, dopri5 rtol 1e-6, float64, "
        f"{threads} torch thread(s), {args.device}",
        ["solve", "time", "per seed", "separate / batched", "target", "verdict"],
        [
            [
                "batched (one call)",
                f"{batched:.2f} s",
                benchlib.milliseconds(batched / len(seeds)),
                "",
                "",
                "",
            ],
            [
                f"separate ({len(subset)} timed, x{len(seeds) / len(subset):g} extrapolated)",
                f"{separate:.1f} s",
                benchlib.milliseconds(separate_subset / len(subset)),
                f"{speedup:.1f}x",
                f">= {BATCH_TARGET:g}x",
                benchlib.verdict(ok),
            ],
        ],
    )
    print(
        f"of the batched time, the solve alone (integrate on ({len(seeds)}, 32, 3)): "
        f"{solve_only:.2f} s; the rest is the metrics and the initial clouds"
    )
    print(
        f"first {len(subset)} seeds, batched vs separate: same final cluster counts: "
        f"{same_counts}; max |min cosine at T difference| = {cosine_diff:.1e}"
    )
    print(load.describe())
    benchlib.report_result(
        f"sweep seeds batched / separate ({len(seeds)} seeds)",
        ok,
        f"{speedup:.1f}x (target >= {BATCH_TARGET:g}x; separate extrapolated from "
        f"{len(subset)} seeds; foreign load {_percent(load.share)})",
    )


def workers_scaling(args: argparse.Namespace) -> None:
    """Part 2: the local backend with 2 workers against 1 on a 40-point sweep."""
    sweep = plan_sweep(
        "clustering",
        [f"betas={','.join(map(str, BETAS))}", f"d={','.join(map(str, DIMENSIONS))}"],
        args.point_seeds,
        ["n=32", "T=10", "num_times=101", "normalizations=softmax", f"device={args.device}"],
    )
    points = len(sweep.points)
    with tempfile.TemporaryDirectory(prefix="attnflow-sweep-bench-") as root:
        runs = iter(range(10**6))

        def run(workers: int) -> None:
            run_sweep(sweep, Path(root) / f"run{next(runs)}", workers=workers)

        with benchlib.MachineLoad() as load:
            timings = benchlib.interleaved_times(
                {"1 worker": lambda: run(1), "2 workers": lambda: run(2)},
                repeats=args.repeats,
                warmup=0,
                device=args.device,
            )
    speedup = benchlib.ratio(timings, "1 worker", "2 workers")
    ok = speedup >= WORKERS_TARGET
    rows = []
    for name in ("1 worker", "2 workers"):
        seconds = benchlib.median(timings[name])
        rows.append([name, f"{seconds:.1f} s", f"{points / seconds:.2f} points/s"])
    rows[1] += [f"{speedup:.2f}x", f">= {WORKERS_TARGET:g}x", benchlib.verdict(ok)]
    rows[0] += ["", "", ""]
    benchlib.print_table(
        f"local backend, {points} points x {args.point_seeds} seeds (n = 32, T = 10, SA), "
        f"median of {args.repeats} interleaved rounds; each round's times: "
        + ", ".join(f"{k}: {' '.join(f'{t:.1f}' for t in v)} s" for k, v in timings.items()),
        ["workers", "time", "throughput", "2 / 1", "target", "verdict"],
        rows,
    )
    print(load.describe())
    benchlib.report_result(
        f"sweep local backend 2 workers / 1 ({points} points)",
        ok,
        f"{speedup:.2f}x (target >= {WORKERS_TARGET:g}x; foreign load {_percent(load.share)})",
    )


def _percent(share: float | None) -> str:
    return "unknown" if share is None else f"{100 * share:.0f}%"


def main() -> None:
    """Parse the options and run both parts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    benchlib.add_common_args(parser, repeats=2, warmup=0)
    parser.add_argument("--seeds", type=int, default=1000, help="seeds of the batched solve")
    parser.add_argument("--subset", type=int, default=50, help="separate solves timed")
    parser.add_argument("--point-seeds", type=int, default=8, help="seeds per sweep point")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads in part 1 (0: torch's default)"
    )
    args = parser.parse_args()
    print(f"machine: {benchlib.machine_description(args.device)}")
    batched_vs_separate(args)
    workers_scaling(args)


if __name__ == "__main__":
    main()
