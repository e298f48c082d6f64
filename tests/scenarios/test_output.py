"""Atomic output: a failed or interrupted run leaves no output, no staging dir, no new parents."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from scenarios.harness.cli import main
from scenarios.harness.config import ConfigError
from scenarios.harness.output import staged_run, write_json
from scenarios.harness.registry import all_scenarios
from scenarios.harness.runner import run_scenario
from scenarios.harness.style import figure_style, new_figure, save_figure
from tests.scenarios.helpers import TINY_SET


def _fail_after_a_figure(error: BaseException):
    """A ``simulate(config, out_dir)`` that writes one figure into its staging dir, then raises
    ``error``."""

    def simulate(config, out_dir: Path) -> None:
        with figure_style():
            fig = new_figure(2.0, 2.0)
            fig.add_subplot().plot([0, 1], [0, 1])
        written = save_figure(fig, out_dir / "half")
        assert all(path.exists() for path in written)
        raise error

    return simulate


def _break_clustering(monkeypatch, error: BaseException) -> None:
    """Make the registered clustering scenario's simulate write a file, then raise ``error``."""
    broken = replace(
        all_scenarios()["clustering"], simulate=_fail_after_a_figure(error), keeps_files=True
    )
    monkeypatch.setitem(all_scenarios(), "clustering", broken)


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (RuntimeError("solver blew up"), 1, "solver blew up"),
        (ValueError("beta=9: overflow"), 1, "beta=9: overflow"),
        (KeyboardInterrupt(), 130, "interrupted"),
    ],
)
def test_failed_run_leaves_nothing_behind(error, code, message, tmp_path, monkeypatch, capsys):
    _break_clustering(monkeypatch, error)
    out_dir = tmp_path / "new" / "deeper" / "out"
    assert main(["run", "clustering", "--set", *TINY_SET, "--out", str(out_dir)]) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("attnflow: error: ") and message in err
    assert "nothing was written" in err
    assert list(tmp_path.iterdir()) == []  # not even the parents created for the output


def test_unexpected_error_propagates_and_leaves_nothing(tmp_path, monkeypatch, tiny_config):
    _break_clustering(monkeypatch, ZeroDivisionError("bug"))
    with pytest.raises(ZeroDivisionError):
        run_scenario("clustering", tiny_config, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_failure_in_figures_or_metrics_leaves_nothing(tmp_path, monkeypatch, tiny_config):
    """simulate succeeded; drawing or measuring fails: still nothing in or beside out_dir."""
    scenario = all_scenarios()["clustering"]

    def broken(config, result):
        raise ValueError("cannot draw")

    for part in ("figures", "metrics"):
        monkeypatch.setitem(all_scenarios(), "clustering", replace(scenario, **{part: broken}))
        with pytest.raises(ValueError, match="cannot draw"):
            run_scenario("clustering", tiny_config, tmp_path / "new" / "out")
        assert list(tmp_path.iterdir()) == [], part


def test_failed_run_keeps_an_existing_output_dir_untouched(tmp_path, monkeypatch, capsys):
    out_dir = tmp_path / "out"
    assert main(["run", "clustering", "--set", *TINY_SET, "--out", str(out_dir)]) == 0
    (out_dir / "notes.txt").write_text("mine")
    before = {path.name: path.read_bytes() for path in out_dir.iterdir()}
    _break_clustering(monkeypatch, RuntimeError("boom"))
    assert main(["run", "clustering", "--set", *TINY_SET, "seed=5", "--out", str(out_dir)]) == 1
    assert {path.name: path.read_bytes() for path in out_dir.iterdir()} == before
    assert [path.name for path in tmp_path.iterdir()] == ["out"]
    monkeypatch.undo()
    assert main(["run", "clustering", "--set", *TINY_SET, "seed=5", "--out", str(out_dir)]) == 0
    capsys.readouterr()
    assert json.loads((out_dir / "config.json").read_text())["seed"] == 5  # replaced
    assert not (out_dir / "notes.txt").exists()  # the directory describes exactly one run


def test_staged_run_moves_files_only_on_success(tmp_path):
    out_dir = tmp_path / "a" / "out"
    with staged_run(out_dir) as staging:
        assert staging.parent == out_dir.parent and staging.is_dir()
        (staging / "one.txt").write_text("1")
        (staging / "sub").mkdir()
        (staging / "sub" / "two.txt").write_text("2")
        assert not out_dir.exists()
    assert (out_dir / "one.txt").read_text() == "1"
    assert (out_dir / "sub" / "two.txt").read_text() == "2"
    assert sorted(path.name for path in out_dir.parent.iterdir()) == ["out"]


def test_staged_run_refuses_a_file_as_output_dir(tmp_path):
    target = tmp_path / "file"
    target.write_text("")
    with pytest.raises(ConfigError, match="not a directory"), staged_run(target):
        pass


def test_write_json_is_strict_json_with_null_for_non_finite(tmp_path):
    path = write_json(
        tmp_path / "m.json", {"a": (1, 2.5), "nan": math.nan, "inf": -math.inf, "p": tmp_path}
    )
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": [1, 2.5], "nan": None, "inf": None, "p": str(tmp_path)}
