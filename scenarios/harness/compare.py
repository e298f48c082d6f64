"""Comparing two runs' ``metrics.json``: the same numbers to rounding, the same keys, the same
strings. Measurements of the machine (wall-clock timings, memory) differ from run to run and are
left out."""

from __future__ import annotations

import json
import math
from pathlib import Path

MEASUREMENT_KEYS = ("seconds",)
"""Keys whose values (and everything under them) are measurements of the machine; so is a key
ending in ``_seconds`` or ``_s`` (timings) or ``_mb`` (memory), except under ``parameters``."""

PARAMETERS = "parameters"
"""The run's config in ``metrics.json``: every key there is compared (``scalable_softmax_s`` is a
parameter, not a timing)."""


def is_measurement(key: str) -> bool:
    """Whether ``key`` names a measurement of the machine: a wall-clock timing or a memory size."""
    return key in MEASUREMENT_KEYS or key.endswith(("_seconds", "_s", "_mb"))


def metric_differences(
    before: object, after: object, *, rtol: float = 1e-6, atol: float = 1e-12, path: str = ""
) -> list[str]:
    """Every place where ``after`` differs from ``before``: a key present in one only, a string,
    bool or None that changed, or a number with |a - b| > atol + rtol |b| (measurements skipped).
    Each difference is one line naming its path, e.g. ``runs.softmax/beta=1.final_cluster_count``.
    """
    where = path or "(top)"
    if isinstance(before, dict) and isinstance(after, dict):

        def child(key: str) -> str:
            return f"{path}.{key}" if path else key

        parameters = path == PARAMETERS or path.startswith(f"{PARAMETERS}.")

        def kept(keys: set[str]) -> list[str]:
            return sorted(keys) if parameters else _unmeasured(keys)

        lines = [f"{child(key)}: only before" for key in kept(before.keys() - after.keys())]
        lines += [f"{child(key)}: only after" for key in kept(after.keys() - before.keys())]
        for key in kept(before.keys() & after.keys()):
            lines += metric_differences(
                before[key], after[key], rtol=rtol, atol=atol, path=child(key)
            )
        return sorted(lines)
    if isinstance(before, list) and isinstance(after, list):
        if len(before) != len(after):
            return [f"{where}: {len(before)} items before, {len(after)} after"]
        lines = []
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            lines += metric_differences(old, new, rtol=rtol, atol=atol, path=f"{path}[{index}]")
        return lines
    if _is_number(before) and _is_number(after):
        if math.isclose(before, after, rel_tol=rtol, abs_tol=atol):
            return []
        return [f"{where}: {before!r} before, {after!r} after"]
    return [] if before == after else [f"{where}: {before!r} before, {after!r} after"]


def compare_runs(before: Path, after: Path, *, rtol: float = 1e-6) -> list[str]:
    """``metric_differences`` of the ``metrics.json`` files in two run directories."""
    old = json.loads((Path(before) / "metrics.json").read_text(encoding="utf-8"))
    new = json.loads((Path(after) / "metrics.json").read_text(encoding="utf-8"))
    return metric_differences(old, new, rtol=rtol)


def _unmeasured(keys: set[str]) -> list[str]:
    return [key for key in keys if not is_measurement(key)]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
