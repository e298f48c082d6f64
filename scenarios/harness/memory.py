"""The memory a run may take: a scenario's estimate of its peak, held against this machine's.

A scenario declares ``memory(config) -> bytes`` (``scenarios.harness.Scenario``); a run or a sweep
whose estimate exceeds the budget is refused before any work with one line that names the
estimate, the budget and how to change either. The budget is the machine's physical memory, or
``ATTNFLOW_MEMORY_GB`` gigabytes (GiB) where that environment variable is set.
"""

from __future__ import annotations

import math
import os

from scenarios.harness.config import ConfigError

BUDGET_VARIABLE = "ATTNFLOW_MEMORY_GB"
"""The environment variable that overrides the memory budget, in GiB."""

GIB = 2**30


def memory_budget() -> int:
    """Bytes a run may take: ``ATTNFLOW_MEMORY_GB`` GiB if set, else the physical memory."""
    text = os.environ.get(BUDGET_VARIABLE)
    if text is None:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{BUDGET_VARIABLE}={text!r} is not accepted; expected a number > 0")
    return int(value * GIB)


def check_memory(what: str, needed: float) -> None:
    """Refuse ``what`` (e.g. "scenario 'clustering' with n=1e+21") when ``needed`` bytes exceed
    the budget; ConfigError names both and the two ways out."""
    budget = memory_budget()
    if needed > budget:
        raise ConfigError(
            f"{what} needs about {needed / GIB:.3g} GiB of memory, more than the budget of "
            f"{budget / GIB:.3g} GiB (this machine's memory, or {BUDGET_VARIABLE}); make the run "
            f"smaller, or set {BUDGET_VARIABLE} to allow more"
        )
