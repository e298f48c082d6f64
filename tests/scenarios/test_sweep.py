"""``attnflow sweep`` and ``attnflow plot phase``: batched seeds, refusals, resume, backends."""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch import Tensor

import dynamics
import solvers
from scenarios import clustering
from scenarios.clustering import ClusteringConfig, initial_cloud, initial_clouds, simulate
from scenarios.clustering import sweep as clustering_sweep
from scenarios.clustering.sweep import observables, series_metrics
from scenarios.harness import keep_freed_memory, sweep_plots
from scenarios.harness import sweep as sweep_module
from scenarios.harness.cli import main
from scenarios.harness.config import ConfigError
from scenarios.harness.registry import all_scenarios
from scenarios.harness.sweep import (
    JOURNAL_FILE,
    SPEC_FILE,
    TABLE_FILE,
    SweepTable,
    plan_sweep,
    solve_point,
)
from scenarios.harness.sweep_backends import open_backend
from scenarios.harness.sweep_results import SweepResults
from tests.scenarios.helpers import default_sigint

REPO = Path(__file__).resolve().parents[2]

GRID = ["--grid", "betas=0.5,1,2,4", "--grid", "d=2,3,4,8"]
SHARED = ["--set", "n=32", "T=10", "num_times=21", "normalizations=softmax"]
SWEEP = ["sweep", "clustering", *GRID, "--seeds", "3", *SHARED]
"""16 points of 3 seeds, about 0.2 s each on one thread."""
POINTS, SEEDS = 16, 3


def _sweep(out: Path, *extra: str) -> int:
    return main([*SWEEP, "--out", str(out), *extra])


