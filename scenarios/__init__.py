"""Scenarios: questions asked of the dynamics, answered with files and figures.

``scenarios.harness`` runs them; each experiment is a subpackage ``scenarios/NAME/`` that declares
itself once as ``SCENARIO`` (a ``scenarios.harness.Scenario``). The ``attnflow`` command
(``scenarios.command``) drives them from the shell.

The harness's main names are re-exported here and imported on first use, so that importing a
light module of this package (the command's entry point) does not import torch and matplotlib.
"""

from __future__ import annotations

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


def __getattr__(name: str) -> object:
    if name in __all__:
        from scenarios import harness

        return getattr(harness, name)
    raise AttributeError(f"module 'scenarios' has no attribute {name!r}")
