"""Discovery: the registry lists exactly the subpackages of ``scenarios`` that declare SCENARIO."""

from __future__ import annotations

import importlib

import pytest

from scenarios.harness.config import ConfigError
from scenarios.harness.registry import SCENARIOS_DIR, all_scenarios, get_scenario
from scenarios.harness.scenario import Scenario

EXPERIMENTS = (
    "acceleration",
    "causal",
    "clustering",
    "context_consistency",
    "in_context",
    "layers",
    "long_context",
    "lora",
    "mean_field",
    "measure_transport",
    "metastability",
    "normalization",
    "phase_diagram",
    "pretrained",
    "sympformer",
    "train",
    "vlasov_map",
)
"""The experiments of issue 13's conversion, each one subpackage."""


def _subpackages() -> list[str]:
    return sorted(
        path.name
        for path in SCENARIOS_DIR.iterdir()
        if path.is_dir() and (path / "__init__.py").is_file()
    )


def test_all_scenarios_lists_exactly_the_subpackages_that_declare_scenario():
    declared = {}
    for name in _subpackages():
        scenario = getattr(importlib.import_module(f"scenarios.{name}"), "SCENARIO", None)
        if isinstance(scenario, Scenario):
            declared[scenario.name] = scenario
    assert "harness" not in declared
    assert list(all_scenarios()) == sorted(declared)  # alphabetical
    for name, scenario in all_scenarios().items():
        assert scenario is declared[name]
        assert importlib.import_module(f"scenarios.{name}").SCENARIO is scenario  # name = package
        assert scenario.summary and "\n" not in scenario.summary


def test_get_scenario_names_the_known_ones_for_an_unknown_name():
    assert get_scenario("clustering") is all_scenarios()["clustering"]
    with pytest.raises(ConfigError, match=r"'clusterin'.*did you mean 'clustering'.*available: "):
        get_scenario("clusterin")


def test_every_experiment_is_a_subpackage_that_declares_itself():
    """No flat experiment modules: beside the subpackages only the package, the shared analysis
    and the console entry point."""
    assert list(all_scenarios()) == list(EXPERIMENTS)
    assert _subpackages() == sorted([*EXPERIMENTS, "harness"])
    flat = sorted(path.name for path in SCENARIOS_DIR.glob("*.py"))
    assert flat == ["__init__.py", "analysis.py", "command.py"]
