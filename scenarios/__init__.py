"""Scenarios: questions asked of the dynamics, answered with files and figures.

Each scenario is a module with a ``Config`` dataclass and ``run(config, out_dir) -> metrics``;
``SCENARIOS`` maps names to modules and ``run_scenario`` runs one into an output directory
atomically. The ``attnflow`` command (``scenarios.cli``) drives them from the shell.
"""

from scenarios.config import ConfigError, config_fields, config_to_dict, resolve_config
from scenarios.output import staged_output, write_json
from scenarios.registry import SCENARIOS, get_scenario
from scenarios.runner import default_out_dir, run_scenario
from scenarios.style import figure_style, new_figure, save_figure, save_figures

__all__ = [
    "SCENARIOS",
    "ConfigError",
    "config_fields",
    "config_to_dict",
    "default_out_dir",
    "figure_style",
    "get_scenario",
    "new_figure",
    "resolve_config",
    "run_scenario",
    "save_figure",
    "save_figures",
    "staged_output",
    "write_json",
]
