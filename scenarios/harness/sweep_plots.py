"""Figures from any sweep's table (``attnflow plot phase DIR ...``), drawn from its cells
(``scenarios.harness.sweep_results``: the rows summarised over seeds as the journal is read).

- ``--x KEY --y KEY --value NAME``: a heat map (phase diagram) of the mean over seeds of NAME on the
  grid of the two key columns' values, cells equally sized and labelled by value (every k-th
  cell, k in 1, 2, 5, 10, ..., when an axis has more than ``MAX_TICK_LABELS``), the mean written
  in each cell when there are few; saved as ``DIR/phase_NAME_X_Y.png/.pdf``.
- ``--x KEY --value NAME``: the mean over seeds against KEY, with a band of one standard error of
  the mean (sample standard deviation / sqrt(seeds)); saved as ``DIR/line_NAME_X.png/.pdf``.

- ``--x t --y KEY --value NAME``: a heat map over (t, KEY) of a time series the points kept (the
  journal's ``series``, e.g. the clustering sweep's ``single_cluster`` and
  ``pair_collision_fraction``: means over seeds at every output time); saved as
  ``DIR/phase_NAME_t_KEY.png/.pdf``.
- ``--x t --value NAME``: that series against t, one line per combination of the key columns'
  values; saved as ``DIR/line_NAME_t.png/.pdf``.

KEY is one of the sweep's key columns (its grid keys and the scenario's ``SWEEP_KEYS``, not the
seed). NAME is a metric column, or ``COLUMN_prob`` for the fraction of seeds where the 0/1 column
COLUMN is 1 (e.g. ``single_cluster_prob``). Seeds where the metric is undefined (null, e.g. the time
to a single cluster of a cloud that never formed one) are left out of the mean and the band. Other
key columns that vary independently of the axes split the figure: one heat-map panel, or one line,
per combination of their values (e.g. one per normalization), at most ``PANEL_COLUMNS`` panels
side by side. The title says when the sweep is incomplete (its points so far of the grid's).
The files are written atomically (``scenarios.harness.output.staged_files``) with the shared
style.
"""

from __future__ import annotations

import itertools
import math
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from scenarios.harness.checks import did_you_mean
from scenarios.harness.config import ConfigError, format_value
from scenarios.harness.output import staged_files
from scenarios.harness.style import FULL_WIDTH, figure_style, new_figure, save_figure
from scenarios.harness.sweep_results import (
    TIME_AXIS,
    SweepResults,
    distinct_values,
    is_real,
    load_results,
)

PROBABILITY_SUFFIX = "_prob"
MAX_PANELS = 6
PANEL_COLUMNS = 3
"""Most heat-map panels side by side (their titles need the width); more go to further rows."""
MAX_LINES = 10
MAX_ANNOTATED_CELLS = 150
MAX_TICK_LABELS = 12
"""Most value labels on an axis of cells or non-numeric values (the paper's grid has 90 betas)."""
TITLE_CHARS_PER_INCH = 12.5
"""Title characters per inch of figure width at the style's 10 pt title size."""


@dataclass(frozen=True)
class Value:
    """What a figure shows: a column averaged over seeds, and how to name it."""

    name: str
    column: str
    label: str
    probability: bool


def resolve_value(results: SweepResults, name: str) -> Value:
    """``name`` as a metric column or ``COLUMN_prob``; ConfigError naming the choices."""
    if name in results.metric_columns:
        _check_numeric(results, name, name)
        return Value(name, name, f"{name}\n(mean over seeds)", probability=False)
    column = name.removesuffix(PROBABILITY_SUFFIX)
    if name.endswith(PROBABILITY_SUFFIX) and column in results.metric_columns:
        _check_numeric(results, column, name)
        if not all(cell.columns[column].binary for cell in results.cells):
            raise ConfigError(
                f"--value {name!r} needs a 0/1 column, but {column!r} takes other values"
            )
        return Value(name, column, f"{name}\n(fraction of seeds with {column} = 1)", True)
    choices = [
        *results.metric_columns,
        *(f"{c}{PROBABILITY_SUFFIX}" for c in results.metric_columns),
    ]
    raise ConfigError(
        f"--value {name!r} is not a metric of the sweep in {str(results.directory)!r}"
        f"{did_you_mean(name, choices)}; metrics: {', '.join(results.metric_columns)} "
        f"(or COLUMN{PROBABILITY_SUFFIX} for a 0/1 column)"
    )


