"""A finished sweep's table, summarised over seeds as it is read (what ``attnflow plot phase`` and
the phase-diagram scenario draw from).

The journal is read a point (one line) at a time. Each point's rows are grouped into cells: rows
with equal values in every key column but the seed. Per cell and metric column only a
``ColumnSummary`` is kept: how many seeds, how many defined (non-null) values, their mean m and
standard error of the mean s / sqrt(k) (s the sample standard deviation of the k defined values,
0 for k = 1), and whether every defined value is 0 or 1. So memory grows with the number of
cells and columns, not with seeds: the paper's grid (450 points x 2048 seeds, a 450 MB journal)
is 450 cells. The time series the points kept are held as float arrays (null as NaN).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scenarios.harness import sweep
from scenarios.harness.config import ConfigError, config_to_dict, format_value
from scenarios.harness.registry import get_scenario

TIME_AXIS = "t"
"""The key of the output times in a kept time series."""


@dataclass(frozen=True)
class ColumnSummary:
    """One metric column over one cell's seeds; None values are undefined and left out."""

    seeds: int
    defined: int
    mean: float
    """Mean of the defined values; NaN when none is defined."""
    error: float
    """Standard error of that mean (sample standard deviation / sqrt(defined)); 0 for one
    defined value, NaN for none."""
    binary: bool
    """Every defined value is 0 or 1 (a 0/1 column, whose mean is a fraction of seeds)."""

    @property
    def undefined(self) -> bool:
        """Some seed has no value."""
        return self.defined < self.seeds


@dataclass(frozen=True)
class Cell:
    """The seeds of a sweep that share every key value but the seed."""

    keys: dict[str, object]
    columns: dict[str, ColumnSummary | None]
    """Per metric column its summary, None for a column with a non-numeric value."""


@dataclass(frozen=True)
class SweepResults:
    """A sweep's spec, its cells (points in grid order) and the time series its points kept."""

    directory: Path
    spec: dict
    key_columns: tuple[str, ...]
    metric_columns: tuple[str, ...]
    finished_points: int
    """The points in the journal (fewer than ``grid_points`` for an interrupted sweep)."""
    cells: tuple[Cell, ...]
    series: tuple[dict[str, object], ...] = ()
    """Per point and run: its key values, ``t`` and each series' values at those times (float
    arrays)."""

    @property
    def series_names(self) -> tuple[str, ...]:
        """The time series the points kept (empty if none)."""
        if not self.series:
            return ()
        return tuple(k for k in self.series[0] if k not in self.key_columns and k != TIME_AXIS)

    @property
    def grid_points(self) -> int:
        """The points of the whole sweep: the product of its grids' value counts."""
        return math.prod(len(values) for values in self.spec["grid"].values())

    @property
    def seed_count(self) -> int:
        """Seeds per point."""
        return int(self.spec["seeds"]["count"])

    def settings(self) -> str:
        """The shared config values a user changed from the scenario's sweep starting point."""
        declared = get_scenario(self.spec["scenario"])
        start = config_to_dict(declared.config()) | dict(declared.sweep.defaults)
        start = {
            key: list(value) if isinstance(value, tuple) else value for key, value in start.items()
        }
        changed = [
            f"{key} = {format_value(value)}"
            for key, value in self.spec["config"].items()
            if start.get(key) != value
        ]
        return ", ".join(changed)


def load_results(directory: Path) -> SweepResults:
    """Read ``sweep.json`` and the journal a point at a time into cells (points in grid order);
    ConfigError if it is not a sweep or has no finished point."""
    directory = Path(directory)
    spec = sweep.read_spec(directory)
    points: dict[int, tuple[list[Cell], list[dict[str, object]]]] = {}
    keys: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    for index, entry in sweep.journal_entries(directory):
        if not points:
            first = entry["rows"][0]
            keys = tuple(key for key in spec["key_columns"] if key in first)
            metrics = tuple(key for key in first if key not in keys)
        runs = [{**entry["point"], **_as_arrays(run, keys)} for run in entry.get("series", ())]
        points[index] = (_point_cells(entry["rows"], keys, metrics), runs)
    if not points:
        raise ConfigError(f"the sweep in {str(directory)!r} has no finished points yet")
    cells = tuple(cell for index in sorted(points) for cell in points[index][0])
    series = tuple(run for index in sorted(points) for run in points[index][1])
    return SweepResults(directory, spec, keys, metrics, len(points), cells, series)


def summarize(values: Sequence[object]) -> ColumnSummary | None:
    """The summary of one column over a cell's seeds (booleans count as 0 and 1), or None if a
    value is neither a number nor null."""
    if not all(value is None or isinstance(value, int | float) for value in values):
        return None
    defined = np.array([value for value in values if value is not None], dtype=float)
    if defined.size == 0:
        return ColumnSummary(len(values), 0, math.nan, math.nan, binary=True)
    error = float(defined.std(ddof=1) / math.sqrt(defined.size)) if defined.size > 1 else 0.0
    binary = bool(np.isin(defined, (0.0, 1.0)).all())
    return ColumnSummary(len(values), int(defined.size), float(defined.mean()), error, binary)


def distinct_values(points: Iterable[Mapping[str, object]], key: str) -> list[object]:
    """The distinct values of a key: sorted if numbers, else in order of appearance."""
    values = list(dict.fromkeys(point[key] for point in points))
    return sorted(values) if all(is_real(v) for v in values) else values


def _point_cells(
    rows: list[dict[str, object]], keys: Sequence[str], metrics: Sequence[str]
) -> list[Cell]:
    """A point's rows grouped by every key but the seed, each group summarised per metric."""
    cell_keys = [key for key in keys if key != "seed"]
    groups: dict[tuple, list[dict[str, object]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[key] for key in cell_keys), []).append(row)
    return [
        Cell(
            dict(zip(cell_keys, values, strict=True)),
            {name: summarize([row[name] for row in group]) for name in metrics},
        )
        for values, group in groups.items()
    ]


def _as_arrays(run: dict[str, object], keys: Sequence[str]) -> dict[str, object]:
    """A kept run with its times and series as float arrays (null as NaN)."""
    return {
        name: value
        if name in keys
        else np.array([math.nan if v is None else v for v in value], dtype=float)
        for name, value in run.items()
    }


def is_real(value: object) -> bool:
    """An int or float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)
