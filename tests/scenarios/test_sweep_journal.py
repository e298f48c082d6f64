"""A sweep's journal is checked against its grid, its files follow the umask, and its table agrees
with the journal whenever the command returns."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scenarios.harness import ConfigError
from scenarios.harness.sweep import (
    JOURNAL_FILE,
    SPEC_FILE,
    TABLE_FILE,
    SweepTable,
    journal_entries,
    plan_sweep,
    run_sweep,
)
from tests.scenarios.helpers import traced_peak

GRID = ["d=2,3"]
SHARED = ["n=4", "T=0.5", "num_times=3", "betas=1", "normalizations=softmax"]


def _sweep():
    return plan_sweep("clustering", GRID, 2, SHARED)


def _journal_lines(directory):
    return (directory / JOURNAL_FILE).read_text().splitlines()


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sweep") / "s"
    run_sweep(_sweep(), directory, workers=1)
    return directory


def _copy_with_journal(source, target, lines):
    target.mkdir()
    (target / SPEC_FILE).write_text((source / SPEC_FILE).read_text())
    (target / JOURNAL_FILE).write_text("".join(line + "\n" for line in lines))


def _foreign_lines(finished):
    first, second = (json.loads(line) for line in _journal_lines(finished))
    outside = {**first, "index": 99}
    moved = {**first, "point": second["point"]}
    seeds = {**first, "rows": [{**row, "seed": row["seed"] + 10} for row in first["rows"]]}
    return {
        "index outside the grid": (outside, "index 99, outside the sweep's 2 points"),
        "another point's values": (moved, "but point 0 is"),
        "other seeds": (seeds, "rows for seeds [10, 11]"),
        "a repeated point": (second, "repeats point 1"),
    }


@pytest.mark.parametrize(
    "case", ["index outside the grid", "another point's values", "other seeds", "a repeated point"]
)
def test_a_foreign_journal_line_is_refused_with_its_line_number(finished, tmp_path, case):
    entry, words = _foreign_lines(finished)[case]
    lines = [_journal_lines(finished)[1], json.dumps(entry)]
    _copy_with_journal(finished, tmp_path / "s", lines)
    with pytest.raises(ConfigError, match=r"line 2 .*" + re.escape(words)):
        run_sweep(_sweep(), tmp_path / "s", workers=1)


def test_sweep_files_follow_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        run_sweep(_sweep(), tmp_path / "s", workers=1)
    finally:
        os.umask(previous)
    for name in (SPEC_FILE, JOURNAL_FILE, TABLE_FILE):
        assert stat.S_IMODE((tmp_path / "s" / name).stat().st_mode) == 0o644, name


def test_the_table_matches_the_journal_after_an_interrupt(tmp_path, monkeypatch):
    from scenarios.harness import sweep as sweep_module

    append = sweep_module._append

    def interrupted_after_the_journal(path, text):
        append(path, text)
        if path.name == JOURNAL_FILE:
            raise KeyboardInterrupt  # before the point's CSV rows are appended

    monkeypatch.setattr(sweep_module, "_append", interrupted_after_the_journal)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(_sweep(), tmp_path / "s", workers=1)
    journal = [json.loads(line) for line in _journal_lines(tmp_path / "s")]
    with open(tmp_path / "s" / TABLE_FILE, newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(journal) == 1
    assert [int(row["seed"]) for row in table] == [row["seed"] for row in journal[0]["rows"]]


def test_a_sweep_solved_in_grid_order_leaves_both_files_canonical(finished):
    """One worker solves the points in grid order; completing keeps the files as appended, and
    they are what a rewrite from the journal gives: points in grid order under one header."""
    entries = [json.loads(line) for line in _journal_lines(finished)]
    assert [entry["index"] for entry in entries] == [0, 1]
    with open(finished / TABLE_FILE, newline="") as handle:
        table = list(csv.DictReader(handle))
    expected = [row for entry in entries for row in entry["rows"]]
    assert [(int(r["d"]), int(r["seed"])) for r in table] == [(r["d"], r["seed"]) for r in expected]
    assert [float(r["min_cosine_at_T"]) for r in table] == [r["min_cosine_at_T"] for r in expected]


@pytest.mark.parametrize("killed", [False, True])
def test_a_resumed_sweep_appends_to_a_table_that_matches_its_journal(finished, tmp_path, killed):
    """A resumed sweep's CSV has one header and the rows of every finished point while it runs,
    also when the sweep before it was killed before its CSV caught up (SIGKILL: no cleanup)."""
    entries = [json.loads(line) for line in _journal_lines(finished)[::-1]]
    directory = tmp_path / "s"
    for session, entry in enumerate(entries):
        rows = [{k: v for k, v in r.items() if k not in entry["point"]} for r in entry["rows"]]
        with SweepTable.open(directory, _sweep()) as table:
            table.append(entry["index"], rows)
            with open(directory / TABLE_FILE, newline="") as handle:
                lines = list(csv.reader(handle))
        if killed and session == 0:
            (directory / TABLE_FILE).unlink()
    header = lines[0]
    assert header[:3] == ["d", "seed", "normalization"]
    assert [line for line in lines[1:] if line == header] == []
    seeds = [(int(line[0]), int(line[1])) for line in lines[1:]]
    assert seeds == [(3, 0), (3, 1), (2, 0), (2, 1)]  # in the order the points finished


def test_sigterm_stops_a_pooled_sweep_with_one_line(tmp_path):
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "s"
    slow = ["n=8", "T=100", "num_times=2", "method=euler", "step_size=1e-4"]
    command = [sys.executable, "-m", "scenarios.command", "sweep", "clustering"]
    command += ["--grid", "betas=1,2,3,4", "--seeds", "2", "--set", *slow]
    command += ["--workers", "2", "--out", str(out)]
    process = subprocess.Popen(
        command,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (out / SPEC_FILE).exists():  # written when the sweep opens its directory
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the sweep never started"
        time.sleep(0.05)
    time.sleep(1.0)  # let the pool start its workers (not needed for correctness)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "interrupted; 0 of 4 points are saved" in stderr


def test_the_sweep_process_holds_one_point_of_the_journal_at_a_time(tmp_path):
    """Opening and completing a sweep directory reads and rewrites its files a point at a time:
    of 64 points, it allocates under a quarter of what reading the whole journal takes (measured:
    a sixth; its peak does not grow with the number of points)."""
    seeds = 100
    sweep = plan_sweep("clustering", ["d=" + ",".join(map(str, range(2, 66)))], seeds, SHARED)
    directory = tmp_path / "s"
    with SweepTable.open(directory, sweep):
        pass  # writes sweep.json
    metrics = {"final_cluster_count": 1, "min_cosine_at_T": 0.5, "single_cluster": 1}
    lines = [
        json.dumps(
            {
                "index": index,
                "point": point,
                "rows": [{**point, "seed": seed, **metrics} for seed in range(seeds)],
            }
        )
        for index, point in reversed(list(enumerate(sweep.points)))  # finished out of order
    ]
    (directory / JOURNAL_FILE).write_text("".join(line + "\n" for line in lines))
    whole = traced_peak(lambda: dict(journal_entries(directory)))

    def complete() -> None:
        with SweepTable.open(directory, sweep) as table:
            table.complete()

    assert traced_peak(complete) < whole / 4
    assert _journal_lines(directory) == lines[::-1]  # in grid order
    with open(directory / TABLE_FILE, newline="") as handle:
        table_rows = list(csv.DictReader(handle))
    assert [(int(row["d"]), int(row["seed"])) for row in table_rows] == [
        (point["d"], seed) for point in sweep.points for seed in range(seeds)
    ]
