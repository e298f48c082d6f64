"""A sweep's table summarised over seeds as its journal is read: each cell's mean and standard
error equal those of its rows, null values are left out, and memory does not grow with seeds."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from scenarios.harness import ConfigError
from scenarios.harness.sweep import JOURNAL_FILE, SweepTable, journal_entries, plan_sweep
from scenarios.harness.sweep_plots import resolve_value
from scenarios.harness.sweep_results import load_results, summarize
from tests.scenarios.helpers import traced_peak

SHARED = ["n=4", "T=0.5", "num_times=3", "normalizations=softmax"]


def _write_journal(directory, sweep, rows_of, series_of=None):
    """A journal with one line per point, written last point first (as a resumed sweep may)."""
    with SweepTable.open(directory, sweep):
        pass  # writes sweep.json
    lines = []
    for index, point in reversed(list(enumerate(sweep.points))):
        entry = {"index": index, "point": point, "rows": rows_of(index, point)}
        if series_of is not None:
            entry["series"] = series_of(index, point)
        lines.append(json.dumps(entry) + "\n")
    (directory / JOURNAL_FILE).write_text("".join(lines))


def test_cells_hold_each_points_mean_and_standard_error_over_seeds(tmp_path):
    seeds = 7
    sweep = plan_sweep("clustering", ["d=2,3", "betas=1,2"], seeds, SHARED)
    rng = np.random.default_rng(0)
    energies = {index: rng.normal(size=seeds) for index in range(len(sweep.points))}

    def rows_of(index, point):
        return [
            {
                **point,
                "seed": seed,
                "normalization": "softmax",
                "beta": point["betas"],
                "energy": float(energies[index][seed]),
                "time": None if seed % 3 == 0 else float(seed + index),
                "single_cluster": seed % 2,
                "label": "a",
            }
            for seed in range(seeds)
        ]

    def series_of(index, point):
        return [
            {"normalization": "softmax", "beta": point["betas"], "t": [0, 1], "s": [index, None]}
        ]

    directory = tmp_path / "s"
    _write_journal(directory, sweep, rows_of, series_of)
    results = load_results(directory)

    assert [cell.keys["d"] for cell in results.cells] == [p["d"] for p in sweep.points]
    assert results.metric_columns == ("energy", "time", "single_cluster", "label")
    for index, cell in enumerate(results.cells):
        energy = cell.columns["energy"]
        values = energies[index]
        assert energy.seeds == energy.defined == seeds and not energy.undefined
        assert energy.mean == pytest.approx(values.mean(), rel=1e-14)
        assert energy.error == pytest.approx(values.std(ddof=1) / math.sqrt(seeds), rel=1e-12)
        assert not energy.binary
        time = cell.columns["time"]
        defined = [float(seed + index) for seed in range(seeds) if seed % 3]
        assert (time.seeds, time.defined, time.undefined) == (seeds, len(defined), True)
        assert time.mean == pytest.approx(np.mean(defined), rel=1e-14)
        assert cell.columns["single_cluster"].binary
        assert cell.columns["single_cluster"].mean == pytest.approx(3 / 7, rel=1e-14)
        assert cell.columns["label"] is None
    assert [run["s"][0] for run in results.series] == list(range(len(sweep.points)))
    assert all(math.isnan(run["s"][1]) for run in results.series)
    assert results.series_names == ("s",)

    assert resolve_value(results, "single_cluster_prob").probability
    with pytest.raises(ConfigError, match="'energy_prob' needs a 0/1 column"):
        resolve_value(results, "energy_prob")
    with pytest.raises(ConfigError, match=r"'label'.*not numbers"):
        resolve_value(results, "label")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([None, None], (2, 0, math.nan, math.nan, True)),
        ([2.5, None], (2, 1, 2.5, 0.0, False)),
        ([True, False, 1], (3, 3, 2 / 3, math.sqrt(1 / 3) / math.sqrt(3), True)),
    ],
)
def test_a_column_summary_leaves_out_nulls(values, expected):
    summary = summarize(values)
    got = (summary.seeds, summary.defined, summary.mean, summary.error, summary.binary)
    assert got == pytest.approx(expected, nan_ok=True, rel=1e-15)


def test_loading_a_sweep_holds_one_point_of_rows_at_a_time(tmp_path):
    """Of 64 points of 100 seeds, the cells take under a quarter of the memory that reading the
    whole journal takes (measured: a sixth; its peak does not grow with the number of points)."""
    seeds = 100
    sweep = plan_sweep("clustering", ["d=" + ",".join(map(str, range(2, 66)))], seeds, SHARED)
    metrics = {"final_cluster_count": 1, "min_cosine_at_T": 0.5, "single_cluster": 1}
    directory = tmp_path / "s"
    _write_journal(
        directory, sweep, lambda _, point: [{**point, "seed": s, **metrics} for s in range(seeds)]
    )

    assert (
        traced_peak(lambda: load_results(directory))
        < traced_peak(lambda: dict(journal_entries(directory))) / 4
    )
