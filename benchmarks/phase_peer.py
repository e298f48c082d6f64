"""The phase diagram's sweep point against the papers' own stepper, on identical clouds.

The public script of "A mathematical perspective on Transformers" (``phase-diagrams.py``) steps
SA on the sphere with Q = K = V = I by

    x <- normalize(x + eta softmax(beta x x^T) x),   round(T / eta) steps,

in float64, for a batch of independent clouds, and reads the fraction of pairs with
<x_i, x_j> > 0.999 at its checkpoints. ``script_point`` implements that stepper from this
description (the statistic reuses the Gram matrix the step forms anyway, so it costs the script
nothing; ``--span-etas``: also its plotdim statistic, an ``eigvalsh`` of that Gram matrix at each
checkpoint, the script's way to the span dimension attnflow streams beside the collisions);
attnflow's point is ``scenarios.clustering.sweep.observe_run``, what ``attnflow sweep clustering``
runs for one (normalization, beta) at its defaults (``SWEEP.defaults``: dopri5 with
per-system steps, every observable of the sweep streamed at the output times, span coordinates
when d > n).

Per d and beta, on the sweep's own initial clouds (``initial_clouds``: seeds 0..S-1), it times
attnflow and the script at each ``--etas`` interleaved in one process (``benchlib``), and compares
every seed's verdict "one cluster at T" (``dynamics.cluster_count`` at the sweep's cluster_tol
1e-2) with a tight reference (``solvers.solve_ensemble`` at ``--reference-rtol``). The script's
step adds the untangential output before normalising: for a token in a cluster of fraction f its
radial part is eta f, so a step advances the flow by about eta / (1 + eta f), and at eta = 0.1
its "T = 30" is t ~ 27.3 for clustered tokens.

    PYTHONPATH=. python benchmarks/phase_peer.py --dims 8 128 --seeds 256

``--device cuda`` runs both on a GPU (with ``--warmup 1``: one untimed call of each first).
"""

from __future__ import annotations

import argparse

import benchlib
import torch
from torch import Tensor

import dynamics
import solvers
from scenarios.clustering import ClusteringConfig
from scenarios.clustering.simulation import output_times
from scenarios.clustering.sweep import SWEEP, initial_clouds, observe_run
from scenarios.harness import keep_freed_memory


def script_point(
    x0: Tensor, beta: float, eta: float, horizon: float, checkpoints: int, *, span: bool = False
) -> tuple[Tensor, dict[str, Tensor]]:
    """The script's stepper on every cloud of x0 (S, n, d): the final clouds, and at
    ``checkpoints`` evenly spaced steps (checkpoints, S) the pair-collision fraction and, with
    ``span``, the number of eigenvalues of its Gram matrix above ``dynamics.SPAN_THRESHOLD``
    (``eigvalsh``, its plotdim statistic)."""
    steps = round(horizon / eta)
    record = set(torch.linspace(0, steps, checkpoints).round().long().tolist())
    n = x0.shape[-2]
    statistics: dict[str, list[Tensor]] = {"collisions": [], "span": []}
    x = x0
    for step in range(steps + 1):
        gram = torch.bmm(x, x.transpose(1, 2))
        if step in record:
            above = (gram > dynamics.COLLISION_COSINE).sum((1, 2)) - n
            statistics["collisions"].append(above / (n * (n - 1)))
            if span:
                eigenvalues = torch.linalg.eigvalsh(gram)
                statistics["span"].append((eigenvalues > dynamics.SPAN_THRESHOLD).sum(-1))
        if step == steps:
            break
        x = x + eta * torch.bmm(torch.softmax(beta * gram, -1), x)
        x = x / torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    return x, {name: torch.stack(values) for name, values in statistics.items() if values}


def single_cluster(x: Tensor, tol: float) -> Tensor:
    """Per cloud: 1 where ``dynamics.cluster_count`` finds one cluster."""
    return (dynamics.cluster_count(x, tol) == 1).int()


