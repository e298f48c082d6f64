"""``scenarios.harness.compare``: two runs' metrics, the same to rounding, timings left out."""

from __future__ import annotations

import json

from scenarios.harness.compare import compare_runs, is_measurement, metric_differences

BEFORE = {
    "scenario": "clustering",
    "runs": {"softmax/beta=1": {"final_cluster_count": 1, "energy": [0.5, 0.75]}},
    "wall_time_s": {"simulate": 1.0},
    "best": None,
}


def _changed(path: tuple, value: object) -> dict:
    after = json.loads(json.dumps(BEFORE))
    target = after
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return after


def test_identical_metrics_have_no_differences():
    assert metric_differences(BEFORE, json.loads(json.dumps(BEFORE))) == []


def test_a_number_beyond_rtol_is_reported_with_its_path():
    after = _changed(("runs", "softmax/beta=1", "energy", 1), 0.75 * (1 + 1e-4))
    differences = metric_differences(BEFORE, after, rtol=1e-6)
    assert len(differences) == 1
    assert differences[0].startswith("runs.softmax/beta=1.energy[1]: 0.75 before, 0.75007")


def test_a_number_within_rtol_is_not_reported():
    after = _changed(("runs", "softmax/beta=1", "energy", 1), 0.75 * (1 + 1e-8))
    assert metric_differences(BEFORE, after, rtol=1e-6) == []
    assert metric_differences(BEFORE, after, rtol=1e-10) != []


def test_timing_and_memory_keys_are_skipped():
    after = _changed(("wall_time_s",), {"simulate": 99.0, "figures": 3.0})
    after["timings_s"] = {"figures": 2.0}  # present after only, and a timing
    after["runs"]["softmax/beta=1"]["train_seconds"] = 4.0
    after["runs"]["softmax/beta=1"]["peak_resident_memory_mb"] = 812.0
    assert metric_differences(BEFORE, after) == []
    assert all(map(is_measurement, ["wall_time_s", "solve_seconds", "seconds", "peak_mb"]))
    assert not is_measurement("energy") and not is_measurement("betas")


def test_a_parameter_named_like_a_timing_is_compared():
    before = {"parameters": {"scalable_softmax_s": 1.0}, "wall_time_s": 2.0}
    after = {"parameters": {"scalable_softmax_s": 2.0}, "wall_time_s": 3.0}
    assert metric_differences(before, after) == [
        "parameters.scalable_softmax_s: 1.0 before, 2.0 after"
    ]


def test_a_missing_key_a_changed_string_and_a_changed_length_are_reported():
    after = json.loads(json.dumps(BEFORE))
    del after["runs"]["softmax/beta=1"]["final_cluster_count"]
    after["scenario"] = "lora"
    after["runs"]["softmax/beta=1"]["energy"].append(1.0)
    after["extra"] = 1
    assert metric_differences(BEFORE, after) == [
        "extra: only after",
        "runs.softmax/beta=1.energy: 2 items before, 3 after",
        "runs.softmax/beta=1.final_cluster_count: only before",
        "scenario: 'clustering' before, 'lora' after",
    ]
    assert metric_differences(BEFORE, _changed(("best",), 0.1)) == ["best: None before, 0.1 after"]


def test_compare_runs_reads_both_metrics_files(tmp_path):
    for name, metrics in (("a", BEFORE), ("b", _changed(("runs", "softmax/beta=1"), {}))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps(metrics))
    assert compare_runs(tmp_path / "a", tmp_path / "a") == []
    assert compare_runs(tmp_path / "a", tmp_path / "b") == [
        "runs.softmax/beta=1.energy: only before",
        "runs.softmax/beta=1.final_cluster_count: only before",
    ]


def test_the_compare_command_exits_1_with_one_line_per_difference(tmp_path, capsys):
    from scenarios.harness.cli import main

    for name, value in (("before", 1.0), ("after", 1.5)):
        (tmp_path / name).mkdir()
        metrics = {"scenario": "x", "runs": {"a": value, "b": 2.0}, "wall_time_s": {"x": value}}
        (tmp_path / name / "metrics.json").write_text(json.dumps(metrics))
    before, after = str(tmp_path / "before"), str(tmp_path / "after")
    assert main(["compare", before, before]) == 0
    assert capsys.readouterr().out.strip() == "same metrics"
    assert main(["compare", before, after]) == 1
    assert capsys.readouterr().out.splitlines() == ["runs.a: 1.0 before, 1.5 after"]
    assert main(["compare", before, after, "--rtol", "0.5"]) == 0
    assert main(["compare", before, str(tmp_path / "missing")]) == 2
    assert "cannot compare" in capsys.readouterr().err
