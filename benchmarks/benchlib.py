"""Shared helpers for the benchmark scripts: interleaved timing, machine load, tables, verdicts.

Timing method (used by every script): candidates are run in rounds, each round calling every
candidate once in a rotated order, after a few warm-up calls. A reported time is the median over
rounds, and a reported ratio is the median over rounds of the per-round ratio, so that slow drifts
of the machine (other tenants, frequency changes) hit candidate and reference alike.
``torch.set_num_threads`` is left at its default.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

import torch


def add_common_args(parser: argparse.ArgumentParser, *, repeats: int, warmup: int) -> None:
    """Options every script takes: --device, --repeats (rounds), --warmup (calls per candidate)."""
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--repeats", type=int, default=repeats, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=warmup, help="untimed calls per candidate")


def synchronize(device: torch.device | str) -> None:
    """Wait for queued kernels on ``device`` (a no-op on CPU) so that wall time covers them."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def interleaved_times(
    candidates: dict[str, Callable[[], object]],
    *,
    repeats: int,
    warmup: int,
    device: torch.device | str = "cpu",
) -> dict[str, list[float]]:
    """Wall-clock seconds of each candidate in each of ``repeats`` rounds (order rotated)."""
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    synchronize(device)
    names = list(candidates)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            synchronize(device)
            start = time.perf_counter()
            candidates[name]()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return times


def median(values: Sequence[float]) -> float:
    """The median of ``values``."""
    return statistics.median(values)


def ratio(times: dict[str, list[float]], candidate: str, reference: str) -> float:
    """Median over rounds of time(candidate) / time(reference), both measured in the same round."""
    return median([c / r for c, r in zip(times[candidate], times[reference], strict=True)])


class MachineLoad:
    """Share of the machine's CPU time used by *other* processes while the block runs (Linux).

    Reads the busy jiffies of /proc/stat before and after and subtracts this process's own CPU
    time (and that of its waited-for children). ``share`` is None where /proc/stat is missing.
    """

    def __enter__(self) -> MachineLoad:
        self._stat = _proc_stat()
        self._own = _own_cpu_seconds()
        self._wall = time.perf_counter()
        self.share: float | None = None
        return self

    def __exit__(self, *exc: object) -> None:
        stat = _proc_stat()
        if stat is None or self._stat is None:
            return
        tick = os.sysconf("SC_CLK_TCK")
        busy = (stat[0] - self._stat[0]) / tick
        total = (stat[1] - self._stat[1]) / tick
        own = _own_cpu_seconds() - self._own
        if total > 0:
            self.share = max(0.0, busy - own) / total

    def describe(self) -> str:
        """One line for the report."""
        if self.share is None:
            return "other processes' CPU load: unknown (no /proc/stat)"
        return f"other processes' CPU load during the run: {100 * self.share:.0f}% of the machine"


def other_load(seconds: float) -> float | None:
    """Share of the machine's CPU used by other processes over the next ``seconds``."""
    with MachineLoad() as load:
        time.sleep(seconds)
    return load.share


def wait_for_quiet(threshold: float, max_wait: float) -> float | None:
    """Sleep until other processes use less than ``threshold`` of the CPU over one second.

    Gives up after ``max_wait`` seconds. Returns the last load seen (None off Linux).
    """
    deadline = time.monotonic() + max_wait
    share = other_load(1.0)
    while share is not None and share >= threshold and time.monotonic() < deadline:
        share = other_load(1.0)
    return share


def add_isolation_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``run_isolated``: --max-load, --quiet-wait, --retries."""
    parser.add_argument(
        "--max-load",
        type=float,
        default=0.15,
        help="rerun a worker process when other processes used more than this share of the CPU",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=300.0,
        help="seconds to wait, before each worker, for the machine to be quiet",
    )
    parser.add_argument("--retries", type=int, default=3, help="reruns of a disturbed worker")


def run_isolated(command: list[str], args: argparse.Namespace, label: str) -> dict:
    """Run a worker process whose last stdout line is JSON with a "load" field; return it.

    Before each attempt wait (up to ``args.quiet_wait`` s) for other processes to use less than
    ``args.max_load`` of the CPU; rerun (up to ``args.retries`` times) when they used more than
    that during the attempt. The returned dict gets "attempts" (how many runs it took) and
    "disturbed" (True if even the last attempt was above ``args.max_load``).
    """
    result: dict = {}
    for attempt in range(1, args.retries + 2):
        before = wait_for_quiet(args.max_load, args.quiet_wait)
        note = "" if before is None else f" (machine load before: {100 * before:.0f}%)"
        print(f"{label}, attempt {attempt}{note} ...", flush=True)
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"worker process failed: {' '.join(command)}\n{done.stderr}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        share = result.get("load")
        result["attempts"] = attempt
        result["disturbed"] = share is not None and share > args.max_load
        if not result["disturbed"]:
            break
        print(f"  other processes used {100 * share:.0f}% of the CPU during it: rerun", flush=True)
    return result


def describe_loads(results: Sequence[dict]) -> str:
    """One line on the machine load seen by the kept worker processes."""
    parts = []
    for r in results:
        share = r.get("load")
        text = "?" if share is None else f"{100 * share:.0f}%"
        if r.get("attempts", 1) > 1:
            text += f" (attempt {r['attempts']})"
        if r.get("disturbed"):
            text += " DISTURBED"
        parts.append(text)
    return "other processes' CPU load during each kept worker process: " + ", ".join(parts)


def _proc_stat() -> tuple[int, int] | None:
    """(busy, total) jiffies summed over all CPUs, or None off Linux."""
    try:
        with open("/proc/stat") as handle:
            fields = [int(value) for value in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def _own_cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def machine_description(device: torch.device | str) -> str:
    """Torch version, thread count, CPU (or GPU) name, in one line."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    text = (
        f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, "
        f"{os.cpu_count()} CPUs ({cpu})"
    )
    if torch.device(device).type == "cuda":
        text += f", GPU {torch.cuda.get_device_name(device)}"
    return text


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain-text (and Markdown-compatible) table."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def report_result(target: str, ok: bool, measured: str) -> None:
    """One machine-readable summary line: ``RESULT <PASS|FAIL> <target>: <measured>``."""
    print(f"RESULT {verdict(ok)} {target}: {measured}")


def milliseconds(seconds: float) -> str:
    """Seconds formatted as milliseconds."""
    return f"{1e3 * seconds:.2f} ms"
