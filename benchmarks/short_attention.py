"""Softmax attention over few keys: ``dynamics.short_attention`` against the fused call.

For a batch of S clouds of n unit vectors in R^d (S n^2 = 2^21 logits per call, beta = 4), it
times, interleaved in one process (``benchlib``):

* ``fused``: a bare ``torch.nn.functional.scaled_dot_product_attention`` on (S, 1, n, d), the
  reference of every ratio (the kernel ``dynamics.softmax_attention`` calls over many keys);
* ``short``: ``dynamics.short_attention`` (a tile of ``TILE_ELEMENTS`` logits at a time, shifted
  and exponentiated in place);
* ``softmax``: ``torch.softmax(beta x x^T) x`` by two ``bmm`` (for information: float64's
  ``softmax`` costs about three exponentials per logit).

With ``--backward`` every candidate also computes the gradient of sum(out^2) by autograd (where
``dynamics.softmax_attention`` takes the fused kernel). The verdict: at every size, the kernel
``dynamics.short_attention_serves`` picks takes at most ``--margin`` (25%) longer than the faster
of short and fused (a tie near the crossover costs little either way).

Run: ``python benchmarks/short_attention.py [--dims 2 8 16 32 128] [--keys 8 16 32 64 128]
[--backward] [--threads 1]``.
"""

from __future__ import annotations

import argparse

import benchlib
import torch
import torch.nn.functional as F

from dynamics import short_attention, short_attention_serves, uniform_sphere

LOGITS = 1 << 21
BETA = 4.0


def measure(args: argparse.Namespace, dtype: torch.dtype, n: int, d: int) -> list[object]:
    """One table row: times per cloud and ratios at (dtype, n, d)."""
    clouds = max(1, LOGITS // (n * n))
    generator = torch.Generator().manual_seed(n * d)
    x = uniform_sphere(n, d, batch_shape=(clouds, 1), generator=generator, dtype=dtype)
    x.requires_grad_(args.backward)

    def timed(attention):
        def run() -> None:
            out = attention()
            if args.backward:
                torch.autograd.grad(out.square().sum(), x)

        return run

    candidates = {
        "fused": timed(lambda: F.scaled_dot_product_attention(x, x, x, scale=BETA)),
        "short": timed(lambda: short_attention(x, x, x, scale=BETA)),
        "softmax": timed(lambda: torch.softmax(BETA * x @ x.mT, -1) @ x),
    }
    wall = benchlib.interleaved_times(candidates, repeats=args.repeats, warmup=args.warmup)
    short_ratio = benchlib.ratio(wall, "short", "fused")
    serves = short_attention_serves(x, x, x, None)
    cost = short_ratio / min(short_ratio, 1.0) if serves else 1.0 / min(short_ratio, 1.0)
    return [
        str(dtype).removeprefix("torch."),
        n,
        d,
        clouds,
        f"{1e6 * benchlib.median(wall['fused']) / clouds:.2f}",
        f"{short_ratio:.2f}",
        f"{benchlib.ratio(wall, 'softmax', 'fused'):.2f}",
        "short" if serves else "fused",
        f"{cost:.2f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 8, 16, 32, 128])
    parser.add_argument("--keys", type=int, nargs="+", default=[8, 16, 32, 64, 128])
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--backward", action="store_true", help="time forward and backward")
    parser.add_argument(
        "--margin", type=float, default=0.25, help="the choice may be 1 + margin times the faster"
    )
    parser.add_argument("--threads", type=int, default=1)
    benchlib.add_common_args(parser, repeats=5, warmup=1)
    args = parser.parse_args()
    if args.device != "cpu":
        parser.error("short_attention serves CPU tensors only; --device must be cpu")
    torch.set_num_threads(args.threads)
    print(benchlib.machine_description(args.device))
    rows = []
    with benchlib.MachineLoad() as load:
        for name in args.dtypes:
            for n in args.keys:
                for d in args.dims:
                    rows.append(measure(args, getattr(torch, name), n, d))
                    print(" | ".join(str(cell) for cell in rows[-1]), flush=True)
    mode = "forward and backward" if args.backward else "forward"
    benchlib.print_table(
        f"{mode}, {args.threads} thread(s), S n^2 = {LOGITS} logits per call; ratios: median "
        "of per-round ratios to fused",
        [
            "dtype",
            "n",
            "d",
            "S",
            "us fused / cloud",
            "short / fused",
            "softmax / fused",
            "chosen",
            "choice",
        ],
        rows,
    )
    print(load.describe())
    worst = max(rows, key=lambda row: float(row[-1]))
    benchlib.report_result(
        f"the kernel short_attention_serves picks is within {1 + args.margin:g}x of the faster, "
        f"{mode}",
        float(worst[-1]) <= 1 + args.margin,
        f"worst {worst[-1]}x at {worst[0]} n={worst[1]} d={worst[2]}",
    )


if __name__ == "__main__":
    main()
