"""Cost of a step of the Hamiltonian-attention steppers against the plain Euler layer (issue #8).

Measured, on ``HamiltonianAttention(d)`` (random Q, K, an SPD B) at n tokens in R^d, float32,
batch 1, in interleaved rounds (see ``benchlib``):

- ``gradient evaluation``: one call of ``field.gradients(x, p)``, i.e. (dH/dx, dH/dp) from one set
  of logits (what ``solvers.METHODS[...].evaluations`` counts);
- ``tao`` (4 evaluations) and ``presymplectic_euler`` (2 evaluations, dH/dx then dH/dp) steps of
  ``solvers.METHODS``;
- the reference ``plain Euler layer`` x + h SA(x), one evaluation of ``SelfAttention(d)`` (fused
  ``scaled_dot_product_attention``).

Targets: a step costs no more than its evaluation count predicts, within 1.3x:
time(step) <= 1.3 * evaluations * time(gradient evaluation). The ratio to the plain layer is
reported as measured, next to what the evaluation counts alone would predict.

Run: ``python benchmarks/hamiltonian.py [--n 1024] [--d 64] [--threads 1]``.
"""

from __future__ import annotations

import argparse

import benchlib
import torch

from dynamics import HamiltonianAttention, SelfAttention
from solvers import METHODS

TARGET = 1.3  # step / (evaluations x one gradient evaluation), at most
STEPPERS = ("tao", "presymplectic_euler")
EVALUATION = "gradient evaluation"
PLAIN = "plain Euler layer"


def _hamiltonian_field(d: int, generator: torch.Generator) -> HamiltonianAttention:
    """Q, K with entries N(0, 1/d); B = I + A A^T / d, symmetric positive definite."""
    query, key, a = (torch.randn(d, d, generator=generator) / d**0.5 for _ in range(3))
    value = torch.eye(d) + a @ a.T / d
    return HamiltonianAttention(d, query=query, key=key, value=value, c_log=3.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1024, help="tokens")
    parser.add_argument("--d", type=int, default=64, help="token dimension")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)"
    )
    benchlib.add_common_args(parser, repeats=15, warmup=2)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(args.n, args.d, generator=generator).to(args.device)
    p = (0.1 * torch.randn(args.n, args.d, generator=generator)).to(args.device)
    field = _hamiltonian_field(args.d, generator).to(args.device)
    attention = SelfAttention(args.d)
    t, h = torch.tensor(1.0, device=args.device), torch.tensor(0.05, device=args.device)
    candidates = {
        PLAIN: lambda: x + h * attention(t, x),
        EVALUATION: lambda: field.gradients(x, p),
    }
    for name in STEPPERS:
        stepper = METHODS[name].stepper
        candidates[name] = lambda stepper=stepper: stepper(field, t, (x, p), h)
    with torch.no_grad(), benchlib.MachineLoad() as load:
        times = benchlib.interleaved_times(
            candidates, repeats=args.repeats, warmup=args.warmup, device=args.device
        )
    print(benchlib.machine_description(args.device))
    print(load.describe())
    evaluation_vs_plain = benchlib.ratio(times, EVALUATION, PLAIN)
    rows = []
    for name in candidates:
        evaluations = METHODS[name].evaluations if name in METHODS else 1
        per_evaluation = benchlib.ratio(times, name, EVALUATION) / evaluations
        ok = per_evaluation <= TARGET if name in STEPPERS else None
        rows.append(
            [
                name,
                evaluations,
                benchlib.milliseconds(benchlib.median(times[name])),
                f"{benchlib.ratio(times, name, PLAIN):.2f}x",
                f"{per_evaluation:.3f}x" if name in METHODS else "",
                f"<= {TARGET}x" if ok is not None else "",
                "" if ok is None else benchlib.verdict(ok),
            ]
        )
    benchlib.print_table(
        f"one step, n={args.n}, d={args.d}, float32, {args.device}; {args.repeats} rounds; "
        f"one gradient evaluation = {evaluation_vs_plain:.2f}x the plain layer",
        [
            "candidate",
            "evaluations",
            "time",
            "vs plain layer",
            "vs evaluations x one evaluation",
            "target",
            "verdict",
        ],
        rows,
    )
    for name in STEPPERS:
        per_evaluation = benchlib.ratio(times, name, EVALUATION) / METHODS[name].evaluations
        benchlib.report_result(
            f"{name} step / ({METHODS[name].evaluations} x one gradient evaluation), "
            f"n={args.n}, d={args.d}",
            per_evaluation <= TARGET,
            f"{per_evaluation:.3f}x",
        )


if __name__ == "__main__":
    main()
