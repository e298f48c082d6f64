"""Sweeps: a scenario over a grid of config values and seeds, each point one batched solve.

    attnflow sweep SCENARIO --grid KEY=V1,V2,... [--grid ...] [--seeds N] [--set KEY=VALUE ...]
                   [--backend local|dask] [--address tcp://HOST:PORT] [--workers K] [--out DIR]

A *point* is one combination of the grid values (the cartesian product, in the order the grids
are given); every point runs the seeds ``seed, seed + 1, ..., seed + N - 1`` (``seed`` from the
config, default 0) together.

**The protocol.** A scenario supports sweeps by declaring a ``SweepSpec``
(``scenarios.harness.scenario``) whose ``point(config, seeds)`` runs ``config`` for every seed at
once (the seeds' systems stacked along a leading batch dimension of one solve, never a Python loop
of solves) and returns flat rows of scalars (int, float, str, bool or None): one row per seed, or
per seed and run where one config holds several runs. Every row has the key ``"seed"`` and the
same keys in the same order. The spec also names the row ``keys`` that name a run within a point
(e.g. clustering's ``("normalization", "beta")``; the other keys are metrics), the config
``defaults`` a sweep starts from (``--set`` and ``--grid`` override them) and a ``check`` that
refuses a config the scenario runs but cannot batch.

**Grid values** are read by the config machinery (``scenarios.harness.config``):
``--grid d=2,3,8`` makes three points; for a tuple field each value is one point with a
one-element tuple (``--grid betas=1,4`` runs betas=(1,) and betas=(4,)). Every point's config is
built and validated (unknown key, empty or repeated values, a key given twice or by both --set
and --grid, wrong type, impossible value, more than ``MAX_POINTS`` points) before anything is
written: a refusal is one ConfigError line.

**The sweep directory** (``--out``, default ``figures/sweeps/SCENARIO``):

- ``sweep.json``: the spec (scenario, grid, seeds, the config shared by every point, the key
  columns). It is written before the first point; a rerun with a different spec is refused.
- ``results.jsonl``: the journal, one JSON line per finished point
  (``{"index": i, "point": {...}, "rows": [...]}``, plus ``"series": [...]`` when the point
  returned a ``PointResult`` with time series), appended as one ``write`` of the complete line
  followed by ``fsync``. Rule for a torn last line (a crash in mid-write, e.g. power loss): a final
  line without its newline is cut off when the sweep reopens the directory, and that point is
  solved again; readers ignore it.
- ``results.csv``: the same rows as a table (columns: the grid keys, ``seed``, the scenario's
  ``SWEEP_KEYS``, then the metrics; empty cells for None), appended the same way after each
  journal line, and rewritten from the journal (write a temporary file, fsync, rename) when a
  sweep opens the directory (so a resumed sweep appends under one header to every finished
  point's rows) and when it ends, however it ends. On completion both files are rewritten in the
  canonical order (points in grid order, each point's rows as its sweep returned them), so
  the finished table is the same whichever backend ran it and however often it was interrupted.

A rerun of the same command skips the points in the journal, so a killed sweep resumes and loses
at most the points that were being solved. Only one sweep at a time may write to a directory
(an advisory lock on it). The sweep process holds no finished rows: it keeps where each point's
journal line lies and rewrites both files a line at a time, so its memory does not grow with the
table (the paper's grid: 921,600 rows, a 450 MB journal).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from scenarios.harness.allocator import keep_freed_memory
from scenarios.harness.checks import did_you_mean
from scenarios.harness.config import (
    ConfigError,
    config_fields,
    config_to_dict,
    format_value,
    parse_text,
    resolve_config,
    set_values,
)
from scenarios.harness.memory import check_memory
from scenarios.harness.output import check_parent_dir, current_umask, jsonable
from scenarios.harness.progress_bars import progress
from scenarios.harness.registry import all_scenarios, get_scenario
from scenarios.harness.scenario import PointResult, Scenario, SweepSpec
from scenarios.harness.sweep_backends import open_backend

try:
    import fcntl
except ImportError:  # not POSIX: no lock
    fcntl = None

SPEC_FILE = "sweep.json"
JOURNAL_FILE = "results.jsonl"
TABLE_FILE = "results.csv"
MAX_SEED = 2**63
MAX_POINTS = 10**5
"""Most points a sweep accepts (the product of its grids' value counts), checked before the
points are built: planning 10^5 points (a validated config each) takes about a minute and 100 MB
on one core, and solving them hours. The paper's grid has 450 points."""

Span = tuple[int, int]
"""Where a point's line lies in the journal: (byte offset, length with its newline)."""


def default_sweep_dir(scenario: str) -> Path:
    """``figures/sweeps/SCENARIO``, relative to the current directory."""
    return Path("figures") / "sweeps" / scenario


def sweep_scenarios() -> list[str]:
    """The registered scenarios that declare sweep support."""
    return [name for name, scenario in all_scenarios().items() if scenario.sweep is not None]


@dataclasses.dataclass(frozen=True)
class PointTask:
    """One point to solve: the scenario, the point's index in the grid, its config and seeds."""

    scenario: str
    index: int
    config: object
    seeds: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A validated sweep: the grid, the seeds and every point's config, nothing run yet."""

    scenario: str
    grid: dict[str, tuple[object, ...]]
    seeds: tuple[int, ...]
    shared: dict[str, object]
    key_columns: tuple[str, ...]
    points: tuple[dict[str, object], ...]
    configs: tuple[object, ...]

    def spec(self) -> dict[str, object]:
        """What ``sweep.json`` holds: everything that determines the table."""
        return jsonable(
            {
                "scenario": self.scenario,
                "grid": self.grid,
                "seeds": {"first": self.seeds[0], "count": len(self.seeds)},
                "config": self.shared,
                "key_columns": self.key_columns,
            }
        )

    def tasks(self, skip: set[int] | frozenset[int] = frozenset()) -> list[PointTask]:
        """A task per point whose index is not in ``skip``, in grid order."""
        return [
            PointTask(self.scenario, index, config, self.seeds)
            for index, config in enumerate(self.configs)
            if index not in skip
        ]


def plan_sweep(
    scenario: str, grids: Sequence[str], seeds: int, assignments: Sequence[str] = ()
) -> Sweep:
    """Parse ``--grid KEY=V1,V2,...`` items and ``--set`` assignments; build and validate every
    point's config. Raises ConfigError (one line) for any problem; runs and writes nothing."""
    declared = get_scenario(scenario)
    if declared.sweep is None:
        raise ConfigError(
            f"scenario {scenario!r} does not support sweeps; "
            f"scenarios that do: {', '.join(sweep_scenarios())}"
        )
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"--seeds {seeds!r} is not accepted; expected an integer >= 1")
    grid, grid_texts = parse_grid(declared.config, grids, scenario)
    given = set_values(assignments)
    clash = next((key for key in given if key in grid), None)
    if clash is not None:
        raise ConfigError(
            f"--set {clash}={given[clash]} and --grid {clash}=... both give {clash}; give it "
            "once: --grid to sweep it, or --set for every point"
        )
    count = math.prod(len(values) for values in grid.values())
    if count > MAX_POINTS:
        raise ConfigError(
            f"--grid {' '.join(f'{key}=({len(values)} values)' for key, values in grid.items())} "
            f"makes {count} points; at most {MAX_POINTS} are accepted: sweep fewer values"
        )
    start = {k: format_value(v) for k, v in declared.sweep.defaults.items() if k not in grid}
    base = [f"{key}={text}" for key, text in (start | given).items()]
    combinations = list(itertools.product(*(range(len(values)) for values in grid.values())))
    points, configs = [], []
    for combination in combinations:
        point = {key: grid[key][i] for key, i in zip(grid, combination, strict=True)}
        texts = [f"{key}={grid_texts[key][i]}" for key, i in zip(grid, combination, strict=True)]
        configs.append(_point_config(declared, base, texts))
        points.append(point)
    first_seed = configs[0].seed
    if first_seed + seeds > MAX_SEED:
        raise ConfigError(
            f"--seeds {seeds} with seed={first_seed} is not accepted; seeds must stay below 2^63"
        )
    if declared.sweep.memory is not None:
        needed = max(declared.sweep.memory(config, seeds) for config in configs)
    elif declared.memory is not None:
        needed = max(declared.memory(config) for config in configs) * seeds
    else:
        needed = None
    if needed is not None:
        check_memory(f"a point of {seeds} seeds of {scenario!r}", needed)
    shared = {key: value for key, value in config_to_dict(configs[0]).items() if key not in grid}
    keys = (*grid, "seed", *declared.sweep.keys)
    return Sweep(
        scenario=scenario,
        grid=grid,
        seeds=tuple(range(first_seed, first_seed + seeds)),
        shared=shared,
        key_columns=keys,
        points=tuple(points),
        configs=tuple(configs),
    )


