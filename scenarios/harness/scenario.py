"""What a scenario declares, once: its config, simulation, metrics, figures and sweep support.

The runner (``scenarios.harness.runner``) calls them in this order:

    result = simulate(config)                 # or simulate(config, out_dir) with keeps_files
    figures = figures(config, result)         # {stem: Figure}, skipped when config.figures is off
    metrics = metrics(config, result)         # the scenario's numbers, JSON-ready

and owns everything around them: seeding, threads, progress, staging the output directory, saving
the figures and the metrics envelope (scenario, parameters, figures, wall time).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from matplotlib.figure import Figure

Row = dict[str, object]


@dataclass(frozen=True)
class PointResult:
    """What a sweep point returns when it also keeps time series: its ``rows`` and, per run,
    ``series``: dicts of the run's keys (``SweepSpec.keys``), ``"t"`` (the output times) and
    each statistic's values at those times, aggregated over the seeds (O(times x statistics)
    numbers per run, whatever the number of seeds)."""

    rows: list[Row]
    series: list[dict[str, object]]


@dataclass(frozen=True)
class SweepSpec:
    """How ``attnflow sweep`` runs a scenario (see ``scenarios.harness.sweep``).

    Attributes:
        point: ``point(config, seeds) -> rows``: every seed of one grid point in one batched
            solve; one flat row of scalars per seed (or per seed and run), each with ``"seed"``;
            or a ``PointResult`` of the rows and per-run time series.
        keys: the row keys that name a run within a point (the other keys are metrics).
        defaults: config values a sweep starts from (``--set`` and ``--grid`` override them).
        check: raises ValueError for a config the scenario runs but cannot batch.
        memory: ``memory(config, seeds) -> bytes``, the peak of a point of ``seeds`` seeds, where
            a sweep's point needs other memory than a run (streamed observables); None: the
            scenario's ``memory`` times ``seeds``.
    """

    point: Callable[[Any, Sequence[int]], list[Row] | PointResult]
    keys: tuple[str, ...] = ()
    defaults: Mapping[str, object] = field(default_factory=dict)
    check: Callable[[Any], None] | None = None
    memory: Callable[[Any, int], float] | None = None


@dataclass(frozen=True)
class Scenario:
    """One experiment, as the harness runs it.

    Attributes:
        name: the name on the command line (``attnflow run NAME``).
        summary: one line for ``attnflow list``.
        config: the config class (a ``ScenarioConfig``).
        simulate: ``simulate(config) -> result``; with ``keeps_files``,
            ``simulate(config, out_dir) -> result`` for a simulation that writes files of its own
            into the run's output directory (checkpoints, a sweep's table).
        metrics: ``metrics(config, result) -> dict`` of JSON-ready numbers.
        figures: ``figures(config, result) -> {stem: Figure}``.
        summary_lines: ``summary_lines(metrics) -> lines`` printed after a run.
        work: ``work(config) -> int``, the entries of the run's largest kernel, which picks the
            thread count when the config's ``threads`` is 0 (see ``solvers.threads``).
        sweep: sweep support, or None.
        keeps_files: ``simulate`` takes the output directory too.
        memory: ``memory(config) -> bytes``, an estimate of the run's peak memory (a sweep
            point holds ``seeds`` times as much); a run above the budget is refused before any
            work (``scenarios.harness.memory``). None: no estimate, no check.
    """

    name: str
    summary: str
    config: type
    simulate: Callable[..., Any]
    metrics: Callable[[Any, Any], dict[str, object]]
    figures: Callable[[Any, Any], dict[str, Figure]]
    summary_lines: Callable[[dict[str, object]], list[str]]
    work: Callable[[Any], int] | None = None
    sweep: SweepSpec | None = None
    keeps_files: bool = False
    memory: Callable[[Any], float] | None = None