def _check_numeric(results: SweepResults, column: str, name: str) -> None:
    """ConfigError if ``column`` holds a value that is neither a number nor null."""
    if any(cell.columns[column] is None for cell in results.cells):
        raise ConfigError(
            f"--value {name!r}: column {column!r} of the sweep in {str(results.directory)!r} "
            "holds values that are not numbers; choose a numeric metric"
        )


def check_axis(results: SweepResults, name: str, flag: str) -> None:
    """``name`` must be a key column other than the seed."""
    axes = [key for key in results.key_columns if key != "seed"]
    if name not in axes:
        raise ConfigError(
            f"{flag} {name!r} is not a key column of the sweep in {str(results.directory)!r}"
            f"{did_you_mean(name, axes)}; key columns: {', '.join(axes)}"
        )


def plot_phase(directory: Path, *, x: str, value: str, y: str | None = None) -> list[Path]:
    """Draw the heat map (with ``y``) or the line plot of a sweep into its directory; return the
    PNG and PDF paths. Raises ConfigError for a directory, axis or value it cannot draw."""
    results = load_results(directory)
    if x == TIME_AXIS:
        return _plot_series(results, value, y)
    check_axis(results, x, "--x")
    if y is not None:
        check_axis(results, y, "--y")
        if y == x:
            raise ConfigError(f"--x and --y are both {x!r}; choose two different key columns")
    shown = resolve_value(results, value)
    if y is None:
        fig, stem = line_plot(results, x, shown), f"line_{value}_{x}"
    else:
        fig, stem = heat_map(results, x, y, shown), f"phase_{value}_{x}_{y}"
    directory = Path(directory)
    with staged_files(directory) as staging:
        names = [path.name for path in save_figure(fig, staging / stem)]
    return [directory / name for name in names]


def _plot_series(results: SweepResults, name: str, y: str | None) -> list[Path]:
    """``plot_phase`` with ``--x t``: the time heat map over (t, y), or the lines against t."""
    if name not in results.series_names:
        kept = ", ".join(results.series_names) or "none"
        raise ConfigError(
            f"--value {name!r} is not a time series of the sweep in {str(results.directory)!r}"
            f"{did_you_mean(name, list(results.series_names))}; series kept: {kept}"
        )
    if y is None:
        fig, stem = series_lines(results, name), f"line_{name}_{TIME_AXIS}"
    else:
        check_axis(results, y, "--y")
        fig, stem = time_heat_map(results, y, name), f"phase_{name}_{TIME_AXIS}_{y}"
    with staged_files(results.directory) as staging:
        names = [path.name for path in save_figure(fig, staging / stem)]
    return [results.directory / file for file in names]


def _series_groups(
    results: SweepResults, axes: Sequence[str], name: str
) -> tuple[list[str], dict[tuple, dict[tuple, np.ndarray]]]:
    """The key columns that split a figure of the series ``name``, and per combination of their
    values, per values of ``axes``: the series (one value per output time)."""
    split = _split_columns(results.key_columns, results.series, axes)
    groups: dict[tuple, dict[tuple, np.ndarray]] = {}
    for run in results.series:
        series = tuple(run[key] for key in split)
        at = tuple(run[key] for key in axes)
        groups.setdefault(series, {})[at] = run[name]
    return split, groups


def _series_norm(groups: dict[tuple, dict[tuple, np.ndarray]]) -> Normalize:
    """[0, 1] for series within it (fractions, probabilities), else their finite range."""
    values = np.concatenate([v for cells in groups.values() for v in cells.values()])
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if low >= 0.0 and high <= 1.0:
        return Normalize(0.0, 1.0)
    return Normalize(low, high if high > low else low + 1.0)