def parse_grid(
    config_class: type, grids: Sequence[str], scenario: str
) -> tuple[dict[str, tuple[object, ...]], dict[str, list[str]]]:
    """``--grid KEY=V1,V2,...`` items as {key: values} (tuple fields' values as their single
    element) and {key: the values' texts}, or ConfigError naming the item and what is accepted."""
    infos = {info.name: info for info in config_fields(config_class)}
    grid: dict[str, tuple[object, ...]] = {}
    texts: dict[str, list[str]] = {}
    for item in grids:
        key, equals, text = item.partition("=")
        key = key.strip()
        if not equals or not key:
            raise ConfigError(
                f"--grid {item!r} is not of the form KEY=V1,V2,... (e.g. --grid d=2,3,8)"
            )
        if key == "seed":
            raise ConfigError(
                "--grid seed=... is not accepted; the seeds are --seeds N (seed, seed + 1, ...; "
                "set the first with --set seed=S)"
            )
        if key not in infos:
            raise ConfigError(
                f"unknown config key {key!r} in --grid of scenario {scenario!r}"
                f"{did_you_mean(key, list(infos))}; valid keys: {', '.join(infos)}"
            )
        if key in grid:
            raise ConfigError(f"--grid {key}=... is given twice; give each key once")
        parts = evenly_spaced(key, text) or [part.strip() for part in text.split(",")]
        if not text.strip() or not all(parts):
            raise ConfigError(
                f"--grid {item!r} has an empty value; expected KEY=V1,V2,... with at least one "
                f"value and none empty, e.g. --grid {key}={format_value(infos[key].default)}"
            )
        values = []
        for part in parts:
            value = parse_text(key, infos[key].type, part)
            values.append(value[0] if isinstance(value, tuple) else value)
        if len(set(values)) != len(values):
            raise ConfigError(f"--grid {item!r} repeats a value; expected distinct values")
        check = infos[key].check
        if (
            check is not None
            and check.accepts(tuple(values))
            and not any(check.accepts((value,)) for value in values)
        ):
            raise ConfigError(
                f"--grid {key}=... is not accepted: each point takes one value of {key}, and a "
                f"run of {scenario!r} needs {check.accepted}; give them to every point with "
                f"--set {key}={text.strip()} and sweep other keys"
            )
        grid[key] = tuple(values)
        texts[key] = parts
    return grid, texts


