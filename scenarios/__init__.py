"""Scenarios: questions asked of the dynamics, answered with files and figures.

``scenarios.harness`` runs them; each experiment is a subpackage ``scenarios/NAME/`` that declares
itself once as ``SCENARIO`` (a ``scenarios.harness.Scenario``). The ``attnflow`` command
(``scenarios.harness.cli``) drives them from the shell.
"""

from scenarios.harness import (
    ConfigError,
    Scenario,
    ScenarioConfig,
    all_scenarios,
    config_fields,
    config_to_dict,
    default_out_dir,
    get_scenario,
    resolve_config,
    run_scenario,
)

__all__ = [
    "ConfigError",
    "Scenario",
    "ScenarioConfig",
    "all_scenarios",
    "config_fields",
    "config_to_dict",
    "default_out_dir",
    "get_scenario",
    "resolve_config",
    "run_scenario",
]
