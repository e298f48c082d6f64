"""Peak resident memory of one field evaluation at n = 65536, d = 3 (issue #2).

Each case runs in a fresh Python process and reports that process's peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) after making the input x (uniform on S^{d-1},
batch 1, float32, beta = 1) and doing the work of the case:

* ``baseline``: only ``import torch`` (this script imports nothing heavier) and make x: the
  reference, what any script pays;
* ``SA softmax``: one ``SelfAttention(d)(t, x)``, after one warm-up call on the first 1024
  tokens (which loads the kernels' code, a fixed cost of a few tens of MiB for some kernels);
* ``SA uniform``: one ``SelfAttention(d, normalization="uniform")(t, x)`` (fused path);
* ``streaming kernel``: one ``dynamics.streaming_attention(x, x, x)``, the kernel the
  uniform path uses when a derivative is tracked (for information, no target).

Target: peak RSS under 1.5 GiB for SA softmax (and the uniform path, reported alongside); the
dense n x n float32 matrix alone would take n^2 * 4 bytes = 16 GiB. On CUDA the peak of
``torch.cuda.max_memory_allocated`` is reported as well. The evaluation's wall time is printed
for information (one call after a warm-up call at n = 1024, no repeats).

Run: ``python benchmarks/memory.py [--n 65536] [--d 3] [--device cpu]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import benchlib
import torch

CASES = ("baseline", "SA softmax", "SA uniform", "streaming kernel")
TARGET_BYTES = 1.5 * 2**30
TARGETED = ("SA softmax", "SA uniform")


def peak_rss_bytes() -> int:
    """This process's peak resident set size in bytes (ru_maxrss is KiB on Linux, B on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def child(case: str, n: int, d: int, device: str) -> None:
    """Do one case in this (fresh) process and print one JSON line."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1, n, d, generator=generator)
    x = (x / torch.linalg.vector_norm(x, dim=-1, keepdim=True)).to(device)
    seconds = 0.0
    if case != "baseline":
        from dynamics import SelfAttention, streaming_attention

        t = torch.zeros((), device=device)
        normalization = "uniform" if case == "SA uniform" else "softmax"
        field = SelfAttention(d, normalization=normalization)

        def work(cloud: torch.Tensor) -> object:
            if case == "streaming kernel":
                c4 = cloud.reshape(1, 1, *cloud.shape[-2:])
                return streaming_attention(c4, c4, c4, scale=1.0)
            return field(t, cloud)

        work(x[:, :1024])  # warm-up: loads the kernels' code and lazy state once
        benchlib.synchronize(device)
        start = time.perf_counter()
        out = work(x)
        benchlib.synchronize(device)
        seconds = time.perf_counter() - start
        del out
    gpu_peak = torch.cuda.max_memory_allocated() if torch.device(device).type == "cuda" else None
    print(json.dumps({"rss": peak_rss_bytes(), "seconds": seconds, "gpu_peak": gpu_peak}))


def main() -> None:
    """Run every case in its own process and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--n", type=int, default=65536)
    parser.add_argument("--d", type=int, default=3)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--child", choices=CASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.n, args.d, args.device)
        return
    results = {}
    for case in args.cases:
        print(f"{case} ...", flush=True)
        command = [
            sys.executable,
            __file__,
            "--child",
            case,
            "--n",
            str(args.n),
            "--d",
            str(args.d),
            "--device",
            args.device,
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"case {case!r} failed:\n{done.stderr}")
        results[case] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"machine: {benchlib.machine_description(args.device)}")
    dense = args.n**2 * 4
    baseline = results.get("baseline", {}).get("rss")
    rows = []
    for case, result in results.items():
        rss = result["rss"]
        extra = "" if baseline is None or case == "baseline" else f"{(rss - baseline) / 2**20:+.0f}"
        target, verdict = "", ""
        if case in TARGETED:
            ok = rss < TARGET_BYTES
            target, verdict = "< 1536 MiB", benchlib.verdict(ok)
            benchlib.report_result(
                f"peak RSS, {case}, n={args.n}, d={args.d}", ok, f"{rss / 2**20:.0f} MiB"
            )
        row = [
            case,
            f"{rss / 2**20:.0f}",
            extra,
            f"{result['seconds']:.2f} s" if case != "baseline" else "",
        ]
        if args.device != "cpu":
            row.append(f"{(result['gpu_peak'] or 0) / 2**20:.0f}")
        rows.append([*row, target, verdict])
    headers = ["case", "peak RSS (MiB)", "over baseline (MiB)", "eval time"]
    if args.device != "cpu":
        headers.append("GPU peak (MiB)")
    benchlib.print_table(
        f"one evaluation, n={args.n}, d={args.d}, float32, {args.device}, each in a fresh process "
        f"(dense n x n float32 matrix: {dense / 2**30:.2f} GiB)",
        [*headers, "target", "verdict"],
        rows,
    )


if __name__ == "__main__":
    main()