def evenly_spaced(key: str, text: str) -> list[str] | None:
    """``START:STOP:COUNT`` as the texts of COUNT evenly spaced values from START to STOP, both
    included (numpy.linspace, 12 significant digits: 0.1:9:90 gives 0.1, 0.2, ..., 9); None for
    any other text."""
    match = re.fullmatch(r"\s*([^:,]+):([^:,]+):([^:,]+)\s*", text)
    if match is None:
        return None
    try:
        start, stop, count = float(match[1]), float(match[2]), int(match[3])
    except ValueError:
        count = 0
    if not 2 <= count <= MAX_POINTS or not (math.isfinite(start) and math.isfinite(stop)):
        raise ConfigError(
            f"--grid {key}={text!r} is not START:STOP:COUNT with finite numbers and an integer "
            f"COUNT from 2 to {MAX_POINTS} (the most points a sweep accepts), e.g. "
            f"--grid {key}=0.1:9:90"
        )
    return [f"{value:.12g}" for value in np.linspace(start, stop, count)]


def _point_config(scenario: Scenario, base: list[str], grid: list[str]) -> object:
    """The config of one point: defaults < the sweep's defaults < --set < the point's values."""
    where = f"sweep point {' '.join(grid)}: " if grid else ""
    spec: SweepSpec = scenario.sweep
    try:
        config = resolve_config(scenario.config, assignments=[*base, *grid], scenario=scenario.name)
        if spec.check is not None:
            spec.check(config)
    except ValueError as error:  # ConfigError included
        raise ConfigError(f"{where}{error}") from None
    return config