def _files(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in (SPEC_FILE, JOURNAL_FILE, TABLE_FILE)}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The sweep run uninterrupted, in this process (one worker)."""
    out = tmp_path_factory.mktemp("reference") / "sweep"
    assert _sweep(out, "--workers", "1") == 0
    return out


def test_batched_seed_solve_equals_per_seed_solves(monkeypatch):
    config = ClusteringConfig(
        n=8, T=2.0, betas=(0.5, 2.0), num_times=21, method="dopri5", rtol=1e-8, atol=1e-10
    )
    seeds = [0, 5]
    clouds = initial_clouds(config, seeds)
    for k, seed in enumerate(seeds):
        assert torch.equal(clouds[k], initial_cloud(replace(config, seed=seed)))
    shapes = []
    solve_ensemble = solvers.solve_ensemble

    def counted(field, x0, *args, **kwargs):
        shapes.append(tuple(x0.shape))
        return solve_ensemble(field, x0, *args, **kwargs)

    monkeypatch.setattr(solvers, "solve_ensemble", counted)
    rows = clustering.sweep_point(config, seeds).rows
    assert shapes == [(2, 8, 3)] * 4  # one batched solve per (normalization, beta) run
    for seed in seeds:
        single = {
            (r.normalization, r.beta): r.metrics() for r in simulate(replace(config, seed=seed))
        }
        for row in (row for row in rows if row["seed"] == seed):
            expected = single[(row["normalization"], row["beta"])]
            assert row["single_cluster"] == int(expected["final_cluster_count"] == 1)
            at_t = {
                "pair_collision_fraction_at_T",
                "span_dimension_at_T",
                "largest_cluster_fraction_at_T",
            }
            assert set(row) == {*expected, "seed", "single_cluster", *at_t}
            for name, value in expected.items():
                if isinstance(value, float) and name != "max_norm_error":
                    # Each seed takes its own steps, those of its solo dopri5 solve: the streamed
                    # observables agree with the run's to rounding, not just to the tolerance.
                    assert row[name] == pytest.approx(value, abs=1e-9), name
                elif name != "max_norm_error":
                    assert row[name] == value, name
    assert len(rows) == 2 * 2 * len(seeds)


def test_points_with_more_dimensions_than_tokens_solve_in_span_coordinates(monkeypatch):
    """n = 4 tokens in R^12 are solved as 4 x 4 span coordinates; the observables equal the
    full single runs' to the tolerance (the step sizes differ: the error is weighed over n^2
    entries instead of n d)."""
    config = ClusteringConfig(
        n=4, d=12, T=3.0, betas=(4.0,), num_times=7, method="dopri5", rtol=1e-10, atol=1e-12
    )
    shapes = []
    solve_ensemble = solvers.solve_ensemble

    def counted(field, x0, *args, **kwargs):
        shapes.append(tuple(x0.shape))
        return solve_ensemble(field, x0, *args, **kwargs)

    monkeypatch.setattr(solvers, "solve_ensemble", counted)
    rows = clustering.sweep_point(config, [2, 3]).rows
    assert shapes == [(2, 4, 4)] * 2
    for row in rows:
        expected = {
            r.normalization: r.metrics() for r in simulate(replace(config, seed=row["seed"]))
        }
        for name, value in expected[row["normalization"]].items():
            if isinstance(value, float):
                assert row[name] == pytest.approx(value, abs=1e-7), name
            else:
                assert row[name] == value, name


def _clouds_of_clusters(generator: torch.Generator, steps: int, systems: int, n: int) -> Tensor:
    """Clouds (steps, systems, n, 3) whose tokens sit near 1-5 centres or along a chain of links
    (one cluster only through connectivity), drawn at random per time and system."""
    clouds = torch.empty(steps, systems, n, 3, dtype=torch.float64)
    for t in range(steps):
        for s in range(systems):
            kind = int(torch.randint(6, (1,), generator=generator))
            if kind == 5:  # a chain: neighbours 0.1 rad apart, ends 1.1 rad apart
                angles = 0.1 * torch.arange(n, dtype=torch.float64)
                chain = torch.stack([angles.cos(), angles.sin(), torch.zeros_like(angles)], -1)
                clouds[t, s] = chain[torch.randperm(n, generator=generator)]
            else:
                centres = torch.randn(kind + 1, 3, generator=generator, dtype=torch.float64)
                labels = torch.randint(kind + 1, (n,), generator=generator)
                noise = 0.02 * torch.randn(n, 3, generator=generator, dtype=torch.float64)
                clouds[t, s] = centres[labels] / centres[labels].norm(dim=-1, keepdim=True) + noise
    return clouds


def test_time_to_single_cluster_is_the_first_time_of_one_cluster():
    """The streamed series' first single cluster against ``cluster_count`` at every time, on
    clouds of 1-5 groups and chains (one cluster only through connectivity)."""
    generator = torch.Generator().manual_seed(3)
    steps, systems, n, tol = 6, 40, 12, 1e-2
    xs = _clouds_of_clusters(generator, steps, systems, n)
    counts = dynamics.cluster_count(xs, tol)
    single = counts == 1
    expected = torch.where(single.any(0), single.int().argmax(0), -1)
    assert 0 < int((expected >= 0).sum()) < systems  # both outcomes occur
    assert bool(((counts == 1) & (dynamics.min_pairwise_cosine(xs) < 1 - tol)).any())  # chains
    config = ClusteringConfig(n=n, d=3, cluster_tol=tol)
    observe = observables(config, beta=1.0)
    observed = [observe(cloud * 2.5) for cloud in xs]
    series = {name: torch.stack([step[name] for step in observed]) for name in observed[0]}
    times = torch.arange(steps, dtype=torch.float64)
    metrics = series_metrics(times, series)
    assert metrics["time_to_single_cluster"] == [None if k < 0 else float(k) for k in expected]
    assert metrics["final_cluster_count"] == counts[-1].tolist()


def test_grid_start_stop_count_is_evenly_spaced():
    """betas=0.1:9:90 is the phase diagram's beta axis, numpy.linspace(0.1, 9, 90)."""
    sweep = plan_sweep("clustering", ["betas=0.1:9:90", "d=2:4:3"], 1, [])
    betas = [point["betas"] for point in sweep.points[::3]]
    assert betas == pytest.approx(np.linspace(0.1, 9, 90).tolist(), abs=1e-12)
    assert betas[:3] == [0.1, 0.2, 0.3] and betas[-1] == 9.0
    assert [point["d"] for point in sweep.points[:3]] == [2, 3, 4]
    for text in ("1:2:1", "1:x:5", "1:2:2.5"):
        with pytest.raises(ConfigError, match="START:STOP:COUNT"):
            plan_sweep("clustering", [f"betas={text}"], 1, [])


