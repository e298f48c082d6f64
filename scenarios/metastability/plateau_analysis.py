"""Plateaus of a cluster-count series: where the count holds over a factor of time."""

from __future__ import annotations

import numpy as np


def plateaus(times: np.ndarray, counts: np.ndarray, factor: float) -> list[tuple[int, int]]:
    """Every plateau of the series: maximal runs a..b of consecutive indices with times[a] > 0,
    counts constant on a..b, and times[b] >= factor * times[a]; as (a, b), in time order."""
    found = []
    start = 0
    for index in range(1, len(counts) + 1):
        if index < len(counts) and counts[index] == counts[start]:
            continue
        first = start if times[start] > 0 else start + 1  # the run's positive times
        if first < index and times[index - 1] >= factor * times[first]:
            found.append((first, index - 1))
        start = index
    return found


def first_plateau(times: np.ndarray, counts: np.ndarray, factor: float) -> tuple[int, int] | None:
    """The earliest plateau (``plateaus``), or None if the count never holds a factor of time."""
    found = plateaus(times, counts, factor)
    return found[0] if found else None