def solve_point(task: PointTask) -> tuple[int, list[dict[str, object]] | PointResult]:
    """Run one point (every seed in one batched solve); return (index, rows or PointResult).

    Sets torch to one thread: a sweep's parallelism is across points (see
    ``scenarios.harness.sweep_backends``); and keeps freed memory for reuse
    (``scenarios.harness.allocator``).
    """
    torch.set_num_threads(1)
    keep_freed_memory()
    result = get_scenario(task.scenario).sweep.point(task.config, task.seeds)
    return task.index, result


@dataclasses.dataclass(frozen=True)
class SweepReport:
    """What a ``run_sweep`` call did: points in the grid, already done before, solved now."""

    directory: Path
    total: int
    already_done: int
    solved: int
    seconds: float


def run_sweep(
    sweep: Sweep,
    out_dir: Path,
    *,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
) -> SweepReport:
    """Solve every point of ``sweep`` not yet in ``out_dir``'s journal, appending each as it ends.

    Raises ConfigError before any work if ``out_dir`` holds another sweep (or other files), is
    locked by a running sweep, or the backend cannot start. A failing point raises its error
    (RuntimeError, ValueError, OSError) and an interrupt KeyboardInterrupt; the points finished
    before stay in the journal.
    """
    start = time.perf_counter()
    _check_directory(Path(out_dir), sweep.spec())  # before a cluster is started for nothing
    gpu = any(getattr(config, "device", "cpu") != "cpu" for config in sweep.configs)
    with (
        open_backend(backend, workers, address, gpu=gpu) as run,
        SweepTable.open(out_dir, sweep) as table,
    ):
        before = len(table.finished)
        tasks = sweep.tasks(skip=set(table.finished))
        bar = progress(run(solve_point, tasks), desc=f"sweep {sweep.scenario}", total=len(tasks))
        for index, result in bar:
            if isinstance(result, PointResult):
                table.append(index, result.rows, result.series)
            else:
                table.append(index, result)
        table.complete()
    return SweepReport(out_dir, len(sweep.points), before, len(tasks), time.perf_counter() - start)


