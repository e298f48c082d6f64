"""Mean-field solvers on the circle and the exact field at scale (issue #3).

Each case runs in a fresh Python process that reports its wall time, its peak resident set size
(``memory.peak_rss_bytes``) and the CPU share other processes took meanwhile (``benchlib``):

* ``PIC``: ``solvers.particle_in_cell_circle`` with n = 10^6 particles (float64, von Mises
  kappa = 2 start, SA, beta = 1) on M = 1024 cells, 1000 Heun (rk2) steps of 0.01, two output
  times. Target: under 60 s. Memory O(n + M): also run at n / 10, and the peak RSS above the
  ``baseline`` process (torch imported, the angles made) must grow in proportion to n, at most
  ``BYTES_PER_PARTICLE`` bytes per particle (an n x M or n^2 intermediate would be 8 KiB or more);
* ``exact``: one ``SelfAttention(3)`` (softmax) evaluation at n = 10^5, d = 3, float32, the case
  "SA softmax" of ``benchmarks/memory.py`` run by that script's worker. Target: peak RSS under
  1.5 GiB (the dense n x n matrix alone would take 37 GiB);
* ``grid``: ``solvers.solve_vlasov_circle`` (van Leer, SSP-RK3) on M = 4096 cells, 10^4 steps,
  SA, beta = 1, from a von Mises density. SA velocities satisfy |v| <= 1, so the CFL step
  0.4 h / max|v| is at least 0.4 h; asking for outputs every 0.2 h makes every step exactly one
  output interval: 10^4 steps, solved in chunks of 1000 outputs (each chunk restarting from the
  last state) to keep the stored states small. Target: under 20 s.

``--threads`` sets ``torch.set_num_threads`` in the workers (0: torch's default). Run:
``python benchmarks/mean_field.py [--n 1000000] [--steps 1000] [--exact-n 100000]
[--grid-steps 10000] [--threads 0]``.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import benchlib
import torch
from memory import peak_rss_bytes

PIC_SECONDS = 60.0
GRID_SECONDS = 20.0
EXACT_BYTES = 1.5 * 2**30
BYTES_PER_PARTICLE = 400
"""O(n) memory: the PIC state, its four Runge-Kutta temporaries and index buffers are a few tens
of float64 or int64 arrays of length n (8 bytes each); 400 bytes leaves room for 50 of them."""

CHUNK = 1000
"""Grid steps per ``solve_vlasov_circle`` call."""


def von_mises_angles(n: int) -> torch.Tensor:
    """n angles of the von Mises law, kappa = 2, mean 0 (float64, seed 0)."""
    from dynamics import von_mises_fisher

    generator = torch.Generator().manual_seed(0)
    x = von_mises_fisher(n, [1.0, 0.0], 2.0, generator=generator, dtype=torch.float64)
    return torch.atan2(x[:, 1], x[:, 0])


def pic_worker(n: int, steps: int, cells: int) -> dict:
    """``steps`` rk2 steps of PIC on n particles (the ``PIC`` case), after a warm-up on 1000;
    n = 0: the baseline (the same imports and warm-up, no large input)."""
    from solvers import particle_in_cell_circle

    theta = von_mises_angles(max(n, 1000))
    particle_in_cell_circle(theta[:1000], [0.0, 0.02], 1.0, cells=cells, step_size=0.01)
    if n == 0:
        return {"seconds": 0.0}
    start = time.perf_counter()
    paths = particle_in_cell_circle(theta, [0.0, 0.01 * steps], 1.0, cells=cells, step_size=0.01)
    seconds = time.perf_counter() - start
    moved = float((paths[-1] - paths[0]).abs().max())
    return {"seconds": seconds, "moved": moved}


def grid_worker(cells: int, steps: int) -> dict:
    """``steps`` SSP-RK3 steps of the grid solver on ``cells`` cells (the ``grid`` case)."""
    from solvers import solve_vlasov_circle

    h = 2 * math.pi / cells
    centres = h * (torch.arange(cells, dtype=torch.float64) + 0.5)
    rho = torch.exp(2.0 * (torch.cos(centres) - 1))
    rho = rho / (rho.sum() * h)
    dt = 0.2 * h  # below the CFL step 0.4 h / max|v| >= 0.4 h: one step per output interval
    solve_vlasov_circle(rho, [0.0, dt], 1.0)  # warm-up
    start = time.perf_counter()
    done = 0
    while done < steps:
        count = min(CHUNK, steps - done)
        times = dt * torch.arange(done, done + count + 1, dtype=torch.float64)
        rho = solve_vlasov_circle(rho, times, 1.0)[-1]
        done += count
    seconds = time.perf_counter() - start
    mass = float(rho.sum() * h)
    return {"seconds": seconds, "mass_error": abs(mass - 1), "min_density": float(rho.min())}


def child(args: argparse.Namespace) -> None:
    """Run one case in this (fresh) process and print one JSON line."""
    if args.threads:
        torch.set_num_threads(args.threads)
    with benchlib.MachineLoad() as load:
        if args.child == "grid":
            result = grid_worker(args.grid_cells, args.grid_steps)
        else:
            result = pic_worker(args.child_n, args.steps, args.cells)
    result.update(rss=peak_rss_bytes(), load=load.share, threads=torch.get_num_threads())
    print(json.dumps(result))


def run_child(command: list[str], label: str) -> dict:
    """Run a worker process and return its last stdout line as JSON."""
    print(f"{label} ...", flush=True)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"case {label!r} failed: {' '.join(command)}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Run every case in its own process, print the tables and the RESULT lines."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu (other devices: skipped)")
    parser.add_argument("--n", type=int, default=1_000_000, help="PIC particles")
    parser.add_argument("--steps", type=int, default=1000, help="PIC rk2 steps")
    parser.add_argument("--cells", type=int, default=1024, help="PIC cells")
    parser.add_argument("--exact-n", type=int, default=100_000, help="exact field: tokens")
    parser.add_argument("--d", type=int, default=3, help="exact field: dimension")
    parser.add_argument("--grid-cells", type=int, default=4096)
    parser.add_argument("--grid-steps", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=0, help="worker threads; 0: default")
    parser.add_argument("--child", choices=("pic", "grid"), help=argparse.SUPPRESS)
    parser.add_argument("--child-n", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.device != "cpu":
        print(f"skipped on --device {args.device}: this benchmark measures CPU time and RSS")
        return
    if args.child:
        child(args)
        return
    own = [sys.executable, __file__, "--threads", str(args.threads)]
    sizes = [f"--{key}={value}" for key, value in (("steps", args.steps), ("cells", args.cells))]
    pic = {
        n: run_child([*own, *sizes, "--child", "pic", "--child-n", str(n)], f"PIC n={n}")
        for n in (0, args.n // 10, args.n)
    }
    memory_script = str(Path(__file__).with_name("memory.py"))
    exact = {
        case: run_child(
            [
                sys.executable,
                memory_script,
                "--child",
                case,
                "--n",
                str(args.exact_n),
                "--d",
                str(args.d),
            ],
            f"exact {case}, n={args.exact_n}",
        )
        for case in ("baseline", "SA softmax")
    }
    grid_args = [f"--grid-cells={args.grid_cells}", f"--grid-steps={args.grid_steps}"]
    grid = run_child([*own, *grid_args, "--child", "grid"], f"grid M={args.grid_cells}")
    print(f"machine: {benchlib.machine_description(args.device)}")
    baseline = pic[0]["rss"]
    per_particle = {n: (pic[n]["rss"] - baseline) / n for n in (args.n // 10, args.n)}
    pic_ok = pic[args.n]["seconds"] < PIC_SECONDS
    memory_ok = max(per_particle.values()) < BYTES_PER_PARTICLE
    exact_rss = exact["SA softmax"]["rss"]
    exact_ok = exact_rss < EXACT_BYTES
    grid_ok = grid["seconds"] < GRID_SECONDS and grid["mass_error"] < 1e-12
    rows = [
        [
            f"PIC, n = {n:,}, {args.steps} rk2 steps, M = {args.cells}",
            f"{pic[n]['seconds']:.1f} s",
            f"{pic[n]['rss'] / 2**20:.0f} (+{(pic[n]['rss'] - baseline) / 2**20:.0f})",
            f"{per_particle[n]:.0f} B/particle",
            _load(pic[n]),
        ]
        for n in (args.n // 10, args.n)
    ]
    exact_extra = (exact_rss - exact["baseline"]["rss"]) / 2**20
    rows.append(
        [
            f"exact SelfAttention({args.d}), n = {args.exact_n:,}, one evaluation, float32",
            f"{exact['SA softmax']['seconds']:.1f} s",
            f"{exact_rss / 2**20:.0f} (+{exact_extra:.0f})",
            "",
            "?",
        ]
    )
    rows.append(
        [
            f"grid, M = {args.grid_cells}, {args.grid_steps} SSP-RK3 steps",
            f"{grid['seconds']:.1f} s",
            f"{grid['rss'] / 2**20:.0f}",
            f"mass error {grid['mass_error']:.1e}",
            _load(grid),
        ]
    )
    benchlib.print_table(
        f"mean-field solvers, each in a fresh process (PIC baseline: {baseline / 2**20:.0f} MiB)",
        ["case", "time", "peak RSS MiB (over baseline)", "note", "foreign load"],
        rows,
    )
    benchlib.report_result(
        f"PIC n={args.n}, {args.steps} steps, under {PIC_SECONDS:g} s",
        pic_ok,
        f"{pic[args.n]['seconds']:.1f} s ({pic[args.n]['threads']} threads)",
    )
    benchlib.report_result(
        f"PIC memory O(n + M): under {BYTES_PER_PARTICLE} B/particle at n={args.n // 10} and "
        f"{args.n}",
        memory_ok,
        ", ".join(f"{value:.0f}" for value in per_particle.values()),
    )
    benchlib.report_result(
        f"exact field peak RSS, n={args.exact_n}, d={args.d}, under 1536 MiB",
        exact_ok,
        f"{exact_rss / 2**20:.0f} MiB",
    )
    benchlib.report_result(
        f"grid M={args.grid_cells}, {args.grid_steps} steps, under {GRID_SECONDS:g} s",
        grid_ok,
        f"{grid['seconds']:.1f} s ({grid['threads']} threads)",
    )


def _load(result: dict) -> str:
    share = result.get("load")
    return "?" if share is None else f"{100 * share:.0f}%"


if __name__ == "__main__":
    main()