def time_heat_map(results: SweepResults, y: str, name: str) -> Figure:
    """The series ``name`` over (t, y), one panel per combination of the other key columns that
    vary independently of y; cells centred on the output times, one row of equal height per y
    value, labelled by value (as ``heat_map``'s cells: no axis range beyond the values)."""
    split, groups = _series_groups(results, (y,), name)
    if len(groups) > MAX_PANELS:
        raise ConfigError(
            f"the heat map of {name!r} over t and {y} would need {len(groups)} panels (one per "
            f"{', '.join(split)}); at most {MAX_PANELS}: sweep fewer values"
        )
    times = results.series[0][TIME_AXIS]
    ys = _axis_values(results, y)
    norm = _series_norm(groups)
    panels = len(groups)
    rows, columns = _panel_grid(panels)
    width = min(FULL_WIDTH, 2.0 + 2.4 * columns)
    with figure_style():
        fig = new_figure(width, 0.9 + 2.3 * rows, layout="constrained")
        fig.suptitle(_title(results, f"{name} against t and {y}", None, width))
        axes = _panel_axes(fig, panels, sharex=True, sharey=True)
        for ax, (series, cells) in zip(axes, groups.items(), strict=True):
            grid = np.array([cells.get((v,), np.full(len(times), math.nan)) for v in ys])
            mesh = ax.pcolormesh(
                times,
                np.arange(len(ys)),
                np.ma.masked_invalid(grid),
                norm=norm,
                shading="nearest",
                rasterized=True,  # a cell per output time: an image, not thousands of paths
            )
            ax.set_facecolor("0.85")
            ax.grid(False)
            ax.set_yticks(*_cell_ticks(ys))
            if series:
                ax.set_title(_series_label(split, series, "\n"))
        for column in range(columns):  # the lowest panel of each column, maybe in a short row
            lowest = axes[column::columns][-1]
            lowest.set_xlabel("time t")
            lowest.tick_params(labelbottom=True)
        for ax in axes[::columns]:
            ax.set_ylabel(y)
        fig.colorbar(mesh, ax=axes.tolist(), label=f"{name}\n(mean over seeds)")
    return fig


def series_lines(results: SweepResults, name: str) -> Figure:
    """The series ``name`` against t, one line per combination of the key columns' values."""
    split, groups = _series_groups(results, (), name)
    if len(groups) > MAX_LINES:
        raise ConfigError(
            f"the line plot of {name!r} against t would need {len(groups)} lines (one per "
            f"{', '.join(split)}); at most {MAX_LINES}: use --y for a heat map"
        )
    times = results.series[0][TIME_AXIS]
    width = FULL_WIDTH * 0.75
    with figure_style():
        fig = new_figure(width, 3.4, layout="constrained")
        fig.suptitle(_title(results, f"{name} against t", None, width))
        ax = fig.subplots()
        for index, (series, cells) in enumerate(groups.items()):
            label = _series_label(split, series) if series else None
            ax.plot(times, cells[()], color=f"C{index % 10}", label=label)
        ax.set_xlabel("time t")
        ax.set_ylabel(f"{name}\n(mean over seeds)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best")
    return fig


def heat_map(results: SweepResults, x: str, y: str, value: Value) -> Figure:
    """Mean over seeds of ``value`` on the (x, y) grid: one panel per combination of the other
    key columns that vary independently of x and y."""
    split, groups = _groups(results, (x, y), value)
    if len(groups) > MAX_PANELS:
        raise ConfigError(
            f"the heat map of {value.name!r} over {x} and {y} would need {len(groups)} panels "
            f"(one per {', '.join(split)}); at most {MAX_PANELS}: sweep fewer values"
        )
    xs, ys = _axis_values(results, x), _axis_values(results, y)
    means = {
        series: np.array([[cells.get((vx, vy), (math.nan, 0.0))[0] for vx in xs] for vy in ys])
        for series, cells in groups.items()
    }
    finite = np.concatenate([grid[np.isfinite(grid)] for grid in means.values()])
    if value.probability:
        norm = Normalize(0.0, 1.0)
    else:
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        norm = Normalize(low, high if high > low else low + 1.0)
    panels = len(groups)
    rows, columns = _panel_grid(panels)
    width = min(FULL_WIDTH, max(4.6, 1.9 + columns * max(2.2, 0.45 * len(xs))))
    height = 1.5 + rows * min(4.5, max(1.6, 0.32 * len(ys)))
    with figure_style():
        fig = new_figure(width, height, layout="constrained")
        fig.suptitle(_title(results, f"{value.name} against {x} and {y}", value, width))
        axes = _panel_axes(fig, panels, sharey=True)
        annotate = panels * len(xs) * len(ys) <= MAX_ANNOTATED_CELLS
        for ax, (series, grid) in zip(axes, means.items(), strict=True):
            mesh = ax.pcolormesh(
                np.arange(len(xs) + 1) - 0.5,
                np.arange(len(ys) + 1) - 0.5,
                np.ma.masked_invalid(grid),
                norm=norm,
                cmap="viridis",
            )
            ax.set_facecolor("0.85")
            ax.grid(False)
            ax.set_xticks(*_cell_ticks(xs))
            ax.set_yticks(*_cell_ticks(ys))
            ax.set_xlabel(x)
            if ax in axes[::columns]:
                ax.set_ylabel(y)
            if series:
                ax.set_title(_series_label(split, series, "\n"))
            if annotate:
                _annotate(ax, grid, norm)
        fig.colorbar(mesh, ax=axes.tolist(), label=value.label, shrink=0.95)
    return fig