def measure(args: argparse.Namespace, d: int, beta: float) -> list[object]:
    """One table row: verdicts against the reference, wall times and ratios at (d, beta)."""
    tolerances = {} if args.rtol is None else {"rtol": args.rtol, "atol": args.rtol * 1e-2}
    config = ClusteringConfig(
        **{**SWEEP.defaults, **tolerances},
        n=args.n,
        d=d,
        T=args.horizon,
        num_times=args.times,
        betas=(beta,),
        dtype="float64",
        device=args.device,
    )
    x0 = initial_clouds(config, range(args.seeds))
    times = output_times(config)
    tight = solvers.solve_ensemble(
        dynamics.SelfAttention(d, beta=beta),
        x0,
        times[[0, -1]],
        rtol=args.reference_rtol,
        atol=args.reference_rtol * 1e-2,
    )[-1]
    reference = single_cluster(tight, config.cluster_tol)
    verdicts: dict[str, Tensor] = {}

    def attnflow() -> None:
        series = observe_run(config, "softmax", beta, x0, times, range(args.seeds))
        verdicts["attnflow"] = (series["clusters"][-1] == 1).int()

    def script(eta: float, span: bool = False):
        def run() -> None:
            final, _ = script_point(x0, beta, eta, args.horizon, args.times - 1, span=span)
            verdicts[script_name(eta, span)] = single_cluster(final, config.cluster_tol)

        return run

    candidates = {
        "attnflow": attnflow,
        **{script_name(eta): script(eta) for eta in args.etas},
        **{script_name(eta, True): script(eta, True) for eta in args.span_etas},
    }
    wall = benchlib.interleaved_times(
        candidates, repeats=args.repeats, warmup=args.warmup, device=args.device
    )
    row: list[object] = [d, f"{beta:g}", f"{float(reference.double().mean()):.3f}"]
    for name in candidates:
        agree = float((verdicts[name] == reference).double().mean())
        row += [f"{float(verdicts[name].double().mean()):.3f}", f"{agree:.3f}"]
        row.append(f"{benchlib.median(wall[name]):.2f}")
    row += [f"{benchlib.ratio(wall, 'attnflow', name):.2f}" for name in script_names(args)]
    return row


def script_name(eta: float, span: bool = False) -> str:
    """The table's name of the script at step ``eta`` (``+span``: with its plotdim statistic)."""
    return f"eta={eta:g}" + ("+span" if span else "")


def script_names(args: argparse.Namespace) -> list[str]:
    """The script candidates of a run, in the table's order."""
    return [script_name(eta) for eta in args.etas] + [
        script_name(eta, True) for eta in args.span_etas
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=256)
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--dims", type=int, nargs="+", default=[8, 128])
    parser.add_argument("--betas", type=float, nargs="+", default=[1.0, 3.0, 5.0, 7.0, 9.0])
    parser.add_argument("--etas", type=float, nargs="+", default=[0.1, 0.01])
    parser.add_argument(
        "--span-etas",
        type=float,
        nargs="*",
        default=[0.1],
        help="steps at which the script is also timed with its span statistic (plotdim)",
    )
    parser.add_argument("--horizon", type=float, default=30.0)
    parser.add_argument("--times", type=int, default=201)
    parser.add_argument("--reference-rtol", type=float, default=1e-10)
    parser.add_argument(
        "--rtol",
        type=float,
        default=None,
        help="attnflow's rtol (atol = rtol / 100); default: the sweep's",
    )
    benchlib.add_common_args(parser, repeats=1, warmup=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as a sweep worker does, for both candidates
    print(benchlib.machine_description(args.device))
    headers = ["d", "beta", "P ref"]
    for name in ["attnflow", *script_names(args)]:
        headers += [f"P {name}", f"agree {name}", f"s {name}"]
    headers += [f"attnflow / {name}" for name in script_names(args)]
    rows = []
    with benchlib.MachineLoad() as load:
        for d in args.dims:
            for beta in args.betas:
                rows.append(measure(args, d, beta))
                print(" | ".join(str(cell) for cell in rows[-1]), flush=True)
    benchlib.print_table(
        f"S={args.seeds} n={args.n} T={args.horizon:g} float64 on {args.device}, "
        f"{args.threads} thread(s); "
        f"agree: share of seeds whose verdict equals the reference's (rtol "
        f"{args.reference_rtol:g}); ratios: median of per-round ratios",
        headers,
        rows,
    )
    print(load.describe())


if __name__ == "__main__":
    main()
