"""The runner: the metrics envelope, seeding, threads, the staging directory of keeps_files, and
a failing simulate leaving nothing behind."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from scenarios.clustering import ClusteringConfig
from scenarios.harness.checks import at_least
from scenarios.harness.config import ScenarioConfig, config_to_dict, param
from scenarios.harness.output import STAGING_PREFIX
from scenarios.harness.registry import all_scenarios
from scenarios.harness.runner import CONFIG_FILE, METRICS_FILE, run_scenario
from scenarios.harness.scenario import Scenario
from scenarios.harness.style import figure_style, new_figure
from tests.scenarios.helpers import strict_json


@dataclass(frozen=True)
class _ProbeConfig(ScenarioConfig):
    """A config for a scenario that only reports what the runner gave it."""

    size: int = param(4, "entries of the random draw", at_least(1))
    threads: int = param(0, "CPU threads; 0: by the work", at_least(0))


@dataclass(frozen=True)
class _Seen:
    draw: list[float]
    threads: int
    out_dir: Path | None


def _simulate(config: _ProbeConfig, out_dir: Path | None = None) -> _Seen:
    if out_dir is not None:
        (out_dir / "own.txt").write_text("written by simulate")
    return _Seen(torch.rand(config.size).tolist(), torch.get_num_threads(), out_dir)


def _figures(config: _ProbeConfig, result: _Seen) -> dict:
    with figure_style():
        figures = {}
        for stem in ("zeta", "alpha"):  # not in order: the envelope sorts them
            figures[stem] = new_figure(2.0, 2.0)
            figures[stem].add_subplot().plot(result.draw)
        return figures


def _probe(**changes) -> Scenario:
    fields = {
        "name": "probe",
        "summary": "A probe of the runner.",
        "config": _ProbeConfig,
        "simulate": _simulate,
        "metrics": lambda config, result: {"draw": result.draw, "threads": result.threads},
        "figures": _figures,
        "summary_lines": lambda metrics: [],
        "work": lambda config: config.size,
    }
    return Scenario(**{**fields, **changes})


@pytest.fixture
def probe(monkeypatch):
    """Register the probe scenario (for this test only) and return a function to replace it."""

    def register(**changes) -> Scenario:
        scenario = _probe(**changes)
        monkeypatch.setitem(all_scenarios(), "probe", scenario)
        return scenario

    register()
    return register


def test_metrics_envelope_wraps_the_scenarios_numbers(probe, tmp_path):
    config = _ProbeConfig(size=3, seed=5)
    metrics = run_scenario("probe", config, tmp_path / "out")
    assert list(metrics) == ["scenario", "parameters", "draw", "threads", "figures", "wall_time_s"]
    assert metrics["scenario"] == "probe"
    assert metrics["parameters"] == config_to_dict(config)
    assert metrics["figures"] == ["alpha", "zeta"]  # sorted
    assert set(metrics["wall_time_s"]) == {"simulate", "figures"}
    assert all(seconds >= 0 for seconds in metrics["wall_time_s"].values())
    out = tmp_path / "out"
    assert strict_json((out / METRICS_FILE).read_text()) == json.loads(json.dumps(metrics))
    assert strict_json((out / CONFIG_FILE).read_text()) == config_to_dict(config)
    names = {path.name for path in out.iterdir()}
    assert names == {METRICS_FILE, CONFIG_FILE, "alpha.png", "alpha.pdf", "zeta.png", "zeta.pdf"}


def test_figures_off_draws_nothing(probe, tmp_path):
    metrics = run_scenario("probe", _ProbeConfig(figures=False), tmp_path / "out")
    assert metrics["figures"] == []
    assert {path.name for path in (tmp_path / "out").iterdir()} == {METRICS_FILE, CONFIG_FILE}


def test_the_runner_seeds_torch_with_the_configs_seed(probe, tmp_path):
    draws = [
        run_scenario("probe", _ProbeConfig(seed=seed, figures=False), tmp_path / name)["draw"]
        for seed, name in ((1, "a"), (2, "b"), (1, "c"))
    ]
    assert draws[0] == draws[2] != draws[1]
    torch.manual_seed(1)
    assert draws[0] == torch.rand(4).tolist()


def test_threads_follow_the_work_and_are_restored(probe, tmp_path):
    before = torch.get_num_threads()
    small = run_scenario("probe", _ProbeConfig(figures=False), tmp_path / "a")
    assert small["threads"] == 1  # 4 entries of work: one thread
    chosen = run_scenario("probe", _ProbeConfig(threads=2, figures=False), tmp_path / "b")
    assert chosen["threads"] == 2
    probe(work=None)  # no work declared: the threads are left as they are
    assert run_scenario("probe", _ProbeConfig(figures=False), tmp_path / "c")["threads"] == before
    assert torch.get_num_threads() == before


def test_keeps_files_gives_simulate_the_staging_directory(probe, tmp_path):
    probe(keeps_files=True)
    out = tmp_path / "out"
    run_scenario("probe", _ProbeConfig(figures=False), out)
    assert (out / "own.txt").read_text() == "written by simulate"
    assert [path.name for path in tmp_path.iterdir()] == ["out"]  # the staging dir is gone


def test_staging_directory_sits_beside_the_output(probe, tmp_path):
    seen = []

    def simulate(config, out_dir):
        seen.append(out_dir)
        return _simulate(config, out_dir)

    probe(keeps_files=True, simulate=simulate)
    run_scenario("probe", _ProbeConfig(figures=False), tmp_path / "out")
    assert seen[0].parent == tmp_path and seen[0].name.startswith(f"{STAGING_PREFIX}out-")


@pytest.mark.parametrize("keeps_files", [False, True])
def test_a_simulate_that_raises_leaves_nothing_behind(probe, tmp_path, keeps_files):
    def simulate(config, out_dir=None):
        if out_dir is not None:
            (out_dir / "half.txt").write_text("half a run")
        raise RuntimeError("simulation failed")

    probe(simulate=simulate, keeps_files=keeps_files)
    with pytest.raises(RuntimeError, match="simulation failed"):
        run_scenario("probe", _ProbeConfig(), tmp_path / "new" / "out")
    assert list(tmp_path.iterdir()) == []


def test_a_config_of_another_scenario_is_refused(probe, tmp_path):
    with pytest.raises(TypeError, match="config must be a _ProbeConfig"):
        run_scenario("probe", ClusteringConfig(), tmp_path / "out")
    assert list(tmp_path.iterdir()) == []
