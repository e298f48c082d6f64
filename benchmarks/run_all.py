"""Run every benchmark (attention kernels, memory, ensembles, momentum steps, sweeps); summarize.

Each script runs as its own process, with its output shown as it comes; the summary repeats
their ``RESULT`` lines. ``--quick`` shrinks every problem for a smoke test of the scripts: its
verdicts say nothing about the targets, which are stated for the full sizes.

Run: ``python benchmarks/run_all.py [--device cpu] [--quick]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS: list[tuple[str, list[str], list[str]]] = [
    ("attention.py", [], ["--n", "1024", "--repeats", "3", "--processes", "1"]),
    ("short_attention.py", [], ["--keys", "8", "32", "--dims", "8", "--repeats", "2"]),
    ("memory.py", [], ["--n", "8192"]),
    ("ensemble.py", [], ["--systems", "16", "--repeats", "1"]),
    ("accelerated.py", [], ["--n", "1024", "--repeats", "3"]),
    ("accelerated.py", ["--manifold", "sphere"], ["--n", "1024", "--repeats", "3"]),
    ("hamiltonian.py", [], ["--n", "256", "--repeats", "3"]),
    ("sweep.py", [], ["--seeds", "64", "--subset", "8", "--point-seeds", "2", "--repeats", "1"]),
    (
        "mean_field.py",
        ["--threads", "1"],
        ["--n", "100000", "--steps", "100", "--exact-n", "8192", "--grid-steps", "1000"],
    ),
]
"""(script, its arguments, extra arguments under --quick), run in this order."""


def main() -> None:
    """Run the scripts one after the other and print the collected RESULT lines."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--quick", action="store_true", help="small sizes, smoke test only")
    args = parser.parse_args()
    results: list[str] = []
    failed: list[str] = []
    for script, script_args, quick_args in RUNS:
        command = [sys.executable, str(HERE / script), *script_args, "--device", args.device]
        if args.quick:
            command += quick_args
        print(f"\n===== {' '.join(command[1:])}", flush=True)
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
            assert process.stdout is not None
            for line in process.stdout:
                print(line, end="", flush=True)
                if line.startswith("RESULT "):
                    results.append(line.rstrip())
        if process.returncode != 0:
            failed.append(script)
    note = " (--quick: smoke test, not the targets' sizes)" if args.quick else ""
    print(f"\n===== summary{note}")
    for line in results:
        print(line)
    for script in failed:
        print(f"ERROR {script} exited with an error")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