def line_plot(
    results: SweepResults,
    x: str,
    value: Value,
    decorate: Callable[[Axes], None] | None = None,
) -> Figure:
    """Mean over seeds of ``value`` against ``x`` with a band of one standard error, one line per
    combination of the other key columns that vary independently of x. ``decorate(ax)`` may add
    to the axes (e.g. a reference curve) before the legend is drawn."""
    split, groups = _groups(results, (x,), value)
    if len(groups) > MAX_LINES:
        raise ConfigError(
            f"the line plot of {value.name!r} against {x} would need {len(groups)} lines (one "
            f"per {', '.join(split)}); at most {MAX_LINES}: use --y for a heat map"
        )
    xs = _axis_values(results, x)
    numeric = all(is_real(v) for v in xs)
    positions = np.array(xs if numeric else range(len(xs)), dtype=float)
    width = FULL_WIDTH * 0.75
    with figure_style():
        fig = new_figure(width, 3.4, layout="constrained")
        fig.suptitle(_title(results, f"{value.name} against {x}", value, width, band=True))
        ax = fig.subplots()
        for index, (series, cells) in enumerate(groups.items()):
            stats = np.array([cells.get((vx,), (math.nan, math.nan)) for vx in xs])
            mean, error = stats[:, 0], stats[:, 1]
            color = f"C{index % 10}"
            label = _series_label(split, series) if series else None
            ax.plot(positions, mean, marker="o", markersize=3.5, color=color, label=label)
            ax.fill_between(positions, mean - error, mean + error, color=color, alpha=0.2)
        if not numeric:
            ax.set_xticks(*_cell_ticks(xs))
        ax.set_xlabel(x)
        ax.set_ylabel(value.label)
        if value.probability:
            ax.set_ylim(-0.03, 1.03)
        if decorate is not None:
            decorate(ax)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best")
    return fig


def _panel_grid(panels: int) -> tuple[int, int]:
    """(rows, columns) of a heat map's panels: at most ``PANEL_COLUMNS`` side by side."""
    columns = min(panels, PANEL_COLUMNS)
    return math.ceil(panels / columns), columns


def _panel_axes(fig: Figure, panels: int, **sharing: bool) -> np.ndarray:
    """The first ``panels`` axes of a ``_panel_grid`` of subplots (``sharing``: sharex, sharey);
    the unused ones of a short last row are hidden."""
    axes = fig.subplots(*_panel_grid(panels), squeeze=False, **sharing).ravel()
    for ax in axes[panels:]:
        ax.set_visible(False)
    return axes[:panels]


def _cell_ticks(values: Sequence[object]) -> tuple[list[int], list[str]]:
    """Positions and labels of an axis of values placed at 0, 1, 2, ... (a heat map's cells, a
    non-numeric key): every k-th value from the first, k the least of 1, 2, 5, 10, 20, 50, ...
    that leaves at most ``MAX_TICK_LABELS`` labels."""
    strides = (m * 10**e for e in itertools.count() for m in (1, 2, 5))
    stride = next(k for k in strides if math.ceil(len(values) / k) <= MAX_TICK_LABELS)
    positions = list(range(0, len(values), stride))
    return positions, [format_value(values[i]) for i in positions]