def test_plan_builds_every_point_config():
    sweep = plan_sweep("clustering", ["betas=1,4", "d=2,3,8"], 5, ["n=16", "seed=10"])
    assert len(sweep.points) == 6 and sweep.seeds == (10, 11, 12, 13, 14)
    assert sweep.points[1] == {"betas": 1.0, "d": 3}
    assert sweep.configs[1].betas == (1.0,) and sweep.configs[1].d == 3
    assert {config.n for config in sweep.configs} == {16}
    assert sweep.configs[0].method == "dopri5"  # the scenario's sweep defaults
    assert sweep.key_columns == ("betas", "d", "seed", "normalization", "beta")


REFUSALS = [
    (["--grid", "bta=1,2"], ["'bta'", "did you mean 'betas'"]),
    (["--grid", "betas="], ["betas=", "empty"]),
    (["--grid", "d=2,,3"], ["d=2,,3", "empty"]),
    (["--grid", "n=8,x"], ["'x'", "integer"]),
    (["--grid", "betas=1,y"], ["'y'", "real number"]),
    (["--grid", "d=1,3"], ["d=1", ">= 2"]),
    (["--grid", "d=2,2"], ["d=2,2", "distinct"]),
    (["--grid", "d"], ["'d'", "KEY=V1,V2"]),
    (["--grid", "d=2", "--grid", "d=3"], ["d=", "twice"]),
    (["--grid", "d=2", "--set", "n=8", "n=9"], ["--set n=", "twice"]),
    (["--grid", "n=8,9", "--set", "n=10"], ["--set n=10", "--grid n=", "give it once"]),
    (["--grid", "betas=1:2:1000", "--grid", "n=2:1001:1000"], ["1000000 points", "at most 100000"]),
    (["--grid", "betas=0:1:100000000"], ["COUNT from 2 to 100000"]),
    (["--grid", "seed=1,2"], ["seed", "--seeds"]),
    (["--grid", "d=2", "--seeds", "0"], ["--seeds 0", ">= 1"]),
    (["--grid", "d=2", "--set", "bta=1"], ["'bta'", "did you mean 'betas'"]),
    (["--grid", "d=2", "--set", "method=scipy_solver"], ["scipy_solver", "dopri5"]),
    (["--grid", "n=8,900", "--set", "dtype=float32"], ["threshold=0.001", "n=900", "float64"]),
    (["--grid", "d=2", "--backend", "daks"], ["'daks'", "did you mean 'dask'"]),
    (["--grid", "d=2", "--address", "tcp://127.0.0.1:1"], ["--address", "dask"]),
    (["--grid", "d=2", "--workers", "0"], ["--workers 0", ">= 1"]),
]