class SweepTable:
    """The files of a sweep directory, opened for writing by one sweep (see the module doc)."""

    def __init__(self, directory: Path, sweep: Sweep, finished: dict[int, Span]) -> None:
        self.directory = directory
        self.sweep = sweep
        self.finished = finished
        """The finished points: index -> (offset, length) of the point's line in the journal."""
        self.columns: list[str] | None = None
        self.completed = False

    @classmethod
    @contextmanager
    def open(cls, directory: Path, sweep: Sweep) -> Iterator[SweepTable]:
        """Check or write ``sweep.json``, take the lock, read and check the journal (cutting a
        torn last line), rewrite the CSV from it and yield the table; on exit, however it comes
        (an error or an interrupt included), rewrite the CSV from the journal unless
        ``complete`` just did, and release the lock."""
        directory = Path(directory)
        spec = sweep.spec()
        _check_directory(directory, spec)
        directory.mkdir(parents=True, exist_ok=True)
        with _locked(directory):
            _check_directory(directory, spec)  # another sweep may have started meanwhile
            if not (directory / SPEC_FILE).exists():
                _replace(directory / SPEC_FILE, [json.dumps(spec, indent=2) + "\n"])
            table = cls(directory, sweep, journal_spans(directory, repair=True, sweep=sweep))
            table._rewrite(journal=False)  # the CSV a killed sweep left may lag its journal
            try:
                yield table
            finally:  # every exit path: the table then holds exactly the journal's points
                if not table.completed:
                    table.finished = journal_spans(directory)
                    table._rewrite(journal=False)

    def append(
        self,
        index: int,
        rows: list[dict[str, object]],
        series: list[dict[str, object]] | None = None,
    ) -> None:
        """Record a finished point: one journal line (with its time series, if any), then its CSV
        rows, each fsynced."""
        table_rows = self._table_rows(index, rows)
        entry = {"index": index, "point": self.sweep.points[index], "rows": table_rows}
        if series:
            entry["series"] = jsonable(series)
        self.completed = False
        self.finished[index] = _append(self.directory / JOURNAL_FILE, _journal_line(entry))
        header = self.columns is None
        self.columns = list(table_rows[0])
        _append(self.directory / TABLE_FILE, _csv_text(self.columns, table_rows, header=header))

    def complete(self) -> None:
        """Put both files in the canonical order (points in grid order): rewrite them unless the
        journal's lines already are in it (then so are the CSV's rows, rewritten from the journal
        on opening and appended in step with it since)."""
        offsets = [self.finished[index][0] for index in sorted(self.finished)]
        if offsets != sorted(offsets):
            self._rewrite(journal=True)
        self.completed = True

    def _table_rows(self, index: int, rows: list[dict[str, object]]) -> list[dict[str, object]]:
        """The point's values, then the keys, then the metrics of each row; checks the protocol."""
        point = self.sweep.points[index]
        if not rows:
            raise RuntimeError(f"the sweep of {self.sweep.scenario} returned no rows for a point")
        table_rows = []
        for row in rows:
            clash = set(point) & set(row)
            if clash or "seed" not in row:
                raise RuntimeError(
                    f"{self.sweep.scenario}'s sweep rows must have a 'seed' key and none of "
                    f"the grid keys {sorted(point)}; got keys {sorted(row)}"
                )
            full = {**point, **row}
            keys = [key for key in self.sweep.key_columns if key in full]
            ordered = {key: full[key] for key in keys}
            ordered.update((key, value) for key, value in full.items() if key not in ordered)
            expected = self.columns or list(ordered)
            if list(ordered) != expected:
                raise RuntimeError(
                    f"{self.sweep.scenario}'s sweep rows differ in their keys: "
                    f"{list(ordered)} vs {expected}"
                )
            table_rows.append(jsonable(ordered))
        return table_rows

    def _rewrite(self, *, journal: bool) -> None:
        """Write the CSV (with ``journal``, the journal first) in grid order, a point at a time."""
        if not self.finished:
            (self.directory / TABLE_FILE).unlink(missing_ok=True)
            return
        path = self.directory / JOURNAL_FILE
        order = sorted(self.finished)
        if journal:
            _replace(path, (line.decode() for line in _lines(path, self.finished, order)))
            offset, moved = 0, {}
            for index in order:
                length = self.finished[index][1]
                moved[index], offset = (offset, length), offset + length
            self.finished = moved
        points = (json.loads(line)["rows"] for line in _lines(path, self.finished, order))
        first = next(points)
        self.columns = list(first[0])
        csv_parts = (_csv_text(self.columns, rows, header=False) for rows in points)
        header = _csv_text(self.columns, first, header=True)
        _replace(self.directory / TABLE_FILE, itertools.chain([header], csv_parts))


def _lines(path: Path, spans: dict[int, Span], order: Iterable[int]) -> Iterator[bytes]:
    """The journal lines of the points ``order`` names; the file is closed once they are read."""
    with open(path, "rb") as source:
        for index in order:
            offset, length = spans[index]
            source.seek(offset)
            yield source.read(length)


def read_spec(directory: Path) -> dict[str, object]:
    """The ``sweep.json`` of a sweep directory, or ConfigError if there is none."""
    path = Path(directory) / SPEC_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{str(directory)!r} is not a sweep directory (no {SPEC_FILE}); run attnflow sweep"
        ) from None
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"cannot read {str(path)!r}: {error}") from None


def journal_entries(directory: Path) -> Iterator[tuple[int, dict]]:
    """The finished points of a sweep directory as (index, entry), one line of ``results.jsonl``
    at a time in the file's order (not necessarily grid order), checked as ``journal_spans``
    checks them (without a sweep to hold them against)."""
    return ((index, entry) for index, _, entry in _journal(directory, False, None))


def journal_spans(
    directory: Path, *, repair: bool = False, sweep: Sweep | None = None
) -> dict[int, Span]:
    """Where each finished point's line lies in ``results.jsonl``, by index, holding one line at
    a time.

    A last line without its newline is torn (see the module doc): ignored, and with ``repair``
    cut off the file. Raises ConfigError naming the line for a complete line that is not a
    point's JSON, or, given the ``sweep`` the directory belongs to, a line that is not one of its
    points: an index outside the grid, grid values other than that point's, a point twice, or
    rows for other seeds.
    """
    return {index: span for index, span, _ in _journal(directory, repair, sweep)}


