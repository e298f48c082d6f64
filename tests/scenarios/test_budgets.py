"""Sizes beyond what the machine can hold are refused before any work, with one line that names
the estimate, the budget and the way to override it."""

from __future__ import annotations

import pytest

from scenarios.clustering import ClusteringConfig, peak_memory
from scenarios.harness import ConfigError
from scenarios.harness.cli import main
from scenarios.harness.memory import BUDGET_VARIABLE, GIB, check_memory, memory_budget


def test_the_budget_is_the_machine_or_the_variable(monkeypatch):
    monkeypatch.delenv(BUDGET_VARIABLE, raising=False)
    assert memory_budget() > GIB // 4
    monkeypatch.setenv(BUDGET_VARIABLE, "0.5")
    assert memory_budget() == GIB // 2
    check_memory("a small run", GIB // 2)
    with pytest.raises(ConfigError, match=f"0.75 GiB.*0.5 GiB.*{BUDGET_VARIABLE}"):
        check_memory("a large run", 0.75 * GIB)
    for text in ("lots", "-1", "nan", "inf"):
        monkeypatch.setenv(BUDGET_VARIABLE, text)
        with pytest.raises(ConfigError, match=f"{BUDGET_VARIABLE}="):
            memory_budget()


def test_clustering_memory_grows_with_the_trajectory_and_lsoda_jacobian():
    small = ClusteringConfig(n=10, d=3, num_times=11, method="dopri5")
    assert peak_memory(small) == 11 * 10 * 3 * 8 + 4 * 11 * 100 * 8
    lsoda = ClusteringConfig(n=10, d=3, num_times=11, method="scipy_solver")
    assert peak_memory(lsoda) - peak_memory(small) == 30**2 * 8


@pytest.mark.parametrize(
    ("command", "words"),
    [
        (["run", "clustering", "--set", "n=1000000000000000000000"], "needs about"),
        (["run", "clustering", "--set", "threads=100000"], "threads=100000"),
        (["run", "clustering", "--set", "method=euler", "step_size=1e-300"], "budget of 1e+08"),
        (["sweep", "clustering", "--grid", "d=2", "--seeds", "9223372036854775807"], "seeds"),
    ],
)
def test_sizes_the_machine_cannot_hold_are_refused(command, words, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(BUDGET_VARIABLE, raising=False)
    assert main([*command, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and words in err
    assert list(tmp_path.iterdir()) == []