@pytest.mark.parametrize(("args", "expected"), REFUSALS, ids=[" ".join(a) for a, _ in REFUSALS])
def test_bad_sweeps_are_refused_before_any_work(args, expected, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    declared = all_scenarios()["clustering"]
    no_work = replace(declared, sweep=replace(declared.sweep, point=_no_work))
    monkeypatch.setitem(all_scenarios(), "clustering", no_work)
    code = main(["sweep", "clustering", *args])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert len(captured.err.splitlines()) == 1, captured.err
    for fragment in expected:
        assert fragment in captured.err
    assert list(tmp_path.iterdir()) == []  # nothing written, not even the sweep directory


def test_too_many_points_are_refused_before_the_points_are_built(monkeypatch):
    monkeypatch.setattr(sweep_module, "_point_config", _no_work)
    with pytest.raises(ConfigError, match=r"makes 100000000 points; at most 100000"):
        plan_sweep("clustering", ["betas=1:2:10000", "n=2:10001:10000"], 1)


def test_a_scenario_without_sweep_support_is_refused(tmp_path, capsys):
    name = next(name for name, scenario in all_scenarios().items() if scenario.sweep is None)
    assert main(["sweep", name, "--out", str(tmp_path / "s")]) == 2
    assert "does not support sweeps" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def _no_work(*_args, **_kwargs):
    raise AssertionError("a refused sweep must not run any point")


def test_the_table_has_every_point_once_in_canonical_order(reference):
    journal = [json.loads(line) for line in (reference / JOURNAL_FILE).read_text().splitlines()]
    assert [entry["index"] for entry in journal] == list(range(POINTS))
    lines = (reference / TABLE_FILE).read_text().splitlines()
    assert lines[0].startswith("betas,d,seed,normalization,beta,final_cluster_count,")
    assert len(lines) == 1 + POINTS * SEEDS
    rows = [row for entry in journal for row in entry["rows"]]
    keys = [(row["betas"], row["d"], row["seed"]) for row in rows]
    assert len(set(keys)) == len(keys) == POINTS * SEEDS
    assert all(row["beta"] == row["betas"] for row in rows)
    spec = json.loads((reference / SPEC_FILE).read_text())
    assert spec["seeds"] == {"first": 0, "count": SEEDS}
    assert spec["grid"] == {"betas": [0.5, 1.0, 2.0, 4.0], "d": [2, 3, 4, 8]}


def test_a_sweep_interrupted_by_sigint_resumes_to_the_same_table(reference, tmp_path, capsys):
    """SIGINT once two points are saved. On a quiet machine the 16 points take about 1 s, and
    once (in a full test run) the sweep ended before the signal arrived: such an attempt proves
    nothing either way, so it is repeated in a fresh directory, up to three times."""
    for attempt in range(3):
        out = tmp_path / f"sweep{attempt}"
        code, err = _interrupt_after_two_points(out)
        if not (code == 0 and _finished_points(out) == POINTS):
            break
    saved = _finished_points(out)
    assert code == 130, err
    assert 2 <= saved < POINTS
    assert f"interrupted; {saved} of {POINTS} points are saved" in err
    assert _sweep(out, "--workers", "1") == 0  # the same command: resumes
    assert f"{POINTS - saved} solved, {saved} already done" in capsys.readouterr().out
    assert _files(out) == _files(reference)
    assert _sweep(out, "--workers", "1") == 0  # nothing left to do, nothing changes
    assert f"0 solved, {POINTS} already done" in capsys.readouterr().out
    assert _files(out) == _files(reference)


def _interrupt_after_two_points(out: Path) -> tuple[int, str]:
    """Run the sweep in a subprocess, send SIGINT once two points are saved; (exit code, stderr)."""
    command = [
        sys.executable,
        "-m",
        "scenarios.harness.cli",
        *SWEEP,
        "--out",
        str(out),
        "--workers",
        "2",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=default_sigint,
    ) as process:
        deadline = time.monotonic() + 120
        while _finished_points(out) < 2 and process.poll() is None:
            assert time.monotonic() < deadline, "the sweep wrote no rows"
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    return process.returncode, err


def _finished_points(out: Path) -> int:
    try:
        return (out / JOURNAL_FILE).read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_a_torn_last_line_is_cut_and_its_point_solved_again(reference, tmp_path):
    out = tmp_path / "sweep"
    shutil.copytree(reference, out)
    lines = (out / JOURNAL_FILE).read_bytes().splitlines(keepends=True)
    (out / JOURNAL_FILE).write_bytes(b"".join(lines[:5]) + lines[5][:40])  # killed mid-write
    (out / TABLE_FILE).unlink()
    assert _sweep(out, "--workers", "1") == 0
    assert _files(out) == _files(reference)


def test_a_different_spec_is_refused_in_the_same_directory(reference, tmp_path, capsys):
    out = tmp_path / "sweep"
    shutil.copytree(reference, out)
    before = _files(out)
    code = main([*SWEEP[:-2], "normalizations=uniform", "--out", str(out), "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1
    assert "holds a different sweep" in err
    assert 'config.normalizations: there ["softmax"], now ["uniform"];' in err
    assert "config.num_times: there 21, now 301)" in err  # the default, as num_times is not set
    assert "config.n:" not in err and "key_columns" not in err  # only what differs
    assert _files(out) == before
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    assert _sweep(tmp_path / "other") == 2
    assert "not a sweep directory" in capsys.readouterr().err


def test_only_one_sweep_writes_to_a_directory(tmp_path):
    sweep = plan_sweep("clustering", ["d=2,3"], 1, ["n=4"])
    with (
        SweepTable.open(tmp_path / "s", sweep),
        pytest.raises(ConfigError, match="another"),
        SweepTable.open(tmp_path / "s", sweep),
    ):
        pass


def test_a_local_pool_spawns_its_workers_for_points_on_a_gpu(monkeypatch):
    """A child forked after the sweep process checked CUDA cannot use it, so points on a GPU go
    to spawned workers; these solve a point as this process does."""
    methods = []
    get_context = multiprocessing.get_context

    def recorded(method):
        methods.append(method)
        return get_context(method)

    monkeypatch.setattr(multiprocessing, "get_context", recorded)
    sweep = plan_sweep("clustering", ["betas=0.5,2"], SEEDS, SHARED[1:])
    with open_backend("local", 2, None, gpu=True) as run:
        pooled = dict(run(solve_point, sweep.tasks()))
    assert methods == ["spawn"]
    assert pooled == dict(solve_point(task) for task in sweep.tasks())


def test_dask_backend_gives_the_same_table_as_local(reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        out = tmp_path / "sweep"
        assert _sweep(out, "--backend", "dask", "--address", cluster.scheduler_address) == 0
    assert _files(out) == _files(reference)


@pytest.mark.slow
def test_dask_backend_without_address_starts_a_local_cluster(reference, tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "sweep"
    assert _sweep(out, "--backend", "dask", "--workers", "2") == 0
    assert _files(out) == _files(reference)


def test_plot_writes_a_heat_map_and_a_line_plot(reference, tmp_path, capsys):
    out = tmp_path / "sweep"
    shutil.copytree(reference, out)
    heat = ["plot", "phase", str(out), "--x", "beta", "--y", "d", "--value", "single_cluster_prob"]
    assert main(heat) == 0
    assert (
        main(["plot", "phase", str(out), "--x", "beta", "--value", "time_to_single_cluster"]) == 0
    )
    capsys.readouterr()
    for stem in ("phase_single_cluster_prob_beta_d", "line_time_to_single_cluster_beta"):
        assert (out / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / f"{stem}.pdf").read_bytes()[:5] == b"%PDF-"
    assert not [path for path in out.iterdir() if path.name.startswith(".")]


PLOT_REFUSALS = [
    (["--x", "beta", "--value", "clusters"], ["--value 'clusters'", "final_cluster_count"]),
    (["--x", "bta", "--value", "single_cluster"], ["--x 'bta'", "did you mean 'beta'"]),
    (["--x", "seed", "--value", "single_cluster"], ["--x 'seed'", "key columns"]),
    (["--x", "d", "--y", "d", "--value", "single_cluster"], ["both 'd'"]),
    (["--x", "d", "--value", "min_cosine_at_T_prob"], ["0/1 column"]),
]


@pytest.mark.parametrize(
    ("args", "expected"), PLOT_REFUSALS, ids=[" ".join(a) for a, _ in PLOT_REFUSALS]
)
def test_plot_refusals_are_one_line(args, expected, reference, capsys):
    before = sorted(path.name for path in reference.iterdir())
    assert main(["plot", "phase", str(reference), *args]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    for fragment in expected:
        assert fragment in err
    assert sorted(path.name for path in reference.iterdir()) == before


def test_plot_refuses_a_directory_without_a_sweep(tmp_path, capsys):
    assert main(["plot", "phase", str(tmp_path), "--x", "d", "--value", "v"]) == 2
    assert "not a sweep directory" in capsys.readouterr().err


def test_chunks_of_seeds_change_no_result(monkeypatch):
    """Each seed takes its own steps, so solving the seeds in chunks gives the same rows."""
    config = ClusteringConfig(n=6, T=1.0, betas=(2.0,), num_times=6, method="dopri5")
    whole = clustering.sweep_point(config, range(5)).rows
    cloud_bytes = config.n * config.d * 8
    monkeypatch.setattr(
        clustering_sweep, "CHUNK_BYTES", 2 * clustering_sweep.STREAM_COPIES * cloud_bytes
    )
    assert clustering_sweep.chunk_size(config) == 2
    chunked = clustering.sweep_point(config, range(5)).rows
    assert len(chunked) == len(whole) == 2 * 5
    for left, right in zip(whole, chunked, strict=True):
        assert left.keys() == right.keys()
        for key, value in left.items():
            if isinstance(value, float):
                assert right[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key
            else:
                assert right[key] == value, key


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="needs glibc"
)
def test_sweep_workers_keep_freed_memory_under_glibc():
    """Every ``mallopt`` setting is accepted (glibc refuses an mmap threshold above 32 MiB on
    64-bit)."""
    assert keep_freed_memory()


def _written_sweep(
    directory: Path,
    grids: list[str],
    row: Callable[[dict, int], dict] = lambda point, seed: {"single_cluster": 1},
    *,
    seeds: int = 1,
    done: int | None = None,
) -> SweepResults:
    """A sweep directory of ``grids`` whose first ``done`` points (default: all) hold, per seed,
    the metrics ``row(point, seed)`` and the series ``fraction`` at t = 0, 1, 2; its results."""
    sweep = plan_sweep("clustering", grids, seeds)
    with SweepTable.open(directory, sweep):
        pass  # writes sweep.json
    series = [{"t": [0.0, 1.0, 2.0], "fraction": [0.0, 0.5, 1.0]}]
    lines = [
        json.dumps(
            {
                "index": index,
                "point": point,
                "rows": [{**point, "seed": seed, **row(point, seed)} for seed in sweep.seeds],
                "series": series,
            }
        )
        for index, point in enumerate(sweep.points[:done])
    ]
    (directory / JOURNAL_FILE).write_text("".join(line + "\n" for line in lines))
    return sweep_plots.load_results(directory)


def test_a_heat_map_of_many_values_labels_every_kth_cell(tmp_path):
    """90 betas (the paper's grid) get labels on every 10th cell, each naming its cell's beta;
    5 values of d get one each."""
    betas = [round(0.1 * k, 1) for k in range(1, 91)]
    grids = [f"betas={','.join(map(str, betas))}", "d=2,3,4,5,6"]
    results = _written_sweep(tmp_path / "s", grids)
    figure = sweep_plots.heat_map(
        results, "betas", "d", sweep_plots.resolve_value(results, "single_cluster_prob")
    )
    ax = figure.axes[0]
    assert list(ax.get_xticks()) == list(range(0, 90, 10))
    assert [label.get_text() for label in ax.get_xticklabels()] == [
        str(betas[k]) for k in range(0, 90, 10)
    ]
    assert [label.get_text() for label in ax.get_yticklabels()] == ["2", "3", "4", "5", "6"]
    matplotlib.pyplot.close(figure)


PANELS = ["normalizations=softmax,uniform", "d=2,3", "betas=0.5,2"]
"""Four panels (normalizations x d) of long titles, two betas."""


def _assert_panel_titles_apart(figure: Figure) -> None:
    """The panel titles are drawn inside the figure without touching one another."""
    figure.canvas.draw()
    boxes = [ax.title.get_window_extent() for ax in figure.axes if ax.get_title()]
    assert len(boxes) == 4
    inside = figure.bbox
    for number, box in enumerate(boxes):
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1
        assert not any(box.overlaps(other) for other in boxes[number + 1 :])
    matplotlib.pyplot.close(figure)


def test_heat_map_panel_titles_do_not_overlap(tmp_path):
    results = _written_sweep(tmp_path / "s", [*PANELS, "n=8,9"])
    value = sweep_plots.resolve_value(results, "single_cluster")
    _assert_panel_titles_apart(sweep_plots.heat_map(results, "betas", "n", value))


def test_a_time_heat_map_has_a_row_per_value_and_titles_apart(tmp_path):
    """Two betas are two rows labelled 0.5 and 2, not an axis of beta from -0.25 to 2.75."""
    results = _written_sweep(tmp_path / "s", PANELS)
    figure = sweep_plots.time_heat_map(results, "betas", "fraction")
    ax = figure.axes[0]
    assert ax.get_ylim() == (-0.5, 1.5)
    assert [label.get_text() for label in ax.get_yticklabels()] == ["0.5", "2"]
    _assert_panel_titles_apart(figure)


def test_the_title_says_an_incomplete_sweep_and_the_seeds_per_point(tmp_path):
    """5 of 8 points finished; the metric is undefined for seed 0 at d = 2 (1 or 2 seeds)."""

    def row(point: dict, seed: int) -> dict:
        return {"time": None if seed == 0 and point["d"] == 2 else 1.0}

    results = _written_sweep(tmp_path / "s", [*PANELS, "n=8,9"][1:], row, seeds=2, done=5)
    figure = sweep_plots.heat_map(results, "betas", "d", sweep_plots.resolve_value(results, "time"))
    title = " ".join(figure.get_suptitle().split())
    assert "incomplete sweep: 5 of 8 points" in title
    assert "undefined left out (seeds per point: 1 to 2)" in title
    matplotlib.pyplot.close(figure)
    complete = _written_sweep(tmp_path / "all", PANELS[1:])
    figure = sweep_plots.heat_map(
        complete, "betas", "d", sweep_plots.resolve_value(complete, "single_cluster")
    )
    assert "incomplete" not in figure.get_suptitle()
    assert "seeds per point" not in figure.get_suptitle()
    matplotlib.pyplot.close(figure)