def _journal(
    directory: Path, repair: bool, sweep: Sweep | None
) -> Iterator[tuple[int, Span, dict]]:
    """(index, span, entry) of each complete line of the journal (``journal_spans``' checks)."""
    path = Path(directory) / JOURNAL_FILE
    if not path.exists():
        return
    seen: set[int] = set()
    offset = 0
    with open(path, "r+b" if repair else "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith(b"\n"):  # torn
                if repair:
                    handle.truncate(offset)
                    os.fsync(handle.fileno())
                return
            try:
                entry = json.loads(line)
                index = int(entry["index"])
                problem = None if sweep is None else _foreign(entry, index, sweep, seen)
            except (ValueError, KeyError, TypeError):
                problem = "is not a finished point's JSON"
            if problem is not None:
                raise ConfigError(
                    f"{str(path)!r} line {number} {problem}; the journal is damaged or from "
                    "another sweep (move it away to start the sweep again)"
                )
            seen.add(index)
            yield index, (offset, len(line)), entry
            offset += len(line)


def _foreign(entry: dict, index: int, sweep: Sweep, seen: set[int]) -> str | None:
    """Why a journal entry is not a finished point of ``sweep`` (``seen``: the indices of the
    lines before it), or None if it is one."""
    if not 0 <= index < len(sweep.points):
        return f"has index {index}, outside the sweep's {len(sweep.points)} points"
    if index in seen:
        return f"repeats point {index}"
    if entry["point"] != jsonable(sweep.points[index]):
        return f"has point {json.dumps(entry['point'])}, but point {index} is {sweep.points[index]}"
    seeds = sorted({row["seed"] for row in entry["rows"]})
    if seeds != list(sweep.seeds):
        return f"has rows for seeds {seeds}, not the sweep's {list(sweep.seeds)}"
    return None


def _check_directory(directory: Path, spec: dict[str, object]) -> None:
    """Refuse a path that is not a directory or is below a file, a directory of other files, or
    another sweep."""
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"--out {str(directory)!r} exists and is not a directory")
    check_parent_dir(directory)
    if not (directory / SPEC_FILE).exists():
        if directory.exists() and any(directory.iterdir()):
            raise ConfigError(
                f"--out {str(directory)!r} has files but no {SPEC_FILE}: not a sweep directory; "
                "choose a new or empty directory"
            )
        return
    existing = read_spec(directory)
    if existing != spec:
        details = "; ".join(_differences(existing, spec))
        raise ConfigError(
            f"--out {str(directory)!r} holds a different sweep ({details}); rerun that sweep's "
            "command to resume it, or choose another --out"
        )


def _differences(there: object, now: object, name: str = "") -> list[str]:
    """``NAME: there X, now Y`` for each field where a stored spec and a new one differ, going
    into tables (``config``, ``grid``) so that only their differing entries are named."""
    if there == now:
        return []
    if not (isinstance(there, dict) and isinstance(now, dict)):
        return [f"{name}: there {json.dumps(there)}, now {json.dumps(now)}"]
    return [
        difference
        for key in dict.fromkeys([*there, *now])
        for difference in _differences(
            there.get(key), now.get(key), f"{name}.{key}" if name else key
        )
    ]


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``directory`` (POSIX), or ConfigError if it is held."""
    if fcntl is None:
        yield
        return
    handle = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"another attnflow sweep is writing to {str(directory)!r}; wait for it to end"
            ) from None
        yield
    finally:
        os.close(handle)


def _journal_line(entry: dict[str, object]) -> str:
    return json.dumps(entry, allow_nan=False) + "\n"


def _csv_text(columns: list[str], rows: list[dict[str, object]], *, header: bool) -> str:
    """CSV lines: the header if asked, then ``rows`` in ``columns`` order, None as an empty cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row[key] is None else row[key] for key in columns])
    return buffer.getvalue()


def _append(path: Path, text: str) -> Span:
    """Append ``text`` (complete lines) with one write loop, then fsync; return where it lies
    (the sweep holds the directory's lock: no other writer)."""
    data = text.encode("utf-8")
    handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        offset = os.fstat(handle).st_size
        view = memoryview(data)
        while view:
            view = view[os.write(handle, view) :]
        os.fsync(handle)
    finally:
        os.close(handle)
    return offset, len(data)


def _replace(path: Path, parts: Iterable[str]) -> None:
    """Write ``parts`` to a temporary file beside ``path``, fsync it, and rename it over ``path``;
    the file's mode follows the umask, as every other output does."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(handle, 0o666 & ~current_umask())
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            for part in parts:
                stream.write(part)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