def _groups(
    results: SweepResults, axes: Sequence[str], value: Value
) -> tuple[list[str], dict[tuple, dict[tuple, tuple[float, float]]]]:
    """The key columns that split the figure, and per combination of their values, per axis
    values: (mean, standard error of the mean) over seeds of ``value``'s column (the other key
    columns follow from these, so each holds one cell)."""
    keys = [cell.keys for cell in results.cells]
    split = _split_columns(results.key_columns, keys, axes)
    groups: dict[tuple, dict[tuple, tuple[float, float]]] = {}
    for cell in results.cells:
        series = tuple(cell.keys[key] for key in split)
        at = tuple(cell.keys[key] for key in axes)
        summary = cell.columns[value.column]
        groups.setdefault(series, {})[at] = (summary.mean, summary.error)
    return split, groups


def _split_columns(
    key_columns: Sequence[str], points: Sequence[Mapping[str, object]], axes: Sequence[str]
) -> list[str]:
    """Key columns (not the seed, not the axes) that vary over ``points`` (the cells' or kept
    runs' key values) for fixed axes and split columns.

    The scenario's run keys are tried before the grid keys, so that a grid key mirrored by a run
    key (clustering's ``betas`` and ``beta``) is named by the run key.
    """
    keys = list(key_columns)
    seed = keys.index("seed")
    split: list[str] = []
    for key in keys[seed + 1 :] + keys[:seed]:
        if key in axes:
            continue
        seen: dict[tuple, set] = {}
        for point in points:
            seen.setdefault(tuple(point[k] for k in (*axes, *split)), set()).add(point[key])
        if any(len(values) > 1 for values in seen.values()):
            split.append(key)
    return split


def _axis_values(results: SweepResults, key: str) -> list[object]:
    """The distinct values of a key column over the cells (see ``distinct_values``)."""
    return distinct_values((cell.keys for cell in results.cells), key)


def _series_label(split: list[str], series: tuple, separator: str = ", ") -> str:
    """``KEY = VALUE`` of each split column, joined by ``separator`` (a newline for a panel's
    title, which must fit its panel)."""
    return separator.join(
        f"{key} = {format_value(v)}" for key, v in zip(split, series, strict=True)
    )


def _title(
    results: SweepResults,
    what: str,
    value: Value | None,
    width: float,
    *,
    band: bool = False,
) -> str:
    """The figure title, wrapped to ``width`` inches: what is shown, how many of the sweep's
    points are finished if not all, over which seeds (the range of seeds per point when some
    are left out), and the settings changed from the scenario's sweep defaults; ``value`` None
    for a time series."""
    seeds = results.spec["seeds"]
    first, count = seeds["first"], seeds["count"]
    parts = [
        f"{results.spec['scenario']} sweep: {what}",
        f"mean over {count} seeds ({first}–{first + count - 1})"
        + (", band ± 1 standard error" if band else "")
        + (" at every output time" if value is None else ""),
    ]
    if value is not None and any(cell.columns[value.column].undefined for cell in results.cells):
        defined = [cell.columns[value.column].defined for cell in results.cells]
        low, high = min(defined), max(defined)
        counts = f"{low}" if low == high else f"{low} to {high}"
        parts[-1] += (
            f"; seeds where {value.column} is undefined left out (seeds per point: {counts})"
        )
    if results.finished_points < results.grid_points:
        parts.insert(
            1, f"incomplete sweep: {results.finished_points} of {results.grid_points} points"
        )
    settings = results.settings()
    if settings:
        parts.append(settings)
    return "\n".join(textwrap.fill(part, int(TITLE_CHARS_PER_INCH * width)) for part in parts)


def _annotate(ax: Axes, grid: np.ndarray, norm: Normalize) -> None:
    """Write each cell's value, light on dark cells and dark on light ones (viridis)."""
    for (row, col), mean in np.ndenumerate(grid):
        text = "–" if math.isnan(mean) else f"{mean:.2g}"
        light = not math.isnan(mean) and norm(mean) < 0.55
        ax.text(
            col,
            row,
            text,
            ha="center",
            va="center",
            fontsize=7,
            color="white" if light else "black",
        )
