"""The ``attnflow`` command: listing, help, typed ``--set``/TOML configs, seeds and refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from scenarios.clustering import ClusteringConfig
from scenarios.harness.cli import main
from scenarios.harness.config import config_fields
from scenarios.harness.registry import all_scenarios
from tests.scenarios.helpers import TINY_SET

REPO = Path(__file__).resolve().parents[2]


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _command(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scenarios.harness.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_list_names_every_scenario_with_its_summary(capsys):
    code, out, err = _run(capsys, "list")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == list(all_scenarios())
    for line, scenario in zip(lines, all_scenarios().values(), strict=True):
        assert line.endswith(scenario.summary)
    assert "self-attention" in next(line for line in lines if line.startswith("clustering "))


def test_run_help_lists_every_field_with_type_default_and_meaning(capsys):
    code, out, err = _run(capsys, "run", "clustering", "--help")
    assert code == 0 and err == ""
    assert "usage: attnflow run clustering" in out
    for info in config_fields(ClusteringConfig):
        line = next(line for line in out.splitlines() if line.startswith(f"  {info.name} "))
        assert info.type_name in line
        assert (info.default_text or '""') in line
        assert info.help.split()[0] in line
    assert "tuple[float, ...]  1,4,9" in out


def _meanings(help_text: str, names: list[str]) -> dict[str, str]:
    """The MEANING column of ``run NAME --help`` per field, its wrapped lines joined by spaces."""
    lines = help_text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("  KEY "))
    column = lines[header].index("MEANING")
    meanings: dict[str, list[str]] = {}
    for line in lines[header + 1 :]:
        if not line.strip():
            break
        if line[2:3] != " ":
            meanings[line.split()[0]] = []
        meanings[next(reversed(meanings))].append(line[column:])
    assert list(meanings) == names
    return {name: " ".join(parts) for name, parts in meanings.items()}


@pytest.mark.parametrize("name", list(all_scenarios()))
def test_run_help_shows_each_fields_help_then_its_checks_phrase(name, capsys):
    code, out, err = _run(capsys, "run", name, "--help")
    assert code == 0 and err == ""
    infos = config_fields(all_scenarios()[name].config)
    meanings = _meanings(out, [info.name for info in infos])
    for info in infos:
        expected = info.help if info.check is None else f"{info.help} ({info.check.accepted})"
        # compared without whitespace: the wrapping may break a line after a hyphen
        assert "".join(meanings[info.name].split()) == "".join(expected.split()), info.name


def test_run_help_without_a_name_lists_the_scenarios(capsys):
    code, out, _ = _run(capsys, "run", "--help")
    assert code == 0
    assert "--set KEY=VALUE" in out and "clustering" in out


def test_set_values_are_typed_and_written_to_config_json(tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, out, err = _run(
        capsys,
        "run", "clustering", "--out", str(out_dir), "--set", *TINY_SET,
        "--set", "hist_bins=12", "cluster_tol=5e-2", "normalizations=uniform",
    )  # fmt: skip
    assert code == 0, err
    assert err == ""  # no progress bar when stderr is not a terminal
    assert "uniform/beta=0.5" in out
    config = json.loads((out_dir / "config.json").read_text())
    assert config["n"] == 8 and isinstance(config["n"], int)
    assert config["T"] == 2.0 and isinstance(config["T"], float)
    assert config["betas"] == [0.5, 2.0]
    assert config["normalizations"] == ["uniform"]
    assert config["figures"] is False
    assert config["hist_bins"] == 12 and config["cluster_tol"] == 0.05
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert set(metrics["runs"]) == {"uniform/beta=0.5", "uniform/beta=2"}
    assert sorted(path.name for path in out_dir.iterdir()) == ["config.json", "metrics.json"]


def test_toml_config_is_read_and_set_overrides_it(tmp_path, capsys):
    toml = tmp_path / "tiny.toml"
    toml.write_text(
        'n = 8\nT = 2\nbetas = [0.5, 2]\nnormalizations = ["softmax"]\nnum_times = 21\n'
        "figures = false\nseed = 4\n"
    )
    out_dir = tmp_path / "out"
    code, _, err = _run(
        capsys, "run", "clustering", "--config", str(toml), "--set", "n=6", "--out", str(out_dir)
    )
    assert code == 0, err
    config = json.loads((out_dir / "config.json").read_text())
    assert config["n"] == 6  # --set wins over the file
    assert config["T"] == 2.0 and config["seed"] == 4 and config["normalizations"] == ["softmax"]


def test_seed_changes_the_initial_cloud_and_overrides_set(tmp_path, capsys):
    def energies(seed: str, name: str) -> tuple[dict, dict]:
        out_dir = tmp_path / name
        args = ["--set", *TINY_SET, "seed=7", "--seed", seed, "--out", str(out_dir)]
        assert main(["run", "clustering", *args]) == 0
        capsys.readouterr()
        config = json.loads((out_dir / "config.json").read_text())
        metrics = json.loads((out_dir / "metrics.json").read_text())
        return config, metrics

    config_1, metrics_1 = energies("1", "a")
    config_2, metrics_2 = energies("2", "b")
    _, metrics_1_again = energies("1", "c")
    assert (config_1["seed"], config_2["seed"]) == (1, 2)
    key = "softmax/beta=2"
    start_1 = metrics_1["runs"][key]["initial_normalized_energy"]
    assert start_1 != metrics_2["runs"][key]["initial_normalized_energy"]
    for metrics in (metrics_1, metrics_1_again):
        del metrics["wall_time_s"]  # the runner's timings: the only part that may differ
    assert metrics_1_again == metrics_1  # the same seed reproduces the run exactly


REFUSALS = [
    (["--set", "bta=1"], ["'bta'", "did you mean 'betas'"]),
    (["--set", "n=abc"], ["n='abc'", "integer"]),
    (["--set", "n=2.5"], ["n='2.5'", "integer"]),
    (["--set", "n=0"], ["n=0", ">= 1"]),
    (["--set", "d=1"], ["d=1", ">= 2"]),
    (["--set", "T=-1"], ["T=-1", "> 0"]),
    (["--set", "T=nan"], ["T='nan'", "finite"]),
    (["--set", "betas=-1,2"], ["betas=-1,2", ">= 0"]),
    (["--set", "betas=1,x"], ["betas='1,x'", "'x'"]),
    (["--set", "betas="], ["betas=(empty)", "1 or more"]),
    (["--set", "normalizations=softmx"], ["'softmx'", "did you mean 'softmax'"]),
    (["--set", "method=dopri6"], ["method='dopri6'", "dopri5"]),
    (["--set", "figures=maybe"], ["figures='maybe'", "true/false"]),
    (["--set", "step_size=0.1"], ["step_size=0.1", "fixed-step"]),
    (["--set", "snapshot_times=0,99"], ["snapshot_times=0,99", "[0, T]"]),
    (["--set", "n"], ["'n'", "KEY=VALUE"]),
    (["--set", "n=8", "n=9"], ["--set n=", "twice", "n='8'", "n='9'"]),
    (["--set", "n=8", "--set", "n=9"], ["--set n=", "twice"]),
    (["--seed", "abc"], ["--seed", "'abc'"]),
    (["--seed", "-3"], ["seed=-3", "[0, 2^63)"]),
    (["--device", "tpu"], ["device='tpu'", "cpu, cuda"]),
    (["--config", "missing.toml"], ["missing.toml", "cannot read"]),
]


@pytest.mark.parametrize(("args", "expected"), REFUSALS, ids=[" ".join(a) for a, _ in REFUSALS])
def test_refusals_are_one_line_exit_2_and_write_nothing(
    args, expected, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, "run", "clustering", *args)
    _assert_refused(code, out, err, expected, tmp_path)


def _assert_refused(code: int, out: str, err: str, expected: list[str], root: Path) -> None:
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("attnflow: error: ")
    for text in expected:
        assert text in lines[0], lines[0]
    assert not (root / "figures").exists()
    written = [path for path in root.rglob("*") if path.suffix != ".toml"]
    assert written == [], written


def test_cuda_request_is_refused_when_unavailable(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, out, err = _run(capsys, "run", "clustering", "--device", "cuda")
    _assert_refused(code, out, err, ["device='cuda'", "CUDA is not available"], tmp_path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n = \n", ["not valid TOML", "bad.toml"]),
        ('n = "abc"\n', ["n='abc'", "expected int"]),
        ("betas = 4\n", ["betas=4", "array"]),
        ("bettas = [1.0]\n", ["'bettas'", "did you mean 'betas'"]),
        ("figures = 1\n", ["figures=1", "expected bool"]),
        ("T = -2.0\n", ["T=-2", "> 0"]),
    ],
)
def test_bad_toml_files_are_refused(text, expected, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.toml").write_text(text)
    code, out, err = _run(capsys, "run", "clustering", "--config", "bad.toml")
    _assert_refused(code, out, err, expected, tmp_path)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "clusterng"], ["'clusterng'", "did you mean 'clustering'"]),
        (["run"], ["missing the scenario NAME"]),
        (["lst"], ["invalid choice", "'lst'"]),
        (["run", "clustering", "--sett", "n=3"], ["unrecognized arguments", "--sett"]),
    ],
)
def test_bad_command_lines_are_refused(args, expected, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, *args)
    _assert_refused(code, out, err, expected, tmp_path)


def test_out_path_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "taken.toml"  # .toml: ignored by the nothing-written check
    target.write_text("")
    code, out, err = _run(capsys, "run", "clustering", "--out", str(target))
    _assert_refused(code, out, err, ["taken.toml", "not a directory"], tmp_path)


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_out_path_below_a_file_is_refused_naming_the_file(command, tmp_path, capsys):
    target = tmp_path / "taken.toml"  # .toml: ignored by the nothing-written check
    target.write_text("")
    out_dir = str(target / "x")
    args = ["--grid", "d=2,3"] if command == "sweep" else []
    code, out, err = _run(capsys, command, "clustering", *args, "--out", out_dir)
    _assert_refused(code, out, err, [out_dir, str(target), "is a file"], tmp_path)


def test_python_dash_m_refuses_without_traceback_and_runs(tmp_path):
    refused = _command("run", "clustering", "--set", "d=1", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [refused.stderr.strip()]
    assert refused.stderr.startswith("attnflow: error: d=1") and "Traceback" not in refused.stderr
    assert list(tmp_path.iterdir()) == []
    ran = _command("run", "clustering", "--set", *TINY_SET, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr == ""  # not a terminal: no progress bar
    out_dir = tmp_path / "figures" / "clustering"  # the default, relative to the cwd
    assert sorted(path.name for path in out_dir.iterdir()) == ["config.json", "metrics.json"]
    assert [path.name for path in (tmp_path / "figures").iterdir()] == ["clustering"]
